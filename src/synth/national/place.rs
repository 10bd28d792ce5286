//! Where projects are: place names with their suffixes, and ward locations as files write them.
//!
//! A [`PlaceName`] is a real place (`data/reference/places.csv` through [`Pool`]) with the part
//! of it a project is in (`Ext 4`, `Section C`, `North`), written the register's way or the
//! budget's. A [`WardLoc`] is where a project is (wards, the whole municipality or not said);
//! [`WardInfo`] writes it as SA36 lines or IDP and BEPP rows do.

use crate::synth::Rng;

/// Directions a place's part is named by.
const DIRECTIONS: &[&str] = &["North", "South", "East", "West", "Central"];

/// What follows a place name to say which part of it (`Ext 4`, `Section C`, `North`).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Suffix {
    None,
    Ext(u64),
    Direction(&'static str),
    Section(char),
    Zone(u64),
    Village,
    Township,
}

/// A place: a real name and which part of it.
#[derive(Debug, Clone)]
pub(super) struct PlaceName {
    pub(super) base: String,
    pub(super) suffix: Suffix,
}

impl PlaceName {
    /// As IDPs, BEPPs and IRM exports write it (`Mdantsane Ext 4` or `Mdantsane Extension 4`).
    pub(super) fn register(&self, long_ext: bool) -> String {
        match &self.suffix {
            Suffix::None => self.base.clone(),
            Suffix::Ext(n) if long_ext => format!("{} Extension {n}", self.base),
            Suffix::Ext(n) => format!("{} Ext {n}", self.base),
            Suffix::Direction(d) => format!("{} {d}", self.base),
            Suffix::Section(c) => format!("{} Section {c}", self.base),
            Suffix::Zone(n) => format!("{} Zone {n}", self.base),
            Suffix::Village => format!("{} Village", self.base),
            Suffix::Township => format!("{} Township", self.base),
        }
    }

    /// As SA36 lines write it: upper case, `EXT 4`, sometimes `X4` or `EXT4`.
    pub(super) fn budget(&self, rng: &mut Rng) -> String {
        let base = self.base.to_uppercase();
        match &self.suffix {
            Suffix::Ext(n) => match rng.below(20) {
                0 | 1 => format!("{base} X{n}"),
                2 => format!("{base} EXT{n}"),
                _ => format!("{base} EXT {n}"),
            },
            _ => self.register(false).to_uppercase(),
        }
    }

    /// The identity of the place within a municipality.
    pub(super) fn key(&self) -> String {
        self.register(false)
    }
}

/// Where a municipality's project names come from.
pub(super) struct Pool<'a> {
    pub(super) own: &'a [String],
    pub(super) province: &'a [String],
    pub(super) names: Vec<String>,
}

impl Pool<'_> {
    pub(super) fn pick(&self, rng: &mut Rng) -> PlaceName {
        // A municipality with few known places of its own names more projects after places
        // elsewhere in its province (a real one has many villages this list does not know).
        let own = (8 * self.own.len() as u64).min(75);
        let by_name = if self.own.is_empty() { 20 } else { 10 };
        let r = rng.below(100);
        let (base, from_name) = if r < own {
            (rng.pick(self.own).clone(), false)
        } else if r < own + by_name || self.province.is_empty() {
            (rng.pick(&self.names).clone(), true)
        } else {
            (rng.pick(self.province).clone(), false)
        };
        let suffix = if from_name && rng.chance(80) {
            Suffix::None
        } else {
            match rng.below(100) {
                0..=39 => Suffix::None,
                40..=67 => Suffix::Ext(1 + rng.below(30)),
                68..=75 => Suffix::Direction(DIRECTIONS[rng.below(DIRECTIONS.len() as u64) as usize]),
                76..=83 => Suffix::Section((b'A' + rng.below(8) as u8) as char),
                84..=89 => Suffix::Zone(1 + rng.below(20)),
                90..=95 => Suffix::Village,
                _ => Suffix::Township,
            }
        };
        PlaceName { base, suffix }
    }
}

/// A municipality's name as a place word (`City of Cape Town` → `Cape Town`, `Mogale City` →
/// `Mogale`); names joined with `/` give both parts.
pub(super) fn name_words(code: &str, name: &str) -> Vec<String> {
    // The reference calls LIM345 "Makhado-Thulamela"; its name is Collins Chabane.
    let name = if code == "LIM345" { "Collins Chabane" } else { name };
    name.split('/')
        .map(|part| {
            let mut p = part.trim();
            for prefix in ["City of ", "Local Municipality of ", "The ", "Greater "] {
                p = p.strip_prefix(prefix).unwrap_or(p);
            }
            if code != "BUF" {
                p = p.strip_suffix(" City").unwrap_or(p);
            }
            p.to_string()
        })
        .filter(|p| !p.is_empty())
        .collect()
}

/// Where a project is: named wards, the whole municipality, or not said.
#[derive(Debug, Clone)]
pub(super) enum WardLoc {
    Unstated,
    Whole,
    Wards(Vec<u32>),
}

/// What a municipality's ward texts may name.
pub(super) struct WardInfo {
    pub(super) count: u32,
    pub(super) prefix: Option<&'static str>,
    pub(super) metro: bool,
    pub(super) district: bool,
}

impl WardInfo {
    pub(super) fn whole(&self, rng: &mut Rng) -> String {
        if self.metro {
            (*rng.pick(&["Whole of the Metro", "Metro wide", "All wards"])).to_string()
        } else {
            (*rng.pick(&["All wards", "Various", "Whole of the Municipality"])).to_string()
        }
    }

    /// An SA36 `Ward Location`: `Ward 12`, `12`, `W12`, `Ward 3, Ward 4`, `3,4`, `W3 and W4`.
    pub(super) fn budget_text(&self, loc: &WardLoc, rng: &mut Rng) -> String {
        match loc {
            WardLoc::Unstated => String::new(),
            WardLoc::Whole => self.whole(rng),
            WardLoc::Wards(ws) if ws.len() == 1 => match rng.below(20) {
                0..=14 => format!("Ward {}", ws[0]),
                15..=18 => ws[0].to_string(),
                _ => format!("W{}", ws[0]),
            },
            WardLoc::Wards(ws) => match rng.below(10) {
                0..=4 => ws.iter().map(|w| format!("Ward {w}")).collect::<Vec<_>>().join(", "),
                5..=7 => ws.iter().map(u32::to_string).collect::<Vec<_>>().join(","),
                _ => ws.iter().map(|w| format!("W{w}")).collect::<Vec<_>>().join(" and "),
            },
        }
    }

    /// An IDP or BEPP ward list: as SA36 writes it, or 8-digit ward codes where the
    /// municipality's prefix is known.
    pub(super) fn register_text(&self, loc: &WardLoc, rng: &mut Rng) -> String {
        match (loc, self.prefix) {
            (WardLoc::Wards(ws), Some(prefix)) if rng.chance(30) => ws
                .iter()
                .map(|w| format!("{prefix}{w:03}"))
                .collect::<Vec<_>>()
                .join("; "),
            (WardLoc::Wards(ws), _) if ws.len() == 1 && rng.chance(10) => format!("Ward No. {}", ws[0]),
            (WardLoc::Whole, _) if !self.metro && rng.chance(50) => "Whole municipality".to_string(),
            _ => self.budget_text(loc, rng),
        }
    }

    /// A project's wards: mostly the place's own ward, sometimes two adjacent ones, sometimes the
    /// whole municipality. District municipalities have no wards of their own.
    pub(super) fn locate(&self, home: u32, rng: &mut Rng) -> WardLoc {
        if self.district {
            return if rng.chance(50) {
                WardLoc::Unstated
            } else {
                WardLoc::Whole
            };
        }
        match rng.below(100) {
            0..=3 => WardLoc::Whole,
            4..=5 => WardLoc::Unstated,
            6..=12 if self.count > 1 => {
                let w = home.min(self.count - 1);
                WardLoc::Wards(vec![w, w + 1])
            }
            _ => WardLoc::Wards(vec![home]),
        }
    }
}

//! National-scale synthetic data with ground truth, for the linking benchmark.
//!
//! Every current municipality (or the first N, metros first) gets a world of capital projects
//! named after real places: its own towns, townships and suburbs from
//! `data/reference/places.csv` where they are known, else places of its province and its own
//! name, with real suffixes (`Ext 4`, `Section C`, `Zone 7`, `North`, `Village`). Many projects
//! of one municipality share a place name, as in real registers; a municipality has one project
//! per facility (place, asset) and phase, so its project names are unique. Asset class,
//! sub-class and function labels are mSCOA's; project-number prefixes have the mSCOA shape but
//! are made up.
//!
//! Each project appears in the IDP register (one row per year), most in the budget (one SA36
//! line per MTREF, sometimes split by funding source), some only in one of the two. Ward
//! locations are written as real files write them (`Ward 12`, `12`, `Ward 3, Ward 4`, `W3 and
//! W4`, `All wards`, 8-digit ward codes in IDP and BEPP rows), only in forms the ward normaliser
//! reads. Names get the real variants: Treasury abbreviations, a few unknown ones, typos,
//! reordered words, empty descriptions, dropped identifiers.
//!
//! Provincial departments build projects in every metro and local, reported in one IRM export
//! per year: most projects continue from year to year under the same `Project ID` (amounts
//! change, names are sometimes edited), some finish and a few start. Most are listed among the
//! IDP's sector projects; about one in ten is implemented by the municipality itself and also
//! appears as a budget line funded by a provincial grant (and often as a municipal IDP project).
//! Metros have BEPP pipelines (one row per project per year): about 70% of BEPP projects are the
//! metro's own capital projects, named the BEPP's way (`Mdantsane Access Road Upgrade (IZ2)`) or
//! as in the IDP, sometimes carrying the IDP reference or the mSCOA project number; the rest are
//! BEPP-only catalytic precinct projects.
//!
//! `truth.csv` lists which records are the same project, for every link type: `budget_idp`,
//! `bepp_idp`, `bepp_budget`, `departmental_idp`, `departmental_budget`.

use super::places::Places;
use super::{csv_line, Asset, Rng, SynthError, ASSETS, MORE_ASSETS, OBJECTIVES, PLACEHOLDERS, VERBS};
use crate::contracts::reference::Reference;
use crate::contracts::wards;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// More verbs for the national world (the sample uses [`VERBS`] alone).
const MORE_VERBS: &[(&str, &str, &str)] = &[
    ("Resurfacing of", "RESURF", "Renewal"),
    ("Replacement of", "REPL", "Renewal"),
    ("Installation of", "INSTAL", "New"),
];

/// Province codes and names as IRM exports write them.
const PROVINCES: &[(&str, &str)] = &[
    ("EC", "Eastern Cape"),
    ("FS", "Free State"),
    ("GT", "Gauteng"),
    ("KZN", "KwaZulu-Natal"),
    ("LIM", "Limpopo"),
    ("MP", "Mpumalanga"),
    ("NC", "Northern Cape"),
    ("NW", "North West"),
    ("WC", "Western Cape"),
];

/// Provincial infrastructure: (department, sector, what is built, the municipal asset it is
/// budgeted as when the municipality implements it, relative frequency).
const DEPT_THINGS: &[(&str, &str, &str, Option<&str>, u64)] = &[
    ("Education", "Education", "Primary School", None, 14),
    ("Education", "Education", "Secondary School", None, 12),
    ("Education", "Education", "Combined School", None, 6),
    ("Education", "Education", "Special School", None, 2),
    ("Health", "Health", "Clinic", Some("Clinic"), 9),
    ("Health", "Health", "Community Health Centre", None, 4),
    ("Health", "Health", "District Hospital", None, 2),
    ("Roads and Public Works", "Transport", "Bridge", Some("Bridge"), 7),
    (
        "Roads and Public Works",
        "Transport",
        "Access Road",
        Some("Access Road"),
        8,
    ),
    (
        "Human Settlements",
        "Human Settlements",
        "Housing Project",
        Some("Housing Project"),
        10,
    ),
    (
        "Human Settlements",
        "Human Settlements",
        "Informal Settlement Upgrading",
        None,
        5,
    ),
    (
        "Sport, Recreation, Arts and Culture",
        "Sport and Recreation",
        "Sports Field",
        Some("Sports Field"),
        5,
    ),
    (
        "Sport, Recreation, Arts and Culture",
        "Arts and Culture",
        "Library",
        Some("Library"),
        4,
    ),
    (
        "Social Development",
        "Social Development",
        "Early Childhood Development Centre",
        Some("ECD Centre"),
        4,
    ),
    (
        "Social Development",
        "Social Development",
        "Child and Youth Care Centre",
        None,
        2,
    ),
];

/// BEPP-only catalytic projects: what a precinct or node is called.
const CATALYTIC: &[&str] = &[
    "Urban Hub",
    "Precinct Development",
    "Urban Renewal Programme",
    "CBD Regeneration",
    "Mixed-Use Development",
    "Integrated Human Settlement",
    "Township Regeneration",
    "Transit Oriented Development",
    "Economic Node",
    "Social Housing Precinct",
    "Industrial Park",
    "Inner City Regeneration",
];

/// Abbreviations the linker does not know (used at a low rate): (word, abbreviation).
const UNKNOWN_ABBREVIATIONS: &[(&str, &str)] = &[
    ("RETICULATION", "RETIC"),
    ("STORMWATER", "STRMWTR"),
    ("UPGR", "UPGRD"),
    ("LIGHTING", "LGHT"),
    ("CENTRE", "CTR"),
    ("CONSTR", "CNSTR"),
    ("SPORTS", "SPRTS"),
    ("CEMETERY", "CEM"),
    ("TREATMENT", "TRTMNT"),
    ("REHAB", "RHB"),
];

/// The noun of an IDP verb (`Upgrading of` → `Upgrade`), for names like `Mdantsane Hall Upgrade`.
fn noun(verb: &str) -> &'static str {
    match verb.split(' ').next().unwrap_or_default() {
        "Upgrading" => "Upgrade",
        "Construction" => "Construction",
        "Rehabilitation" => "Rehabilitation",
        "Refurbishment" => "Refurbishment",
        "Resurfacing" => "Resurfacing",
        "Replacement" => "Replacement",
        _ => "Installation",
    }
}

/// Verbs that fit an asset: roads are resurfaced, networks replaced, electrical assets
/// installed, buildings refurbished.
fn verb_fits(verb: &str, asset: &Asset) -> bool {
    let (class, sub_class) = (asset.2, asset.5);
    let network = matches!(
        class,
        "Water Supply Infrastructure" | "Sanitation Infrastructure" | "Electrical Infrastructure"
    );
    match verb.split(' ').next().unwrap_or_default() {
        "Resurfacing" => sub_class == "Roads",
        "Replacement" => network,
        "Installation" => class == "Electrical Infrastructure" || sub_class == "Boreholes",
        "Refurbishment" => !matches!(class, "Roads Infrastructure" | "Housing"),
        _ => true,
    }
}

/// Introduces one typo (a swapped pair of letters) in a word longer than four letters.
fn typo(name: &str, rng: &mut Rng) -> String {
    let mut words: Vec<String> = name.split(' ').map(str::to_string).collect();
    let long: Vec<usize> = (0..words.len())
        .filter(|&i| words[i].len() > 4 && words[i].chars().all(|c| c.is_ascii_alphabetic()))
        .collect();
    if long.is_empty() {
        return name.to_string();
    }
    let i = long[rng.below(long.len() as u64) as usize];
    let mut chars: Vec<char> = words[i].chars().collect();
    let j = 1 + rng.below(chars.len() as u64 - 2) as usize;
    chars.swap(j, j + 1);
    words[i] = chars.into_iter().collect();
    words.join(" ")
}

/// Replaces the first word that has an abbreviation the linker does not know.
fn unknown_abbreviation(name: &str) -> String {
    let mut words: Vec<&str> = name.split(' ').collect();
    for w in words.iter_mut() {
        if let Some((_, abbr)) = UNKNOWN_ABBREVIATIONS.iter().find(|(word, _)| word == w) {
            *w = abbr;
            return words.join(" ");
        }
    }
    name.to_string()
}

const DIRECTIONS: &[&str] = &["North", "South", "East", "West", "Central"];

/// What follows a place name to say which part of it (`Ext 4`, `Section C`, `North`).
#[derive(Debug, Clone, PartialEq)]
enum Suffix {
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
struct PlaceName {
    base: String,
    suffix: Suffix,
}

impl PlaceName {
    /// As IDPs, BEPPs and IRM exports write it (`Mdantsane Ext 4` or `Mdantsane Extension 4`).
    fn register(&self, long_ext: bool) -> String {
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
    fn budget(&self, rng: &mut Rng) -> String {
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
    fn key(&self) -> String {
        self.register(false)
    }
}

/// Where a municipality's project names come from.
struct Pool<'a> {
    own: &'a [String],
    province: &'a [String],
    names: Vec<String>,
}

impl Pool<'_> {
    fn pick(&self, rng: &mut Rng) -> PlaceName {
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
fn name_words(code: &str, name: &str) -> Vec<String> {
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
enum WardLoc {
    Unstated,
    Whole,
    Wards(Vec<u32>),
}

/// What a municipality's ward texts may name.
struct WardInfo {
    count: u32,
    prefix: Option<&'static str>,
    metro: bool,
    district: bool,
}

impl WardInfo {
    fn whole(&self, rng: &mut Rng) -> String {
        if self.metro {
            (*rng.pick(&["Whole of the Metro", "Metro wide", "All wards"])).to_string()
        } else {
            (*rng.pick(&["All wards", "Various", "Whole of the Municipality"])).to_string()
        }
    }

    /// An SA36 `Ward Location`: `Ward 12`, `12`, `W12`, `Ward 3, Ward 4`, `3,4`, `W3 and W4`.
    fn budget_text(&self, loc: &WardLoc, rng: &mut Rng) -> String {
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
    fn register_text(&self, loc: &WardLoc, rng: &mut Rng) -> String {
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
    fn locate(&self, home: u32, rng: &mut Rng) -> WardLoc {
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

/// Sizes of the generated world.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Municipalities (the first N current ones, metros first).
    pub municipalities: usize,
    /// Budget years (MTREFs), starting 2024/25.
    pub years: usize,
    /// Seed.
    pub seed: u64,
    /// How the budget lines' descriptions are written.
    pub noise: Noise,
}

/// How noisy the budget lines are, in percent of lines (or a count per municipality), so that
/// the benchmark can run the linker on worlds it was not tuned on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Noise {
    /// The profile's name, as `bench` prints it.
    pub name: &'static str,
    /// Projects in the budget and not in the IDP.
    pub budget_only_pct: u64,
    /// Lines whose description is empty.
    pub empty_description_pct: u64,
    /// Lines with an abbreviation the linker's list does not know.
    pub unknown_abbreviation_pct: u64,
    /// Lines with a typo.
    pub typo_pct: u64,
    /// Lines with a word cut short (`Kimberl`).
    pub truncation_pct: u64,
    /// Lines with two words written as one (`ACCESSRD`).
    pub joined_words_pct: u64,
    /// Generic items per municipality (office furniture, computers, vehicles per department and
    /// number), half of them budget-only with a number the IDP does not use.
    pub generic_items: u32,
    /// Lines whose words are shortened by dropping vowels (`CMMNTY HLL`, `RSRVR`) or cut to
    /// their first letters (`COMMUN`), as terse capture does.
    pub terse_pct: u64,
    /// Provincial projects located in each district municipality (IRM `Local Municipality`
    /// `Various` or empty, `District Municipality` the district), listed in the district's IDP.
    pub district_departmental: u64,
}

impl Noise {
    /// The noise the defaults were set on.
    pub const DEFAULT: Noise = Noise {
        name: "default",
        budget_only_pct: 10,
        empty_description_pct: 2,
        unknown_abbreviation_pct: 4,
        typo_pct: 12,
        truncation_pct: 0,
        joined_words_pct: 0,
        generic_items: 0,
        terse_pct: 0,
        district_departmental: 0,
    };

    /// Every profile `bench` runs: the default and four the defaults were not set on (`terse`
    /// was added after the linker was tuned on the other four, and not tuned on).
    pub const PROFILES: [Noise; 5] = [
        Noise::DEFAULT,
        Noise {
            name: "sparse",
            budget_only_pct: 20,
            empty_description_pct: 10,
            ..Noise::DEFAULT
        },
        Noise {
            name: "abbreviated",
            unknown_abbreviation_pct: 30,
            typo_pct: 20,
            truncation_pct: 15,
            joined_words_pct: 10,
            ..Noise::DEFAULT
        },
        Noise {
            name: "generic",
            budget_only_pct: 15,
            generic_items: 40,
            ..Noise::DEFAULT
        },
        Noise {
            name: "terse",
            budget_only_pct: 15,
            empty_description_pct: 4,
            unknown_abbreviation_pct: 15,
            truncation_pct: 30,
            joined_words_pct: 15,
            terse_pct: 25,
            district_departmental: 40,
            ..Noise::DEFAULT
        },
    ];

    /// The profile of that name.
    pub fn named(name: &str) -> Option<Noise> {
        Self::PROFILES.iter().copied().find(|p| p.name == name)
    }
}

impl Default for Noise {
    fn default() -> Self {
        Noise::DEFAULT
    }
}

/// Cuts one long word short, as a full cell does (`KIMBERLEY` → `KIMBERL`).
fn truncate_word(name: &str, rng: &mut Rng) -> String {
    let mut words: Vec<String> = name.split(' ').map(str::to_string).collect();
    let long: Vec<usize> = (0..words.len())
        .filter(|&i| words[i].len() > 7 && words[i].chars().all(|c| c.is_ascii_alphabetic()))
        .collect();
    if long.is_empty() {
        return name.to_string();
    }
    let i = long[rng.below(long.len() as u64) as usize];
    let keep = 4 + rng.below(3) as usize;
    words[i].truncate(keep);
    words.join(" ")
}

/// Shortens the name's long words the terse way: the vowels after the first letter dropped
/// (`COMMUNITY` → `CMMNTY`), or cut after the first syllables (`COMMUNITY` → `COMMUN`).
fn terse_words(name: &str, rng: &mut Rng) -> String {
    let vowels = rng.chance(50);
    name.split(' ')
        .map(|w| {
            if w.len() < 5 || !w.chars().all(|c| c.is_ascii_alphabetic()) {
                return w.to_string();
            }
            if vowels {
                let mut out: String = w[..1].to_string();
                out.extend(w[1..].chars().filter(|c| !"AEIOUaeiou".contains(*c)));
                out
            } else {
                w[..(w.len() * 2 / 3).max(4)].to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes two neighbouring words as one (`ACCESS RD` → `ACCESSRD`).
fn join_words(name: &str, rng: &mut Rng) -> String {
    let words: Vec<&str> = name.split(' ').collect();
    let pairs: Vec<usize> = (0..words.len().saturating_sub(1))
        .filter(|&i| {
            [words[i], words[i + 1]]
                .iter()
                .all(|w| w.len() >= 3 && w.chars().all(|c| c.is_ascii_alphabetic()))
        })
        .collect();
    if pairs.is_empty() {
        return name.to_string();
    }
    let i = pairs[rng.below(pairs.len() as u64) as usize];
    let mut out: Vec<String> = words[..i].iter().map(|w| w.to_string()).collect();
    out.push(format!("{}{}", words[i], words[i + 1]));
    out.extend(words[i + 2..].iter().map(|w| w.to_string()));
    out.join(" ")
}

/// Generic items (`Office Furniture - Finance 2`): half of them in the IDP under the same name
/// and number, half budget-only under a number the IDP's look-alikes do not use.
fn generic_items(
    code: &str,
    info: &WardInfo,
    years: &[i32],
    count: u32,
    (seq, idp_seq): (&mut u32, &mut u32),
    rng: &mut Rng,
    out: &mut Out,
) {
    let mut used: BTreeSet<(usize, usize, u64)> = BTreeSet::new();
    for n in 0..count {
        let (item, dept) = (
            rng.below(GENERIC_ITEMS.len() as u64) as usize,
            rng.below(GENERIC_DEPARTMENTS.len() as u64) as usize,
        );
        // Budget-only items take numbers from 10 up, in-IDP ones 1 to 9, so they never share.
        let in_idp = n % 2 == 0;
        let number = if in_idp { 1 + rng.below(9) } else { 10 + rng.below(20) };
        if !used.insert((item, dept, number)) {
            continue;
        }
        let (label, class) = GENERIC_ITEMS[item];
        let name = format!("{label} - {} {number}", GENERIC_DEPARTMENTS[dept]);
        let mscoa = format!("PC002003003001_{:05}", *seq);
        *seq += 1;
        let base = (1 + rng.below(20)) as f64 * 25_000.0;
        let ward_text = info.whole(rng);
        for by in 0..years.len() {
            let mut row = vec![
                code.to_string(),
                "Finance and Administration".into(),
                name.to_uppercase(),
                mscoa.clone(),
                "New".into(),
                "OWN MUNICIPAL STRATEGIC OBJECTIVE".into(),
                class.into(),
                class.into(),
                ward_text.clone(),
            ];
            for _ in 0..3 {
                row.push(format!("{:.0}", base * (0.9 + rng.below(20) as f64 / 100.0)));
            }
            out.budgets[by].push_str(&csv_line(&row));
            out.w.budget_lines += 1;
        }
        if in_idp {
            *idp_seq += 1;
            let r = format!("IDP-{code}-{:05}", *idp_seq);
            for y in years {
                out.idp.push_str(&idp_row(
                    code,
                    &r,
                    &name,
                    "Municipal Transformation and Institutional Development",
                    "Whole municipality",
                    "municipal",
                    class,
                    "",
                    "CRR",
                    "funded",
                    *y,
                    round_to(base * (0.9 + rng.below(20) as f64 / 100.0), 1000.0),
                ));
                out.w.idp_rows += 1;
            }
            out.w.idp_projects += 1;
            out.truth("budget_idp", code, &mscoa, &r);
        }
    }
}

/// Generic items municipalities budget for every department: (item, mSCOA asset class).
const GENERIC_ITEMS: &[(&str, &str)] = &[
    ("Office Furniture", "Furniture and Office Equipment"),
    ("Computer Equipment", "Computer Equipment"),
    ("Vehicles", "Transport Assets"),
    ("Plant and Equipment", "Machinery and Equipment"),
    ("Office Equipment", "Furniture and Office Equipment"),
];

/// Departments generic items are bought for.
const GENERIC_DEPARTMENTS: &[&str] = &[
    "Finance",
    "Corporate Services",
    "Fire and Rescue",
    "Community Services",
    "Technical Services",
    "Electricity",
    "Planning",
];

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Budget lines (SA36 rows over all MTREFs).
    pub budget_lines: usize,
    /// IDP rows (project-years).
    pub idp_rows: usize,
    /// Distinct IDP projects (references).
    pub idp_projects: usize,
    /// Distinct departmental projects (IRM `Project ID`s over all years).
    pub departmental: usize,
    /// IRM rows (project-years).
    pub departmental_rows: usize,
    /// BEPP rows (project-years).
    pub bepp_rows: usize,
    /// Distinct BEPP projects.
    pub bepp_projects: usize,
    /// True links (rows of `truth.csv`).
    pub truth_pairs: usize,
}

impl Written {
    /// What was generated, in one line (`synth` and `bench` print it).
    pub fn counts(&self) -> String {
        format!(
            "{} budget lines, {} IDP rows ({} projects), {} departmental projects ({} IRM rows), {} BEPP rows ({} projects), {} true links",
            self.budget_lines,
            self.idp_rows,
            self.idp_projects,
            self.departmental,
            self.departmental_rows,
            self.bepp_rows,
            self.bepp_projects,
            self.truth_pairs
        )
    }
}

fn year_label(start: i32) -> String {
    format!("{}/{:02}", start, (start + 1) % 100)
}

/// One municipal capital project, as the BEPP generator needs to see it.
struct MuniProject {
    idp_ref: Option<String>,
    numbers: Vec<String>,
    place: PlaceName,
    asset: &'static Asset,
    verb: &'static str,
    phase: Option<u64>,
    wards: WardLoc,
    base: f64,
    idp_name: Option<String>,
}

/// A provincial departmental project over the years of the run.
struct DeptProject {
    id: u64,
    thing: usize,
    /// Name per year index (`None`: not reported that year).
    names: Vec<Option<String>>,
    /// Main appropriation per year index.
    amounts: Vec<f64>,
    total_cost: u64,
}

struct Out {
    budgets: Vec<String>,
    idp: String,
    irm: Vec<String>,
    bepp: String,
    truth: String,
    w: Written,
}

impl Out {
    fn truth(&mut self, link_type: &str, code: &str, left: &str, right: &str) {
        self.truth.push_str(&csv_line(&[
            link_type.to_string(),
            code.to_string(),
            left.to_string(),
            right.to_string(),
        ]));
        self.w.truth_pairs += 1;
    }
}

/// One IDP row (the register's columns, in order).
#[allow(clippy::too_many_arguments)]
fn idp_row(
    code: &str,
    idp_ref: &str,
    name: &str,
    kpa: &str,
    wards: &str,
    sphere: &str,
    asset_class: &str,
    mscoa: &str,
    funding_source: &str,
    funding_status: &str,
    year: i32,
    amount: f64,
) -> String {
    csv_line(&[
        code.to_string(),
        "2022-2027".to_string(),
        idp_ref.to_string(),
        name.to_string(),
        kpa.to_string(),
        wards.to_string(),
        sphere.to_string(),
        asset_class.to_string(),
        mscoa.to_string(),
        funding_source.to_string(),
        funding_status.to_string(),
        year_label(year),
        format!("{amount:.0}"),
    ])
}

fn kpa(asset: &Asset) -> &'static str {
    match asset.2 {
        "Other Assets" => "Municipal Transformation and Institutional Development",
        _ if asset.5 == "Stalls" => "Local Economic Development",
        _ => "Basic Service Delivery",
    }
}

fn funding_source(asset: &Asset, metro: bool, rng: &mut Rng) -> &'static str {
    match (metro, asset.2, rng.below(10)) {
        (_, _, 0..=2) => "CRR",
        (true, _, 3) => "Borrowing",
        (true, _, _) => "USDG",
        (false, "Electrical Infrastructure", _) => "INEP",
        (false, "Water Supply Infrastructure", 3..=5) => "WSIG",
        _ => "MIG",
    }
}

fn round_to(x: f64, unit: f64) -> f64 {
    (x / unit).round() * unit
}

/// Writes the national world under `dir` with a pipeline `national.toml` that reads it.
pub fn write(dir: &Path, scale: Scale) -> Result<Written, SynthError> {
    let mut rng = Rng(scale.seed ^ 0x6e61_7469_6f6e);
    let reference = Reference::bundled();
    let places = Places::bundled();
    let mut munis: Vec<(String, String, String, String, String)> = reference
        .current()
        .map(|m| {
            (
                m.category.clone(),
                m.code.clone(),
                m.name.clone(),
                m.province.clone(),
                m.parent_code.clone(),
            )
        })
        .collect();
    munis.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    munis.truncate(scale.municipalities);
    let years: Vec<i32> = (0..scale.years as i32).map(|k| 2024 + k).collect();
    let assets: Vec<&'static Asset> = ASSETS.iter().chain(MORE_ASSETS).collect();
    let verbs: Vec<&'static (&'static str, &'static str, &'static str)> = VERBS.iter().chain(MORE_VERBS).collect();
    let asset_named = |words: &str| assets.iter().copied().find(|a| a.0 == words);
    let dept_weight: u64 = DEPT_THINGS.iter().map(|t| t.4).sum();
    let mut out = Out {
        // One SA36 extract per MTREF, each with its three budget years.
        budgets: years
            .iter()
            .map(|by| {
                let mut b = String::from("demarcation_code,Function,Project Decription,Project Number,Type,Own Strategic Objectives,Asset Class,Asset Sub-Class,Ward Location");
                for y in *by..=by + 2 {
                    let _ = write!(b, ",Budget year {}", year_label(y));
                }
                b.push('\n');
                b
            })
            .collect(),
        idp: String::from("demarcation_code,idp_cycle,idp_project_ref,project_name,kpa,wards,implementing_sphere,asset_class,mscoa_project_number,funding_source,funding_status,financial_year,amount\n"),
        irm: years
            .iter()
            .map(|_| String::from("Project ID,Project No,Project Name,Province,Department,Sector,Local Municipality,District Municipality,Latitude,Longitude,Project Status,Total Project Cost,Main Budget Appropriation (TOTAL)\n"))
            .collect(),
        bepp: String::from("metro_code,bepp_year,programme,integration_zone,project_ref,project_name,phase,lead_sphere,wards,idp_project_ref,mscoa_project_number,financial_year,funding_source,amount\n"),
        truth: String::from("link_type,demarcation_code,left_key,right_key\n"),
        w: Written::default(),
    };
    let mut dept_id = 100_000u64;
    for (category, code, name, province, parent) in &munis {
        let metro = category == "A";
        let district = category == "C";
        let (count, prefix) = match wards::prefix(code) {
            Some((p, n)) => (n, Some(p)),
            None => (10 + rng.below(25) as u32, None),
        };
        let info = WardInfo {
            count,
            prefix,
            metro,
            district,
        };
        let pool = Pool {
            own: places.of_municipality(code),
            province: places.of_province(province),
            names: name_words(code, name),
        };
        // Each place (with its suffix) lies in one home ward.
        let mut home: BTreeMap<String, u32> = BTreeMap::new();
        let mut home_ward = |p: &PlaceName, rng: &mut Rng| {
            *home
                .entry(p.key())
                .or_insert_with(|| 1 + rng.below(count as u64) as u32)
        };
        // IDPs list many projects no budget funds (41% here), so a municipality has more IDP
        // projects than budgeted ones: about 150k IDP and 100k budgeted projects nationally.
        let projects = match category.as_str() {
            "A" => 1950,
            "B" => 585,
            _ => 195,
        };
        let split_sources = if metro { ["USDG", "CRR"] } else { ["MIG", "CRR"] };
        let mut seq = 1u32;
        let mut idp_seq = 0u32;
        // One project per facility (place and asset) and phase: a hall is not built and
        // refurbished at once.
        let mut facilities: BTreeSet<(String, &str, Option<u64>)> = BTreeSet::new();
        let mut world: Vec<MuniProject> = Vec::new();
        for _ in 0..projects {
            // Draw until the project is not one the municipality already has.
            let mut drawn = None;
            for _ in 0..20 {
                let asset = *rng.pick(&assets);
                let fitting: Vec<_> = verbs.iter().copied().filter(|v| verb_fits(v.0, asset)).collect();
                let verb = *rng.pick(&fitting);
                let place = pool.pick(&mut rng);
                let phase = if rng.chance(20) { Some(1 + rng.below(4)) } else { None };
                if facilities.insert((place.key(), asset.0, phase)) {
                    drawn = Some((asset, verb, place, phase));
                    break;
                }
            }
            let Some((asset, verb, place, phase)) = drawn else {
                continue;
            };
            let (verb_full, verb_abbr, kind) = *verb;
            let phase_idp = phase.map(|p| format!(" Phase {p}")).unwrap_or_default();
            let place_idp = place.register(rng.chance(30));
            let idp_name = match rng.below(100) {
                0..=64 => format!("{verb_full} {place_idp} {}{phase_idp}", asset.0),
                65..=89 => format!("{place_idp} {} {}{phase_idp}", asset.0, noun(verb_full)),
                _ => format!("{place_idp} {}{phase_idp}", asset.0),
            };
            let in_idp = !rng.chance(scale.noise.budget_only_pct); // budget-only projects
            let in_budget = !in_idp || !rng.chance(41); // IDP-only (unfunded) projects
            let wards = info.locate(home_ward(&place, &mut rng), &mut rng);
            let base = (1 + rng.below(40)) as f64 * 250_000.0;
            let mscoa = format!("{}_{:05}", asset.4, seq);
            seq += 1;
            let mut numbers = Vec::new();
            if in_budget {
                let phase_budget = phase
                    .map(|p| match rng.below(5) {
                        0 => format!(" PH {p}"),
                        1 => format!(" PHASE {p}"),
                        _ => format!(" PH{p}"),
                    })
                    .unwrap_or_default();
                let mut budget_name = if rng.chance(15) {
                    // Some municipalities write descriptions in words, not abbreviations.
                    format!("{verb_full} {} {}{phase_idp}", place.register(false), asset.0)
                } else {
                    format!("{verb_abbr} {} {}{phase_budget}", place.budget(&mut rng), asset.1)
                };
                if rng.chance(scale.noise.unknown_abbreviation_pct) {
                    budget_name = unknown_abbreviation(&budget_name);
                }
                if rng.chance(scale.noise.typo_pct) {
                    budget_name = typo(&budget_name, &mut rng);
                }
                // Drawn only when asked for, so the default world stays the one documented.
                if scale.noise.truncation_pct > 0 && rng.chance(scale.noise.truncation_pct) {
                    budget_name = truncate_word(&budget_name, &mut rng);
                }
                if scale.noise.joined_words_pct > 0 && rng.chance(scale.noise.joined_words_pct) {
                    budget_name = join_words(&budget_name, &mut rng);
                }
                if scale.noise.terse_pct > 0 && rng.chance(scale.noise.terse_pct) {
                    budget_name = terse_words(&budget_name, &mut rng);
                }
                if rng.chance(8) {
                    // Reordered words.
                    let mut words: Vec<&str> = budget_name.split(' ').collect();
                    words.rotate_left(1);
                    budget_name = words.join(" ");
                }
                if rng.chance(scale.noise.empty_description_pct) {
                    // An empty description: only the project number says what it is.
                    budget_name.clear();
                }
                let parts: Vec<(String, String)> = if rng.chance(8) {
                    let named = |s: &str| {
                        if budget_name.is_empty() {
                            String::new()
                        } else {
                            format!("{budget_name} ({s})")
                        }
                    };
                    vec![
                        (named(split_sources[0]), mscoa.clone()),
                        (named(split_sources[1]), format!("{}_{:05}", asset.4, 90_000 + seq)),
                    ]
                } else {
                    vec![(budget_name, mscoa.clone())]
                };
                let ward_text = info.budget_text(&wards, &mut rng);
                let objective = if rng.chance(60) {
                    *rng.pick(PLACEHOLDERS)
                } else {
                    *rng.pick(OBJECTIVES)
                };
                for (line_name, number) in &parts {
                    for by in 0..years.len() {
                        let mut row = vec![
                            code.clone(),
                            asset.3.into(),
                            line_name.clone(),
                            number.clone(),
                            kind.into(),
                            objective.into(),
                            asset.2.into(),
                            asset.5.into(),
                            ward_text.clone(),
                        ];
                        for _ in 0..3 {
                            let v = base / parts.len() as f64 * (0.9 + rng.below(20) as f64 / 100.0);
                            row.push(format!("{:.0}", v.round()));
                        }
                        out.budgets[by].push_str(&csv_line(&row));
                        out.w.budget_lines += 1;
                    }
                    numbers.push(number.clone());
                }
            }
            let mut idp_ref = None;
            if in_idp {
                idp_seq += 1;
                let r = format!("IDP-{code}-{idp_seq:05}");
                let ward_text = info.register_text(&wards, &mut rng);
                let carries_mscoa = in_budget && rng.chance(40);
                let source = funding_source(asset, metro, &mut rng);
                for y in &years {
                    let shown = if rng.chance(10) {
                        typo(&idp_name, &mut rng)
                    } else {
                        idp_name.clone()
                    };
                    out.idp.push_str(&idp_row(
                        code,
                        &r,
                        &shown,
                        kpa(asset),
                        &ward_text,
                        "municipal",
                        asset.2,
                        if carries_mscoa { &mscoa } else { "" },
                        source,
                        if in_budget { "funded" } else { "unfunded" },
                        *y,
                        round_to(base * (0.9 + rng.below(20) as f64 / 100.0), 1000.0),
                    ));
                    out.w.idp_rows += 1;
                }
                out.w.idp_projects += 1;
                for n in &numbers {
                    out.truth("budget_idp", code, n, &r);
                }
                idp_ref = Some(r);
            }
            world.push(MuniProject {
                idp_ref,
                numbers,
                place,
                asset,
                verb: verb_full,
                phase,
                wards,
                base,
                idp_name: in_idp.then_some(idp_name),
            });
        }

        if scale.noise.generic_items > 0 {
            generic_items(
                code,
                &info,
                &years,
                scale.noise.generic_items,
                (&mut seq, &mut idp_seq),
                &mut rng,
                &mut out,
            );
        }

        // Provincial projects in the municipality, one IRM export per year.
        let dept_count = match category.as_str() {
            "A" => 300,
            "B" => 90,
            _ => scale.noise.district_departmental,
        };
        let province_name = PROVINCES
            .iter()
            .find(|(c, _)| c == province)
            .map_or(province.as_str(), |(_, n)| n);
        let district_name = if category == "B" {
            reference.get(parent).map(|d| d.name.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        let mut dept: Vec<DeptProject> = Vec::new();
        let mut dept_places: Vec<PlaceName> = Vec::new();
        let mut dept_names = BTreeSet::new();
        for (k, _) in years.iter().enumerate() {
            // Most projects continue; some finish; a few new ones start.
            if k > 0 {
                for p in dept.iter_mut().filter(|p| p.names[k - 1].is_some()) {
                    if rng.chance(10) {
                        continue;
                    }
                    let mut name = p.names[k - 1].clone().unwrap_or_default();
                    if rng.chance(5) {
                        name = match rng.below(3) {
                            0 => typo(&name, &mut rng),
                            1 if !name.contains("Phase") => format!("{name} - Phase 2"),
                            _ if !name.contains(" of ") => format!("Upgrading of {name}"),
                            _ => typo(&name, &mut rng),
                        };
                    }
                    p.names[k] = Some(name);
                    p.amounts[k] = round_to(p.amounts[k - 1] * (0.6 + rng.below(80) as f64 / 100.0), 1000.0);
                }
            }
            let starting = if k == 0 { dept_count } else { dept_count * 8 / 100 };
            for _ in 0..starting {
                let mut r = rng.below(dept_weight);
                let thing = DEPT_THINGS
                    .iter()
                    .position(|t| {
                        if r < t.4 {
                            true
                        } else {
                            r -= t.4;
                            false
                        }
                    })
                    .unwrap_or(0);
                let mut drawn = None;
                for _ in 0..20 {
                    let place = pool.pick(&mut rng);
                    let n = format!("{} {}", place.register(false), DEPT_THINGS[thing].2);
                    // Not a facility the municipality already builds under that name: that would
                    // be the same project.
                    let municipal = DEPT_THINGS[thing].3.is_some_and(|a| {
                        (0..5).any(|ph| facilities.contains(&(place.key(), a, (ph > 0).then_some(ph))))
                    });
                    if !municipal && dept_names.insert(n) {
                        drawn = Some(place);
                        break;
                    }
                }
                let Some(place) = drawn else { continue };
                let what = DEPT_THINGS[thing].2;
                let plain = format!("{} {what}", place.register(false));
                let irm_name = match rng.below(20) {
                    0..=2 => format!("Construction of {plain}"),
                    3..=4 => format!("Upgrading of {plain}"),
                    5 => format!("{plain} - Replacement"),
                    _ => plain.clone(),
                };
                dept_id += 1;
                let mut names = vec![None; years.len()];
                names[k] = Some(irm_name);
                let mut amounts = vec![0.0; years.len()];
                amounts[k] = (1 + rng.below(20)) as f64 * 500_000.0;
                let p = DeptProject {
                    id: dept_id,
                    thing,
                    names,
                    amounts,
                    total_cost: (5 + rng.below(50)) * 1_000_000,
                };
                dept.push(p);
                dept_places.push(place);
            }
        }
        for (p, place) in dept.iter().zip(&dept_places) {
            let (department, sector, what, municipal_asset, _) = DEPT_THINGS[p.thing];
            let active: Vec<usize> = (0..years.len()).filter(|&k| p.names[k].is_some()).collect();
            for &k in &active {
                let fields = [
                    p.id.to_string(),
                    format!("W/{}", p.id),
                    p.names[k].clone().unwrap_or_default(),
                    province_name.to_string(),
                    department.to_string(),
                    sector.to_string(),
                    if district {
                        (*rng.pick(&["Various", ""])).to_string()
                    } else {
                        name.clone()
                    },
                    if district { name.clone() } else { district_name.clone() },
                    String::new(),
                    String::new(),
                    (*rng.pick(&["Design", "Tender", "Construction", "Construction", "Construction"])).to_string(),
                    p.total_cost.to_string(),
                    format!("{:.0}", p.amounts[k]),
                ];
                out.irm[k].push_str(&csv_line(&fields));
                out.w.departmental_rows += 1;
            }
            out.w.departmental += 1;
            let pid = p.id.to_string();
            let implemented = municipal_asset.and_then(asset_named).filter(|_| rng.chance(20));
            if let Some(asset) = implemented {
                // The municipality implements it: a budget line funded by the provincial grant, in
                // the MTREFs of the years the department reports it, and often a municipal IDP
                // project.
                let wards = info.locate(home_ward(place, &mut rng), &mut rng);
                let (verb_full, verb_abbr, kind) = if rng.chance(70) { VERBS[1] } else { VERBS[0] };
                let mut budget_name = format!("{verb_abbr} {} {}", place.budget(&mut rng), asset.1);
                if rng.chance(15) {
                    budget_name.push_str(" (PROV GRANT)");
                }
                if rng.chance(10) {
                    budget_name = typo(&budget_name, &mut rng);
                }
                let number = format!("{}_{:05}", asset.4, seq);
                seq += 1;
                let ward_text = info.budget_text(&wards, &mut rng);
                for &k in &active {
                    let mut row = vec![
                        code.clone(),
                        asset.3.into(),
                        budget_name.clone(),
                        number.clone(),
                        kind.into(),
                        PLACEHOLDERS[0].into(),
                        asset.2.into(),
                        asset.5.into(),
                        ward_text.clone(),
                    ];
                    for j in k..k + 3 {
                        let planned = p.amounts.get(j).copied().unwrap_or(p.amounts[k] * 0.5);
                        row.push(format!("{:.0}", planned * (0.95 + rng.below(10) as f64 / 100.0)));
                    }
                    out.budgets[k].push_str(&csv_line(&row));
                    out.w.budget_lines += 1;
                }
                out.truth("departmental_budget", code, &pid, &number);
                if rng.chance(70) {
                    idp_seq += 1;
                    let r = format!("IDP-{code}-{idp_seq:05}");
                    let idp_name = format!("{verb_full} {} {}", place.register(rng.chance(30)), asset.0);
                    let ward_text = info.register_text(&wards, &mut rng);
                    let carries_mscoa = rng.chance(40);
                    for &k in &active {
                        out.idp.push_str(&idp_row(
                            code,
                            &r,
                            &idp_name,
                            kpa(asset),
                            &ward_text,
                            "municipal",
                            asset.2,
                            if carries_mscoa { &number } else { "" },
                            "Provincial grant",
                            "funded",
                            years[k],
                            p.amounts[k],
                        ));
                        out.w.idp_rows += 1;
                    }
                    out.w.idp_projects += 1;
                    out.truth("departmental_idp", code, &pid, &r);
                    out.truth("budget_idp", code, &number, &r);
                }
            } else if rng.chance(60) {
                // Listed among the IDP's sector projects, in the years the department reports it.
                let r = format!("IDP-{code}-S{}", p.id);
                let first = p.names[active[0]].clone().unwrap_or_default();
                let variant = match rng.below(4) {
                    0 if !first.contains(" of ") => format!("Construction of {first}"),
                    1 => format!("{first} (Dept of {department})"),
                    2 => typo(&first, &mut rng),
                    _ => format!("{} {what}", place.register(rng.chance(50))),
                };
                let with_amount = rng.chance(50);
                for &k in &active {
                    out.idp.push_str(&idp_row(
                        code,
                        &r,
                        &variant,
                        "Basic Service Delivery",
                        "",
                        "provincial",
                        "",
                        "",
                        department,
                        "funded",
                        years[k],
                        if with_amount { p.amounts[k] } else { 0.0 },
                    ));
                    out.w.idp_rows += 1;
                }
                out.w.idp_projects += 1;
                out.truth("departmental_idp", code, &pid, &r);
            }
        }

        if metro {
            bepp_pipeline(code, &world, &info, &years, &mut rng, &mut out);
        }
    }
    let mut pipeline = format!(
        "# National-scale benchmark pipeline, written by `harvester synth --municipalities`.\nname = \"national\"\n[publish]\nlocation = \"out\"\n[reconcile]\nfinancial_years = [{}]\n",
        years.iter().map(|y| format!("\"{}\"", year_label(*y))).collect::<Vec<_>>().join(", ")
    );
    for by in &years {
        let _ = write!(
            pipeline,
            "[[sources]]\nname = \"budget_{by}\"\nlocation = \"budget_{by}.csv\"\ncontract = \"sa36_extract\"\n"
        );
    }
    let _ = write!(
        pipeline,
        "[[sources]]\nname = \"idp\"\nlocation = \"idp.csv\"\ncontract = \"idp_register\"\n"
    );
    for y in &years {
        // The IRM export does not say its (national, April–March) financial year.
        let _ = write!(
            pipeline,
            "[[sources]]\nname = \"irm_{y}\"\nlocation = \"irm_{y}.csv\"\ncontract = \"irm_departmental\"\nfinancial_year = \"{}\"\n",
            year_label(*y)
        );
    }
    let _ = write!(
        pipeline,
        "[[sources]]\nname = \"bepp\"\nlocation = \"bepp.csv\"\ncontract = \"bepp_pipeline\"\n"
    );
    let Out {
        budgets,
        idp,
        irm,
        bepp,
        truth,
        mut w,
    } = out;
    let mut files: Vec<(String, String)> = years
        .iter()
        .zip(budgets)
        .map(|(by, b)| (format!("budget_{by}.csv"), b))
        .collect();
    files.push(("idp.csv".to_string(), idp));
    files.extend(years.iter().zip(irm).map(|(y, t)| (format!("irm_{y}.csv"), t)));
    files.extend([
        ("bepp.csv".to_string(), bepp),
        ("truth.csv".to_string(), truth),
        ("national.toml".to_string(), pipeline),
    ]);
    std::fs::create_dir_all(dir).map_err(|source| SynthError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    for (name, text) in files {
        let path = dir.join(&name);
        std::fs::write(&path, text).map_err(|source| SynthError::Io {
            path: path.display().to_string(),
            source,
        })?;
        w.files.push(path);
    }
    Ok(w)
}

/// A metro's BEPP pipeline: 200 projects, one row per project per year. About 70% are the
/// metro's own capital projects under a BEPP name (sometimes carrying the IDP reference or the
/// mSCOA project number); the rest are BEPP-only catalytic projects.
fn bepp_pipeline(code: &str, world: &[MuniProject], info: &WardInfo, years: &[i32], rng: &mut Rng, out: &mut Out) {
    const PROJECTS: usize = 200;
    let Some(first) = years.first() else { return };
    let bepp_year = year_label(*first);
    // Each place lies in one integration zone.
    let zones = 3 + rng.below(3);
    let mut zone_of: BTreeMap<String, String> = BTreeMap::new();
    let mut zone = |base: &str, rng: &mut Rng| {
        zone_of
            .entry(base.to_string())
            .or_insert_with(|| format!("IZ{}", 1 + rng.below(zones)))
            .clone()
    };
    // The metro's own projects, drawn without repetition.
    let mut order: Vec<usize> = (0..world.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let linked = PROJECTS * 70 / 100;
    let mut seen = BTreeSet::new();
    for b in 0..PROJECTS {
        let bepp_ref = format!("BEPP-{code}-{b:04}");
        let (programme, iz, name, phase, lead, wards, idp_ref, mscoa, source, base) = if let Some(p) =
            order.get(b).filter(|_| b < linked).map(|&i| &world[i])
        {
            let iz = zone(&p.place.base, rng);
            let phase_text = p.phase.map(|n| format!(" Phase {n}")).unwrap_or_default();
            let place = p.place.register(rng.chance(30));
            let mut name = match rng.below(100) {
                0..=39 => format!("{place} {} {}{phase_text}", p.asset.0, noun(p.verb)),
                40..=64 => format!("{place} {} {}{phase_text} ({iz})", p.asset.0, noun(p.verb)),
                65..=84 => p
                    .idp_name
                    .clone()
                    .unwrap_or_else(|| format!("{} {place} {}{phase_text}", p.verb, p.asset.0)),
                _ => format!("{place} {}{phase_text}", p.asset.0),
            };
            if rng.chance(8) {
                name = typo(&name, rng);
            }
            let programme = match (p.asset.2, p.asset.5) {
                ("Roads Infrastructure", _) | (_, "Taxi Ranks/Bus Terminals") => "Integrated Public Transport Network",
                ("Housing", _) => "Human Settlements Programme",
                (c, _) if c.ends_with("Infrastructure") => "Bulk Infrastructure for Integration Zones",
                _ => "Township Economic Regeneration",
            };
            let phase = *rng.pick(&[
                "implementation",
                "implementation",
                "implementation",
                "implementation",
                "implementation",
                "implementation",
                "implementation",
                "design",
                "design",
                "feasibility",
            ]);
            let idp_ref = p.idp_ref.clone().filter(|_| rng.chance(40));
            let mscoa = p.numbers.first().cloned().filter(|_| rng.chance(30));
            let source = if programme == "Integrated Public Transport Network" && rng.chance(50) {
                "PTNG"
            } else {
                *rng.pick(&["USDG", "USDG", "USDG", "own revenue"])
            };
            if let Some(r) = &p.idp_ref {
                out.truth("bepp_idp", code, &bepp_ref, r);
            }
            for n in &p.numbers {
                out.truth("bepp_budget", code, &bepp_ref, n);
            }
            (
                programme,
                iz,
                name,
                phase,
                "municipal",
                p.wards.clone(),
                idp_ref,
                mscoa,
                source,
                p.base,
            )
        } else {
            // A catalytic project of the BEPP alone.
            let mut drawn = None;
            for _ in 0..20 {
                let place = PlaceName {
                    base: world
                        .get(rng.below(world.len() as u64) as usize)
                        .map_or_else(|| code.to_string(), |p| p.place.base.clone()),
                    suffix: Suffix::None,
                };
                let name = format!("{} {}", place.base, rng.pick(CATALYTIC));
                if seen.insert(name.clone()) {
                    drawn = Some((place, name));
                    break;
                }
            }
            let Some((place, name)) = drawn else { continue };
            let wards = if rng.chance(30) {
                WardLoc::Whole
            } else {
                let w = 1 + rng.below(info.count as u64) as u32;
                WardLoc::Wards(if w < info.count { vec![w, w + 1] } else { vec![w] })
            };
            (
                "Catalytic Land Development Programme",
                zone(&place.base, rng),
                name,
                *rng.pick(&["pre-feasibility", "feasibility", "design", "implementation"]),
                *rng.pick(&["municipal", "provincial", "national", "private"]),
                wards,
                None,
                None,
                *rng.pick(&["ICDG", "NDPG", "HSDG", "private", "own revenue"]),
                (5 + rng.below(95)) as f64 * 1_000_000.0,
            )
        };
        let ward_text = if rng.chance(20) {
            String::new()
        } else {
            info.register_text(&wards, rng)
        };
        for y in years {
            let fields = [
                code.to_string(),
                bepp_year.clone(),
                programme.to_string(),
                iz.clone(),
                bepp_ref.clone(),
                name.clone(),
                phase.to_string(),
                lead.to_string(),
                ward_text.clone(),
                idp_ref.clone().unwrap_or_default(),
                mscoa.clone().unwrap_or_default(),
                year_label(*y),
                source.to_string(),
                format!("{:.0}", round_to(base * (0.8 + rng.below(40) as f64 / 100.0), 1000.0)),
            ];
            out.bepp.push_str(&csv_line(&fields));
            out.w.bepp_rows += 1;
        }
        out.w.bepp_projects += 1;
    }
}

//! A metro's BEPP pipeline: 200 projects, one row per project per year.
//!
//! About 70% are the metro's own capital projects under a BEPP name (`Mdantsane Access Road
//! Upgrade (IZ2)`) or as in the IDP, sometimes carrying the IDP reference or the mSCOA project
//! number, with `bepp_idp` and `bepp_budget` truth pairs; the rest are BEPP-only catalytic
//! precinct projects. Each place lies in one integration zone.

use super::noise::typo;
use super::place::{PlaceName, Suffix, WardLoc};
use super::projects::{noun, MuniProject};
use super::{round_to, Generator, Municipality, Out};
use crate::synth::{csv_line, year_label, Rng};
use std::collections::{BTreeMap, BTreeSet};

/// Projects in a metro's BEPP.
const PROJECTS: usize = 200;

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

/// One BEPP project as its rows state it.
struct BeppProject {
    programme: &'static str,
    iz: String,
    name: String,
    phase: &'static str,
    lead: &'static str,
    wards: WardLoc,
    idp_ref: Option<String>,
    mscoa: Option<String>,
    source: &'static str,
    base: f64,
}

/// The metro's integration zones: how many there are, and the zone of each place seen so far.
struct Zones {
    count: u64,
    of: BTreeMap<String, String>,
}

impl Zones {
    /// The place's zone (`IZ2`), drawn the first time the place is seen.
    fn zone(&mut self, base: &str, rng: &mut Rng) -> String {
        let count = self.count;
        self.of
            .entry(base.to_string())
            .or_insert_with(|| format!("IZ{}", 1 + rng.below(count)))
            .clone()
    }
}

impl Generator {
    /// The metro's BEPP: its own projects (drawn without repetition) first, then catalytic ones.
    pub(super) fn bepp_pipeline(&mut self, m: &Municipality) {
        let Some(first) = self.years.first() else { return };
        let bepp_year = year_label(*first);
        let code = m.code();
        let rng = &mut self.rng;
        let mut zones = Zones {
            count: 3 + rng.below(3),
            of: BTreeMap::new(),
        };
        // The metro's own projects, drawn without repetition.
        let mut order: Vec<usize> = (0..m.world.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let linked = PROJECTS * 70 / 100;
        let mut seen = BTreeSet::new();
        for b in 0..PROJECTS {
            let bepp_ref = format!("BEPP-{code}-{b:04}");
            let project = if let Some(p) = order.get(b).filter(|_| b < linked).map(|&i| &m.world[i]) {
                own_project(code, &bepp_ref, p, &mut zones, rng, &mut self.out)
            } else {
                let Some(project) = catalytic_project(m, &mut zones, &mut seen, rng) else {
                    continue;
                };
                project
            };
            let ward_text = if rng.chance(20) {
                String::new()
            } else {
                m.info.register_text(&project.wards, rng)
            };
            for y in &self.years {
                let fields = [
                    code.to_string(),
                    bepp_year.clone(),
                    project.programme.to_string(),
                    project.iz.clone(),
                    bepp_ref.clone(),
                    project.name.clone(),
                    project.phase.to_string(),
                    project.lead.to_string(),
                    ward_text.clone(),
                    project.idp_ref.clone().unwrap_or_default(),
                    project.mscoa.clone().unwrap_or_default(),
                    year_label(*y),
                    project.source.to_string(),
                    format!(
                        "{:.0}",
                        round_to(project.base * (0.8 + rng.below(40) as f64 / 100.0), 1000.0)
                    ),
                ];
                self.out.bepp.push_str(&csv_line(&fields));
                self.out.w.bepp_rows += 1;
            }
            self.out.w.bepp_projects += 1;
        }
    }
}

/// One of the metro's own projects under its BEPP name, with its `bepp_idp` and `bepp_budget`
/// truth pairs.
fn own_project(
    code: &str,
    bepp_ref: &str,
    p: &MuniProject,
    zones: &mut Zones,
    rng: &mut Rng,
    out: &mut Out,
) -> BeppProject {
    let iz = zones.zone(&p.place.base, rng);
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
        out.truth("bepp_idp", code, bepp_ref, r);
    }
    for n in &p.numbers {
        out.truth("bepp_budget", code, bepp_ref, n);
    }
    BeppProject {
        programme,
        iz,
        name,
        phase,
        lead: "municipal",
        wards: p.wards.clone(),
        idp_ref,
        mscoa,
        source,
        base: p.base,
    }
}

/// A catalytic project of the BEPP alone, at one of the metro's places under a name not yet
/// used (`None` when 20 draws find none).
fn catalytic_project(
    m: &Municipality,
    zones: &mut Zones,
    seen: &mut BTreeSet<String>,
    rng: &mut Rng,
) -> Option<BeppProject> {
    let mut drawn = None;
    for _ in 0..20 {
        let place = PlaceName {
            base: m
                .world
                .get(rng.below(m.world.len() as u64) as usize)
                .map_or_else(|| m.code().to_string(), |p| p.place.base.clone()),
            suffix: Suffix::None,
        };
        let name = format!("{} {}", place.base, rng.pick(CATALYTIC));
        if seen.insert(name.clone()) {
            drawn = Some((place, name));
            break;
        }
    }
    let (place, name) = drawn?;
    let wards = if rng.chance(30) {
        WardLoc::Whole
    } else {
        let w = 1 + rng.below(m.info.count as u64) as u32;
        WardLoc::Wards(if w < m.info.count { vec![w, w + 1] } else { vec![w] })
    };
    // Drawn in this order: zone, phase, lead, source, amount.
    let iz = zones.zone(&place.base, rng);
    let phase = *rng.pick(&["pre-feasibility", "feasibility", "design", "implementation"]);
    let lead = *rng.pick(&["municipal", "provincial", "national", "private"]);
    let source = *rng.pick(&["ICDG", "NDPG", "HSDG", "private", "own revenue"]);
    let base = (5 + rng.below(95)) as f64 * 1_000_000.0;
    Some(BeppProject {
        programme: "Catalytic Land Development Programme",
        iz,
        name,
        phase,
        lead,
        wards,
        idp_ref: None,
        mscoa: None,
        source,
        base,
    })
}

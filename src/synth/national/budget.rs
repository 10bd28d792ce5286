//! A municipal project's SA36 lines: its description the budget's way, and one line per MTREF.
//!
//! The description is abbreviated Treasury-style (`UPGR MDANTSANE EXT 4 COM HALL PH2`) or, in
//! some municipalities, written in words, then the noise profile has its way with it
//! ([`Noise::budget_name`](super::Noise::budget_name)). Some projects are split into two lines
//! by funding source, each with its own project number.

use super::projects::Planned;
use super::{Generator, Municipality};
use crate::synth::vocabulary::{OBJECTIVES, PLACEHOLDERS};
use crate::synth::{csv_line, Rng};

impl Generator {
    /// Writes the project's budget lines in every MTREF; the project numbers they carry.
    pub(super) fn budget_lines(&mut self, m: &Municipality, p: &Planned) -> Vec<String> {
        let rng = &mut self.rng;
        let budget_name = self.scale.noise.budget_name(budget_name(p, rng), rng);
        let parts = split_by_source(budget_name, p, m, rng);
        let ward_text = m.info.budget_text(&p.wards, rng);
        let objective = if rng.chance(60) {
            *rng.pick(PLACEHOLDERS)
        } else {
            *rng.pick(OBJECTIVES)
        };
        let (asset, kind) = (p.asset, p.verb.2);
        let mut numbers = Vec::new();
        for (line_name, number) in &parts {
            for by in 0..self.years.len() {
                let mut row = vec![
                    m.code().to_string(),
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
                    let v = p.base / parts.len() as f64 * (0.9 + rng.below(20) as f64 / 100.0);
                    row.push(format!("{:.0}", v.round()));
                }
                self.out.budgets[by].push_str(&csv_line(&row));
                self.out.w.budget_lines += 1;
            }
            numbers.push(number.clone());
        }
        numbers
    }
}

/// The description before noise: `UPGR MDANTSANE EXT 4 COM HALL PH2`, or (some municipalities
/// write descriptions in words, not abbreviations) `Upgrading of Mdantsane Ext 4 Community Hall
/// Phase 2`.
fn budget_name(p: &Planned, rng: &mut Rng) -> String {
    let (verb_full, verb_abbr, _) = *p.verb;
    let phase_idp = p.phase_idp();
    let phase_budget = p
        .phase
        .map(|n| match rng.below(5) {
            0 => format!(" PH {n}"),
            1 => format!(" PHASE {n}"),
            _ => format!(" PH{n}"),
        })
        .unwrap_or_default();
    if rng.chance(15) {
        format!("{verb_full} {} {}{phase_idp}", p.place.register(false), p.asset.0)
    } else {
        format!("{verb_abbr} {} {}{phase_budget}", p.place.budget(rng), p.asset.1)
    }
}

/// The lines the project is budgeted in, (description, project number): usually one; sometimes
/// two, one per funding source (`… (USDG)` and `… (CRR)`), the second with a number of its own.
fn split_by_source(budget_name: String, p: &Planned, m: &Municipality, rng: &mut Rng) -> Vec<(String, String)> {
    let split_sources = if m.metro { ["USDG", "CRR"] } else { ["MIG", "CRR"] };
    if rng.chance(8) {
        let named = |s: &str| {
            if budget_name.is_empty() {
                String::new()
            } else {
                format!("{budget_name} ({s})")
            }
        };
        vec![
            (named(split_sources[0]), p.mscoa.clone()),
            (named(split_sources[1]), format!("{}_{:05}", p.asset.4, 90_000 + m.seq)),
        ]
    } else {
        vec![(budget_name, p.mscoa.clone())]
    }
}

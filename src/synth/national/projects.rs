//! A municipality's own capital projects: what is built where, and under which IDP name.
//!
//! [`Generator::municipal_project`] draws one project (asset, a verb that fits it, place,
//! phase), names it the IDP's way, decides whether it is in the IDP, the budget or both, and
//! hands it to `budget.rs` for its SA36 lines and `idp.rs` for its IDP rows, in that order.

use super::place::{PlaceName, WardLoc};
use super::{Generator, Municipality};
use crate::synth::vocabulary::{Asset, Verb};
use crate::synth::Rng;

/// More verbs for the national world (the sample uses `VERBS` alone).
pub(super) const MORE_VERBS: &[Verb] = &[
    ("Resurfacing of", "RESURF", "Renewal"),
    ("Replacement of", "REPL", "Renewal"),
    ("Installation of", "INSTAL", "New"),
];

/// The noun of an IDP verb (`Upgrading of` → `Upgrade`), for names like `Mdantsane Hall Upgrade`.
pub(super) fn noun(verb: &str) -> &'static str {
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

/// One municipal capital project, as the BEPP generator needs to see it.
pub(super) struct MuniProject {
    pub(super) idp_ref: Option<String>,
    pub(super) numbers: Vec<String>,
    pub(super) place: PlaceName,
    pub(super) asset: &'static Asset,
    pub(super) verb: &'static str,
    pub(super) phase: Option<u64>,
    pub(super) wards: WardLoc,
    pub(super) base: f64,
    pub(super) idp_name: Option<String>,
}

/// A project being written: what was drawn for it and what follows from that.
pub(super) struct Planned {
    pub(super) asset: &'static Asset,
    pub(super) verb: &'static Verb,
    pub(super) place: PlaceName,
    pub(super) phase: Option<u64>,
    /// The name as the IDP writes it.
    pub(super) idp_name: String,
    /// Whether the budget has it (else it is an IDP-only, unfunded project).
    pub(super) in_budget: bool,
    pub(super) wards: WardLoc,
    /// The planned yearly amount the budget and IDP amounts vary around.
    pub(super) base: f64,
    /// The project number (the first budget line's, when the line is split).
    pub(super) mscoa: String,
}

impl Planned {
    /// ` Phase 2`, or nothing.
    pub(super) fn phase_idp(&self) -> String {
        self.phase.map(|p| format!(" Phase {p}")).unwrap_or_default()
    }
}

impl Generator {
    /// Draws one of the municipality's own projects and writes its budget lines and IDP rows.
    pub(super) fn municipal_project(&mut self, m: &mut Municipality) {
        let Some((asset, verb, place, phase)) = self.draw_project(m) else {
            return;
        };
        let rng = &mut self.rng;
        let idp_name = idp_name(verb.0, &place, asset, phase, rng);
        let in_idp = !rng.chance(self.scale.noise.budget_only_pct); // budget-only projects
        let in_budget = !in_idp || !rng.chance(41); // IDP-only (unfunded) projects
        let wards = m.locate(&place, rng);
        let base = (1 + rng.below(40)) as f64 * 250_000.0;
        let mscoa = m.next_number(asset.4);
        let p = Planned {
            asset,
            verb,
            place,
            phase,
            idp_name,
            in_budget,
            wards,
            base,
            mscoa,
        };
        let numbers = if in_budget {
            self.budget_lines(m, &p)
        } else {
            Vec::new()
        };
        let idp_ref = in_idp.then(|| self.idp_rows(m, &p, &numbers));
        m.world.push(MuniProject {
            idp_ref,
            numbers,
            place: p.place,
            asset,
            verb: verb.0,
            phase,
            wards: p.wards,
            base,
            idp_name: in_idp.then_some(p.idp_name),
        });
    }

    /// An asset, a verb that fits it, a place and a phase, drawn until the project is not one
    /// the municipality already has (at most 20 draws; `None` after that).
    fn draw_project(
        &mut self,
        m: &mut Municipality,
    ) -> Option<(&'static Asset, &'static Verb, PlaceName, Option<u64>)> {
        let rng = &mut self.rng;
        for _ in 0..20 {
            let asset = *rng.pick(&self.assets);
            let fitting: Vec<_> = self.verbs.iter().copied().filter(|v| verb_fits(v.0, asset)).collect();
            let verb = *rng.pick(&fitting);
            let place = m.pool.pick(rng);
            let phase = if rng.chance(20) { Some(1 + rng.below(4)) } else { None };
            if m.facilities.insert((place.key(), asset.0, phase)) {
                return Some((asset, verb, place, phase));
            }
        }
        None
    }
}

/// The project's IDP name: `Upgrading of Mdantsane Ext 4 Community Hall`, `Mdantsane Ext 4
/// Community Hall Upgrade` or `Mdantsane Ext 4 Community Hall`, with its phase.
fn idp_name(verb_full: &str, place: &PlaceName, asset: &Asset, phase: Option<u64>, rng: &mut Rng) -> String {
    let phase_idp = phase.map(|p| format!(" Phase {p}")).unwrap_or_default();
    let place_idp = place.register(rng.chance(30));
    match rng.below(100) {
        0..=64 => format!("{verb_full} {place_idp} {}{phase_idp}", asset.0),
        65..=89 => format!("{place_idp} {} {}{phase_idp}", asset.0, noun(verb_full)),
        _ => format!("{place_idp} {}{phase_idp}", asset.0),
    }
}

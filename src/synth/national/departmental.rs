//! Provincial departmental projects and the IRM exports that report them, one per year.
//!
//! Departments build schools, clinics, roads and houses in every metro and local (and, in the
//! `terse` profile, in district municipalities). Most projects continue from year to year under
//! the same `Project ID` (amounts change, names are sometimes edited), some finish and a few
//! start. About one in ten that the municipality could build as its own asset is implemented by
//! it: a budget line funded by the provincial grant, often with a municipal IDP project. Most of
//! the others are listed among the IDP's sector projects.

use super::idp::{idp_row, kpa};
use super::noise::typo;
use super::place::{PlaceName, WardLoc};
use super::{round_to, Generator, Municipality};
use crate::contracts::reference::Reference;
use crate::synth::vocabulary::{Asset, PLACEHOLDERS, VERBS};
use crate::synth::{csv_line, Rng};
use std::collections::BTreeSet;

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

/// The sum of the departmental things' relative frequencies.
pub(super) fn weight() -> u64 {
    DEPT_THINGS.iter().map(|t| t.4).sum()
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

/// A departmental project the municipality implements: its asset, the verb its names use, its
/// budget lines' project number and where it is.
struct Implementation {
    asset: &'static Asset,
    verb: &'static str,
    number: String,
    wards: WardLoc,
}

impl Generator {
    /// The municipality's departmental projects: IRM rows in every year each is reported, and
    /// for each either the municipality's own budget lines (and often IDP rows) or, more often,
    /// a row among the IDP's sector projects.
    pub(super) fn departmental(&mut self, m: &mut Municipality) {
        let row = m.row;
        let count = match row.category.as_str() {
            "A" => 300,
            "B" => 90,
            _ => self.scale.noise.district_departmental,
        };
        let province_name = PROVINCES
            .iter()
            .find(|(c, _)| *c == row.province)
            .map_or(row.province.as_str(), |(_, n)| n);
        let district_name = if row.category == "B" {
            Reference::bundled()
                .get(&row.parent)
                .map(|d| d.name.clone())
                .unwrap_or_default()
        } else {
            String::new()
        };
        let (dept, dept_places) = self.departmental_projects(m, count);
        for (p, place) in dept.iter().zip(&dept_places) {
            let active = self.irm_rows(m, p, province_name, &district_name);
            let municipal_asset = DEPT_THINGS[p.thing].3;
            let implemented = municipal_asset
                .and_then(|a| self.asset_named(a))
                .filter(|_| self.rng.chance(20));
            if let Some(asset) = implemented {
                // The municipality implements it: a budget line funded by the provincial grant, in
                // the MTREFs of the years the department reports it, and often a municipal IDP
                // project.
                let imp = self.implemented_budget_lines(m, p, place, asset, &active);
                if self.rng.chance(70) {
                    self.implemented_idp_rows(m, p, place, &imp, &active);
                }
            } else if self.rng.chance(60) {
                self.sector_idp_rows(m, p, place, &active);
            }
        }
    }

    /// The projects year by year: most continue, some finish, a few new ones start (all of
    /// them in the first year). Each with the place it is at.
    fn departmental_projects(&mut self, m: &Municipality, count: u64) -> (Vec<DeptProject>, Vec<PlaceName>) {
        let mut dept: Vec<DeptProject> = Vec::new();
        let mut dept_places: Vec<PlaceName> = Vec::new();
        let mut dept_names = BTreeSet::new();
        for k in 0..self.years.len() {
            // Most projects continue; some finish; a few new ones start.
            if k > 0 {
                continue_projects(&mut dept, k, &mut self.rng);
            }
            let starting = if k == 0 { count } else { count * 8 / 100 };
            for _ in 0..starting {
                if let Some((p, place)) = self.start_project(m, k, &mut dept_names) {
                    dept.push(p);
                    dept_places.push(place);
                }
            }
        }
        (dept, dept_places)
    }

    /// A project starting in year `k`: a weighted draw of what is built, at a place where the
    /// municipality does not build it (`None` when 20 draws find none), under a name the
    /// municipality's departmental projects do not have yet.
    fn start_project(
        &mut self,
        m: &Municipality,
        k: usize,
        dept_names: &mut BTreeSet<String>,
    ) -> Option<(DeptProject, PlaceName)> {
        let rng = &mut self.rng;
        let mut r = rng.below(self.dept_weight);
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
        let place = departmental_place(m, thing, dept_names, rng)?;
        let what = DEPT_THINGS[thing].2;
        let plain = format!("{} {what}", place.register(false));
        let irm_name = match rng.below(20) {
            0..=2 => format!("Construction of {plain}"),
            3..=4 => format!("Upgrading of {plain}"),
            5 => format!("{plain} - Replacement"),
            _ => plain.clone(),
        };
        self.dept_id += 1;
        let mut names = vec![None; self.years.len()];
        names[k] = Some(irm_name);
        let mut amounts = vec![0.0; self.years.len()];
        amounts[k] = (1 + rng.below(20)) as f64 * 500_000.0;
        let p = DeptProject {
            id: self.dept_id,
            thing,
            names,
            amounts,
            total_cost: (5 + rng.below(50)) * 1_000_000,
        };
        Some((p, place))
    }

    /// The project's IRM rows, one in each year it is reported; those years.
    fn irm_rows(&mut self, m: &Municipality, p: &DeptProject, province_name: &str, district_name: &str) -> Vec<usize> {
        let (department, sector, _, _, _) = DEPT_THINGS[p.thing];
        let (name, district) = (&m.row.name, m.district);
        let rng = &mut self.rng;
        let active: Vec<usize> = (0..self.years.len()).filter(|&k| p.names[k].is_some()).collect();
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
                if district {
                    name.clone()
                } else {
                    district_name.to_string()
                },
                String::new(),
                String::new(),
                (*rng.pick(&["Design", "Tender", "Construction", "Construction", "Construction"])).to_string(),
                p.total_cost.to_string(),
                format!("{:.0}", p.amounts[k]),
            ];
            self.out.irm[k].push_str(&csv_line(&fields));
            self.out.w.departmental_rows += 1;
        }
        self.out.w.departmental += 1;
        active
    }

    /// A project the municipality implements: its budget lines in the MTREFs of the years the
    /// department reports it, and the `departmental_budget` truth pair.
    fn implemented_budget_lines(
        &mut self,
        m: &mut Municipality,
        p: &DeptProject,
        place: &PlaceName,
        asset: &'static Asset,
        active: &[usize],
    ) -> Implementation {
        let code = m.code();
        let rng = &mut self.rng;
        let wards = m.locate(place, rng);
        let (verb_full, verb_abbr, kind) = if rng.chance(70) { VERBS[1] } else { VERBS[0] };
        let mut budget_name = format!("{verb_abbr} {} {}", place.budget(rng), asset.1);
        if rng.chance(15) {
            budget_name.push_str(" (PROV GRANT)");
        }
        if rng.chance(10) {
            budget_name = typo(&budget_name, rng);
        }
        let number = m.next_number(asset.4);
        let ward_text = m.info.budget_text(&wards, rng);
        for &k in active {
            let mut row = vec![
                code.to_string(),
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
            self.out.budgets[k].push_str(&csv_line(&row));
            self.out.w.budget_lines += 1;
        }
        self.out.truth("departmental_budget", code, &p.id.to_string(), &number);
        Implementation {
            asset,
            verb: verb_full,
            number,
            wards,
        }
    }

    /// The municipal IDP project of an implemented departmental project, in the years the
    /// department reports it, with its `departmental_idp` and `budget_idp` truth pairs.
    fn implemented_idp_rows(
        &mut self,
        m: &mut Municipality,
        p: &DeptProject,
        place: &PlaceName,
        imp: &Implementation,
        active: &[usize],
    ) {
        let code = m.code();
        let r = m.next_idp_ref();
        let rng = &mut self.rng;
        let asset = imp.asset;
        let idp_name = format!("{} {} {}", imp.verb, place.register(rng.chance(30)), asset.0);
        let ward_text = m.info.register_text(&imp.wards, rng);
        let carries_mscoa = rng.chance(40);
        for &k in active {
            self.out.idp.push_str(&idp_row(
                code,
                &r,
                &idp_name,
                kpa(asset),
                &ward_text,
                "municipal",
                asset.2,
                if carries_mscoa { &imp.number } else { "" },
                "Provincial grant",
                "funded",
                self.years[k],
                p.amounts[k],
            ));
            self.out.w.idp_rows += 1;
        }
        self.out.w.idp_projects += 1;
        let pid = p.id.to_string();
        self.out.truth("departmental_idp", code, &pid, &r);
        self.out.truth("budget_idp", code, &imp.number, &r);
    }

    /// The project listed among the IDP's sector projects, in the years the department reports
    /// it, under a variant of its IRM name, with its `departmental_idp` truth pair.
    fn sector_idp_rows(&mut self, m: &Municipality, p: &DeptProject, place: &PlaceName, active: &[usize]) {
        let (department, _, what, _, _) = DEPT_THINGS[p.thing];
        let code = m.code();
        let rng = &mut self.rng;
        let r = format!("IDP-{code}-S{}", p.id);
        let first = p.names[active[0]].clone().unwrap_or_default();
        let variant = match rng.below(4) {
            0 if !first.contains(" of ") => format!("Construction of {first}"),
            1 => format!("{first} (Dept of {department})"),
            2 => typo(&first, rng),
            _ => format!("{} {what}", place.register(rng.chance(50))),
        };
        let with_amount = rng.chance(50);
        for &k in active {
            self.out.idp.push_str(&idp_row(
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
                self.years[k],
                if with_amount { p.amounts[k] } else { 0.0 },
            ));
            self.out.w.idp_rows += 1;
        }
        self.out.w.idp_projects += 1;
        self.out.truth("departmental_idp", code, &p.id.to_string(), &r);
    }
}

/// Year `k` of the projects reported the year before: one in ten finishes; the rest continue
/// with a new amount, and one in twenty under an edited name.
fn continue_projects(dept: &mut [DeptProject], k: usize, rng: &mut Rng) {
    for p in dept.iter_mut().filter(|p| p.names[k - 1].is_some()) {
        if rng.chance(10) {
            continue;
        }
        let mut name = p.names[k - 1].clone().unwrap_or_default();
        if rng.chance(5) {
            name = match rng.below(3) {
                0 => typo(&name, rng),
                1 if !name.contains("Phase") => format!("{name} - Phase 2"),
                _ if !name.contains(" of ") => format!("Upgrading of {name}"),
                _ => typo(&name, rng),
            };
        }
        p.names[k] = Some(name);
        p.amounts[k] = round_to(p.amounts[k - 1] * (0.6 + rng.below(80) as f64 / 100.0), 1000.0);
    }
}

/// A place for a departmental project of this kind: not a facility the municipality already
/// builds under that name (that would be the same project), and a name not yet taken. `None`
/// after 20 draws.
fn departmental_place(
    m: &Municipality,
    thing: usize,
    dept_names: &mut BTreeSet<String>,
    rng: &mut Rng,
) -> Option<PlaceName> {
    for _ in 0..20 {
        let place = m.pool.pick(rng);
        let n = format!("{} {}", place.register(false), DEPT_THINGS[thing].2);
        // Not a facility the municipality already builds under that name: that would be the
        // same project.
        let municipal = DEPT_THINGS[thing]
            .3
            .is_some_and(|a| (0..5).any(|ph| m.facilities.contains(&(place.key(), a, (ph > 0).then_some(ph)))));
        if !municipal && dept_names.insert(n) {
            return Some(place);
        }
    }
    None
}

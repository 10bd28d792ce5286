//! Generic items (`Office Furniture - Finance 2`), the `generic` noise profile's budget lines.
//!
//! Municipalities budget the same items for every department under near-identical names. Half
//! of them are also in the IDP under the same name and number; half are budget-only under a
//! number the IDP's look-alikes do not use, so the linker must not join them by name alone.

use super::idp::idp_row;
use super::{round_to, Generator, Municipality};
use crate::synth::csv_line;
use std::collections::BTreeSet;

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

impl Generator {
    /// The municipality's generic items (as many as the noise profile says, less repeats):
    /// budget lines in every MTREF, and for half of them IDP rows and a `budget_idp` truth pair.
    pub(super) fn generic_items(&mut self, m: &mut Municipality) {
        let code = m.code();
        let rng = &mut self.rng;
        let out = &mut self.out;
        let mut used: BTreeSet<(usize, usize, u64)> = BTreeSet::new();
        for n in 0..self.scale.noise.generic_items {
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
            let mscoa = m.next_number("PC002003003001");
            let base = (1 + rng.below(20)) as f64 * 25_000.0;
            let ward_text = m.info.whole(rng);
            for by in 0..self.years.len() {
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
                let r = m.next_idp_ref();
                for y in &self.years {
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
}

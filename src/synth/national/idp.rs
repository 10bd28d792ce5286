//! IDP register rows: the register's columns, and a municipal project's row per year.
//!
//! A municipal project in the IDP gets the next IDP reference, its ward list the register's way
//! (sometimes as 8-digit ward codes), sometimes the budget's project number, a funding source,
//! and one row per year (now and then with a typo in the name). Its `budget_idp` truth pairs
//! join the reference to every budget line's number.

use super::noise::typo;
use super::projects::Planned;
use super::{round_to, Generator, Municipality};
use crate::synth::vocabulary::Asset;
use crate::synth::{csv_line, year_label, Rng};

impl Generator {
    /// Writes the project's IDP rows, one per year, and its `budget_idp` truth pairs; its IDP
    /// reference.
    pub(super) fn idp_rows(&mut self, m: &mut Municipality, p: &Planned, numbers: &[String]) -> String {
        let code = m.code();
        let r = m.next_idp_ref();
        let rng = &mut self.rng;
        let ward_text = m.info.register_text(&p.wards, rng);
        let carries_mscoa = p.in_budget && rng.chance(40);
        let source = funding_source(p.asset, m.metro, rng);
        for y in &self.years {
            let shown = if rng.chance(10) {
                typo(&p.idp_name, rng)
            } else {
                p.idp_name.clone()
            };
            self.out.idp.push_str(&idp_row(
                code,
                &r,
                &shown,
                kpa(p.asset),
                &ward_text,
                "municipal",
                p.asset.2,
                if carries_mscoa { &p.mscoa } else { "" },
                source,
                if p.in_budget { "funded" } else { "unfunded" },
                *y,
                round_to(p.base * (0.9 + rng.below(20) as f64 / 100.0), 1000.0),
            ));
            self.out.w.idp_rows += 1;
        }
        self.out.w.idp_projects += 1;
        for n in numbers {
            self.out.truth("budget_idp", code, n, &r);
        }
        r
    }
}

/// One IDP row (the register's columns, in order).
#[allow(clippy::too_many_arguments)]
pub(super) fn idp_row(
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

/// The IDP's key performance area for the asset.
pub(super) fn kpa(asset: &Asset) -> &'static str {
    match asset.2 {
        "Other Assets" => "Municipal Transformation and Institutional Development",
        _ if asset.5 == "Stalls" => "Local Economic Development",
        _ => "Basic Service Delivery",
    }
}

/// The funding source the IDP names for a municipal project.
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

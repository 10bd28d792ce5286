//! Budget per ward: the `ward_budget` table.
//!
//! Every budget line's budget-phase amount for each year it counts in (one MTREF per year, as in
//! the metrics) is put on the wards its ward location names. A line naming one ward gives it the
//! whole amount (`single_ward`); a line naming several splits it equally (`equal_split`: no
//! source in the contracts states shares per ward, so the split is always equal; the last ward
//! takes the rounding remainder, so a line's ward rows sum to the line). A ward list Treasury's
//! export cut short (`12,14,17,...`) is not split — the wards it leaves out are unknown — and
//! stays one row without a ward (`not_split_list_cut_short`), as do lines located in a region,
//! the whole municipality, no ward, or nowhere stated (`not_in_wards`). So the rows of a
//! municipality and year always sum to its capital budget. `region` (the location text of a
//! region-scoped line, e.g. `Region 3 B: Central Region`) and `integration_zone` (the zone of
//! the BEPP projects a line is linked to) are dimensions beside the ward.

use crate::contracts::wards::{self, WardScope};
use crate::contracts::Dataset;
use crate::metrics::BudgetVintages;
use crate::reconcile::{Link, LinkType};
use crate::records::Record;
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// How a line's amount was put on wards (`ward_split_rule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WardSplitRule {
    /// One ward named: it gets the whole amount.
    SingleWard,
    /// Several wards named: equal shares, the last taking the rounding remainder.
    EqualSplit,
    /// A ward list cut short by the export: not split, one row without a ward.
    ListCutShort,
    /// Not located in named wards (region, whole municipality, non-ward, unknown).
    NotInWards,
}

impl WardSplitRule {
    /// The name written to outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            WardSplitRule::SingleWard => "single_ward",
            WardSplitRule::EqualSplit => "equal_split",
            WardSplitRule::ListCutShort => "not_split_list_cut_short",
            WardSplitRule::NotInWards => "not_in_wards",
        }
    }
}

/// One row of `ward_budget`.
#[derive(Debug, Clone, PartialEq)]
pub struct WardRow {
    /// The budget line.
    pub record_id: String,
    /// Municipality.
    pub demarcation_code: String,
    /// Municipal financial year (start year).
    pub financial_year: i32,
    /// The document the amount comes from (`SA36 2025/26`).
    pub vintage: String,
    /// The line's ward scope.
    pub ward_scope: &'static str,
    /// Ward number, when the row is one ward's share.
    pub ward_number: Option<u32>,
    /// 8-digit ward code, when the municipality's ward prefix is known.
    pub ward_code: Option<String>,
    /// Wards the line is split over (0 when not split).
    pub wards_in_line: u32,
    /// The line's amount for the year.
    pub line_amount_rand: f64,
    /// This row's share.
    pub ward_amount_rand: f64,
    /// How the amount was split.
    pub rule: WardSplitRule,
    /// The region the line names, for region-scoped lines.
    pub region: Option<String>,
    /// Integration zones of the BEPP projects linked to the line, `;`-separated.
    pub integration_zone: Option<String>,
}

/// Splits `amount` over `n` wards equally, the last taking the remainder.
pub fn equal_shares(amount: f64, n: usize) -> Vec<f64> {
    if n == 0 {
        return vec![];
    }
    let share = amount / n as f64;
    let mut out = vec![share; n - 1];
    out.push(amount - share * (n - 1) as f64);
    out
}

/// Budget lines → integration zones of the BEPP projects linked to them.
fn zones<'a>(records: &'a [Record], links: &[&Link]) -> BTreeMap<&'a str, String> {
    let by_id: BTreeMap<&str, &Record> = records.iter().map(|r| (r.record_id.as_str(), r)).collect();
    let mut m: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for l in links.iter().filter(|l| l.link_type == LinkType::BeppBudget) {
        let (Some(bepp), Some(line)) = (
            by_id.get(l.left_record_id.as_str()),
            by_id.get(l.right_record_id.as_str()),
        ) else {
            continue;
        };
        if let Some(z) = bepp.integration_zone.as_deref() {
            m.entry(line.record_id.as_str()).or_default().insert(z);
        }
    }
    m.into_iter()
        .map(|(k, v)| (k, v.into_iter().collect::<Vec<_>>().join(";")))
        .collect()
}

/// The ward rows of one line for one year.
fn line_rows(r: &Record, muni: &str, year: i32, amount: f64, zone: Option<&String>) -> Vec<WardRow> {
    let parsed = r.wards.as_deref().and_then(|w| wards::parse(w, Some(muni)).ok());
    let scope = parsed.as_ref().map_or(WardScope::Unknown, |p| p.scope);
    let base = WardRow {
        record_id: r.record_id.clone(),
        demarcation_code: muni.to_string(),
        financial_year: year,
        vintage: crate::reconcile::variance::vintage(r),
        ward_scope: scope.as_str(),
        ward_number: None,
        ward_code: None,
        wards_in_line: 0,
        line_amount_rand: amount,
        ward_amount_rand: amount,
        rule: WardSplitRule::NotInWards,
        region: (scope == WardScope::Region).then(|| r.wards.clone().unwrap_or_default().trim().to_string()),
        integration_zone: zone.cloned(),
    };
    let Some(p) = parsed.filter(|p| p.scope == WardScope::Ward && !p.numbers.is_empty()) else {
        return vec![base];
    };
    if p.truncated {
        return vec![WardRow {
            rule: WardSplitRule::ListCutShort,
            ..base
        }];
    }
    let n = p.numbers.len();
    let rule = if n == 1 {
        WardSplitRule::SingleWard
    } else {
        WardSplitRule::EqualSplit
    };
    equal_shares(amount, n)
        .into_iter()
        .enumerate()
        .map(|(i, share)| WardRow {
            ward_number: Some(p.numbers[i]),
            ward_code: p.codes.get(i).cloned().filter(|_| p.codes.len() == n),
            wards_in_line: n as u32,
            ward_amount_rand: share,
            rule,
            ..base.clone()
        })
        .collect()
}

/// Every budget line's counted budget amounts, put on wards.
pub fn ward_rows(records: &[Record], links: &[&Link]) -> Vec<WardRow> {
    let vintages = BudgetVintages::new(records);
    let zones = zones(records, links);
    let mut out = Vec::new();
    for r in records.iter().filter(|r| r.dataset == Dataset::Budget) {
        let Some(muni) = r.demarcation_code.as_deref() else {
            continue;
        };
        for a in r
            .amounts
            .iter()
            .filter(|a| a.phase == "budget" && vintages.counts(r, a.year))
        {
            out.extend(line_rows(
                r,
                muni,
                a.year.start_year,
                a.rand,
                zones.get(r.record_id.as_str()),
            ));
        }
    }
    out.sort_by(|a, b| {
        (&a.demarcation_code, a.financial_year, &a.record_id, a.ward_number).cmp(&(
            &b.demarcation_code,
            b.financial_year,
            &b.record_id,
            b.ward_number,
        ))
    });
    out
}

/// `ward_budget` as a DataFrame (see docs/tables.md).
pub fn ward_budget(records: &[Record], links: &[&Link]) -> PolarsResult<DataFrame> {
    let rows = ward_rows(records, links);
    let col =
        |name: &str, f: fn(&WardRow) -> Option<&str>| Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>());
    let columns = vec![
        col("record_id", |r| Some(r.record_id.as_str())),
        col("demarcation_code", |r| Some(r.demarcation_code.as_str())),
        Column::new(
            "financial_year".into(),
            rows.iter().map(|r| r.financial_year).collect::<Vec<_>>(),
        ),
        col("vintage", |r| Some(r.vintage.as_str())),
        col("ward_scope", |r| Some(r.ward_scope)),
        Column::new(
            "ward_number".into(),
            rows.iter().map(|r| r.ward_number.map(|n| n as i32)).collect::<Vec<_>>(),
        ),
        col("ward_code", |r| r.ward_code.as_deref()),
        Column::new(
            "wards_in_line".into(),
            rows.iter().map(|r| r.wards_in_line as i32).collect::<Vec<_>>(),
        ),
        Column::new(
            "line_amount_rand".into(),
            rows.iter().map(|r| r.line_amount_rand).collect::<Vec<_>>(),
        ),
        Column::new(
            "ward_amount_rand".into(),
            rows.iter().map(|r| r.ward_amount_rand).collect::<Vec<_>>(),
        ),
        col("ward_split_rule", |r| Some(r.rule.as_str())),
        col("region", |r| r.region.as_deref()),
        col("integration_zone", |r| r.integration_zone.as_deref()),
    ];
    DataFrame::new(rows.len(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::validate::AmountValue;
    use crate::domain::fiscal::{Calendar, FinancialYear};

    fn line(id: &str, wards: &str, amount: f64) -> Record {
        let fy = FinancialYear::new(Calendar::Municipal, 2024);
        Record {
            wards: Some(wards.into()),
            financial_year: Some(fy),
            amounts: vec![AmountValue {
                year: fy,
                phase: "budget".into(),
                rand: amount,
            }],
            ..Record::bare(id, "s", Dataset::Budget, "EC121")
        }
    }

    /// Issue #19: a line in three wards becomes three ward rows that sum to the line.
    #[test]
    fn a_three_ward_line_is_split_into_three_rows_that_sum_to_the_line() {
        let records = vec![
            line("three", "Ward 3, 7, 12", 1_000_000.0),
            line("one", "Ward 5", 250.0),
            line("cut", "12,14,17,...", 90.0),
            line("all", "Whole of the Municipality", 40.0),
        ];
        let rows = ward_rows(&records, &[]);
        let three: Vec<&WardRow> = rows.iter().filter(|r| r.record_id == "three").collect();
        assert_eq!(three.len(), 3);
        assert_eq!(
            three.iter().map(|r| r.ward_number).collect::<Vec<_>>(),
            [Some(3), Some(7), Some(12)]
        );
        // Mbhashe's 2011 ward prefix is 21201.
        assert_eq!(three[0].ward_code.as_deref(), Some("21201003"));
        assert!(three
            .iter()
            .all(|r| r.rule == WardSplitRule::EqualSplit && r.wards_in_line == 3));
        let sum: f64 = three.iter().map(|r| r.ward_amount_rand).sum();
        assert_eq!(sum, 1_000_000.0);
        assert!((three[0].ward_amount_rand - 333_333.333_333).abs() < 1e-3);
        let one: Vec<&WardRow> = rows.iter().filter(|r| r.record_id == "one").collect();
        assert_eq!(
            (one.len(), one[0].rule, one[0].ward_amount_rand),
            (1, WardSplitRule::SingleWard, 250.0)
        );
        let cut: Vec<&WardRow> = rows.iter().filter(|r| r.record_id == "cut").collect();
        assert_eq!(
            (cut.len(), cut[0].rule, cut[0].ward_number),
            (1, WardSplitRule::ListCutShort, None)
        );
        let all = rows.iter().find(|r| r.record_id == "all").unwrap();
        assert_eq!(
            (all.rule, all.ward_scope),
            (WardSplitRule::NotInWards, "whole_municipality")
        );
        // Nothing lost: the rows sum to the capital budget.
        let total: f64 = rows.iter().map(|r| r.ward_amount_rand).sum();
        assert_eq!(total, 1_000_000.0 + 250.0 + 90.0 + 40.0);
    }
}

//! Variances: the two sides of every accepted link compared year by year, like with like.
//!
//! An SA36 is one MTREF: its budget-year column is that year's budget, its audited and forecast
//! columns restate earlier years and its outer years are estimates the next MTREF revises. A
//! budget line is therefore compared only on its `budget` phase, and only in the years for which
//! its MTREF is the latest one in the run that covers the project (the budget year's own MTREF
//! first, else the latest estimate). Departmental amounts run April–March: a municipal year
//! (July–June) takes 9/12 of the national year that starts in it and 3/12 of the next, and the
//! `apportionment` column says what was done. Zero amounts and years only partly covered are
//! shown but never flagged.

use super::{Link, LinkType};
use crate::contracts::Dataset;
use crate::domain::fiscal::{Calendar, FinancialYear};
use crate::reconcile::ReconcileSettings;
use crate::records::Record;
use std::collections::{BTreeMap, BTreeSet};

/// One year of one link: both sides' amounts and how far apart they are.
#[derive(Debug, Clone, PartialEq)]
pub struct Variance {
    /// Left record.
    pub left_record_id: String,
    /// Right record.
    pub right_record_id: String,
    /// Link type.
    pub link_type: LinkType,
    /// Municipality.
    pub demarcation_code: String,
    /// Municipal financial year compared.
    pub financial_year: FinancialYear,
    /// Left amount in Rand (apportioned to the municipal year where its calendar differs).
    pub left_amount: f64,
    /// Right amount in Rand (apportioned likewise).
    pub right_amount: f64,
    /// Left minus right, in Rand.
    pub difference: f64,
    /// Difference relative to the right amount (null when it is zero).
    pub relative_difference: Option<f64>,
    /// Whether both the absolute and the relative tolerance are exceeded (never for a zero
    /// amount or a year only partly covered).
    pub over_tolerance: bool,
    /// The document each side's amount comes from (`SA36 2025/26`, `IDP`, `IRM 2024/25`).
    pub left_vintage: String,
    /// The same for the right side.
    pub right_vintage: String,
    /// How the amounts were put on the municipal year: `none`, or e.g. `left: 9/12 of 2024/25 +
    /// 3/12 of 2025/26 (April–March)`.
    pub apportionment: String,
    /// `compared`, `zero_amount` (one side is R0: a sector line or an unfunded plan) or
    /// `part_year` (an April–March side covers fewer than 12 of the year's months).
    pub comparison: &'static str,
}

/// One side's amount in a municipal year, with what was done to get it.
struct Side {
    rand: f64,
    months: u32,
    how: Option<String>,
}

/// The document an amount comes from, as the `vintage` columns name it: `SA36 2025/26`, `SC36
/// 2019/20` (a budget file with in-year actuals), `IRM 2024/25`, `IDP`, `BEPP`.
pub fn vintage(r: &Record) -> String {
    let in_year = r.is_in_year();
    let doc = match r.dataset {
        Dataset::Budget if in_year => "SC36",
        Dataset::Budget => "SA36",
        Dataset::Idp => "IDP",
        Dataset::Bepp => "BEPP",
        Dataset::Departmental => "IRM",
        _ => r.dataset.as_str(),
    };
    match (r.dataset, r.financial_year) {
        (Dataset::Budget | Dataset::Departmental, Some(fy)) => format!("{doc} {}", fy.label()),
        _ => doc.to_string(),
    }
}

/// For every budget project (municipality and project number), the budget years of the MTREFs
/// in the run that carry it, sorted (an in-year SC36 is no MTREF).
fn mtrefs_by_project(records: &[Record]) -> BTreeMap<(&str, &str), BTreeSet<i32>> {
    let mut out: BTreeMap<(&str, &str), BTreeSet<i32>> = BTreeMap::new();
    for r in records
        .iter()
        .filter(|r| r.dataset == Dataset::Budget && !r.is_in_year())
    {
        if let (Some(m), Some(p), Some(by)) = (
            r.demarcation_code.as_deref(),
            r.project_ref.as_deref(),
            r.financial_year,
        ) {
            out.entry((m, p)).or_default().insert(by.start_year);
        }
    }
    out
}

/// A record's amounts per municipal year, like with like: a budget line's `budget` phase in the
/// years its MTREF is the latest view of, anything else's best amount per year, April–March
/// years apportioned by months.
fn sides(r: &Record, mtrefs: &BTreeMap<(&str, &str), BTreeSet<i32>>) -> BTreeMap<FinancialYear, Side> {
    let mut per_year: BTreeMap<FinancialYear, f64> = BTreeMap::new();
    if r.dataset == Dataset::Budget {
        let by = r.financial_year.map(|y| y.start_year);
        let others = match (r.demarcation_code.as_deref(), r.project_ref.as_deref()) {
            (Some(m), Some(p)) => mtrefs.get(&(m, p)),
            _ => None,
        };
        for a in r.amounts.iter().filter(|a| a.phase == "budget") {
            let y = a.year.start_year;
            // A later MTREF that covers this year (up to it) revises this one's figure.
            let superseded = match (by, others) {
                (Some(b), Some(set)) if y > b => set.range(b + 1..=y).next().is_some(),
                _ => false,
            };
            if !superseded {
                *per_year.entry(a.year).or_default() += a.rand;
            }
        }
    } else {
        let mut ys: Vec<FinancialYear> = r.amounts.iter().map(|x| x.year).collect();
        ys.sort();
        ys.dedup();
        for y in ys {
            if let Some(v) = r.amount_in(y) {
                per_year.insert(y, v);
            }
        }
    }
    let mut out: BTreeMap<FinancialYear, Side> = BTreeMap::new();
    for (y, v) in &per_year {
        if y.calendar == Calendar::Municipal {
            out.insert(
                *y,
                Side {
                    rand: *v,
                    months: 12,
                    how: None,
                },
            );
            continue;
        }
        // April–March: 9/12 into the municipal year that starts in it, 3/12 into the one before.
        for m in [
            FinancialYear::new(Calendar::Municipal, y.start_year - 1),
            FinancialYear::new(Calendar::Municipal, y.start_year),
        ] {
            let months = y.overlap_months(m);
            if months == 0 {
                continue;
            }
            let e = out.entry(m).or_insert(Side {
                rand: 0.0,
                months: 0,
                how: Some(String::new()),
            });
            e.rand += v * f64::from(months) / 12.0;
            e.months += months;
            let part = format!("{months}/12 of {}", y.label());
            let how = e.how.get_or_insert_with(String::new);
            if !how.is_empty() {
                how.push_str(" + ");
            }
            how.push_str(&part);
        }
    }
    out
}

/// Compares the two sides of every link in each municipal year where both have an amount.
pub fn variances(records: &[Record], links: &[&Link], settings: &ReconcileSettings) -> Vec<Variance> {
    let by_id: BTreeMap<&str, &Record> = records.iter().map(|r| (r.record_id.as_str(), r)).collect();
    let mtrefs = mtrefs_by_project(records);
    let mut out = Vec::new();
    for l in links {
        let (Some(a), Some(b)) = (
            by_id.get(l.left_record_id.as_str()),
            by_id.get(l.right_record_id.as_str()),
        ) else {
            continue;
        };
        let (ya, yb) = (sides(a, &mtrefs), sides(b, &mtrefs));
        for (fy, left) in &ya {
            if !settings.financial_years.is_empty() && !settings.financial_years.contains(fy) {
                continue;
            }
            let Some(right) = yb.get(fy) else { continue };
            out.push(compare(l, *fy, left, right, (vintage(a), vintage(b)), settings));
        }
    }
    out
}

fn compare(
    l: &Link,
    fy: FinancialYear,
    left: &Side,
    right: &Side,
    (left_vintage, right_vintage): (String, String),
    settings: &ReconcileSettings,
) -> Variance {
    let difference = left.rand - right.rand;
    let relative = (right.rand != 0.0).then(|| difference / right.rand);
    let comparison = if left.rand == 0.0 || right.rand == 0.0 {
        "zero_amount"
    } else if left.months < 12 || right.months < 12 {
        "part_year"
    } else {
        "compared"
    };
    let (abs_tol, rel_tol) = settings.tolerance(l.link_type.as_str());
    let over = comparison == "compared" && difference.abs() > abs_tol && relative.is_none_or(|r| r.abs() > rel_tol);
    let apportionment = match (&left.how, &right.how) {
        (None, None) => "none".to_string(),
        (Some(h), None) => format!("left: {h} (April–March)"),
        (None, Some(h)) => format!("right: {h} (April–March)"),
        (Some(a), Some(b)) => format!("left: {a}; right: {b} (April–March)"),
    };
    Variance {
        left_record_id: l.left_record_id.clone(),
        right_record_id: l.right_record_id.clone(),
        link_type: l.link_type,
        demarcation_code: l.demarcation_code.clone(),
        financial_year: fy,
        left_amount: left.rand,
        right_amount: right.rand,
        difference,
        relative_difference: relative,
        over_tolerance: over,
        left_vintage,
        right_vintage,
        apportionment,
        comparison,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::validate::AmountValue;

    fn amount(calendar: Calendar, y: i32, phase: &str, rand: f64) -> AmountValue {
        AmountValue {
            year: FinancialYear::new(calendar, y),
            phase: phase.into(),
            rand,
        }
    }

    fn link(l: &str, r: &str, t: LinkType) -> Link {
        Link {
            method: crate::domain::Method::Probabilistic,
            match_weight: 20.0,
            ..Link::bare(l, r, t, "BUF")
        }
    }

    fn budget(id: &str, by: i32, amounts: Vec<AmountValue>) -> Record {
        Record {
            project_ref: Some("PC001_00001".into()),
            financial_year: Some(FinancialYear::new(Calendar::Municipal, by)),
            amounts,
            ..Record::bare(id, &format!("budget_{by}"), Dataset::Budget, "BUF")
        }
    }

    fn idp(amounts: Vec<AmountValue>) -> Record {
        Record {
            amounts,
            ..Record::bare("idp", "idp", Dataset::Idp, "BUF")
        }
    }

    #[test]
    fn a_budget_is_compared_in_its_own_year_not_through_a_later_mtrefs_forecast() {
        let m = Calendar::Municipal;
        let records = vec![
            // The 2024/25 MTREF: budget 10m in 2024, estimate 12m for 2025.
            budget(
                "b24",
                2024,
                vec![amount(m, 2024, "budget", 10e6), amount(m, 2025, "budget", 12e6)],
            ),
            // The 2025/26 MTREF: forecast 10.75m for 2024 (a restatement), budget 11m in 2025.
            budget(
                "b25",
                2025,
                vec![amount(m, 2024, "forecast", 10.75e6), amount(m, 2025, "budget", 11e6)],
            ),
            idp(vec![amount(m, 2024, "planned", 10e6), amount(m, 2025, "planned", 11e6)]),
        ];
        let links = [
            link("b24", "idp", LinkType::BudgetIdp),
            link("b25", "idp", LinkType::BudgetIdp),
        ];
        let v = variances(
            &records,
            &links.iter().collect::<Vec<_>>(),
            &ReconcileSettings::default(),
        );
        let got: Vec<(&str, i32, f64, &str)> = v
            .iter()
            .map(|x| {
                (
                    x.left_record_id.as_str(),
                    x.financial_year.start_year,
                    x.left_amount,
                    x.left_vintage.as_str(),
                )
            })
            .collect();
        // 2024 from the 2024/25 budget, 2025 from the 2025/26 budget; neither the forecast nor
        // the superseded estimate is compared.
        assert_eq!(
            got,
            [("b24", 2024, 10e6, "SA36 2024/25"), ("b25", 2025, 11e6, "SA36 2025/26")]
        );
        assert!(v.iter().all(|x| x.difference == 0.0 && !x.over_tolerance));
    }

    #[test]
    fn april_march_amounts_are_split_by_months_and_zero_plans_are_not_flagged() {
        let records = vec![
            Record {
                financial_year: Some(FinancialYear::new(Calendar::National, 2024)),
                amounts: vec![
                    amount(Calendar::National, 2024, "main_appropriation", 12e6),
                    amount(Calendar::National, 2025, "main_appropriation", 24e6),
                ],
                ..Record::bare("d", "irm", Dataset::Departmental, "BUF")
            },
            idp(vec![
                amount(Calendar::Municipal, 2024, "planned", 15e6),
                amount(Calendar::Municipal, 2025, "planned", 0.0),
            ]),
        ];
        let links = [link("d", "idp", LinkType::DepartmentalIdp)];
        let v = variances(
            &records,
            &links.iter().collect::<Vec<_>>(),
            &ReconcileSettings::default(),
        );
        let y2024 = v.iter().find(|x| x.financial_year.start_year == 2024).unwrap();
        // 9/12 × 12m + 3/12 × 24m = 9m + 6m = 15m.
        assert_eq!(y2024.left_amount, 15e6);
        assert_eq!(
            y2024.apportionment,
            "left: 9/12 of 2024/25 + 3/12 of 2025/26 (April–March)"
        );
        assert_eq!((y2024.comparison, y2024.over_tolerance), ("compared", false));
        // 2025/26 has only 9 of its months in the source, and the plan is R0: shown, not flagged.
        let y2025 = v.iter().find(|x| x.financial_year.start_year == 2025).unwrap();
        assert_eq!(
            (y2025.left_amount, y2025.comparison, y2025.over_tolerance),
            (18e6, "zero_amount", false)
        );
        assert_eq!(y2025.relative_difference, None);
        // 2023/24 gets 3/12 of 2024/25 only: part of the year, never flagged.
        assert!(v.iter().all(|x| x.financial_year.start_year != 2023));
    }
}

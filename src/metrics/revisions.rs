//! How a project's amount for one year changed from one budget document to the next: the
//! `amount_revisions` table.
//!
//! Every SA36 is one MTREF, so the figure for a year appears in several documents: as BY+2 and
//! BY+1 estimates in the two earlier MTREFs, as the budget year in its own, as original and
//! adjusted budget in the in-year SC36 (or a metro ledger), as the full-year forecast and the
//! audited outcome in the MTREFs after it. Comparisons and metrics use one of them (the budget
//! year's own MTREF first, `reconcile::variance`); this table keeps all of them, in document
//! order, with the change from the previous document, so an analyst can see the history behind
//! the figure compared. Budget lines (keyed on municipality + project number) and departmental
//! projects (keyed on municipality + project id) are covered; IDP and BEPP rows name no document
//! year (two IDP reviews would both be `IDP`), so they have no revisions to show.

use crate::contracts::Dataset;
use crate::domain::fiscal::FinancialYear;
use crate::records::Record;
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// The phase of an amount, for revision purposes. Actuals are not revisions and are left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RevisionPhase {
    /// An original (tabled) budget or main appropriation.
    Original,
    /// An MTREF's figure (BY, BY+1, BY+2).
    Budget,
    /// An adjusted budget or adjusted appropriation.
    Adjusted,
    /// A full-year forecast (an MTREF's BY−1 column).
    Forecast,
    /// An audited outcome.
    Audited,
}

impl RevisionPhase {
    /// The revision phase of a source phase (`budget`, `adjusted_budget`, …), if it is one.
    pub fn of(phase: &str) -> Option<RevisionPhase> {
        match phase {
            "original_budget" | "main_appropriation" => Some(RevisionPhase::Original),
            "budget" => Some(RevisionPhase::Budget),
            "adjusted_budget" | "adjusted_appropriation" => Some(RevisionPhase::Adjusted),
            "forecast" => Some(RevisionPhase::Forecast),
            "audited" => Some(RevisionPhase::Audited),
            _ => None,
        }
    }
}

/// One row of `amount_revisions`.
#[derive(Debug, Clone, PartialEq)]
pub struct RevisionRow {
    /// `dataset|municipality|reference` (`Record::natural_key`).
    pub project_key: String,
    /// Dataset.
    pub dataset: &'static str,
    /// Municipality.
    pub demarcation_code: String,
    /// The project's reference (mSCOA number, IRM project id).
    pub project_ref: Option<String>,
    /// The year the amount is for, in its own calendar.
    pub financial_year: FinancialYear,
    /// The document (`SA36 2025/26`).
    pub vintage: String,
    /// The pipeline source it was read from.
    pub source: String,
    /// 1 for the earliest document of this project-year, then 2, 3, …
    pub vintage_order: i32,
    /// The source phase (`budget`, `adjusted_budget`, `forecast`, …).
    pub phase: String,
    /// The document's amount for the year, summed over its lines of the project.
    pub amount_rand: f64,
    /// The previous document's vintage, phase and amount.
    pub previous: Option<(String, String, f64)>,
    /// Whether this is the figure comparisons (variances) use.
    pub latest: bool,
    /// The records summed, `;`-separated.
    pub record_ids: String,
}

impl RevisionRow {
    /// Amount − previous amount.
    pub fn change_rand(&self) -> Option<f64> {
        self.previous.as_ref().map(|p| self.amount_rand - p.2)
    }

    /// Change ÷ previous amount; null when there is no previous amount or it is 0.
    pub fn relative_change(&self) -> Option<f64> {
        let p = self.previous.as_ref()?.2;
        (p != 0.0).then(|| (self.amount_rand - p) / p).filter(|v| v.is_finite())
    }
}

/// Where a document stands in time: (its year, SA36 before SC36/IRM of the same year, source).
type DocOrder = (i32, u8, String);

/// One document's figure for one project-year, before ordering.
struct Entry {
    order: DocOrder,
    phase: RevisionPhase,
    phase_text: String,
    vintage: String,
    source: String,
    amount: f64,
    record_ids: BTreeSet<String>,
    record: usize,
}

fn doc_order(r: &Record) -> DocOrder {
    let year = r.financial_year.map_or(i32::MIN, |y| y.start_year);
    let in_year = u8::from(r.is_in_year());
    (year, in_year, r.source.clone())
}

/// Every document's figure per project-year: (key, year) → entries keyed by (document, phase).
fn entries(records: &[Record]) -> BTreeMap<(String, FinancialYear), BTreeMap<(DocOrder, RevisionPhase), Entry>> {
    let mut out: BTreeMap<(String, FinancialYear), BTreeMap<(DocOrder, RevisionPhase), Entry>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        if !matches!(r.dataset, Dataset::Budget | Dataset::Departmental) || r.demarcation_code.is_none() {
            continue;
        }
        let key = r.natural_key();
        for a in &r.amounts {
            let Some(phase) = RevisionPhase::of(&a.phase) else {
                continue;
            };
            let order = doc_order(r);
            let e = out
                .entry((key.clone(), a.year))
                .or_default()
                .entry((order.clone(), phase))
                .or_insert_with(|| Entry {
                    order,
                    phase,
                    phase_text: a.phase.clone(),
                    vintage: crate::reconcile::variance::vintage(r),
                    source: r.source.clone(),
                    amount: 0.0,
                    record_ids: BTreeSet::new(),
                    record: i,
                });
            e.amount += a.rand;
            e.record_ids.insert(r.record_id.clone());
        }
    }
    out
}

/// The entry comparisons use: for budget lines the `budget` figure of the latest MTREF whose
/// budget year is not after the year (as `reconcile::variance` picks it); for departmental
/// projects the latest document's adjusted figure, else its original one.
fn latest_index(entries: &[&Entry], year: FinancialYear, dataset: Dataset) -> Option<usize> {
    let candidates = entries.iter().enumerate();
    match dataset {
        Dataset::Budget => candidates
            .filter(|(_, e)| e.phase == RevisionPhase::Budget && e.order.1 == 0 && e.order.0 <= year.start_year)
            .max_by_key(|(_, e)| e.order.0)
            .map(|(i, _)| i),
        _ => candidates
            .filter(|(_, e)| matches!(e.phase, RevisionPhase::Adjusted | RevisionPhase::Original))
            .max_by(|(_, a), (_, b)| (&a.order, a.phase).cmp(&(&b.order, b.phase)))
            .map(|(i, _)| i),
    }
}

/// The `amount_revisions` rows, sorted by municipality, project, year and document order.
pub fn revision_rows(records: &[Record]) -> Vec<RevisionRow> {
    let mut out = Vec::new();
    for ((key, year), docs) in entries(records) {
        let list: Vec<&Entry> = docs.values().collect();
        let first = &records[list[0].record];
        let latest = latest_index(&list, year, first.dataset);
        let mut previous: Option<(String, String, f64)> = None;
        for (i, e) in list.iter().enumerate() {
            out.push(RevisionRow {
                project_key: key.clone(),
                dataset: first.dataset.as_str(),
                demarcation_code: first.demarcation_code.clone().unwrap_or_default(),
                project_ref: first.project_ref.clone(),
                financial_year: year,
                vintage: e.vintage.clone(),
                source: e.source.clone(),
                vintage_order: i as i32 + 1,
                phase: e.phase_text.clone(),
                amount_rand: e.amount,
                previous: previous.take(),
                latest: latest == Some(i),
                record_ids: e.record_ids.iter().cloned().collect::<Vec<_>>().join(";"),
            });
            previous = Some((e.vintage.clone(), e.phase_text.clone(), e.amount));
        }
    }
    out.sort_by(|a, b| {
        (&a.demarcation_code, &a.project_key, a.financial_year, a.vintage_order).cmp(&(
            &b.demarcation_code,
            &b.project_key,
            b.financial_year,
            b.vintage_order,
        ))
    });
    out
}

/// `amount_revisions` as a DataFrame (see docs/tables.md).
pub fn amount_revisions(records: &[Record]) -> PolarsResult<DataFrame> {
    let rows = revision_rows(records);
    let s = |name: &str, f: fn(&RevisionRow) -> Option<&str>| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
    };
    let x = |name: &str, f: fn(&RevisionRow) -> Option<f64>| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
    };
    let columns = vec![
        s("project_key", |r| Some(r.project_key.as_str())),
        s("dataset", |r| Some(r.dataset)),
        s("demarcation_code", |r| Some(r.demarcation_code.as_str())),
        s("project_ref", |r| r.project_ref.as_deref()),
        Column::new(
            "financial_year".into(),
            rows.iter().map(|r| r.financial_year.start_year).collect::<Vec<_>>(),
        ),
        Column::new(
            "financial_year_label".into(),
            rows.iter().map(|r| r.financial_year.label()).collect::<Vec<_>>(),
        ),
        s("calendar", |r| Some(r.financial_year.calendar.as_str())),
        Column::new(
            "vintage_order".into(),
            rows.iter().map(|r| r.vintage_order).collect::<Vec<_>>(),
        ),
        s("vintage", |r| Some(r.vintage.as_str())),
        s("source", |r| Some(r.source.as_str())),
        s("phase", |r| Some(r.phase.as_str())),
        x("amount_rand", |r| Some(r.amount_rand)),
        s("previous_vintage", |r| r.previous.as_ref().map(|p| p.0.as_str())),
        s("previous_phase", |r| r.previous.as_ref().map(|p| p.1.as_str())),
        x("previous_amount_rand", |r| r.previous.as_ref().map(|p| p.2)),
        x("change_rand", RevisionRow::change_rand),
        x("relative_change", RevisionRow::relative_change),
        Column::new("latest".into(), rows.iter().map(|r| r.latest).collect::<Vec<_>>()),
        s("record_ids", |r| Some(r.record_ids.as_str())),
    ];
    DataFrame::new(rows.len(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::validate::AmountValue;
    use crate::domain::fiscal::Calendar;

    fn fy(y: i32) -> FinancialYear {
        FinancialYear::new(Calendar::Municipal, y)
    }

    fn sa36(id: &str, source: &str, by: i32, amounts: &[(i32, &str, f64)]) -> Record {
        Record {
            project_ref: Some("PC001002003001_00022".into()),
            mscoa_project_number: Some("PC001002003001_00022".into()),
            financial_year: Some(fy(by)),
            amounts: amounts
                .iter()
                .map(|(y, p, r)| AmountValue {
                    year: fy(*y),
                    phase: (*p).into(),
                    rand: *r,
                })
                .collect(),
            ..Record::bare(id, source, Dataset::Budget, "BUF")
        }
    }

    /// Issue #13: the 2024/25 MTREF's BY+1 estimate for 2025/26 (R10.75m) against the 2025/26
    /// MTREF's budget-year figure (R12.9m): +R2.15m, +20%; the later one is what comparisons use.
    #[test]
    fn two_sa36_vintages_of_one_line_give_the_change_by_hand() {
        let records = vec![
            sa36(
                "b25:BUF:7",
                "budget_2025",
                2025,
                &[(2024, "forecast", 9_000_000.0), (2025, "budget", 12_900_000.0)],
            ),
            sa36(
                "b24:BUF:5",
                "budget_2024",
                2024,
                &[(2024, "budget", 8_000_000.0), (2025, "budget", 10_750_000.0)],
            ),
        ];
        let rows = revision_rows(&records);
        let y25: Vec<&RevisionRow> = rows.iter().filter(|r| r.financial_year == fy(2025)).collect();
        assert_eq!(y25.len(), 2);
        assert_eq!(
            (y25[0].vintage.as_str(), y25[0].vintage_order, y25[0].amount_rand),
            ("SA36 2024/25", 1, 10_750_000.0)
        );
        assert_eq!(
            (y25[0].change_rand(), y25[0].relative_change(), y25[0].latest),
            (None, None, false)
        );
        let later = y25[1];
        assert_eq!((later.vintage.as_str(), later.vintage_order), ("SA36 2025/26", 2));
        assert_eq!(
            later.previous,
            Some(("SA36 2024/25".into(), "budget".into(), 10_750_000.0))
        );
        assert_eq!(later.change_rand(), Some(2_150_000.0));
        assert!((later.relative_change().unwrap() - 0.2).abs() < 1e-12);
        assert!(later.latest);
        // 2024/25: the budget year (R8m, used) then the next MTREF's full-year forecast (R9m).
        let y24: Vec<&RevisionRow> = rows.iter().filter(|r| r.financial_year == fy(2024)).collect();
        assert_eq!(
            y24.iter().map(|r| (r.phase.as_str(), r.latest)).collect::<Vec<_>>(),
            [("budget", true), ("forecast", false)]
        );
        assert_eq!(y24[1].change_rand(), Some(1_000_000.0));
        assert!((y24[1].relative_change().unwrap() - 0.125).abs() < 1e-12);
        assert_eq!(y24[0].project_key, "budget|BUF|PC001002003001_00022");
    }

    /// An SC36's original and adjusted budget follow the MTREF in order; a revision from R0 has
    /// a change in Rand but no relative change (never NaN or infinity).
    #[test]
    fn adjusted_after_original_and_no_relative_change_from_zero() {
        let mut sc36 = sa36(
            "sc:BUF:4",
            "sc36",
            2025,
            &[
                (2025, "original_budget", 0.0),
                (2025, "adjusted_budget", 500.0),
                (2025, "actual_ytd", 100.0),
            ],
        );
        sc36.amounts.push(AmountValue {
            year: fy(2025),
            phase: "actual_m03".into(),
            rand: 100.0,
        });
        let records = vec![sc36, sa36("b25:BUF:7", "budget_2025", 2025, &[(2025, "budget", 0.0)])];
        let rows = revision_rows(&records);
        assert_eq!(
            rows.iter()
                .map(|r| (r.vintage.as_str(), r.phase.as_str(), r.latest))
                .collect::<Vec<_>>(),
            [
                ("SA36 2025/26", "budget", true),
                ("SC36 2025/26", "original_budget", false),
                ("SC36 2025/26", "adjusted_budget", false),
            ]
        );
        assert_eq!((rows[1].change_rand(), rows[1].relative_change()), (Some(0.0), None));
        assert_eq!((rows[2].change_rand(), rows[2].relative_change()), (Some(500.0), None));
        let df = amount_revisions(&records).unwrap();
        assert_eq!(df.column("relative_change").unwrap().null_count(), 3);
    }
}

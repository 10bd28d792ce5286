//! In-year spending performance from SC36 files: the `spending_performance` table and the
//! `capital_spend_rate` and `underspent_budget_share` metrics.
//!
//! An SC36 is one period of one financial year: per budget line it gives the original and
//! adjusted budget and the actuals month by month (`actual_m01` = July), quarter by quarter and
//! year to date. Treasury and the analysts ask one question of it: is the money being spent as
//! fast as the year is passing? A line that has spent 20% of its adjusted budget nine months in
//! (expected 75%) is 55 points behind. The file's period is not a column: it is the last month
//! for which any line of the same file, sheet and municipality reports a non-zero actual (a
//! municipality that spent nothing at all in its last month would read as a month earlier).

use crate::domain::fiscal::FinancialYear;
use crate::metrics::alignment::Facts;
use crate::records::Record;
use polars::prelude::*;
use std::collections::BTreeMap;

/// A line this far (or further) behind the expected share is under-spending (25 points).
pub const UNDERSPENDING_GAP: f64 = -0.25;

/// Where `actual_ytd_rand` came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YtdBasis {
    /// The file's own `YTD Actual` column.
    YtdColumn,
    /// The monthly actuals summed (the file has no YTD figure for the line).
    SumOfMonths,
    /// The quarterly actuals summed (no YTD, no months).
    SumOfQuarters,
    /// No actual at all: 0.
    NoActuals,
}

impl YtdBasis {
    /// The name written to outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            YtdBasis::YtdColumn => "ytd_column",
            YtdBasis::SumOfMonths => "sum_of_months",
            YtdBasis::SumOfQuarters => "sum_of_quarters",
            YtdBasis::NoActuals => "no_actuals",
        }
    }
}

/// How a line is doing against the months elapsed (`spend_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendStatus {
    /// Within 25 points below the expected share, or ahead, up to the adjusted budget.
    OnTrack,
    /// More than 25 points below the expected share.
    UnderSpending,
    /// Actual above the adjusted budget.
    OverBudget,
    /// No adjusted budget (0 or missing): no rate.
    NoBudget,
}

impl SpendStatus {
    /// The name written to outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            SpendStatus::OnTrack => "on_track",
            SpendStatus::UnderSpending => "under_spending",
            SpendStatus::OverBudget => "over_budget",
            SpendStatus::NoBudget => "no_adjusted_budget",
        }
    }
}

/// One row of `spending_performance`: one SC36 line.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendingRow {
    /// The budget line.
    pub record_id: String,
    /// Municipality.
    pub demarcation_code: String,
    /// mSCOA project number.
    pub project_ref: Option<String>,
    /// Project description.
    pub project_name: Option<String>,
    /// The document (`SC36 2019/20`).
    pub vintage: String,
    /// The file's financial year (its original and adjusted budget's).
    pub financial_year: FinancialYear,
    /// Last month of the year the file reports (1 = July … 12 = June); 0 when no line has an
    /// actual.
    pub months_elapsed: u32,
    /// Original budget.
    pub original_budget_rand: Option<f64>,
    /// Adjusted budget.
    pub adjusted_budget_rand: Option<f64>,
    /// Actual spending, year to date.
    pub actual_ytd_rand: f64,
    /// Where the YTD figure came from.
    pub ytd_basis: YtdBasis,
}

impl SpendingRow {
    /// `M09` for nine months; null before any actual.
    pub fn period(&self) -> Option<String> {
        (self.months_elapsed > 0).then(|| format!("M{:02}", self.months_elapsed))
    }

    /// Actual ÷ adjusted budget; null when the adjusted budget is 0 or missing.
    pub fn spend_rate(&self) -> Option<f64> {
        let b = self.adjusted_budget_rand.filter(|b| *b != 0.0)?;
        Some(self.actual_ytd_rand / b).filter(|v| v.is_finite())
    }

    /// Months elapsed ÷ 12.
    pub fn expected_share(&self) -> f64 {
        f64::from(self.months_elapsed) / 12.0
    }

    /// Spend rate − expected share.
    pub fn gap(&self) -> Option<f64> {
        self.spend_rate().map(|r| r - self.expected_share())
    }

    /// The line's status.
    pub fn status(&self) -> SpendStatus {
        match (self.spend_rate(), self.gap()) {
            (None, _) | (_, None) => SpendStatus::NoBudget,
            (Some(r), _) if r > 1.0 => SpendStatus::OverBudget,
            (_, Some(g)) if g < UNDERSPENDING_GAP => SpendStatus::UnderSpending,
            _ => SpendStatus::OnTrack,
        }
    }
}

/// Whether a record is an in-year (SC36) line ([`Record::is_in_year`]).
pub fn is_in_year(r: &Record) -> bool {
    r.is_in_year()
}

/// The month an actual phase reports up to: `actual_m09` → 9, `actual_q3` → 9.
fn month_of(phase: &str) -> Option<u32> {
    if let Some(m) = phase.strip_prefix("actual_m") {
        return m.parse().ok().filter(|m| (1..=12).contains(m));
    }
    let q: u32 = phase.strip_prefix("actual_q")?.parse().ok()?;
    (1..=4).contains(&q).then_some(q * 3)
}

/// A document: file, sheet, municipality.
type Doc<'a> = (&'a str, Option<&'a str>, &'a str);

/// Each document's period: the last month any of its lines reports a non-zero actual for.
fn periods(records: &[Record]) -> BTreeMap<Doc<'_>, u32> {
    let mut out: BTreeMap<Doc, u32> = BTreeMap::new();
    for r in records.iter().filter(|r| is_in_year(r)) {
        let (Some(muni), Some(fy)) = (r.demarcation_code.as_deref(), r.financial_year) else {
            continue;
        };
        let last = r
            .amounts
            .iter()
            .filter(|a| a.year == fy && a.rand != 0.0)
            .filter_map(|a| month_of(&a.phase))
            .max()
            .unwrap_or(0);
        let e = out
            .entry((r.source_file.as_str(), r.source_sheet.as_deref(), muni))
            .or_insert(0);
        *e = (*e).max(last);
    }
    out
}

/// A line's YTD actual and where it came from.
fn ytd(r: &Record, fy: FinancialYear) -> (f64, YtdBasis) {
    let in_year = || r.amounts.iter().filter(move |a| a.year == fy);
    if let Some(a) = in_year().find(|a| a.phase == "actual_ytd") {
        return (a.rand, YtdBasis::YtdColumn);
    }
    let months: Vec<f64> = in_year()
        .filter(|a| a.phase.starts_with("actual_m"))
        .map(|a| a.rand)
        .collect();
    if !months.is_empty() {
        return (months.iter().sum(), YtdBasis::SumOfMonths);
    }
    let quarters: Vec<f64> = in_year()
        .filter(|a| a.phase.starts_with("actual_q"))
        .map(|a| a.rand)
        .collect();
    if !quarters.is_empty() {
        return (quarters.iter().sum(), YtdBasis::SumOfQuarters);
    }
    (0.0, YtdBasis::NoActuals)
}

/// Every SC36 line, sorted by municipality, year, record.
pub fn spending_rows(records: &[Record]) -> Vec<SpendingRow> {
    let periods = periods(records);
    let mut out = Vec::new();
    for r in records.iter().filter(|r| is_in_year(r)) {
        let (Some(muni), Some(fy)) = (r.demarcation_code.as_deref(), r.financial_year) else {
            continue;
        };
        let phase = |p: &str| r.amounts.iter().find(|a| a.year == fy && a.phase == p).map(|a| a.rand);
        let (actual, basis) = ytd(r, fy);
        out.push(SpendingRow {
            record_id: r.record_id.clone(),
            demarcation_code: muni.to_string(),
            project_ref: r.project_ref.clone(),
            project_name: r.project_name.clone(),
            vintage: crate::reconcile::variance::vintage(r),
            financial_year: fy,
            months_elapsed: periods
                .get(&(r.source_file.as_str(), r.source_sheet.as_deref(), muni))
                .copied()
                .unwrap_or(0),
            original_budget_rand: phase("original_budget"),
            adjusted_budget_rand: phase("adjusted_budget"),
            actual_ytd_rand: actual,
            ytd_basis: basis,
        });
    }
    out.sort_by(|a, b| {
        (&a.demarcation_code, a.financial_year, &a.record_id).cmp(&(
            &b.demarcation_code,
            b.financial_year,
            &b.record_id,
        ))
    });
    out
}

/// The municipal metrics, on each municipality-year's latest period only (several SC36 files
/// of one year would otherwise count the same budget twice):
/// `capital_spend_rate` = Σ actual YTD ÷ Σ adjusted budget over its lines;
/// `underspent_budget_share` = Σ adjusted budget of under-spending lines ÷ Σ adjusted budget.
pub(crate) fn push_facts(f: &mut Facts, records: &[Record]) {
    let rows = spending_rows(records);
    let mut latest: BTreeMap<(&str, FinancialYear), u32> = BTreeMap::new();
    for r in &rows {
        let e = latest
            .entry((r.demarcation_code.as_str(), r.financial_year))
            .or_insert(0);
        *e = (*e).max(r.months_elapsed);
    }
    for r in &rows {
        if latest.get(&(r.demarcation_code.as_str(), r.financial_year)) != Some(&r.months_elapsed) {
            continue;
        }
        let budget = r.adjusted_budget_rand.unwrap_or(0.0);
        let (muni, y) = (r.demarcation_code.as_str(), r.financial_year);
        f.push("capital_spend_rate", None, muni, y, r.actual_ytd_rand, budget);
        let under = r.status() == SpendStatus::UnderSpending;
        f.push(
            "underspent_budget_share",
            None,
            muni,
            y,
            if under { budget } else { 0.0 },
            budget,
        );
    }
}

/// `spending_performance` as a DataFrame (see docs/tables.md).
pub fn spending_performance(records: &[Record]) -> PolarsResult<DataFrame> {
    let rows = spending_rows(records);
    let s = |name: &str, f: fn(&SpendingRow) -> Option<&str>| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
    };
    let x = |name: &str, f: fn(&SpendingRow) -> Option<f64>| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
    };
    let columns = vec![
        s("record_id", |r| Some(r.record_id.as_str())),
        s("demarcation_code", |r| Some(r.demarcation_code.as_str())),
        s("project_ref", |r| r.project_ref.as_deref()),
        s("project_name", |r| r.project_name.as_deref()),
        s("vintage", |r| Some(r.vintage.as_str())),
        Column::new(
            "financial_year".into(),
            rows.iter().map(|r| r.financial_year.start_year).collect::<Vec<_>>(),
        ),
        Column::new(
            "financial_year_label".into(),
            rows.iter().map(|r| r.financial_year.label()).collect::<Vec<_>>(),
        ),
        Column::new(
            "period".into(),
            rows.iter().map(SpendingRow::period).collect::<Vec<_>>(),
        ),
        Column::new(
            "months_elapsed".into(),
            rows.iter().map(|r| r.months_elapsed as i32).collect::<Vec<_>>(),
        ),
        x("original_budget_rand", |r| r.original_budget_rand),
        x("adjusted_budget_rand", |r| r.adjusted_budget_rand),
        x("actual_ytd_rand", |r| Some(r.actual_ytd_rand)),
        s("ytd_basis", |r| Some(r.ytd_basis.as_str())),
        x("spend_rate", SpendingRow::spend_rate),
        x("expected_share", |r| Some(r.expected_share())),
        x("gap", SpendingRow::gap),
        s("spend_status", |r| Some(r.status().as_str())),
    ];
    DataFrame::new(rows.len(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::validate::AmountValue;
    use crate::contracts::Dataset;
    use crate::domain::fiscal::Calendar;

    fn fy(y: i32) -> FinancialYear {
        FinancialYear::new(Calendar::Municipal, y)
    }

    /// An SC36-shaped line of BUF 2024/25 with (phase, Rand) amounts.
    fn sc36(id: &str, amounts: &[(&str, f64)]) -> Record {
        Record {
            source_file: "sc36_m06.xlsx".into(),
            source_sheet: Some("BUF".into()),
            financial_year: Some(fy(2024)),
            amounts: amounts
                .iter()
                .map(|(p, r)| AmountValue {
                    year: fy(2024),
                    phase: (*p).into(),
                    rand: *r,
                })
                .collect(),
            ..Record::bare(id, "sc36", Dataset::Budget, "BUF")
        }
    }

    /// Three lines at M06 (expected 50%): 450 of 1,000 (45%, on track), 100 of 2,000 (5%, 45
    /// points behind), and a line without an adjusted budget whose actuals are months only.
    #[test]
    fn spend_rates_and_gaps_by_hand() {
        let records = vec![
            sc36(
                "a",
                &[
                    ("original_budget", 800.0),
                    ("adjusted_budget", 1000.0),
                    ("actual_m01", 50.0),
                    ("actual_m06", 100.0),
                    ("actual_ytd", 450.0),
                ],
            ),
            sc36(
                "b",
                &[
                    ("original_budget", 2000.0),
                    ("adjusted_budget", 2000.0),
                    ("actual_q1", 100.0),
                    ("actual_ytd", 100.0),
                ],
            ),
            sc36(
                "c",
                &[("adjusted_budget", 0.0), ("actual_m02", 30.0), ("actual_m03", 20.0)],
            ),
        ];
        let rows = spending_rows(&records);
        assert!(rows
            .iter()
            .all(|r| r.months_elapsed == 6 && r.period().as_deref() == Some("M06")));
        let (a, b, c) = (&rows[0], &rows[1], &rows[2]);
        assert_eq!(
            (a.actual_ytd_rand, a.spend_rate(), a.expected_share()),
            (450.0, Some(0.45), 0.5)
        );
        assert!((a.gap().unwrap() + 0.05).abs() < 1e-12);
        assert_eq!(a.status(), SpendStatus::OnTrack);
        assert_eq!(b.spend_rate(), Some(0.05));
        assert!((b.gap().unwrap() + 0.45).abs() < 1e-12);
        assert_eq!(b.status(), SpendStatus::UnderSpending);
        assert_eq!((c.actual_ytd_rand, c.ytd_basis), (50.0, YtdBasis::SumOfMonths));
        assert_eq!(
            (c.spend_rate(), c.gap(), c.status()),
            (None, None, SpendStatus::NoBudget)
        );
        // Municipal: (450 + 100 + 50) ÷ (1000 + 2000 + 0) = 0.2; under-spending 2000 ÷ 3000.
        let mut f = Facts::default();
        push_facts(&mut f, &records);
        let sum = |m: &str| -> (f64, f64) {
            (0..f.metric.len())
                .filter(|&i| f.metric[i] == m)
                .fold((0.0, 0.0), |(n, d), i| (n + f.num[i], d + f.den[i]))
        };
        assert_eq!(sum("capital_spend_rate"), (600.0, 3000.0));
        assert_eq!(sum("underspent_budget_share"), (2000.0, 3000.0));
        let df = spending_performance(&records).unwrap();
        assert_eq!(df.column("spend_rate").unwrap().null_count(), 1);
        assert_eq!(df.column("gap").unwrap().null_count(), 1);
    }

    /// A municipality-year with an M03 and an M06 file is measured on the M06 file only.
    #[test]
    fn metrics_use_the_latest_period_of_the_year() {
        let mut early = sc36("early", &[("adjusted_budget", 1000.0), ("actual_m03", 90.0)]);
        early.source_file = "sc36_m03.xlsx".into();
        let late = sc36("late", &[("adjusted_budget", 1000.0), ("actual_m06", 300.0)]);
        let records = vec![early, late];
        let rows = spending_rows(&records);
        assert_eq!(
            rows.iter()
                .map(|r| (r.record_id.as_str(), r.months_elapsed))
                .collect::<Vec<_>>(),
            [("early", 3), ("late", 6)]
        );
        let mut f = Facts::default();
        push_facts(&mut f, &records);
        let i = f.metric.iter().position(|m| *m == "capital_spend_rate").unwrap();
        assert_eq!((f.num[i], f.den[i], f.metric.len()), (300.0, 1000.0, 2));
    }
}

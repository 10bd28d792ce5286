//! Metric history across runs, and the trend over the last budget years.
//!
//! `metrics_history` is a history table like the quarantine: every live run writes one file of
//! its municipal metric rows ([`snapshot`]) and the manifest lists every run's file; retention
//! deletes old runs' folders but keeps these files (`publish::RUN_HISTORY_TABLES`), so the history
//! outlives `retention_days`. Each row carries the vintage of the inputs it was computed from
//! (`inputs_budget_year`: the latest SA36 budget year loaded for the municipality). A scenario run
//! publishes under `scenarios/<name>/` and so never appends to the live history.
//!
//! `metrics_trend` ([`trend`]) reads the whole history: for each municipality, metric, dimension
//! and financial year the value of the latest run that measured it, then over the last
//! [`TREND_YEARS`] financial years the first and last value, the change and the least-squares
//! slope per year, and — for metrics with a direction of "better" — whether that is improving.

use crate::contracts::Dataset;
use crate::domain::Better;
use crate::metrics::alignment::def;
use crate::records::Record;
use polars::prelude::*;
use std::collections::BTreeMap;

/// Financial years a trend spans (the latest ones with a value).
pub const TREND_YEARS: usize = 5;

/// Why the history could not be used.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// A history file lacks a column or has another type.
    #[error("metrics history: {0}")]
    Frame(#[from] PolarsError),
}

/// This run's municipal metric rows for `metrics_history` (publishing adds `run_id`).
pub fn snapshot(metrics: &DataFrame, records: &[Record]) -> PolarsResult<DataFrame> {
    let mut latest_by: BTreeMap<&str, i32> = BTreeMap::new();
    for r in records.iter().filter(|r| r.dataset == Dataset::Budget) {
        if let (Some(m), Some(by)) = (r.demarcation_code.as_deref(), r.financial_year) {
            let e = latest_by.entry(m).or_insert(by.start_year);
            *e = (*e).max(by.start_year);
        }
    }
    let df = metrics
        .clone()
        .lazy()
        .filter(col("level").eq(lit("municipality")))
        .select([
            col("demarcation_code"),
            col("peer_group"),
            col("financial_year"),
            col("metric"),
            col("dimension"),
            col("value"),
            col("numerator"),
            col("denominator"),
            col("unit"),
            col("better"),
            col("peer_rank"),
            col("peer_median"),
        ])
        .collect()?;
    let munis = df.column("demarcation_code")?.str()?.clone();
    let by: Vec<Option<i32>> = (0..df.height())
        .map(|i| munis.get(i).and_then(|m| latest_by.get(m).copied()))
        .collect();
    let mut df = df;
    df.with_column(Column::new("inputs_budget_year".into(), by))?;
    Ok(df)
}

/// One measured value in the history.
struct Point {
    run_id: String,
    value: f64,
}

type SeriesKey = (String, String, Option<String>);

/// (municipality, metric, dimension) → financial year → the latest run's value.
fn latest_values(history: &DataFrame) -> Result<BTreeMap<SeriesKey, BTreeMap<i32, Point>>, HistoryError> {
    let s = |c: &str| -> Result<StringChunked, HistoryError> { Ok(history.column(c)?.str()?.clone()) };
    let (run, muni, metric, dim) = (s("run_id")?, s("demarcation_code")?, s("metric")?, s("dimension")?);
    let year = history.column("financial_year")?.i32()?.clone();
    let value = history.column("value")?.f64()?.clone();
    let mut out: BTreeMap<SeriesKey, BTreeMap<i32, Point>> = BTreeMap::new();
    for i in 0..history.height() {
        let (Some(r), Some(m), Some(k), Some(y), Some(v)) =
            (run.get(i), muni.get(i), metric.get(i), year.get(i), value.get(i))
        else {
            continue;
        };
        let series = out
            .entry((m.to_string(), k.to_string(), dim.get(i).map(str::to_string)))
            .or_default();
        // Run ids start with their UTC start time, so the larger id is the later run.
        if series.get(&y).is_none_or(|p| p.run_id.as_str() < r) {
            series.insert(
                y,
                Point {
                    run_id: r.to_string(),
                    value: v,
                },
            );
        }
    }
    Ok(out)
}

/// Least-squares slope of (year, value) pairs; `None` with fewer than two years.
pub fn slope(points: &[(i32, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| f64::from(p.0)).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (f64::from(p.0) - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (f64::from(p.0) - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// Whether going from `first` to `last` is for the better, by the metric's direction.
pub fn direction(better: Better, first: f64, last: f64) -> &'static str {
    let good = match better {
        Better::None => return "no_direction",
        Better::Higher => last - first,
        Better::Lower => first - last,
        Better::TargetOne => (first - 1.0).abs() - (last - 1.0).abs(),
    };
    if good > 0.0 {
        "improving"
    } else if good < 0.0 {
        "worsening"
    } else {
        "unchanged"
    }
}

/// One row of `metrics_trend`.
struct TrendRow {
    key: SeriesKey,
    points: Vec<(i32, f64)>,
    better: Better,
    unit: &'static str,
}

/// `metrics_trend` over `history` (every run's `metrics_history` rows, `run_id` included):
/// one row per municipality × metric × dimension with a value in at least one year.
pub fn trend(history: &DataFrame) -> Result<DataFrame, HistoryError> {
    let rows: Vec<TrendRow> = latest_values(history)?
        .into_iter()
        .map(|(key, by_year)| {
            let mut points: Vec<(i32, f64)> = by_year.into_iter().map(|(y, p)| (y, p.value)).collect();
            let skip = points.len().saturating_sub(TREND_YEARS);
            points.drain(..skip);
            let d = def(&key.1);
            TrendRow {
                better: d.map_or(Better::None, |d| d.better),
                unit: d.map_or("", |d| d.unit),
                key,
                points,
            }
        })
        .collect();
    let first = |r: &TrendRow| r.points.first().copied().unwrap_or_default();
    let last = |r: &TrendRow| r.points.last().copied().unwrap_or_default();
    let text = |f: fn(&TrendRow) -> &str| rows.iter().map(f).collect::<Vec<_>>();
    let columns = vec![
        Column::new("demarcation_code".into(), text(|r| &r.key.0)),
        Column::new("metric".into(), text(|r| &r.key.1)),
        Column::new(
            "dimension".into(),
            rows.iter().map(|r| r.key.2.as_deref()).collect::<Vec<_>>(),
        ),
        Column::new("unit".into(), text(|r| r.unit)),
        Column::new("better".into(), text(|r| r.better.as_str())),
        Column::new(
            "trend_years".into(),
            rows.iter().map(|r| r.points.len() as i32).collect::<Vec<_>>(),
        ),
        Column::new("first_year".into(), rows.iter().map(|r| first(r).0).collect::<Vec<_>>()),
        Column::new("last_year".into(), rows.iter().map(|r| last(r).0).collect::<Vec<_>>()),
        Column::new(
            "first_value".into(),
            rows.iter().map(|r| first(r).1).collect::<Vec<_>>(),
        ),
        Column::new("last_value".into(), rows.iter().map(|r| last(r).1).collect::<Vec<_>>()),
        Column::new(
            "change".into(),
            rows.iter().map(|r| last(r).1 - first(r).1).collect::<Vec<_>>(),
        ),
        Column::new(
            "slope_per_year".into(),
            rows.iter().map(|r| slope(&r.points)).collect::<Vec<_>>(),
        ),
        Column::new(
            "direction".into(),
            rows.iter()
                .map(|r| direction(r.better, first(r).1, last(r).1))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "series".into(),
            rows.iter()
                .map(|r| {
                    r.points
                        .iter()
                        .map(|(y, v)| format!("{y}={v}"))
                        .collect::<Vec<_>>()
                        .join(";")
                })
                .collect::<Vec<_>>(),
        ),
    ];
    Ok(DataFrame::new(rows.len(), columns)?)
}

/// Columns the trend reads from the history.
const TREND_INPUT: [&str; 6] = [
    "run_id",
    "demarcation_code",
    "metric",
    "dimension",
    "financial_year",
    "value",
];

/// The history this run publishes its trend from: the previous runs' `metrics_history` rows
/// (`previous`, when readable) and this run's `snapshot` with its `run_id`. Only the columns the
/// trend reads are kept, so files written by older versions still combine.
pub fn with_this_run(previous: Option<&DataFrame>, snapshot: &DataFrame, run_id: &str) -> PolarsResult<DataFrame> {
    let mut this = snapshot.clone();
    // As `publish::with_run_id` (publish sits above metrics): the run's id first, unless set.
    if !this.schema().contains("run_id") {
        this.insert_column(0, Column::new("run_id".into(), vec![run_id; this.height()]))?;
    }
    let mut this = this.select(TREND_INPUT)?;
    match previous {
        Some(p) => {
            let mut all = p.select(TREND_INPUT)?;
            all.vstack_mut(&this)?;
            Ok(all)
        }
        None => {
            this.rechunk_mut();
            Ok(this)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(rows: &[(&str, &str, i32, f64)]) -> DataFrame {
        let n = rows.len();
        DataFrame::new(
            n,
            vec![
                Column::new("run_id".into(), rows.iter().map(|r| r.0).collect::<Vec<_>>()),
                Column::new("demarcation_code".into(), vec!["EC121"; n]),
                Column::new("metric".into(), rows.iter().map(|r| r.1).collect::<Vec<_>>()),
                Column::new("dimension".into(), vec![None::<&str>; n]),
                Column::new("financial_year".into(), rows.iter().map(|r| r.2).collect::<Vec<_>>()),
                Column::new("value".into(), rows.iter().map(|r| r.3).collect::<Vec<_>>()),
            ],
        )
        .unwrap()
    }

    /// The latest run's value counts for each year; slope and direction by hand.
    #[test]
    fn trend_over_the_latest_values_by_hand() {
        let h = history(&[
            ("20250101T000000000Z-a", "budget_linked_to_idp_share", 2023, 0.2),
            ("20250101T000000000Z-a", "budget_linked_to_idp_share", 2024, 0.9),
            // A later run restated 2024.
            ("20260101T000000000Z-b", "budget_linked_to_idp_share", 2024, 0.4),
            ("20260101T000000000Z-b", "budget_linked_to_idp_share", 2025, 0.6),
            ("20260101T000000000Z-b", "placeholder_objective_share", 2025, 0.5),
        ]);
        let t = trend(&h).unwrap();
        assert_eq!(t.height(), 2);
        let f = |c: &str| t.column(c).unwrap().f64().unwrap().get(0).unwrap();
        // Points (2023, 0.2), (2024, 0.4), (2025, 0.6): slope 0.2 a year.
        assert!((f("slope_per_year") - 0.2).abs() < 1e-12);
        assert!((f("change") - 0.4).abs() < 1e-12);
        assert_eq!(t.column("trend_years").unwrap().i32().unwrap().get(0), Some(3));
        assert_eq!(t.column("direction").unwrap().str().unwrap().get(0), Some("improving"));
        assert_eq!(
            t.column("series").unwrap().str().unwrap().get(0),
            Some("2023=0.2;2024=0.4;2025=0.6")
        );
        // One year only: no slope.
        assert_eq!(t.column("slope_per_year").unwrap().f64().unwrap().get(1), None);
        assert_eq!(direction(Better::Lower, 0.5, 0.3), "improving");
        assert_eq!(direction(Better::TargetOne, 0.8, 1.1), "improving");
        assert_eq!(direction(Better::None, 0.1, 0.3), "no_direction");
    }
}

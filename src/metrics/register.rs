//! The exceptions register across runs: when each finding was first and last seen, and the run
//! in which it disappeared (resolved).
//!
//! A finding's `exception_id` is a hash of what it is about, so the same finding keeps its id
//! from run to run. Each run merges its findings into the previous register: findings still
//! present are `open` (first seen carried over, last seen = this run), findings that vanished
//! become `resolved` in this run, and resolved ones are kept as history. The register names run
//! ids, so unlike the other tables it differs between two runs of the same inputs.

use crate::metrics::Exception;
use crate::publish::tables::Text;
use polars::prelude::*;
use std::collections::BTreeMap;

/// One register row.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterRow {
    /// Stable id of the finding.
    pub exception_id: String,
    /// Finding type.
    pub exception_type: String,
    /// Severity.
    pub severity: String,
    /// Municipality.
    pub demarcation_code: String,
    /// The sphere that would fix it.
    pub sphere_responsible: String,
    /// Records involved when last seen, `;`-separated.
    pub record_ids: String,
    /// Municipal financial year (start year), if any.
    pub financial_year: Option<i32>,
    /// Rand at stake when last seen.
    pub amount_at_stake_rand: f64,
    /// Description when last seen.
    pub detail: String,
    /// `open` or `resolved`.
    pub status: String,
    /// Run in which it first appeared.
    pub first_seen_run: String,
    /// Latest run in which it was present.
    pub last_seen_run: String,
    /// Run in which it was gone, once resolved.
    pub resolved_in_run: Option<String>,
}

/// Reads register rows back from a published `exception_register` table.
pub fn from_frame(df: &DataFrame) -> PolarsResult<Vec<RegisterRow>> {
    let s = |c: &str| -> PolarsResult<StringChunked> { Ok(df.column(c)?.str()?.clone()) };
    let (sphere, records) = (s("sphere_responsible")?, s("record_ids")?);
    let (id, ty, sev, muni, detail, status, first, last, resolved) = (
        s("exception_id")?,
        s("exception_type")?,
        s("severity")?,
        s("demarcation_code")?,
        s("detail")?,
        s("status")?,
        s("first_seen_run")?,
        s("last_seen_run")?,
        s("resolved_in_run")?,
    );
    let year = df.column("financial_year")?.i32()?.clone();
    let amount = df.column("amount_at_stake_rand")?.f64()?.clone();
    let text = |c: &StringChunked, i: usize| c.get(i).unwrap_or("").to_string();
    Ok((0..df.height())
        .map(|i| RegisterRow {
            exception_id: text(&id, i),
            exception_type: text(&ty, i),
            severity: text(&sev, i),
            demarcation_code: text(&muni, i),
            sphere_responsible: text(&sphere, i),
            record_ids: text(&records, i),
            financial_year: year.get(i),
            amount_at_stake_rand: amount.get(i).unwrap_or(0.0),
            detail: text(&detail, i),
            status: text(&status, i),
            first_seen_run: text(&first, i),
            last_seen_run: text(&last, i),
            resolved_in_run: resolved.get(i).map(str::to_string),
        })
        .collect())
}

/// Merges this run's findings into the previous register.
pub fn merge(previous: &[RegisterRow], current: &[Exception], run_id: &str) -> Vec<RegisterRow> {
    let before: BTreeMap<&str, &RegisterRow> = previous.iter().map(|r| (r.exception_id.as_str(), r)).collect();
    let mut out: BTreeMap<String, RegisterRow> = BTreeMap::new();
    for e in current {
        let prior = before.get(e.exception_id.as_str());
        out.insert(
            e.exception_id.clone(),
            RegisterRow {
                exception_id: e.exception_id.clone(),
                exception_type: e.exception_type.to_string(),
                severity: e.severity.to_string(),
                demarcation_code: e.demarcation_code.clone(),
                sphere_responsible: e.sphere_responsible.to_string(),
                record_ids: e.record_ids.clone(),
                financial_year: e.financial_year.map(|y| y.start_year),
                amount_at_stake_rand: e.amount_at_stake,
                detail: e.detail.clone(),
                status: "open".into(),
                first_seen_run: prior.map_or_else(|| run_id.to_string(), |p| p.first_seen_run.clone()),
                last_seen_run: run_id.to_string(),
                resolved_in_run: None,
            },
        );
    }
    for p in previous {
        if out.contains_key(&p.exception_id) {
            continue;
        }
        let mut r = p.clone();
        if r.status == "open" {
            r.status = "resolved".into();
            r.resolved_in_run = Some(run_id.to_string());
        }
        out.insert(r.exception_id.clone(), r);
    }
    let mut rows: Vec<RegisterRow> = out.into_values().collect();
    rows.sort_by(|a, b| {
        (a.status.as_str(), -a.amount_at_stake_rand, &a.exception_id)
            .partial_cmp(&(b.status.as_str(), -b.amount_at_stake_rand, &b.exception_id))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    rows
}

/// The register as a DataFrame.
pub fn to_frame(rows: &[RegisterRow]) -> PolarsResult<DataFrame> {
    let n = rows.len();
    DataFrame::new(
        n,
        vec![
            Column::new(
                "exception_id".into(),
                rows.iter().map(|r| r.exception_id.text()).collect::<Vec<_>>(),
            ),
            Column::new(
                "exception_type".into(),
                rows.iter().map(|r| r.exception_type.text()).collect::<Vec<_>>(),
            ),
            Column::new(
                "severity".into(),
                rows.iter().map(|r| r.severity.text()).collect::<Vec<_>>(),
            ),
            Column::new(
                "demarcation_code".into(),
                rows.iter().map(|r| r.demarcation_code.text()).collect::<Vec<_>>(),
            ),
            Column::new(
                "sphere_responsible".into(),
                rows.iter().map(|r| r.sphere_responsible.text()).collect::<Vec<_>>(),
            ),
            Column::new(
                "record_ids".into(),
                rows.iter().map(|r| r.record_ids.text()).collect::<Vec<_>>(),
            ),
            Column::new(
                "financial_year".into(),
                rows.iter().map(|r| r.financial_year).collect::<Vec<_>>(),
            ),
            Column::new(
                "amount_at_stake_rand".into(),
                rows.iter().map(|r| r.amount_at_stake_rand).collect::<Vec<_>>(),
            ),
            Column::new(
                "detail".into(),
                rows.iter().map(|r| r.detail.text()).collect::<Vec<_>>(),
            ),
            Column::new(
                "status".into(),
                rows.iter().map(|r| r.status.text()).collect::<Vec<_>>(),
            ),
            Column::new(
                "first_seen_run".into(),
                rows.iter().map(|r| r.first_seen_run.text()).collect::<Vec<_>>(),
            ),
            Column::new(
                "last_seen_run".into(),
                rows.iter().map(|r| r.last_seen_run.text()).collect::<Vec<_>>(),
            ),
            Column::new(
                "resolved_in_run".into(),
                rows.iter().map(|r| r.resolved_in_run.text()).collect::<Vec<_>>(),
            ),
        ],
    )
}

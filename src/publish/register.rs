//! The exception register as a table: rows to a DataFrame for publishing and back from the
//! previous run's `exception_register` (issue #11: register frame I/O lives in `publish`, beside
//! the other tables, so `metrics` never reaches up into `publish`).

use crate::metrics::register::RegisterRow;
use crate::publish::tables::Text;
use polars::prelude::*;

/// Reads register rows back from a published `exception_register` table. Columns added since
/// an older register was written take their defaults.
pub fn from_frame(df: &DataFrame) -> PolarsResult<Vec<RegisterRow>> {
    let s = |c: &str| -> PolarsResult<StringChunked> { Ok(df.column(c)?.str()?.clone()) };
    let opt = |c: &str| -> Option<StringChunked> { df.column(c).ok().and_then(|x| x.str().ok().cloned()) };
    let (records, id, ty, sev, muni, detail, status, first, last, resolved) = (
        s("record_ids")?,
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
    let owner_sphere = opt("owner_sphere").or_else(|| opt("sphere_responsible"));
    let (owner, action, reason, until, assigned, decided, history) = (
        opt("owner"),
        opt("suggested_action"),
        opt("reason"),
        opt("until"),
        opt("assigned_to"),
        opt("decided_by"),
        opt("status_history"),
    );
    let year = df.column("financial_year")?.i32()?.clone();
    let amount = df.column("amount_at_stake_rand")?.f64()?.clone();
    let material = df.column("material").ok().and_then(|c| c.bool().ok().cloned());
    let priority = df.column("priority").ok().and_then(|c| c.f64().ok().cloned());
    let reopened = df.column("reopened_count").ok().and_then(|c| c.u32().ok().cloned());
    let years = df
        .column("financial_years")
        .ok()
        .and_then(|c| c.as_materialized_series().list().ok().cloned());
    let text = |c: &StringChunked, i: usize| c.get(i).unwrap_or("").to_string();
    let opt_text = |c: &Option<StringChunked>, i: usize| c.as_ref().and_then(|c| c.get(i)).map(str::to_string);
    Ok((0..df.height())
        .map(|i| RegisterRow {
            exception_id: text(&id, i),
            exception_type: text(&ty, i),
            severity: text(&sev, i),
            demarcation_code: text(&muni, i),
            owner_sphere: opt_text(&owner_sphere, i).unwrap_or_default(),
            owner: opt_text(&owner, i).unwrap_or_else(|| text(&muni, i)),
            suggested_action: opt_text(&action, i).unwrap_or_default(),
            record_ids: text(&records, i),
            financial_year: year.get(i),
            financial_years: years
                .as_ref()
                .and_then(|l| l.get_as_series(i))
                .and_then(|s| s.i32().ok().map(|c| (0..c.len()).filter_map(|j| c.get(j)).collect()))
                .unwrap_or_else(|| year.get(i).into_iter().collect()),
            amount_at_stake_rand: amount.get(i).unwrap_or(0.0),
            material: material.as_ref().and_then(|c| c.get(i)).unwrap_or(false),
            priority: priority.as_ref().and_then(|c| c.get(i)).unwrap_or(0.0),
            detail: text(&detail, i),
            status: text(&status, i),
            reason: opt_text(&reason, i),
            until: opt_text(&until, i),
            assigned_to: opt_text(&assigned, i),
            decided_by: opt_text(&decided, i),
            first_seen_run: text(&first, i),
            last_seen_run: text(&last, i),
            resolved_in_run: resolved.get(i).map(str::to_string),
            reopened_count: reopened.as_ref().and_then(|c| c.get(i)).unwrap_or(0),
            status_history: opt_text(&history, i).unwrap_or_else(|| "[]".into()),
        })
        .collect())
}

/// A list column of start years.
pub(crate) fn years_column(name: &str, years: impl Iterator<Item = Vec<i32>>) -> Column {
    let lists: Vec<Series> = years.map(|v| Series::new("".into(), v)).collect();
    let mut s = Series::new(name.into(), lists);
    if s.is_empty() {
        s = Series::new_empty(name.into(), &DataType::List(Box::new(DataType::Int32)));
    }
    s.into()
}

/// The register as a DataFrame.
pub fn to_frame(rows: &[RegisterRow]) -> PolarsResult<DataFrame> {
    let n = rows.len();
    let text = |f: fn(&RegisterRow) -> &str| rows.iter().map(f).collect::<Vec<_>>();
    let opt = |f: fn(&RegisterRow) -> Option<&str>| rows.iter().map(f).collect::<Vec<_>>();
    DataFrame::new(
        n,
        vec![
            Column::new("exception_id".into(), text(|r| r.exception_id.text())),
            Column::new("exception_type".into(), text(|r| r.exception_type.text())),
            Column::new("severity".into(), text(|r| r.severity.text())),
            Column::new("demarcation_code".into(), text(|r| r.demarcation_code.text())),
            Column::new("owner_sphere".into(), text(|r| r.owner_sphere.text())),
            Column::new("owner".into(), text(|r| r.owner.text())),
            Column::new("suggested_action".into(), text(|r| r.suggested_action.text())),
            Column::new("record_ids".into(), text(|r| r.record_ids.text())),
            Column::new(
                "financial_year".into(),
                rows.iter().map(|r| r.financial_year).collect::<Vec<_>>(),
            ),
            years_column("financial_years", rows.iter().map(|r| r.financial_years.clone())),
            Column::new(
                "amount_at_stake_rand".into(),
                rows.iter().map(|r| r.amount_at_stake_rand).collect::<Vec<_>>(),
            ),
            Column::new("material".into(), rows.iter().map(|r| r.material).collect::<Vec<_>>()),
            Column::new("priority".into(), rows.iter().map(|r| r.priority).collect::<Vec<_>>()),
            Column::new("detail".into(), text(|r| r.detail.text())),
            Column::new("status".into(), text(|r| r.status.text())),
            Column::new("reason".into(), opt(|r| r.reason.text())),
            Column::new("until".into(), opt(|r| r.until.text())),
            Column::new("assigned_to".into(), opt(|r| r.assigned_to.text())),
            Column::new("decided_by".into(), opt(|r| r.decided_by.text())),
            Column::new("first_seen_run".into(), text(|r| r.first_seen_run.text())),
            Column::new("last_seen_run".into(), text(|r| r.last_seen_run.text())),
            Column::new("resolved_in_run".into(), opt(|r| r.resolved_in_run.text())),
            Column::new(
                "reopened_count".into(),
                rows.iter().map(|r| r.reopened_count).collect::<Vec<_>>(),
            ),
            Column::new("status_history".into(), text(|r| r.status_history.text())),
        ],
    )
}

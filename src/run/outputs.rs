//! The run's last stage: every table built, written and dropped in turn, the HTML report, the
//! manifest committed, then what follows the commit point (Delta tables, `current/`, retention,
//! leftovers of dead runs).
//!
//! Nothing before the commit touches what is published: a run that fails or is cancelled while
//! writing leaves the previous manifest current. Everything after the commit is housekeeping: a
//! failure there is logged and leaves a good run published.

use super::{Place, RunError, LEFTOVER_AGE};
use crate::metrics::register::RegisterRow;
use crate::metrics::{Exception, Totals};
use crate::progress::{Progress, Stage};
use crate::publish::tables::{self, QuarantineRow, SourceQuality};
use crate::publish::{self, Manifest, Partition, Table, TableEntry};
use crate::reconcile::register::Member;
use crate::reconcile::{Link, ModelUsed, Variance};
use crate::records::Record;
use crate::storage::Store;
use polars::prelude::{DataFrame, PolarsResult};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// Everything the run computed, borrowed for writing.
pub(super) struct Results<'a> {
    /// Records of the published municipalities and years.
    pub records: &'a [Record],
    /// Every link (all bands).
    pub links: &'a [Link],
    /// The accepted links.
    pub accepted: &'a [&'a Link],
    /// The models the link types were scored with.
    pub models: &'a [ModelUsed],
    /// Year-by-year variances of accepted links.
    pub variances: &'a [Variance],
    /// The alignment metrics table.
    pub metrics: &'a DataFrame,
    /// This run's findings.
    pub exceptions: &'a [Exception],
    /// The project register (records joined into projects).
    pub projects: &'a [Member],
    /// The exception register after this run.
    pub register: &'a [RegisterRow],
    /// This run's metrics history rows.
    pub history_now: &'a DataFrame,
    /// Every run's metrics history rows, for the trend.
    pub history_all: &'a DataFrame,
    /// Quarantined rows and cells.
    pub quarantine: &'a [QuarantineRow],
    /// The run each quarantined problem was first seen in.
    pub quarantine_seen: &'a BTreeMap<String, String>,
    /// Counts per source.
    pub quality: &'a [SourceQuality],
    /// Budget totals per municipality and year.
    pub budget_totals: &'a Totals,
}

type Build<'b> = Box<dyn FnOnce() -> PolarsResult<DataFrame> + Send + 'b>;

/// Every published table: its name, partitioning and how to build it.
fn builders<'b>(r: &'b Results<'b>, run_id: &'b str) -> Vec<(&'static str, Partition, Build<'b>)> {
    use crate::metrics::{grants, history, revisions, spatial, spending};
    use Partition::{FinancialYear as ByYear, None as Whole, RunId as ByRun};
    vec![
        ("projects", ByYear, Box::new(|| tables::projects(r.records))),
        (
            "project_amounts",
            ByYear,
            Box::new(|| tables::project_amounts(r.records)),
        ),
        ("links", Whole, Box::new(|| tables::links(r.links))),
        ("link_model", Whole, Box::new(|| tables::link_model(r.models))),
        ("variances", ByYear, Box::new(|| tables::variances(r.variances))),
        ("alignment_metrics", ByYear, Box::new(|| Ok(r.metrics.clone()))),
        ("exceptions", Whole, Box::new(|| tables::exceptions(r.exceptions))),
        (
            "project_register",
            Whole,
            Box::new(|| tables::project_register(r.projects)),
        ),
        (
            "project_locations",
            Whole,
            Box::new(|| publish::geo::project_locations(r.records)),
        ),
        (
            "ward_budget",
            ByYear,
            Box::new(|| spatial::ward_budget(r.records, r.accepted)),
        ),
        // Issue #13: revisions between budget documents, in-year spending, budget by grant.
        (
            "amount_revisions",
            ByYear,
            Box::new(|| revisions::amount_revisions(r.records)),
        ),
        (
            "spending_performance",
            ByYear,
            Box::new(|| spending::spending_performance(r.records)),
        ),
        (
            "grant_budget",
            ByYear,
            Box::new(|| grants::grant_budget(r.records, r.accepted)),
        ),
        (
            "exception_register",
            Whole,
            Box::new(|| publish::register::to_frame(r.register)),
        ),
        ("metrics_history", ByRun, Box::new(|| Ok(r.history_now.clone()))),
        (
            "metrics_trend",
            Whole,
            Box::new(|| history::trend(r.history_all).map_err(|e| polars::prelude::polars_err!(ComputeError: "{e}"))),
        ),
        (
            "quarantine",
            ByRun,
            Box::new(move || tables::quarantine(r.quarantine, run_id, r.quarantine_seen)),
        ),
        ("data_quality", Whole, Box::new(|| tables::data_quality(r.quality))),
    ]
}

/// Builds, writes and drops each table in turn, so only one is in memory at a time.
pub(super) async fn write_tables(
    store: &Store,
    run_id: &str,
    r: &Results<'_>,
    progress: &Progress,
    cancel: &AtomicBool,
    notes: &mut Vec<String>,
) -> Result<BTreeMap<String, TableEntry>, RunError> {
    let builders = builders(r, run_id);
    let mut written = BTreeMap::new();
    progress.begin(Stage::Publish, Some(builders.len() as u64));
    for (name, partition, build) in builders {
        if cancel.load(Ordering::SeqCst) {
            return Err(RunError::Cancelled);
        }
        let started = std::time::Instant::now();
        let table = Table {
            name,
            df: build()?,
            partition,
        };
        let entry = publish::write_table(store, run_id, &table).await?;
        if entry.non_finite_nulled > 0 {
            notes.push(format!(
                "table `{name}`: {} NaN or infinite value(s) published as null",
                entry.non_finite_nulled
            ));
        }
        tracing::debug!(
            table = name,
            rows = entry.rows,
            secs = started.elapsed().as_secs_f64(),
            "table written"
        );
        written.insert(name.to_string(), entry);
        progress.advance(1);
    }
    tracing::info!(tables = written.len(), "tables written");
    Ok(written)
}

/// Renders the run's HTML report (compared with the previous run's) to `runs/<run_id>/report.html`;
/// returns that path.
pub(super) async fn write_report(
    store: &Store,
    pipeline: &str,
    run_id: &str,
    started_at: &str,
    previous: Option<&Manifest>,
    r: &Results<'_>,
) -> Result<String, RunError> {
    let started = std::time::Instant::now();
    let previous_run = crate::report::load_previous(store, previous).await;
    let html = crate::report::render(&crate::report::ReportInput {
        pipeline,
        run_id,
        started_at,
        metrics: r.metrics,
        exceptions: r.exceptions,
        register: r.register,
        quality: r.quality,
        quarantine: r.quarantine,
        budget_totals: r.budget_totals,
        links: r.links,
        projects: r.projects,
        previous: previous_run.as_ref(),
    })?;
    let path = format!("runs/{run_id}/report.html");
    let bytes = html.len();
    publish::put(store, &path, html.into_bytes()).await?;
    tracing::info!(bytes, secs = started.elapsed().as_secs_f64(), "report written");
    Ok(path)
}

/// The quarantine and the metrics history are history: this run's file is added to every
/// earlier run's.
pub(super) fn add_history(written: &mut BTreeMap<String, TableEntry>, previous: Option<&Manifest>) {
    for name in publish::RUN_HISTORY_TABLES {
        if let (Some(prev), Some(entry)) = (previous.and_then(|m| m.tables.get(*name)), written.get_mut(*name)) {
            let mut files = prev.files.clone();
            files.append(&mut entry.files);
            entry.files = files;
            entry.rows += prev.rows;
        }
    }
}

/// What follows the commit point: the Delta tables under `tables/` (one commit per table), the
/// stable copy under `current/`, retention and the leftovers of dead runs. Returns the manifest
/// with the Delta versions it published.
pub(super) async fn after_commit(
    place: &Place,
    pipeline: &crate::config::Pipeline,
    manifest: Manifest,
    now: chrono::DateTime<chrono::Utc>,
) -> Manifest {
    let store = &place.store;
    let run_id = manifest.run_id.clone();
    let manifest = publish::delta::publish(store, manifest, pipeline.retention_days, now).await;
    // A failure here leaves the run committed (the manifest names it) and `current/` on an
    // earlier run or mid-swap, which the rows' `run_id` shows; the next run repairs it.
    if let Err(e) = publish::publish_current(store, &manifest).await {
        tracing::error!(
            error = %e,
            "current/ could not be refreshed; the run is committed under runs/{run_id}/ and current/ may still show an earlier run"
        );
    }
    match publish::apply_retention(store, &run_id, now, pipeline.retention_days).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            runs = n,
            days = pipeline.retention_days,
            "removed runs past their retention"
        ),
        Err(e) => tracing::warn!(error = %e, "retention clean-up failed"),
    }
    // Leftovers of runs that died at this location (this run holds its lock): their run
    // folders and half-written files.
    let local_root = match &pipeline.publish {
        crate::domain::Location::Local(root) => Some(match &place.scenario {
            Some(name) => root.join(crate::scenario::PREFIX).join(name),
            None => root.clone(),
        }),
        crate::domain::Location::Url(_) => None,
    };
    match publish::remove_leftovers(store, &run_id, &manifest, local_root.as_deref(), LEFTOVER_AGE).await {
        Ok(removed) if removed.is_empty() => {}
        Ok(removed) => tracing::info!(removed = %removed.join(", "), "removed what dead runs left"),
        Err(e) => tracing::warn!(error = %e, "clean-up of dead runs' leftovers failed"),
    }
    manifest
}

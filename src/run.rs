//! One pipeline run, end to end: fetch → read → validate → link → measure → publish.
//!
//! Every source is processed before anything is decided, so a run that fails reports every
//! failing source at once. Sources fail on unreadable files (an HTML page included), unusable
//! sheets, a share of rejected rows above their `max_reject_ratio`, fewer accepted rows than
//! their `min_rows`, or a fall in rows past their `max_row_drop`; any failure stops the run
//! before publishing, so the previously published outputs stay current. Previous state that
//! cannot be read (the manifest, the registers, the fetch log) is set aside or skipped with a
//! warning and a note in the new manifest, never a reason to fail. The clock is passed in, so
//! tests can fix it.

use crate::config::Pipeline;
use crate::contracts::validate::{self, Options};
use crate::metrics;
use crate::progress::Stage;
use crate::publish::tables::{self, QuarantineRow, SourceQuality};
use crate::publish::{self, InputEntry, Manifest, Partition, PublishError, Table};
use crate::reconcile;
use crate::records::Record;
use crate::sources::raw::{FetchLog, RawZone};
use crate::sources::readers::{self, Format};
use crate::sources::{self, Fetched};
use crate::storage::{StorageError, Store};
use chrono::{DateTime, Utc};
use polars::prelude::{DataFrame, PolarsError};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// One or more sources failed; nothing was published.
    #[error("{} source problem{}; nothing was published and the previous outputs are unchanged:\n{}",
        .0.len(), if .0.len() == 1 { "" } else { "s" },
        .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Sources(Vec<SourceProblem>),
    /// The publish location could not be opened.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The raw zone could not be used.
    #[error(transparent)]
    Raw(crate::sources::raw::RawError),
    /// The scenario name cannot be used as a folder name.
    #[error("{0}")]
    Scenario(String),
    /// The overrides file is wrong; every problem is listed.
    #[error("the overrides file has {} problem(s); nothing was published:\n{}", .0.len(), .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Overrides(Vec<String>),
    /// The exception decisions file is wrong; every problem is listed.
    #[error("the exception decisions file has {} problem(s); nothing was published:\n{}", .0.len(), .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Decisions(Vec<String>),
    /// The run was cancelled before it published; the previous outputs are unchanged.
    #[error("the run was cancelled; nothing was published and the previous outputs are unchanged")]
    Cancelled,
    /// Another run holds the publish location.
    #[error(transparent)]
    Lock(#[from] crate::publish::lock::LockError),
    /// Writing outputs failed; the previous manifest is still current.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// A table computation failed.
    #[error("computing tables failed: {0}")]
    Compute(#[from] PolarsError),
}

/// One source's failure.
#[derive(Debug, thiserror::Error)]
pub enum SourceProblem {
    /// The bytes could not be fetched.
    #[error(transparent)]
    Fetch(#[from] sources::SourceError),
    /// The file format is unknown.
    #[error("source `{source_name}`: cannot tell the format of `{file}`; set `format` on the source")]
    UnknownFormat {
        /// Source name.
        source_name: String,
        /// File name.
        file: String,
    },
    /// The file could not be parsed at all.
    #[error("source `{source_name}`: {error}")]
    Read {
        /// Source name.
        source_name: String,
        /// The reader's error.
        error: readers::ReadError,
    },
    /// A sheet could not be used.
    #[error("source `{source_name}`: {error}")]
    Sheet {
        /// Source name.
        source_name: String,
        /// The sheet problem.
        error: validate::SheetError,
    },
    /// No sheet matched the source's `sheets` pattern.
    #[error("source `{source_name}`: no sheet of {file} matches `{pattern}`; its sheets are {found}")]
    NoSheet {
        /// Source name.
        source_name: String,
        /// File name.
        file: String,
        /// The pattern.
        pattern: String,
        /// The sheets that exist.
        found: String,
    },
    /// Rows read ≠ accepted + quarantined: a defect in harvester, never published.
    #[error("source `{source_name}`: {read} rows read but {accepted} accepted + {rejected} quarantined; this is a defect in harvester, please report it")]
    Lost {
        /// Source name.
        source_name: String,
        /// Rows read.
        read: usize,
        /// Rows accepted.
        accepted: usize,
        /// Rows rejected.
        rejected: usize,
    },
    /// The source gave fewer accepted rows than its `min_rows`.
    #[error("source `{source_name}`: {accepted} row(s) accepted from {files} ({read} data row(s) read), fewer than min_rows {min}; an empty or header-only file is not published (set `min_rows = 0` on the source if it may be empty)")]
    TooFewRows {
        /// Source name.
        source_name: String,
        /// The file (or files) read.
        files: String,
        /// Rows accepted.
        accepted: usize,
        /// Data rows read.
        read: usize,
        /// The source's `min_rows`.
        min: usize,
    },
    /// The source's accepted rows fell by more than its `max_row_drop` since the last run.
    #[error("source `{source_name}`: {accepted} row(s) accepted from {files}, down from {previous} in the previous run {previous_run} ({drop:.1}% fewer > max_row_drop {max:.1}%); a partial delivery is not published")]
    RowDrop {
        /// Source name.
        source_name: String,
        /// The file (or files) read.
        files: String,
        /// Rows accepted now.
        accepted: usize,
        /// Rows accepted in the previous run.
        previous: usize,
        /// The previous run's id.
        previous_run: String,
        /// Percentage fewer.
        drop: f64,
        /// Percentage allowed.
        max: f64,
    },
    /// Too many rows were rejected.
    #[error("source `{source_name}`: {rejected} of {read} rows rejected ({ratio:.1}% > max_reject_ratio {max:.1}%); most frequent: {examples}")]
    TooManyRejected {
        /// Source name.
        source_name: String,
        /// Rows rejected.
        rejected: usize,
        /// Rows read.
        read: usize,
        /// Percentage rejected.
        ratio: f64,
        /// Percentage allowed.
        max: f64,
        /// The most frequent rejection reasons.
        examples: String,
    },
}

/// What a finished run produced, for the summary and for tests.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The manifest that was committed.
    pub manifest: Manifest,
    /// Where outputs went.
    pub publish_location: String,
    /// Links per link type.
    pub links_by_type: BTreeMap<String, usize>,
    /// The alignment metrics table.
    pub metrics: DataFrame,
    /// Number of exceptions.
    pub exceptions: usize,
    /// Material findings with status `open` in the register after this run.
    pub material_open: usize,
    /// The scenario the run published to (`scenarios/<name>/`), `None` for a live run.
    pub scenario: Option<String>,
    /// The run's own manifest copy, relative to the output root
    /// (`[scenarios/<name>/]runs/<run_id>/manifest.json`).
    pub manifest_path: String,
}

/// Everything read and validated from one source.
pub struct SourceOutput {
    /// Accepted records.
    pub records: Vec<Record>,
    /// Quarantined rows and cells.
    pub quarantine: Vec<QuarantineRow>,
    /// Counts.
    pub quality: SourceQuality,
    /// Problems that fail the run.
    pub problems: Vec<SourceProblem>,
}

/// Reads and validates one fetched file against a source's contract.
pub fn process_source(pipeline: &Pipeline, spec: &crate::config::SourceSpec, fetched: &Fetched) -> SourceOutput {
    let contract = pipeline
        .catalog
        .get(&spec.contract)
        .cloned()
        .expect("contracts are checked when the pipeline is loaded");
    process_with_contract(
        &spec.name,
        &contract,
        spec.format,
        spec.sheets.as_ref(),
        spec.unit,
        spec.financial_year,
        spec.max_reject_ratio,
        &spec.read_limits,
        fetched,
    )
}

/// Reads and validates fetched bytes against `contract`; used by `run` and `check`.
#[expect(
    clippy::too_many_arguments,
    reason = "the source settings, spelled out for the check command"
)]
pub fn process_with_contract(
    source_name: &str,
    contract: &crate::contracts::Contract,
    format: Option<Format>,
    sheets: Option<&regex::Regex>,
    unit: crate::domain::Unit,
    financial_year: Option<crate::domain::fiscal::FinancialYear>,
    max_reject_ratio: f64,
    limits: &readers::ReadLimits,
    fetched: &Fetched,
) -> SourceOutput {
    let mut out = SourceOutput {
        records: vec![],
        quarantine: vec![],
        quality: SourceQuality {
            source: source_name.to_string(),
            contract: contract.name.clone(),
            rows_read: 0,
            rows_accepted: 0,
            rows_rejected: 0,
            warnings: 0,
            notices: 0,
            zero_amount_rows: 0,
        },
        problems: vec![],
    };
    let file = fetched.file_name.clone();
    // Several files share sheet names and row numbers: the file joins the record id.
    let id_prefix = if fetched.one_of_several {
        format!("{source_name}:{file}")
    } else {
        source_name.to_string()
    };
    // A web page served in place of the data says so, whatever the format was meant to be.
    if let Some(error) = readers::html_page(&fetched.bytes, &file) {
        out.problems.push(SourceProblem::Read {
            source_name: source_name.to_string(),
            error,
        });
        return out;
    }
    let Some(format) = format.or_else(|| Format::from_path(&file)) else {
        out.problems.push(SourceProblem::UnknownFormat {
            source_name: source_name.to_string(),
            file,
        });
        return out;
    };
    let mut sheets_read = match readers::read_limited(&fetched.bytes, format, &file, limits) {
        Ok(s) => s,
        Err(error) => {
            out.problems.push(SourceProblem::Read {
                source_name: source_name.to_string(),
                error,
            });
            return out;
        }
    };
    if let Some(p) = sheets {
        let all: Vec<String> = sheets_read.iter().filter_map(|s| s.name.clone()).collect();
        sheets_read.retain(|s| s.name.as_deref().is_some_and(|n| p.is_match(n)));
        if sheets_read.is_empty() {
            out.problems.push(SourceProblem::NoSheet {
                source_name: source_name.to_string(),
                file: file.clone(),
                pattern: p.as_str().to_string(),
                found: all.join(", "),
            });
            return out;
        }
    }
    let opts = Options {
        unit,
        financial_year,
        file: file.clone(),
    };
    let outcome = validate::validate(contract, &sheets_read, &opts);
    for error in outcome.problems {
        out.problems.push(SourceProblem::Sheet {
            source_name: source_name.to_string(),
            error,
        });
    }
    out.quality.rows_read = outcome.rows_read;
    out.quality.rows_accepted = outcome.rows.len();
    out.quality.rows_rejected = outcome.rows_rejected;
    out.quality.warnings = outcome
        .rejections
        .iter()
        .filter(|r| r.severity == crate::domain::Severity::Warning)
        .count();
    out.quality.notices = outcome
        .rejections
        .iter()
        .filter(|r| r.severity == crate::domain::Severity::Notice)
        .count();
    // Plan and budget lines with amounts that are all zero (IDP sector lines of R0): counted,
    // since a zero plan cannot be compared with a budget.
    out.quality.zero_amount_rows = outcome
        .rows
        .iter()
        .filter(|r| !r.amounts.is_empty() && r.amounts.iter().all(|a| a.rand == 0.0))
        .count();
    // Checked on every run: no row may be lost between reading and publishing.
    if outcome.rows_read != outcome.rows.len() + outcome.rows_rejected {
        out.problems.push(SourceProblem::Lost {
            source_name: source_name.to_string(),
            read: outcome.rows_read,
            accepted: outcome.rows.len(),
            rejected: outcome.rows_rejected,
        });
    }
    if outcome.rows_read > 0 {
        let ratio = outcome.rows_rejected as f64 / outcome.rows_read as f64;
        if ratio > max_reject_ratio {
            let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
            for r in outcome
                .rejections
                .iter()
                .filter(|r| r.severity == crate::domain::Severity::Error)
            {
                *reasons.entry(format!("{}: {}", r.rule, r.message)).or_default() += 1;
            }
            let mut reasons: Vec<(String, usize)> = reasons.into_iter().collect();
            reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let examples = reasons
                .iter()
                .take(3)
                .map(|(m, n)| format!("{m} (×{n})"))
                .collect::<Vec<_>>()
                .join("; ");
            // Where to look: the first rejected rows with the columns that broke a rule.
            let mut rows: BTreeMap<(Option<&str>, u32), std::collections::BTreeSet<&str>> = BTreeMap::new();
            for r in outcome
                .rejections
                .iter()
                .filter(|r| r.severity == crate::domain::Severity::Error)
            {
                rows.entry((r.sheet.as_deref(), r.row))
                    .or_default()
                    .insert(r.column.as_str());
            }
            let first = rows
                .iter()
                .take(3)
                .map(|((sheet, row), cols)| {
                    let sheet = sheet.map(|s| format!(" sheet `{s}`")).unwrap_or_default();
                    format!(
                        "{file}{sheet} row {row} ({})",
                        cols.iter().copied().collect::<Vec<_>>().join(", ")
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let examples = format!("{examples}; first rejected: {first}");
            out.problems.push(SourceProblem::TooManyRejected {
                source_name: source_name.to_string(),
                rejected: outcome.rows_rejected,
                read: outcome.rows_read,
                ratio: ratio * 100.0,
                max: max_reject_ratio * 100.0,
                examples,
            });
        }
    }
    out.quarantine = outcome
        .rejections
        .into_iter()
        .map(|r| QuarantineRow {
            source: source_name.to_string(),
            source_file: file.clone(),
            source_sheet: r.sheet,
            source_row: Some(r.row),
            column: r.column,
            rule: r.rule,
            raw_value: r.raw,
            severity: r.severity.as_str().to_string(),
            message: r.message,
        })
        .collect();
    out.records = outcome
        .rows
        .iter()
        .map(|row| Record::from_row(&id_prefix, source_name, &file, contract, row))
        .collect();
    out
}

/// The previous run's quarantined problems and the run each was first rejected in (the last file
/// of the quarantine history is the previous run's). Unreadable: noted, and every problem is
/// new again.
async fn previous_quarantine(
    store: &crate::storage::Store,
    previous: Option<&Manifest>,
    notes: &mut Vec<String>,
) -> std::collections::BTreeMap<String, String> {
    let Some((manifest, last)) = previous.and_then(|m| Some((m, m.tables.get("quarantine")?.files.last()?))) else {
        return Default::default();
    };
    let files = std::slice::from_ref(last);
    let read = match publish::read_table(store, files).await {
        Ok(Some(df)) => tables::quarantine_first_seen(&df, &manifest.run_id).map_err(|e| e.to_string()),
        Ok(None) => Ok(Default::default()),
        Err(e) => Err(e.to_string()),
    };
    read.unwrap_or_else(|e| {
        unreadable_state("quarantine", files, &e, notes);
        Default::default()
    })
}

/// A previous run's table that cannot be read: logged and noted; the run goes on without it.
fn unreadable_state(what: &str, files: &[String], error: &str, notes: &mut Vec<String>) {
    tracing::warn!(state = what, files = %files.join(", "), error = %error, "previous state cannot be read; starting without it");
    notes.push(format!(
        "the previous {what} ({}) could not be read ({error}); this run started without it",
        files.join(", ")
    ));
}

/// A new run id: the UTC start time (to the millisecond) and a random suffix, so ids sort by
/// time and two runs started in the same millisecond still differ.
pub fn new_run_id(now: DateTime<Utc>) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let seed = format!("{:?}{}{}{:?}", now, std::process::id(), n, std::time::SystemTime::now());
    format!(
        "{}-{}",
        now.format("%Y%m%dT%H%M%S%3fZ"),
        &crate::domain::sha256_hex(seed.as_bytes())[..6]
    )
}

/// What one run is asked to do, beyond its pipeline.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The run's id (see [`new_run_id`]).
    pub run_id: String,
    /// The run's start time.
    pub now: DateTime<Utc>,
    /// Only these municipalities' records, links and metric rows are published (all when empty);
    /// every municipality is still linked and measured, so roll-ups and peer ranks cover the
    /// full population.
    pub municipalities: Vec<String>,
    /// Only these municipal financial years are reconciled and published (all when empty; the
    /// pipeline's `reconcile.financial_years` when that is set).
    pub financial_years: Vec<crate::domain::fiscal::FinancialYear>,
    /// Publish under `scenarios/<name>/` instead of the live outputs. A run with a municipality
    /// or year filter is always a scenario run; without a name it gets
    /// [`crate::scenario::default_name`].
    pub scenario: Option<String>,
    /// Set to stop the run at the next stage boundary; nothing is published after it is set.
    pub cancel: Arc<AtomicBool>,
    /// Set with `cancel` when the process is shutting down (SIGTERM): the run is then recorded
    /// as `interrupted`, not `cancelled`.
    pub interrupted: Arc<AtomicBool>,
    /// Replay the inputs of an earlier run (run id or timestamp) from the raw zone instead of
    /// fetching.
    pub as_of: Option<String>,
    /// The run's stage and how far through it (API, bars, log lines, stage timings).
    pub progress: Arc<crate::progress::Progress>,
}

impl RunRequest {
    /// The scenario this request publishes to (`None`: the live outputs), or why its name is
    /// not usable.
    pub fn scenario_name(&self) -> Result<Option<String>, String> {
        crate::scenario::name_for(self.scenario.as_deref(), &self.financial_years, &self.municipalities)
    }

    /// A request with a fresh run id and no filters.
    pub fn new(now: DateTime<Utc>) -> Self {
        let run_id = new_run_id(now);
        Self {
            progress: crate::progress::Progress::new(&run_id),
            run_id,
            now,
            municipalities: Vec::new(),
            financial_years: Vec::new(),
            scenario: None,
            cancel: Arc::new(AtomicBool::new(false)),
            interrupted: Arc::new(AtomicBool::new(false)),
            as_of: None,
        }
    }
}

/// Runs a pipeline and publishes its outputs. `now` is the run's start time.
pub async fn run(pipeline: &Pipeline, now: DateTime<Utc>) -> Result<RunReport, RunError> {
    run_with(pipeline, &RunRequest::new(now)).await
}

/// Staging files younger than this are left alone by the clean-up (a write may be in flight).
const LEFTOVER_AGE: std::time::Duration = std::time::Duration::from_secs(600);

/// How often a long wait (a download) looks at the cancellation flag.
const CANCEL_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// Runs `fut` to completion, or gives up (dropping it) within [`CANCEL_POLL`] of `cancel`
/// being set.
pub async fn until_cancelled<F: std::future::Future>(fut: F, cancel: &AtomicBool) -> Option<F::Output> {
    let watch = async {
        while !cancel.load(Ordering::SeqCst) {
            tokio::time::sleep(CANCEL_POLL).await;
        }
    };
    tokio::select! {
        out = fut => Some(out),
        () = watch => None,
    }
}

/// Runs a pipeline for a request and publishes its outputs, holding the publish location's
/// lock (`publish::lock`) from before anything is read there until the run has ended.
pub async fn run_with(pipeline: &Pipeline, request: &RunRequest) -> Result<RunReport, RunError> {
    request.progress.set_pipeline(&pipeline.name);
    crate::progress::Staged::new(run_with_lock(pipeline, request), request.progress.clone()).await
}

async fn run_with_lock(pipeline: &Pipeline, request: &RunRequest) -> Result<RunReport, RunError> {
    let scenario = request.scenario_name().map_err(RunError::Scenario)?;
    let live = Store::open_folder(&pipeline.publish)?;
    let store = match &scenario {
        Some(name) => live.sub(&format!("{}/{name}", crate::scenario::PREFIX)),
        None => live,
    };
    let lock = publish::lock::acquire(
        &store,
        &request.run_id,
        &pipeline.name,
        std::time::Duration::from_secs(pipeline.lock_wait_secs),
        &request.cancel,
    )
    .await?;
    // Completes the last committed run's Delta commits if a crash cut them short.
    publish::delta::repair(&store, pipeline.retention_days, request.now).await;
    let notes = lock.notes.clone();
    let result = run_locked(pipeline, request, notes).await;
    lock.release().await;
    result
}

async fn run_locked(pipeline: &Pipeline, request: &RunRequest, lock_notes: Vec<String>) -> Result<RunReport, RunError> {
    let now = request.now;
    let cancelled = || request.cancel.load(Ordering::SeqCst);
    let mut problems = Vec::new();
    let mut records = Vec::new();
    let mut quarantine = Vec::new();
    let mut quality = Vec::new();
    let mut inputs = Vec::new();
    let scenario = request.scenario_name().map_err(RunError::Scenario)?;
    // The live outputs are at the root; a scenario publishes under `scenarios/<name>/` with the
    // same layout and reads the root only for the raw zone and the project keys.
    let live = Store::open_folder(&pipeline.publish)?;
    let store = match &scenario {
        Some(name) => live.sub(&format!("{}/{name}", crate::scenario::PREFIX)),
        None => live.clone(),
    };
    let raw = RawZone::new(live.clone());
    // Inputs come from the network, or from the raw zone when replaying an earlier run.
    let replay = match &request.as_of {
        Some(a) => Some(raw.resolve_as_of(a).await.map_err(RunError::Raw)?),
        None => None,
    };
    // Things the run had to work around, recorded in the manifest and the summary.
    let mut notes = lock_notes;
    let previous_fetch = match &replay {
        Some(_) => None,
        None => raw.latest().await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the previous fetch log; fetching without conditional requests");
            notes.push(format!(
                "the previous fetch log could not be read ({e}); sources were fetched without conditional requests"
            ));
            None
        }),
    };
    // Rows each source gave last time, for `max_row_drop` (only read when a source asks; an
    // unreadable manifest is dealt with, and reported, where the run reads its state below).
    let previous_rows: Option<(String, BTreeMap<String, usize>)> =
        if replay.is_none() && pipeline.sources.iter().any(|s| s.max_row_drop.is_some()) {
            publish::read_manifest(&store).await.ok().flatten().map(|m| {
                let rows = m
                    .data_quality
                    .iter()
                    .map(|q| (q.source.clone(), q.rows_accepted))
                    .collect();
                (m.run_id, rows)
            })
        } else {
            None
        };
    let started_at = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut fetch_log = FetchLog {
        run_id: request.run_id.clone(),
        started_at: started_at.clone(),
        inputs: Vec::new(),
    };
    let progress = &request.progress;
    progress.begin(Stage::Fetch, Some(pipeline.sources.len() as u64));
    for (i, spec) in pipeline.sources.iter().enumerate() {
        progress.set_done(i as u64);
        if cancelled() {
            return Err(RunError::Cancelled);
        }
        tracing::info!(source = %spec.name, location = %spec.location, "fetching");
        // A stalled download must not hold a cancelled run: the fetch is dropped (closing its
        // connection) as soon as the run is cancelled.
        let fetch = async {
            match &replay {
                Some(log) => sources::from_raw(spec, log, &raw).await,
                None => sources::fetch(spec, Some(&raw), previous_fetch.as_ref()).await,
            }
        };
        let Some(fetched) = until_cancelled(fetch, &request.cancel).await else {
            return Err(RunError::Cancelled);
        };
        let mut files = match fetched {
            Ok(f) => f,
            Err(e) => {
                problems.push(SourceProblem::Fetch(e));
                continue;
            }
        };
        let mut quality_sum = SourceQuality {
            source: spec.name.clone(),
            contract: spec.contract.clone(),
            rows_read: 0,
            rows_accepted: 0,
            rows_rejected: 0,
            warnings: 0,
            notices: 0,
            zero_amount_rows: 0,
        };
        let several = files.len() > 1;
        for fetched in &mut files {
            fetched.one_of_several = several;
        }
        let problems_before = problems.len();
        for fetched in &files {
            // A source of many files (a glob) is read file by file: a cancel is seen between them.
            if cancelled() {
                return Err(RunError::Cancelled);
            }
            if replay.is_none() && !fetched.not_modified {
                if let Err(e) = raw.put_blob(&fetched.sha256, &fetched.bytes).await {
                    tracing::warn!(error = %e, "cannot keep the input in the raw zone; this run cannot be replayed");
                }
            }
            fetch_log.inputs.push(fetched.record(&spec.name, &started_at));
            inputs.push(InputEntry {
                source: spec.name.clone(),
                location: fetched.location.clone(),
                size: fetched.bytes.len() as u64,
                sha256: fetched.sha256.clone(),
            });
            let mut out = process_source(pipeline, spec, fetched);
            tracing::info!(source = %spec.name, file = %fetched.file_name, rows_read = out.quality.rows_read, accepted = out.quality.rows_accepted, rejected = out.quality.rows_rejected, "validated");
            problems.append(&mut out.problems);
            records.append(&mut out.records);
            quarantine.append(&mut out.quarantine);
            quality_sum.rows_read += out.quality.rows_read;
            quality_sum.rows_accepted += out.quality.rows_accepted;
            quality_sum.rows_rejected += out.quality.rows_rejected;
            quality_sum.warnings += out.quality.warnings;
            quality_sum.notices += out.quality.notices;
            quality_sum.zero_amount_rows += out.quality.zero_amount_rows;
        }
        // Only when nothing else is wrong with the source: a missing header already says why.
        if problems.len() == problems_before && quality_sum.rows_accepted < spec.min_rows {
            problems.push(SourceProblem::TooFewRows {
                source_name: spec.name.clone(),
                files: files.iter().map(|f| f.location.as_str()).collect::<Vec<_>>().join(", "),
                accepted: quality_sum.rows_accepted,
                read: quality_sum.rows_read,
                min: spec.min_rows,
            });
        }
        if let (Some(max), Some((previous_run, rows))) = (spec.max_row_drop, &previous_rows) {
            let previous = rows.get(&spec.name).copied().unwrap_or(0);
            let now_rows = quality_sum.rows_accepted;
            if problems.len() == problems_before && previous > 0 && now_rows < previous {
                let drop = (previous - now_rows) as f64 / previous as f64;
                if drop > max {
                    problems.push(SourceProblem::RowDrop {
                        source_name: spec.name.clone(),
                        files: files.iter().map(|f| f.location.as_str()).collect::<Vec<_>>().join(", "),
                        accepted: now_rows,
                        previous,
                        previous_run: previous_run.clone(),
                        drop: drop * 100.0,
                        max: max * 100.0,
                    });
                }
            }
        }
        quality.push(quality_sum);
    }
    progress.set_done(pipeline.sources.len() as u64);
    if !fetch_log.inputs.is_empty() {
        if let Err(e) = raw.write_log(&fetch_log).await {
            tracing::warn!(error = %e, "cannot write the fetch log; this run cannot be replayed");
        }
    }
    if !problems.is_empty() {
        return Err(RunError::Sources(problems));
    }
    let mut settings = pipeline.reconcile.clone();
    let years = &request.financial_years;
    if !years.is_empty() {
        settings.financial_years.clone_from(years);
        // A record belongs to a year by its own year (a budget's budget year, a long-form
        // row's year), else by any of its amounts.
        let chosen = |y: crate::domain::fiscal::FinancialYear| {
            years.contains(&y.dominant_in(crate::domain::fiscal::Calendar::Municipal))
        };
        records.retain(|r| match r.financial_year {
            Some(y) => chosen(y),
            None => r.amounts.iter().any(|a| chosen(a.year)),
        });
    }
    let settings = &settings;
    progress.begin(Stage::Link, None);
    let watch = crate::progress::LinkWatch::new(progress, &request.cancel);
    let Some((mut links, models)) = reconcile::link_observed(&records, settings, &watch) else {
        return Err(RunError::Cancelled);
    };
    for m in models.iter().filter(|m| m.pairs > 0) {
        match &m.note {
            None => tracing::info!(
                link_type = m.link_type.as_str(),
                pairs = m.pairs,
                match_share = m.lambda,
                iterations = m.iterations,
                "m and u estimated by EM"
            ),
            Some(why) => {
                tracing::warn!(link_type = m.link_type.as_str(), pairs = m.pairs, reason = %why, "EM estimate not used; linking with the starting m and u")
            }
        }
    }
    tracing::info!(links = links.len(), "linked");
    // Analysts' decisions apply before anything is clustered or measured.
    let (stale, apart) = match &settings.overrides {
        None => (Vec::new(), Vec::new()),
        Some(location) => {
            let fetched = fetch_side_file("overrides", location).await?;
            let mut all = Vec::new();
            for f in &fetched {
                all.extend(reconcile::overrides::load(&f.bytes, &f.file_name).map_err(RunError::Overrides)?);
            }
            let reconcile::overrides::Applied { mut stale, apart } =
                reconcile::overrides::apply(&mut links, &records, &all);
            // A decision about a municipality this run left out is not stale.
            if !request.municipalities.is_empty() {
                stale.retain(|s| {
                    s.over
                        .municipality
                        .as_ref()
                        .is_none_or(|m| request.municipalities.contains(m))
                });
            }
            (stale, apart)
        }
    };
    if !years.is_empty() {
        // Linking compared whole records; what is published holds the chosen years only (an
        // MTREF's outer years are left out).
        for r in &mut records {
            r.amounts
                .retain(|a| years.contains(&a.year.dominant_in(crate::domain::fiscal::Calendar::Municipal)));
        }
    }
    if cancelled() {
        return Err(RunError::Cancelled);
    }
    progress.begin(Stage::Variances, None);
    // Borrowed, not copied: the links are the run's largest structure.
    let accepted: Vec<&reconcile::Link> = links.iter().filter(|l| l.band == "accept").collect();
    let inherited = reconcile::priorities::propagate(&mut records, &accepted);
    tracing::info!(
        values = inherited,
        "MTSF outcomes and IUDF goals inherited through links"
    );
    let mut variances = reconcile::variances(&records, &accepted, settings);
    tracing::info!(variances = variances.len(), "variances");
    progress.begin(Stage::Metrics, None);
    let mut metrics_df = metrics::alignment_metrics(&records, &accepted, &variances, &settings.financial_years)?;
    // A municipality filter applies only now: every municipality was linked and measured, so
    // the province, category and national roll-ups and the peer ranks cover the full
    // population; what is published is the chosen municipalities' own rows and their roll-ups.
    let munis = &request.municipalities;
    let accepted = if munis.is_empty() {
        accepted
    } else {
        drop(accepted);
        let chosen = |c: &str| munis.iter().any(|m| m == c);
        records.retain(|r| r.demarcation_code.as_deref().is_some_and(chosen));
        links.retain(|l| chosen(&l.demarcation_code));
        variances.retain(|v| chosen(&v.demarcation_code));
        metrics_df = metrics::alignment::keep_areas(&metrics_df, munis)?;
        links.iter().filter(|l| l.band == "accept").collect()
    };
    tracing::info!(rows = metrics_df.height(), "metrics");
    if cancelled() {
        return Err(RunError::Cancelled);
    }
    progress.begin(Stage::Exceptions, None);
    // State from the previous run: a file that cannot be read is set aside and the run goes on
    // as a first run, saying so, instead of failing every run from now on.
    let (previous, set_aside) = publish::read_manifest_or_set_aside(&store, now).await?;
    if let Some(a) = set_aside {
        tracing::warn!(moved_to = %a.moved_to, reason = %a.reason, "the previous manifest cannot be read; set aside, starting without previous state");
        notes.push(a.note());
    }
    let mut budget_totals = metrics::budget_totals(&records);
    let dropped = publish::retain_finite(&mut budget_totals);
    if !dropped.is_empty() {
        tracing::warn!(totals = %dropped.join(", "), "non-finite budget totals left out of the manifest");
        notes.push(format!(
            "budget totals that are not finite numbers were left out: {}",
            dropped.join(", ")
        ));
    }
    let mut exceptions = metrics::exceptions(&records, &accepted, &variances, &budget_totals);
    exceptions.extend(metrics::magnitude_exceptions(
        &records,
        &budget_totals,
        previous.as_ref().map(|m| (&m.run_id, &m.budget_totals)),
    ));
    exceptions.extend(metrics::review_exceptions(&links, &stale));
    metrics::assess(&mut exceptions, &budget_totals, &pipeline.exceptions);
    metrics::bundle_minor(&mut exceptions, &budget_totals, &pipeline.exceptions);
    metrics::sort_exceptions(&mut exceptions);
    let decisions = match &pipeline.exceptions.decisions {
        None => Vec::new(),
        Some(location) => {
            let fetched = fetch_side_file("decisions", location).await?;
            let mut all = Vec::new();
            for f in &fetched {
                all.extend(metrics::register::load_decisions(&f.bytes, &f.file_name).map_err(RunError::Decisions)?);
            }
            all
        }
    };
    let previous_register = match previous.as_ref().and_then(|m| m.tables.get("exception_register")) {
        Some(t) => {
            let read = match publish::read_table(&store, &t.files).await {
                Ok(Some(df)) => publish::register::from_frame(&df).map_err(|e| e.to_string()),
                Ok(None) => Ok(Vec::new()),
                Err(e) => Err(e.to_string()),
            };
            read.unwrap_or_else(|e| {
                unreadable_state("exception register", &t.files, &e, &mut notes);
                Vec::new()
            })
        }
        None => Vec::new(),
    };
    // Project keys come from the live register (read, never written, by a scenario run), so a
    // scenario's projects carry the keys analysts know.
    // A replay takes the keys the replayed run published (its own manifest under runs/<id>/), so
    // it reproduces that run's register whatever ran since; without it, the latest register.
    let replayed = match &replay {
        Some(log) => publish::read_manifest(&live.sub(&format!("runs/{}", log.run_id)))
            .await
            .unwrap_or_else(|e| {
                notes.push(format!(
                    "run {}'s manifest could not be read ({e}); project keys come from the latest register",
                    log.run_id
                ));
                None
            }),
        None => None,
    };
    let live_manifest = match (replayed, &scenario) {
        (Some(m), _) => Some(m),
        (None, Some(_)) => publish::read_manifest(&live).await.unwrap_or_else(|e| {
            notes.push(format!("the live manifest could not be read for project keys: {e}"));
            None
        }),
        (None, None) => previous.clone(),
    };
    let previous_projects = match live_manifest.as_ref().and_then(|m| m.tables.get("project_register")) {
        Some(t) => {
            let read = match publish::read_table(&live, &t.files).await {
                Ok(Some(df)) => tables::project_keys(&df).map_err(|e| e.to_string()),
                Ok(None) => Ok(BTreeMap::new()),
                Err(e) => Err(e.to_string()),
            };
            read.unwrap_or_else(|e| {
                unreadable_state("project register", &t.files, &e, &mut notes);
                BTreeMap::new()
            })
        }
        None => BTreeMap::new(),
    };
    tracing::info!(exceptions = exceptions.len(), "exceptions");
    let quarantine_seen = previous_quarantine(&store, previous.as_ref(), &mut notes).await;
    let project_register = reconcile::register::build(&records, &accepted, &apart, &previous_projects);
    let today = now.with_timezone(&pipeline.timezone).date_naive();
    let register = metrics::register::merge(&previous_register, &exceptions, &decisions, &request.run_id, today);
    let known: std::collections::BTreeSet<&str> = register.iter().map(|r| r.exception_id.as_str()).collect();
    let unknown = decisions
        .iter()
        .filter(|d| !known.contains(d.exception_id.as_str()))
        .count();
    if unknown > 0 {
        tracing::warn!(
            decisions = unknown,
            "exception decisions name no finding in the register"
        );
        notes.push(format!(
            "{unknown} exception decision(s) name no finding in the register"
        ));
    }
    let mut links_by_type = BTreeMap::new();
    for l in &links {
        *links_by_type
            .entry(format!("{} ({})", l.link_type.as_str(), l.band))
            .or_insert(0) += 1;
    }
    for s in &stale {
        tracing::warn!(row = s.over.row, reason = %s.reason, "override matches no record");
    }

    let run_id = request.run_id.clone();
    if cancelled() {
        return Err(RunError::Cancelled);
    }
    // The metrics history (metrics::history): this run's rows, and every run's for the trend.
    let history_now = metrics::history::snapshot(&metrics_df, &records)?;
    let history_before = match previous.as_ref().and_then(|m| m.tables.get("metrics_history")) {
        Some(t) => publish::read_table(&store, &t.files).await.unwrap_or_else(|e| {
            unreadable_state("metrics history", &t.files, &e.to_string(), &mut notes);
            None
        }),
        None => None,
    };
    let history_all = metrics::history::with_this_run(history_before.as_ref(), &history_now, &run_id).or_else(|e| {
        notes.push(format!(
            "the metrics history could not be combined ({e}); the trend covers this run only"
        ));
        metrics::history::with_this_run(None, &history_now, &run_id)
    })?;
    drop(history_before);
    // Each table is built, written and dropped in turn, so only one is in memory at a time.
    type Build<'b> = Box<dyn FnOnce() -> polars::prelude::PolarsResult<DataFrame> + Send + 'b>;
    let builders: Vec<(&'static str, Partition, Build<'_>)> = vec![
        (
            "projects",
            Partition::FinancialYear,
            Box::new(|| tables::projects(&records)),
        ),
        (
            "project_amounts",
            Partition::FinancialYear,
            Box::new(|| tables::project_amounts(&records)),
        ),
        ("links", Partition::None, Box::new(|| tables::links(&links))),
        ("link_model", Partition::None, Box::new(|| tables::link_model(&models))),
        (
            "variances",
            Partition::FinancialYear,
            Box::new(|| tables::variances(&variances)),
        ),
        (
            "alignment_metrics",
            Partition::FinancialYear,
            Box::new(|| Ok(metrics_df.clone())),
        ),
        (
            "exceptions",
            Partition::None,
            Box::new(|| tables::exceptions(&exceptions)),
        ),
        (
            "project_register",
            Partition::None,
            Box::new(|| tables::project_register(&project_register)),
        ),
        (
            "project_locations",
            Partition::None,
            Box::new(|| publish::geo::project_locations(&records)),
        ),
        (
            "ward_budget",
            Partition::FinancialYear,
            Box::new(|| metrics::spatial::ward_budget(&records, &accepted)),
        ),
        // Issue #13: revisions between budget documents, in-year spending, budget by grant.
        (
            "amount_revisions",
            Partition::FinancialYear,
            Box::new(|| metrics::revisions::amount_revisions(&records)),
        ),
        (
            "spending_performance",
            Partition::FinancialYear,
            Box::new(|| metrics::spending::spending_performance(&records)),
        ),
        (
            "grant_budget",
            Partition::FinancialYear,
            Box::new(|| metrics::grants::grant_budget(&records, &accepted)),
        ),
        (
            "exception_register",
            Partition::None,
            Box::new(|| publish::register::to_frame(&register)),
        ),
        (
            "metrics_history",
            Partition::RunId,
            Box::new(|| Ok(history_now.clone())),
        ),
        (
            "metrics_trend",
            Partition::None,
            Box::new(|| {
                metrics::history::trend(&history_all).map_err(|e| polars::prelude::polars_err!(ComputeError: "{e}"))
            }),
        ),
        (
            "quarantine",
            Partition::RunId,
            Box::new(|| tables::quarantine(&quarantine, &request.run_id, &quarantine_seen)),
        ),
        (
            "data_quality",
            Partition::None,
            Box::new(|| tables::data_quality(&quality)),
        ),
    ];
    let mut written = BTreeMap::new();
    progress.begin(Stage::Publish, Some(builders.len() as u64));
    for (name, partition, build) in builders {
        if cancelled() {
            return Err(RunError::Cancelled);
        }
        let table_started = std::time::Instant::now();
        let table = Table {
            name,
            df: build()?,
            partition,
        };
        let entry = publish::write_table(&store, &run_id, &table).await?;
        if entry.non_finite_nulled > 0 {
            notes.push(format!(
                "table `{name}`: {} NaN or infinite value(s) published as null",
                entry.non_finite_nulled
            ));
        }
        tracing::debug!(
            table = name,
            rows = entry.rows,
            secs = table_started.elapsed().as_secs_f64(),
            "table written"
        );
        written.insert(name.to_string(), entry);
        progress.advance(1);
    }
    tracing::info!(tables = written.len(), "tables written");
    let report_started = std::time::Instant::now();
    let previous_run = crate::report::load_previous(&store, previous.as_ref()).await;
    let report_html = crate::report::render(&crate::report::ReportInput {
        pipeline: &pipeline.name,
        run_id: &run_id,
        started_at: &started_at,
        metrics: &metrics_df,
        exceptions: &exceptions,
        register: &register,
        quality: &quality,
        quarantine: &quarantine,
        budget_totals: &budget_totals,
        links: &links,
        projects: &project_register,
        previous: previous_run.as_ref(),
    })?;
    let report_path = format!("runs/{run_id}/report.html");
    let report_bytes = report_html.len();
    publish::put(&store, &report_path, report_html.into_bytes()).await?;
    tracing::info!(
        bytes = report_bytes,
        secs = report_started.elapsed().as_secs_f64(),
        "report written"
    );
    if cancelled() {
        return Err(RunError::Cancelled);
    }
    // The quarantine and the metrics history are history: this run's file is added to every
    // earlier run's.
    for name in publish::RUN_HISTORY_TABLES {
        if let (Some(prev), Some(entry)) = (
            previous.as_ref().and_then(|m| m.tables.get(*name)),
            written.get_mut(*name),
        ) {
            let mut files = prev.files.clone();
            files.append(&mut entry.files);
            entry.files = files;
            entry.rows += prev.rows;
        }
    }
    let manifest = Manifest {
        format_version: 1,
        pipeline: pipeline.name.clone(),
        run_id: run_id.clone(),
        started_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        finished_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        harvester_version: env!("CARGO_PKG_VERSION").to_string(),
        inputs,
        tables: written,
        data_quality: quality,
        budget_totals,
        report: Some(report_path),
        notes,
        scenario: scenario.as_ref().map(|name| publish::ScenarioEntry {
            name: name.clone(),
            financial_years: years.iter().map(|y| y.label()).collect(),
            municipalities: request.municipalities.clone(),
            as_of: request.as_of.clone(),
            population: "full".into(),
            note: if munis.is_empty() {
                "province, category and national roll-ups and peer ranks cover every municipality in the inputs".into()
            } else {
                "every municipality in the inputs was linked and measured, so province, category and national roll-ups and peer ranks cover the full population; only the chosen municipalities' rows and the roll-ups they belong to are published".into()
            },
        }),
    };
    publish::commit(&store, &manifest).await?;
    // After the commit point: the Delta tables under `tables/` (one commit per table).
    let manifest = publish::delta::publish(&store, manifest, pipeline.retention_days, now).await;
    // After the commit point: the stable copy under `current/`. A failure here leaves the run
    // committed (the manifest names it) and `current/` on an earlier run or mid-swap, which the
    // rows' `run_id` shows; the next run repairs it.
    match publish::publish_current(&store, &manifest).await {
        Ok(_) => {}
        Err(e) => tracing::error!(
            error = %e,
            "current/ could not be refreshed; the run is committed under runs/{run_id}/ and current/ may still show an earlier run"
        ),
    }
    // Housekeeping after the commit point: a failure here leaves a good run published.
    match publish::apply_retention(&store, &run_id, now, pipeline.retention_days).await {
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
        crate::domain::location::Location::Local(root) => Some(match &scenario {
            Some(name) => root.join(crate::scenario::PREFIX).join(name),
            None => root.clone(),
        }),
        crate::domain::location::Location::Url(_) => None,
    };
    match publish::remove_leftovers(&store, &run_id, &manifest, local_root.as_deref(), LEFTOVER_AGE).await {
        Ok(removed) if removed.is_empty() => {}
        Ok(removed) => tracing::info!(removed = %removed.join(", "), "removed what dead runs left"),
        Err(e) => tracing::warn!(error = %e, "clean-up of dead runs' leftovers failed"),
    }
    let manifest_path = match &scenario {
        Some(name) => format!("{}/{name}/runs/{run_id}/{}", crate::scenario::PREFIX, publish::MANIFEST),
        None => format!("runs/{run_id}/{}", publish::MANIFEST),
    };
    Ok(RunReport {
        manifest,
        publish_location: store.display.clone(),
        links_by_type,
        metrics: metrics_df,
        exceptions: exceptions.len(),
        material_open: register.iter().filter(|r| r.material && r.status == "open").count(),
        scenario,
        manifest_path,
    })
}

/// Fetches a file the pipeline names beside its sources (analysts' overrides or decisions), with
/// default HTTP settings and read limits.
async fn fetch_side_file(
    name: &str,
    location: &crate::domain::location::Location,
) -> Result<Vec<sources::Fetched>, RunError> {
    let spec = crate::config::SourceSpec {
        name: name.into(),
        location: location.clone(),
        format: None,
        contract: String::new(),
        unit: crate::domain::Unit::Rand,
        sheets: None,
        financial_year: None,
        max_reject_ratio: 1.0,
        min_rows: 0,
        max_row_drop: None,
        http: crate::config::HttpSettings::default(),
        read_limits: crate::sources::readers::ReadLimits::default(),
    };
    sources::fetch(&spec, None, None)
        .await
        .map_err(|e| RunError::Sources(vec![SourceProblem::Fetch(e)]))
}

//! The run's first stage: every source fetched (or replayed from the raw zone), read and
//! validated against its contract, before anything is decided.
//!
//! Every source is processed even when an earlier one failed, so a failing run names every
//! failing source at once. A source fails on an unreadable file (an HTML page included), an
//! unusable sheet, a share of rejected rows above its `max_reject_ratio`, fewer accepted rows than
//! its `min_rows`, or a fall in rows past its `max_row_drop`. `harvester check` validates one
//! file with the same [`validate_fetched`].

use super::{until_cancelled, RunError};
use crate::contracts::validate::{self, Options, Outcome, Rejection};
use crate::contracts::Contract;
use crate::domain::{Location, Severity};
use crate::publish::tables::{QuarantineRow, SourceQuality};
use crate::publish::InputEntry;
use crate::records::Record;
use crate::sources::raw::{FetchLog, RawZone};
use crate::sources::readers::{self, Format, RawSheet};
use crate::sources::{self, Fetched, HttpSettings, SourceSpec};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};

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

/// Everything read and validated from one file (or, summed, one source).
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

impl SourceOutput {
    fn empty(source: &str, contract: &str) -> Self {
        Self {
            records: vec![],
            quarantine: vec![],
            quality: SourceQuality {
                source: source.to_string(),
                contract: contract.to_string(),
                rows_read: 0,
                rows_accepted: 0,
                rows_rejected: 0,
                warnings: 0,
                notices: 0,
                zero_amount_rows: 0,
            },
            problems: vec![],
        }
    }

    fn failed(source: &str, contract: &str, problem: SourceProblem) -> Self {
        let mut out = Self::empty(source, contract);
        out.problems.push(problem);
        out
    }

    /// Adds one file's output to the source's.
    fn absorb(&mut self, mut file: SourceOutput) {
        self.problems.append(&mut file.problems);
        self.records.append(&mut file.records);
        self.quarantine.append(&mut file.quarantine);
        let (q, f) = (&mut self.quality, &file.quality);
        q.rows_read += f.rows_read;
        q.rows_accepted += f.rows_accepted;
        q.rows_rejected += f.rows_rejected;
        q.warnings += f.warnings;
        q.notices += f.notices;
        q.zero_amount_rows += f.zero_amount_rows;
    }
}

/// Reads and validates fetched bytes against the source's contract; used by `run` and `check`.
pub fn validate_fetched(spec: &SourceSpec, contract: &Contract, fetched: &Fetched) -> SourceOutput {
    let name = spec.name.as_str();
    let sheets = match read_sheets(spec, fetched) {
        Ok(s) => s,
        Err(problem) => return SourceOutput::failed(name, &contract.name, *problem),
    };
    let file = fetched.file_name.clone();
    let opts = Options {
        unit: spec.unit,
        financial_year: spec.financial_year,
        file: file.clone(),
    };
    let mut outcome = validate::validate(contract, &sheets, &opts);
    let mut out = SourceOutput::empty(name, &contract.name);
    out.quality = quality_of(name, &contract.name, &outcome);
    out.problems = std::mem::take(&mut outcome.problems)
        .into_iter()
        .map(|error| SourceProblem::Sheet {
            source_name: name.to_string(),
            error,
        })
        .collect();
    // Checked on every run: no row may be lost between reading and publishing.
    if outcome.rows_read != outcome.rows.len() + outcome.rows_rejected {
        out.problems.push(SourceProblem::Lost {
            source_name: name.to_string(),
            read: outcome.rows_read,
            accepted: outcome.rows.len(),
            rejected: outcome.rows_rejected,
        });
    }
    out.problems
        .extend(too_many_rejected(name, &file, &outcome, spec.max_reject_ratio));
    // Several files share sheet names and row numbers: the file joins the record id.
    let id_prefix = if fetched.one_of_several {
        format!("{name}:{file}")
    } else {
        name.to_string()
    };
    out.records = outcome
        .rows
        .iter()
        .map(|row| Record::from_row(&id_prefix, name, &file, contract, row))
        .collect();
    out.quarantine = outcome
        .rejections
        .into_iter()
        .map(|r| quarantine_row(name, &file, r))
        .collect();
    out
}

/// The file's sheets, those the source's `sheets` pattern names, or why there are none.
fn read_sheets(spec: &SourceSpec, fetched: &Fetched) -> Result<Vec<RawSheet>, Box<SourceProblem>> {
    let source_name = spec.name.clone();
    let file = fetched.file_name.clone();
    // A web page served in place of the data says so, whatever the format was meant to be.
    if let Some(error) = readers::html_page(&fetched.bytes, &file) {
        return Err(Box::new(SourceProblem::Read { source_name, error }));
    }
    let Some(format) = spec.format.or_else(|| Format::from_path(&file)) else {
        return Err(Box::new(SourceProblem::UnknownFormat { source_name, file }));
    };
    let mut sheets = readers::read_limited(&fetched.bytes, format, &file, &spec.read_limits).map_err(|error| {
        Box::new(SourceProblem::Read {
            source_name: source_name.clone(),
            error,
        })
    })?;
    if let Some(p) = &spec.sheets {
        let all: Vec<String> = sheets.iter().filter_map(|s| s.name.clone()).collect();
        sheets.retain(|s| s.name.as_deref().is_some_and(|n| p.is_match(n)));
        if sheets.is_empty() {
            return Err(Box::new(SourceProblem::NoSheet {
                source_name,
                file,
                pattern: p.as_str().to_string(),
                found: all.join(", "),
            }));
        }
    }
    Ok(sheets)
}

/// A file's counts.
fn quality_of(source: &str, contract: &str, outcome: &Outcome) -> SourceQuality {
    let with = |s: Severity| outcome.rejections.iter().filter(|r| r.severity == s).count();
    SourceQuality {
        source: source.to_string(),
        contract: contract.to_string(),
        rows_read: outcome.rows_read,
        rows_accepted: outcome.rows.len(),
        rows_rejected: outcome.rows_rejected,
        warnings: with(Severity::Warning),
        notices: with(Severity::Notice),
        // Plan and budget lines with amounts that are all zero (IDP sector lines of R0):
        // counted, since a zero plan cannot be compared with a budget.
        zero_amount_rows: outcome
            .rows
            .iter()
            .filter(|r| !r.amounts.is_empty() && r.amounts.iter().all(|a| a.rand == 0.0))
            .count(),
    }
}

/// A share of rejected rows above `max_ratio`, with the most frequent reasons and where the
/// first rejected rows are.
fn too_many_rejected(source: &str, file: &str, outcome: &Outcome, max_ratio: f64) -> Option<SourceProblem> {
    if outcome.rows_read == 0 {
        return None;
    }
    let ratio = outcome.rows_rejected as f64 / outcome.rows_read as f64;
    if ratio <= max_ratio {
        return None;
    }
    let errors: Vec<&Rejection> = outcome
        .rejections
        .iter()
        .filter(|r| r.severity == Severity::Error)
        .collect();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for r in &errors {
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
    let mut rows: BTreeMap<(Option<&str>, u32), BTreeSet<&str>> = BTreeMap::new();
    for r in &errors {
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
    Some(SourceProblem::TooManyRejected {
        source_name: source.to_string(),
        rejected: outcome.rows_rejected,
        read: outcome.rows_read,
        ratio: ratio * 100.0,
        max: max_ratio * 100.0,
        examples: format!("{examples}; first rejected: {first}"),
    })
}

fn quarantine_row(source: &str, file: &str, r: Rejection) -> QuarantineRow {
    QuarantineRow {
        source: source.to_string(),
        source_file: file.to_string(),
        source_sheet: r.sheet,
        source_row: Some(r.row),
        column: r.column,
        rule: r.rule,
        raw_value: r.raw,
        severity: r.severity.as_str().to_string(),
        message: r.message,
    }
}

/// Where the run's inputs come from: the network (with the previous fetch log's validators for
/// conditional requests) or, for `--as-of`, an earlier run's copies in the raw zone.
pub(super) struct Inputs<'a> {
    /// The raw zone of the live outputs.
    pub raw: &'a RawZone,
    /// The replayed run's fetch log, when replaying.
    pub replay: Option<&'a FetchLog>,
    /// The previous fetch log (conditional requests), when fetching.
    pub previous_fetch: Option<&'a FetchLog>,
    /// Rows each source gave in the previous run, for `max_row_drop`: (run id, rows by source).
    pub previous_rows: Option<&'a (String, BTreeMap<String, usize>)>,
}

/// Everything the run read: accepted records, quarantined rows, counts per source and what was
/// fetched.
pub(super) struct Ingested {
    /// Accepted records of every source.
    pub records: Vec<Record>,
    /// Quarantined rows and cells of every source.
    pub quarantine: Vec<QuarantineRow>,
    /// Counts per source.
    pub quality: Vec<SourceQuality>,
    /// Every file fetched, for the manifest.
    pub inputs: Vec<InputEntry>,
}

/// Fetches, reads and validates every source of the pipeline; fails with every source problem
/// at once, or when the run is cancelled. The fetch log goes to the raw zone (so the run can be
/// replayed) even when a source failed.
pub(super) async fn ingest(
    pipeline: &crate::config::Pipeline,
    from: &Inputs<'_>,
    run_id: &str,
    started_at: &str,
    progress: &crate::progress::Progress,
    cancel: &AtomicBool,
) -> Result<Ingested, RunError> {
    let mut all = Ingested {
        records: Vec::new(),
        quarantine: Vec::new(),
        quality: Vec::new(),
        inputs: Vec::new(),
    };
    let mut problems = Vec::new();
    let mut fetch_log = FetchLog {
        run_id: run_id.to_string(),
        started_at: started_at.to_string(),
        inputs: Vec::new(),
    };
    progress.begin(crate::progress::Stage::Fetch, Some(pipeline.sources.len() as u64));
    for (i, spec) in pipeline.sources.iter().enumerate() {
        progress.set_done(i as u64);
        if cancel.load(Ordering::SeqCst) {
            return Err(RunError::Cancelled);
        }
        let files = match fetch_source(spec, from, cancel).await? {
            Ok(files) => files,
            Err(e) => {
                problems.push(SourceProblem::Fetch(e));
                continue;
            }
        };
        let contract = pipeline
            .catalog
            .get(&spec.contract)
            .expect("contracts are checked when the pipeline is loaded");
        let mut source = SourceOutput::empty(&spec.name, &spec.contract);
        for fetched in &files {
            // A source of many files (a glob) is read file by file: a cancel is seen between them.
            if cancel.load(Ordering::SeqCst) {
                return Err(RunError::Cancelled);
            }
            keep_raw(from, fetched).await;
            fetch_log.inputs.push(fetched.record(&spec.name, started_at));
            all.inputs.push(InputEntry {
                source: spec.name.clone(),
                location: fetched.location.clone(),
                size: fetched.bytes.len() as u64,
                sha256: fetched.sha256.clone(),
            });
            let out = validate_fetched(spec, contract, fetched);
            tracing::info!(source = %spec.name, file = %fetched.file_name, rows_read = out.quality.rows_read, accepted = out.quality.rows_accepted, rejected = out.quality.rows_rejected, "validated");
            source.absorb(out);
        }
        // Only when nothing else is wrong with the source: a missing header already says why.
        if source.problems.is_empty() {
            source
                .problems
                .extend(row_checks(spec, &files, &source.quality, from.previous_rows));
        }
        problems.append(&mut source.problems);
        all.records.append(&mut source.records);
        all.quarantine.append(&mut source.quarantine);
        all.quality.push(source.quality);
    }
    progress.set_done(pipeline.sources.len() as u64);
    if !fetch_log.inputs.is_empty() {
        if let Err(e) = from.raw.write_log(&fetch_log).await {
            tracing::warn!(error = %e, "cannot write the fetch log; this run cannot be replayed");
        }
    }
    if !problems.is_empty() {
        return Err(RunError::Sources(problems));
    }
    Ok(all)
}

/// One source's files, fetched or replayed; the outer error is a cancelled run.
async fn fetch_source(
    spec: &SourceSpec,
    from: &Inputs<'_>,
    cancel: &AtomicBool,
) -> Result<Result<Vec<Fetched>, sources::SourceError>, RunError> {
    tracing::info!(source = %spec.name, location = %spec.location, "fetching");
    // A stalled download must not hold a cancelled run: the fetch is dropped (closing its
    // connection) as soon as the run is cancelled.
    let fetch = async {
        match from.replay {
            Some(log) => sources::from_raw(&spec.name, log, from.raw).await,
            None => {
                sources::fetch(
                    &spec.name,
                    &spec.location,
                    &spec.http,
                    Some(from.raw),
                    from.previous_fetch,
                )
                .await
            }
        }
    };
    let Some(mut files) = until_cancelled(fetch, cancel).await else {
        return Err(RunError::Cancelled);
    };
    if let Ok(files) = &mut files {
        let several = files.len() > 1;
        for f in files.iter_mut() {
            f.one_of_several = several;
        }
    }
    Ok(files)
}

/// Keeps a newly fetched input in the raw zone, so the run can be replayed.
async fn keep_raw(from: &Inputs<'_>, fetched: &Fetched) {
    if from.replay.is_none() && !fetched.not_modified {
        if let Err(e) = from.raw.put_blob(&fetched.sha256, &fetched.bytes).await {
            tracing::warn!(error = %e, "cannot keep the input in the raw zone; this run cannot be replayed");
        }
    }
}

/// `min_rows` and `max_row_drop`: a source with too few rows is a broken or partial delivery.
fn row_checks(
    spec: &SourceSpec,
    files: &[Fetched],
    quality: &SourceQuality,
    previous_rows: Option<&(String, BTreeMap<String, usize>)>,
) -> Option<SourceProblem> {
    let files = || files.iter().map(|f| f.location.as_str()).collect::<Vec<_>>().join(", ");
    if quality.rows_accepted < spec.min_rows {
        return Some(SourceProblem::TooFewRows {
            source_name: spec.name.clone(),
            files: files(),
            accepted: quality.rows_accepted,
            read: quality.rows_read,
            min: spec.min_rows,
        });
    }
    let (max, (previous_run, rows)) = (spec.max_row_drop?, previous_rows?);
    let previous = rows.get(&spec.name).copied().unwrap_or(0);
    let now_rows = quality.rows_accepted;
    if previous == 0 || now_rows >= previous {
        return None;
    }
    let drop = (previous - now_rows) as f64 / previous as f64;
    (drop > max).then(|| SourceProblem::RowDrop {
        source_name: spec.name.clone(),
        files: files(),
        accepted: now_rows,
        previous,
        previous_run: previous_run.clone(),
        drop: drop * 100.0,
        max: max * 100.0,
    })
}

/// Fetches a file the pipeline names beside its sources (analysts' overrides or decisions), with
/// default HTTP settings.
pub(super) async fn fetch_side_file(name: &str, location: &Location) -> Result<Vec<Fetched>, RunError> {
    sources::fetch(name, location, &HttpSettings::default(), None, None)
        .await
        .map_err(|e| RunError::Sources(vec![SourceProblem::Fetch(e)]))
}

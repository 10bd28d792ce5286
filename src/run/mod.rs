//! One pipeline run, end to end, as a list of stage calls: ingest (fetch → read → validate,
//! `ingest.rs`) → link → measure → findings and registers (previous state from `state.rs`) →
//! publish (`outputs.rs`).
//!
//! Any source failure stops the run before publishing, so the previously published outputs stay
//! current. Previous state that cannot be read (the manifest, the registers, the fetch log) is
//! set aside or skipped with a warning and a note in the new manifest, never a reason to fail.
//! The start time and the clock are passed in (`RunRequest`), so tests can fix them.

pub mod ingest;
mod outputs;
mod state;

use crate::config::Pipeline;
use crate::domain::fiscal::{Calendar, FinancialYear};
use crate::domain::{Band, Clock, SystemClock};
use crate::metrics::{self, Exception, Totals};
use crate::progress::Stage;
use crate::publish::{self, Manifest, PublishError};
use crate::reconcile::{self, Link, ModelUsed, ReconcileSettings, Variance};
use crate::records::Record;
use crate::sources::raw::RawZone;
use crate::storage::{StorageError, Store};
use chrono::{DateTime, SecondsFormat, Utc};
use ingest::SourceProblem;
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
    /// Another run holds the publish location (boxed: a large error, rarely made).
    #[error(transparent)]
    Lock(Box<crate::publish::lock::LockError>),
    /// Writing outputs failed; the previous manifest is still current.
    #[error(transparent)]
    Publish(Box<PublishError>),
    /// A table computation failed.
    #[error("computing tables failed: {0}")]
    Compute(#[from] PolarsError),
}

impl From<crate::publish::lock::LockError> for RunError {
    fn from(e: crate::publish::lock::LockError) -> Self {
        RunError::Lock(Box::new(e))
    }
}

impl From<PublishError> for RunError {
    fn from(e: PublishError) -> Self {
        RunError::Publish(Box::new(e))
    }
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
    /// Where the run's end time comes from (the service's clock; the system clock by default).
    pub clock: Arc<dyn Clock>,
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
    pub financial_years: Vec<FinancialYear>,
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
            clock: Arc::new(SystemClock),
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

/// Where a run publishes: the live outputs at the root, or a scenario under
/// `scenarios/<name>/` with the same layout, which reads the root only for the raw zone and the
/// project keys.
pub(crate) struct Place {
    /// The scenario name, `None` for a live run.
    scenario: Option<String>,
    /// The live outputs (raw zone, project keys).
    live: Store,
    /// Where this run reads its previous state and publishes.
    store: Store,
    /// The raw zone of the live outputs.
    raw: RawZone,
}

impl Place {
    fn open(pipeline: &Pipeline, request: &RunRequest) -> Result<Self, RunError> {
        let scenario = request.scenario_name().map_err(RunError::Scenario)?;
        let live = Store::open_folder(&pipeline.publish)?;
        let store = match &scenario {
            Some(name) => live.sub(&format!("{}/{name}", crate::scenario::PREFIX)),
            None => live.clone(),
        };
        Ok(Self {
            raw: RawZone::new(live.clone()),
            scenario,
            live,
            store,
        })
    }

    /// The run's own manifest copy, relative to the output root.
    fn manifest_path(&self, run_id: &str) -> String {
        match &self.scenario {
            Some(name) => format!("{}/{name}/runs/{run_id}/{}", crate::scenario::PREFIX, publish::MANIFEST),
            None => format!("runs/{run_id}/{}", publish::MANIFEST),
        }
    }
}

async fn run_with_lock(pipeline: &Pipeline, request: &RunRequest) -> Result<RunReport, RunError> {
    let place = Place::open(pipeline, request)?;
    let lock = publish::lock::acquire(
        &place.store,
        &request.run_id,
        &pipeline.name,
        std::time::Duration::from_secs(pipeline.lock_wait_secs),
        &request.cancel,
    )
    .await?;
    // Completes the last committed run's Delta commits if a crash cut them short.
    publish::delta::repair(&place.store, pipeline.retention_days, request.now).await;
    let notes = lock.notes.clone();
    let result = run_locked(pipeline, request, &place, notes).await;
    lock.release().await;
    result
}

/// Fails with [`RunError::Cancelled`] once the request is cancelled: called between stages.
fn check_cancel(request: &RunRequest) -> Result<(), RunError> {
    if request.cancel.load(Ordering::SeqCst) {
        return Err(RunError::Cancelled);
    }
    Ok(())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

async fn run_locked(
    pipeline: &Pipeline,
    request: &RunRequest,
    place: &Place,
    lock_notes: Vec<String>,
) -> Result<RunReport, RunError> {
    let (now, run_id, progress) = (request.now, request.run_id.as_str(), &request.progress);
    let started_at = rfc3339(now);
    // Things the run had to work around, recorded in the manifest and the summary.
    let mut notes = lock_notes;
    // Inputs come from the network, or from the raw zone when replaying an earlier run.
    let replay = match &request.as_of {
        Some(a) => Some(place.raw.resolve_as_of(a).await.map_err(RunError::Raw)?),
        None => None,
    };
    let previous_fetch = state::previous_fetch_log(&place.raw, replay.is_some(), &mut notes).await;
    let previous_rows = state::previous_rows(pipeline, &place.store, replay.is_some()).await;
    let from = ingest::Inputs {
        raw: &place.raw,
        replay: replay.as_ref(),
        previous_fetch: previous_fetch.as_ref(),
        previous_rows: previous_rows.as_ref(),
    };
    let ingested = ingest::ingest(pipeline, &from, run_id, &started_at, progress, &request.cancel).await?;
    let ingest::Ingested {
        mut records,
        quarantine,
        quality,
        inputs,
    } = ingested;
    let settings = settings_for(pipeline, request);
    keep_years(&mut records, &request.financial_years);
    // The analysts' files are read before the long stages, so a wrong one fails the run early.
    let overrides = state::overrides(&settings).await?;
    let decisions = state::decisions(pipeline).await?;

    let linked = link(&records, &settings, overrides.as_deref(), request)?;
    let Linked {
        mut links,
        models,
        stale,
        apart,
    } = linked;
    keep_amount_years(&mut records, &request.financial_years);
    check_cancel(request)?;

    progress.begin(Stage::Variances, None);
    // Borrowed, not copied: the links are the run's largest structure.
    let accepted: Vec<&Link> = links.iter().filter(|l| l.band == Band::Accept).collect();
    let inherited = reconcile::priorities::propagate(&mut records, &accepted);
    tracing::info!(
        values = inherited,
        "MTSF outcomes and IUDF goals inherited through links"
    );
    let mut variances = reconcile::variances(&records, &accepted, &settings);
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
        links.iter().filter(|l| l.band == Band::Accept).collect()
    };
    tracing::info!(rows = metrics_df.height(), "metrics");
    check_cancel(request)?;

    let measured = Measured {
        records: &records,
        links: &links,
        accepted: &accepted,
        variances: &variances,
        stale: &stale,
        apart: &apart,
        decisions: &decisions,
    };
    let regs = Registers::build(pipeline, request, place, replay.as_ref(), &measured, &mut notes).await?;
    check_cancel(request)?;

    let finished = Finished {
        m: &measured,
        models: &models,
        metrics: metrics_df,
        quarantine,
        quality,
        inputs,
        regs,
    };
    publish_run(pipeline, request, place, started_at, finished, notes).await
}

/// Everything a run computed, ready to publish.
struct Finished<'a> {
    m: &'a Measured<'a>,
    models: &'a [ModelUsed],
    metrics: DataFrame,
    quarantine: Vec<crate::publish::tables::QuarantineRow>,
    quality: Vec<crate::publish::tables::SourceQuality>,
    inputs: Vec<crate::publish::InputEntry>,
    regs: Registers,
}

/// Writes every table and the report, commits the manifest (the commit point), then does what
/// follows it.
async fn publish_run(
    pipeline: &Pipeline,
    request: &RunRequest,
    place: &Place,
    started_at: String,
    f: Finished<'_>,
    mut notes: Vec<String>,
) -> Result<RunReport, RunError> {
    let run_id = request.run_id.as_str();
    let previous = f.regs.previous.as_ref();
    // The metrics history (metrics::history): this run's rows, and every run's for the trend.
    let history_now = metrics::history::snapshot(&f.metrics, f.m.records)?;
    let history_before = state::metrics_history(&place.store, previous, &mut notes).await;
    let history_all = metrics::history::with_this_run(history_before.as_ref(), &history_now, run_id).or_else(|e| {
        notes.push(format!(
            "the metrics history could not be combined ({e}); the trend covers this run only"
        ));
        metrics::history::with_this_run(None, &history_now, run_id)
    })?;
    drop(history_before);
    let results = outputs::Results {
        records: f.m.records,
        links: f.m.links,
        accepted: f.m.accepted,
        models: f.models,
        variances: f.m.variances,
        metrics: &f.metrics,
        exceptions: &f.regs.exceptions,
        projects: &f.regs.projects,
        register: &f.regs.register,
        history_now: &history_now,
        history_all: &history_all,
        quarantine: &f.quarantine,
        quarantine_seen: &f.regs.quarantine_seen,
        quality: &f.quality,
        budget_totals: &f.regs.budget_totals,
    };
    let mut written = outputs::write_tables(
        &place.store,
        run_id,
        &results,
        &request.progress,
        &request.cancel,
        &mut notes,
    )
    .await?;
    let report = outputs::write_report(&place.store, &pipeline.name, run_id, &started_at, previous, &results).await?;
    check_cancel(request)?;
    outputs::add_history(&mut written, previous);
    let manifest = Manifest {
        format_version: 1,
        pipeline: pipeline.name.clone(),
        run_id: run_id.to_string(),
        started_at,
        finished_at: rfc3339(request.clock.now()),
        harvester_version: env!("CARGO_PKG_VERSION").to_string(),
        inputs: f.inputs,
        tables: written,
        data_quality: f.quality,
        budget_totals: f.regs.budget_totals.clone(),
        report: Some(report),
        notes,
        scenario: place.scenario.as_ref().map(|name| scenario_entry(name, request)),
    };
    publish::commit(&place.store, &manifest).await?;
    let manifest = outputs::after_commit(place, pipeline, manifest, request.now).await;
    Ok(RunReport {
        manifest,
        publish_location: place.store.display.clone(),
        links_by_type: links_by_type(f.m.links),
        metrics: f.metrics,
        exceptions: f.regs.exceptions.len(),
        material_open: f
            .regs
            .register
            .iter()
            .filter(|r| r.material && r.status == "open")
            .count(),
        scenario: place.scenario.clone(),
        manifest_path: place.manifest_path(run_id),
    })
}

/// The pipeline's reconcile settings, with the request's years when it names any.
fn settings_for(pipeline: &Pipeline, request: &RunRequest) -> ReconcileSettings {
    let mut settings = pipeline.reconcile.clone();
    if !request.financial_years.is_empty() {
        settings.financial_years.clone_from(&request.financial_years);
    }
    settings
}

/// The municipal financial year a year counts in.
fn chosen(years: &[FinancialYear], y: FinancialYear) -> bool {
    years.contains(&y.dominant_in(Calendar::Municipal))
}

/// Keeps the records of the chosen years (all when none are chosen). A record belongs to a year
/// by its own year (a budget's budget year, a long-form row's year), else by any of its amounts.
fn keep_years(records: &mut Vec<Record>, years: &[FinancialYear]) {
    if years.is_empty() {
        return;
    }
    records.retain(|r| match r.financial_year {
        Some(y) => chosen(years, y),
        None => r.amounts.iter().any(|a| chosen(years, a.year)),
    });
}

/// Linking compared whole records; what is published holds the chosen years' amounts only (an
/// MTREF's outer years are left out).
fn keep_amount_years(records: &mut [Record], years: &[FinancialYear]) {
    if years.is_empty() {
        return;
    }
    for r in records {
        r.amounts.retain(|a| chosen(years, a.year));
    }
}

/// Links, the models they were scored with, and the analysts' overrides applied.
struct Linked {
    links: Vec<Link>,
    models: Vec<ModelUsed>,
    /// Overrides that match no record.
    stale: Vec<reconcile::overrides::Stale>,
    /// Record pairs an analyst keeps apart in the project register.
    apart: Vec<(String, String)>,
}

/// Links every record (observed: progress and cancellation), then applies the analysts'
/// overrides before anything is clustered or measured.
fn link(
    records: &[Record],
    settings: &ReconcileSettings,
    overrides: Option<&[reconcile::overrides::Override]>,
    request: &RunRequest,
) -> Result<Linked, RunError> {
    request.progress.begin(Stage::Link, None);
    let watch = crate::progress::LinkWatch::new(&request.progress, &request.cancel);
    let Some((mut links, models)) = reconcile::link_observed(records, settings, &watch) else {
        return Err(RunError::Cancelled);
    };
    log_models(&models);
    tracing::info!(links = links.len(), "linked");
    let Some(overrides) = overrides else {
        return Ok(Linked {
            links,
            models,
            stale: Vec::new(),
            apart: Vec::new(),
        });
    };
    let reconcile::overrides::Applied { mut stale, apart } =
        reconcile::overrides::apply(&mut links, records, overrides);
    // A decision about a municipality this run left out is not stale.
    if !request.municipalities.is_empty() {
        stale.retain(|s| {
            s.over
                .municipality
                .as_ref()
                .is_none_or(|m| request.municipalities.contains(m))
        });
    }
    Ok(Linked {
        links,
        models,
        stale,
        apart,
    })
}

fn log_models(models: &[ModelUsed]) {
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
}

/// Budget totals per municipality and year; totals that are not finite numbers are left out
/// (and noted), since the manifest is JSON.
fn budget_totals(records: &[Record], notes: &mut Vec<String>) -> Totals {
    let mut totals = metrics::budget_totals(records);
    let dropped = publish::retain_finite(&mut totals);
    if !dropped.is_empty() {
        tracing::warn!(totals = %dropped.join(", "), "non-finite budget totals left out of the manifest");
        notes.push(format!(
            "budget totals that are not finite numbers were left out: {}",
            dropped.join(", ")
        ));
    }
    totals
}

/// This run's findings: assessed for materiality, minor ones bundled, in register order.
fn findings(
    pipeline: &Pipeline,
    m: &Measured<'_>,
    budget_totals: &Totals,
    previous: Option<&Manifest>,
) -> Vec<Exception> {
    let mut exceptions = metrics::exceptions(m.records, m.accepted, m.variances, budget_totals);
    exceptions.extend(metrics::magnitude_exceptions(
        m.records,
        budget_totals,
        previous.map(|p| (&p.run_id, &p.budget_totals)),
    ));
    exceptions.extend(metrics::review_exceptions(m.links, m.stale));
    metrics::assess(&mut exceptions, budget_totals, &pipeline.exceptions);
    metrics::bundle_minor(&mut exceptions, budget_totals, &pipeline.exceptions);
    metrics::sort_exceptions(&mut exceptions);
    exceptions
}

/// What linking and measuring produced, borrowed by the later stages.
struct Measured<'a> {
    records: &'a [Record],
    links: &'a [Link],
    accepted: &'a [&'a Link],
    variances: &'a [Variance],
    /// Overrides that match no record.
    stale: &'a [reconcile::overrides::Stale],
    /// Record pairs an analyst keeps apart.
    apart: &'a [(String, String)],
    /// The analysts' decisions on findings.
    decisions: &'a [metrics::register::Decision],
}

/// The findings and the registers after this run, with the previous run's manifest they were
/// merged with.
struct Registers {
    previous: Option<Manifest>,
    budget_totals: Totals,
    exceptions: Vec<Exception>,
    projects: Vec<reconcile::register::Member>,
    register: Vec<metrics::register::RegisterRow>,
    quarantine_seen: BTreeMap<String, String>,
}

impl Registers {
    /// Reads the previous run's state (a file that cannot be read is set aside and the run goes
    /// on as a first run, saying so, instead of failing every run from now on), finds this run's
    /// exceptions and merges both registers.
    async fn build(
        pipeline: &Pipeline,
        request: &RunRequest,
        place: &Place,
        replay: Option<&crate::sources::raw::FetchLog>,
        m: &Measured<'_>,
        notes: &mut Vec<String>,
    ) -> Result<Self, RunError> {
        request.progress.begin(Stage::Exceptions, None);
        let (previous, set_aside) = publish::read_manifest_or_set_aside(&place.store, request.now).await?;
        if let Some(a) = set_aside {
            tracing::warn!(moved_to = %a.moved_to, reason = %a.reason, "the previous manifest cannot be read; set aside, starting without previous state");
            notes.push(a.note());
        }
        let budget_totals = budget_totals(m.records, notes);
        let exceptions = findings(pipeline, m, &budget_totals, previous.as_ref());
        tracing::info!(exceptions = exceptions.len(), "exceptions");
        let previous_register = state::exception_register(&place.store, previous.as_ref(), notes).await;
        let previous_projects = state::project_keys(place, replay, previous.as_ref(), notes).await;
        let quarantine_seen = state::quarantine_seen(&place.store, previous.as_ref(), notes).await;
        let projects = reconcile::register::build(m.records, m.accepted, m.apart, &previous_projects);
        let today = request.now.with_timezone(&pipeline.timezone).date_naive();
        let register = metrics::register::merge(&previous_register, &exceptions, m.decisions, &request.run_id, today);
        note_unknown_decisions(&register, m.decisions, notes);
        for s in m.stale {
            tracing::warn!(row = s.over.row, reason = %s.reason, "override matches no record");
        }
        Ok(Self {
            previous,
            budget_totals,
            exceptions,
            projects,
            register,
            quarantine_seen,
        })
    }
}

/// Decisions that name no finding in the register: logged and noted.
fn note_unknown_decisions(
    register: &[metrics::register::RegisterRow],
    decisions: &[metrics::register::Decision],
    notes: &mut Vec<String>,
) {
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
}

/// Links per link type and band, for the summary.
fn links_by_type(links: &[Link]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for l in links {
        *out.entry(format!("{} ({})", l.link_type.as_str(), l.band)).or_insert(0) += 1;
    }
    out
}

/// What a scenario run says about itself in its manifest.
fn scenario_entry(name: &str, request: &RunRequest) -> publish::ScenarioEntry {
    publish::ScenarioEntry {
        name: name.to_string(),
        financial_years: request.financial_years.iter().map(|y| y.label()).collect(),
        municipalities: request.municipalities.clone(),
        as_of: request.as_of.clone(),
        population: "full".into(),
        note: if request.municipalities.is_empty() {
            "province, category and national roll-ups and peer ranks cover every municipality in the inputs".into()
        } else {
            "every municipality in the inputs was linked and measured, so province, category and national roll-ups and peer ranks cover the full population; only the chosen municipalities' rows and the roll-ups they belong to are published".into()
        },
    }
}

//! The long-running service: pipelines on cron schedules, at most one run per pipeline at a
//! time, every run recorded in the history, reruns triggered through the API.
//!
//! A trigger while the pipeline is already running is refused (the API answers 409 with the
//! running run's id) rather than queued: a nightly job that is still busy when the next trigger
//! arrives should not pile up work, and an analyst who wants a rerun can retry once it is done.
//! Time comes from an injected [`Clock`]; shutdown is a watch channel, so tests and signals stop
//! the service the same way.

pub mod api;
pub mod telemetry;

use crate::config::{valid_name, Pipeline};
use crate::contracts::reference::Reference;
use crate::domain::fiscal::{Calendar, FinancialYear, YearLabel};
use crate::history::{Finish, History, Trigger};
use crate::run::{run_with, RunError, RunReport, RunRequest};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

use crate::domain::Clock;

/// Why a run that was stopped by SIGTERM/SIGINT ended, in the history.
pub const INTERRUPTED: &str = "the process was asked to stop (SIGTERM/SIGINT) before the run finished; nothing was published and the previous outputs are unchanged";

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Optional parameters of a triggered run.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunParams {
    /// Municipal financial years to report (`2024/25`); replaces the pipeline's list.
    #[serde(default)]
    pub financial_years: Option<Vec<String>>,
    /// Demarcation codes or names of the municipalities to reconcile.
    #[serde(default)]
    pub municipalities: Option<Vec<String>>,
    /// Rerun from the inputs of an earlier run (run id or timestamp), read from the raw zone.
    #[serde(default)]
    pub as_of: Option<String>,
    /// Publish under `scenarios/<name>/` of the output root, never the live outputs. A run with
    /// `financial_years` or `municipalities` is always a scenario run; without a name it is
    /// named after its filter (`fy2025-BUF-EC121`).
    #[serde(default)]
    pub scenario: Option<String>,
}

/// Why a trigger was refused.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// No such pipeline.
    #[error("no pipeline named `{0}`")]
    UnknownPipeline(String),
    /// The pipeline is already running.
    #[error("pipeline `{pipeline}` is already running (run {run_id}); try again when it has finished")]
    Busy {
        /// Pipeline name.
        pipeline: String,
        /// The run in flight.
        run_id: String,
    },
    /// The parameters are wrong; the problems are listed (the first 20, then how many more, so
    /// a hostile body cannot make the answer huge).
    #[error("invalid parameters: {}", listed(.0))]
    BadParameters(Vec<String>),
    /// The history could not be written.
    #[error(transparent)]
    History(#[from] crate::history::HistoryError),
}

/// Problems joined for a message: at most [`MAX_LISTED`], then "and N more".
fn listed(problems: &[String]) -> String {
    let mut text = problems.iter().take(MAX_LISTED).cloned().collect::<Vec<_>>().join("; ");
    if problems.len() > MAX_LISTED {
        text.push_str(&format!("; and {} more", problems.len() - MAX_LISTED));
    }
    text
}

/// Problems a parameter error lists before it only counts the rest.
const MAX_LISTED: usize = 20;

struct Running {
    run_id: String,
    cancel: Arc<AtomicBool>,
    interrupted: Arc<AtomicBool>,
    progress: Arc<crate::progress::Progress>,
}

/// The service state shared by the scheduler and the API.
pub struct Service {
    /// Pipelines by name.
    pub pipelines: BTreeMap<String, Pipeline>,
    /// The run history.
    pub history: Arc<History>,
    /// API bearer token; `None` disables mutating endpoints.
    pub token: Option<String>,
    /// Where time comes from.
    pub clock: Arc<dyn Clock>,
    /// The `/metrics` counters, gauges and histograms.
    pub telemetry: telemetry::Telemetry,
    running: Mutex<BTreeMap<String, Running>>,
    idle: tokio::sync::Notify,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("pipelines", &self.pipelines.keys())
            .finish()
    }
}

/// Runs a pipeline and records it in the history (used by the service and the command line).
pub async fn execute(
    pipeline: &Pipeline,
    request: &RunRequest,
    trigger: Trigger,
    params: &serde_json::Value,
    history: &History,
    clock: &dyn Clock,
) -> Result<RunReport, RunError> {
    if let Err(e) = history.start(&request.run_id, &pipeline.name, trigger, params, &rfc3339(request.now)) {
        tracing::error!(error = %e, "cannot record the run start");
    }
    let started = std::time::Instant::now();
    let result = run_with(pipeline, request).await;
    let mut finish = Finish {
        finished_at: rfc3339(clock.now()),
        duration_secs: started.elapsed().as_secs_f64(),
        stages: request.progress.stages(),
        ..Finish::default()
    };
    finish.status = outcome(&result, &request.interrupted).as_str();
    match &result {
        Ok(report) => {
            finish.inputs = serde_json::to_value(&report.manifest.inputs).unwrap_or_default();
            finish.manifest = Some(report.manifest_path.clone());
            finish.rows_in = Some(report.manifest.data_quality.iter().map(|q| q.rows_read as i64).sum());
            finish.rows_quarantined = Some(
                report
                    .manifest
                    .data_quality
                    .iter()
                    .map(|q| q.rows_rejected as i64)
                    .sum(),
            );
            finish.rows_out = report.manifest.tables.get("projects").map(|t| t.rows as i64);
        }
        Err(RunError::Cancelled) if request.interrupted.load(Ordering::SeqCst) => {
            finish.error = Some(INTERRUPTED.into());
        }
        Err(e) => finish.error = Some(e.to_string()),
    }
    if let Err(e) = history.finish(&request.run_id, &finish) {
        tracing::error!(error = %e, "cannot record the run end");
    }
    result
}

/// How a run ended: a cancelled run is `interrupted` when the process was asked to stop.
pub fn outcome(result: &Result<RunReport, RunError>, interrupted: &AtomicBool) -> telemetry::Outcome {
    use telemetry::Outcome;
    match result {
        Ok(_) => Outcome::Succeeded,
        Err(RunError::Cancelled) if interrupted.load(Ordering::SeqCst) => Outcome::Interrupted,
        Err(RunError::Cancelled) => Outcome::Cancelled,
        Err(_) => Outcome::Failed,
    }
}

/// What a run that ended adds to the metrics.
fn figures(
    result: &Result<RunReport, RunError>,
    secs: f64,
    request: &RunRequest,
    finished: DateTime<Utc>,
) -> telemetry::RunFigures {
    let mut f = telemetry::RunFigures {
        secs,
        stages: request.progress.stages(),
        finished_unix: finished.timestamp_millis() as f64 / 1000.0,
        ..telemetry::RunFigures::default()
    };
    if let Ok(report) = result {
        let q = &report.manifest.data_quality;
        f.rows_in = q.iter().map(|q| q.rows_read as u64).sum();
        f.rows_quarantined = q.iter().map(|q| q.rows_rejected as u64).sum();
        f.rows_out = report.manifest.tables.get("projects").map_or(0, |t| t.rows as u64);
    }
    f
}

impl Service {
    /// Builds the service; runs left `running` by a previous process are marked interrupted.
    pub fn new(
        pipelines: Vec<Pipeline>,
        history: Arc<History>,
        token: Option<String>,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Service>, crate::history::HistoryError> {
        let n = history.mark_interrupted(&rfc3339(clock.now()))?;
        if n > 0 {
            tracing::warn!(
                runs = n,
                "marked runs left in flight by a previous process as interrupted"
            );
        }
        let telemetry = telemetry::Telemetry::new(pipelines.iter().map(|p| p.name.as_str()));
        for (name, stats) in history.stats()? {
            let last = stats
                .last_success
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
            if let Some(t) = last {
                telemetry.last_success(&name, t.timestamp_millis() as f64 / 1000.0);
            }
        }
        Ok(Arc::new(Service {
            telemetry,
            pipelines: pipelines.into_iter().map(|p| (p.name.clone(), p)).collect(),
            history,
            token,
            clock,
            running: Mutex::new(BTreeMap::new()),
            idle: tokio::sync::Notify::new(),
        }))
    }

    fn running(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Running>> {
        self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The run in flight for a pipeline, if any.
    pub fn running_run(&self, pipeline: &str) -> Option<String> {
        self.running().get(pipeline).map(|r| r.run_id.clone())
    }

    /// Pipelines with a run in flight.
    pub fn running_pipelines(&self) -> Vec<String> {
        self.running().keys().cloned().collect()
    }

    /// Starts a run in the background and returns its id, or refuses.
    pub fn trigger(self: &Arc<Self>, name: &str, trigger: Trigger, params: RunParams) -> Result<String, TriggerError> {
        if !valid_name(name) {
            return Err(TriggerError::UnknownPipeline(name.to_string()));
        }
        let pipeline = self
            .pipelines
            .get(name)
            .cloned()
            .ok_or_else(|| TriggerError::UnknownPipeline(name.to_string()))?;
        let mut problems = Vec::new();
        let mut financial_years = Vec::new();
        for y in params.financial_years.iter().flatten() {
            match FinancialYear::parse(y, Calendar::Municipal, YearLabel::Start) {
                Ok(fy) => financial_years.push(fy),
                Err(e) => problems.push(format!("financial_years: {e}")),
            }
        }
        let mut municipalities = Vec::new();
        for m in params.municipalities.iter().flatten() {
            match Reference::bundled().resolve(m) {
                Ok(r) => municipalities.push(r.code),
                Err(e) => problems.push(format!("municipalities: {e}")),
            }
        }
        if params.as_of.as_deref().is_some_and(|a| a.trim().is_empty()) {
            problems.push("as_of: give a run id or a time such as 2026-11-01T02:00:00Z".to_string());
        }
        let now = self.clock.now();
        let mut request = RunRequest::new(now);
        request.clock = self.clock.clone();
        request.municipalities = municipalities;
        request.financial_years = financial_years;
        request.as_of = params.as_of.clone();
        request.scenario = params.scenario.clone();
        if let Err(e) = request.scenario_name() {
            problems.push(e);
        }
        if !problems.is_empty() {
            return Err(TriggerError::BadParameters(problems));
        }
        {
            let mut running = self.running();
            if let Some(r) = running.get(name) {
                return Err(TriggerError::Busy {
                    pipeline: name.to_string(),
                    run_id: r.run_id.clone(),
                });
            }
            running.insert(
                name.to_string(),
                Running {
                    run_id: request.run_id.clone(),
                    cancel: request.cancel.clone(),
                    interrupted: request.interrupted.clone(),
                    progress: request.progress.clone(),
                },
            );
        }
        self.telemetry.started(name);
        let run_id = request.run_id.clone();
        let params_json = serde_json::to_value(&params).unwrap_or_default();
        let svc = Arc::clone(self);
        let name = name.to_string();
        // A run is CPU-bound for most of its time (reading, validating, linking, writing
        // Parquet): it runs on a blocking-pool thread, driving its own I/O there, so the
        // runtime's worker threads stay free to answer the API and the scheduler.
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let result = handle.block_on(execute(
                &pipeline,
                &request,
                trigger,
                &params_json,
                &svc.history,
                svc.clock.as_ref(),
            ));
            let ended = outcome(&result, &request.interrupted);
            let figures = figures(&result, started.elapsed().as_secs_f64(), &request, svc.clock.now());
            svc.telemetry.ended(&name, ended, &figures);
            match result {
                Ok(_) => tracing::info!(pipeline = %name, run_id = %request.run_id, "run succeeded"),
                Err(e) => tracing::warn!(pipeline = %name, run_id = %request.run_id, error = %e, "run did not succeed"),
            }
            svc.running().remove(&name);
            svc.idle.notify_waiters();
        });
        Ok(run_id)
    }

    /// Where a run in flight is (its stage and progress); `None` if it is not running here.
    pub fn progress(&self, run_id: &str) -> Option<crate::progress::Snapshot> {
        let running = self.running();
        running
            .values()
            .find(|r| r.run_id == run_id)
            .map(|r| r.progress.snapshot())
    }

    /// Asks a running run to stop before it publishes. `Ok(false)` if it is not running.
    pub fn cancel(&self, run_id: &str) -> bool {
        let running = self.running();
        match running.values().find(|r| r.run_id == run_id) {
            Some(r) => {
                r.cancel.store(true, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    /// Waits until no run is in flight, for at most `grace`. Returns whether it became idle.
    pub async fn wait_idle(&self, grace: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let notified = self.idle.notified();
            if self.running().is_empty() {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.running().is_empty();
            }
        }
    }

    /// Marks the runs still in flight as interrupted (at shutdown, after the grace period).
    pub fn interrupt_running(&self) {
        let now = rfc3339(self.clock.now());
        for r in self.running().values() {
            r.interrupted.store(true, Ordering::SeqCst);
            r.cancel.store(true, Ordering::SeqCst);
            let finish = Finish {
                status: "interrupted",
                finished_at: now.clone(),
                error: Some(INTERRUPTED.into()),
                ..Finish::default()
            };
            if let Err(e) = self.history.finish(&r.run_id, &finish) {
                tracing::error!(error = %e, "cannot record the interruption");
            }
        }
    }

    /// The next scheduled time of a pipeline, in UTC.
    pub fn next_run_at(&self, name: &str) -> Option<DateTime<Utc>> {
        let p = self.pipelines.get(name)?;
        let now = self.clock.now().with_timezone(&p.timezone);
        p.schedule.as_ref()?.after(&now).next().map(|t| t.with_timezone(&Utc))
    }

    /// Runs the schedules until `shutdown` turns true. Pipelines with `catch_up = true` whose
    /// schedule fired since their last recorded run start one run immediately.
    pub async fn schedule(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let mut tasks = Vec::new();
        for (name, p) in &self.pipelines {
            let Some(schedule) = p.schedule.clone() else { continue };
            if p.catch_up && self.missed_schedule(name) {
                tracing::info!(pipeline = %name, "catching up a schedule missed while the service was down");
                self.fire(name);
            }
            let svc = Arc::clone(&self);
            let name = name.clone();
            let tz = p.timezone;
            let mut shutdown = shutdown.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let now = svc.clock.now();
                    let Some(next) = schedule.after(&now.with_timezone(&tz)).next() else {
                        break;
                    };
                    let wait = (next.with_timezone(&Utc) - now).to_std().unwrap_or_default();
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => svc.fire(&name),
                        _ = shutdown.changed() => break,
                    }
                    if *shutdown.borrow() {
                        break;
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    }

    fn fire(self: &Arc<Self>, name: &str) {
        match self.trigger(name, Trigger::Schedule, RunParams::default()) {
            Ok(run_id) => tracing::info!(pipeline = %name, %run_id, "scheduled run started"),
            Err(e) => tracing::warn!(pipeline = %name, error = %e, "scheduled run skipped"),
        }
    }

    fn missed_schedule(&self, name: &str) -> bool {
        let Some(p) = self.pipelines.get(name) else {
            return false;
        };
        let Some(schedule) = &p.schedule else { return false };
        let now = self.clock.now();
        let last = self
            .history
            .list(Some(name), 1)
            .ok()
            .and_then(|runs| runs.into_iter().next())
            .and_then(|r| DateTime::parse_from_rfc3339(&r.started_at).ok())
            .map(|t| t.with_timezone(&Utc));
        // Never run: nothing was missed that a first scheduled run will not cover.
        let Some(last) = last else { return false };
        schedule
            .after(&last.with_timezone(&p.timezone))
            .next()
            .is_some_and(|t| t.with_timezone(&Utc) <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_bad_parameters_gives_a_short_answer() {
        let problems: Vec<String> = (0..100_000)
            .map(|i| format!("financial_years: `x{i}` is not a financial year"))
            .collect();
        let text = TriggerError::BadParameters(problems).to_string();
        assert!(text.len() < 2_000, "{}", text.len());
        assert!(text.ends_with("; and 99980 more"), "{text}");
    }
}

//! `harvester run [PIPELINE]`: one run of a pipeline from the command line, with its overrides
//! and filters, recorded in the run history and stopped cleanly on SIGTERM/SIGINT.

use super::{runtime, shutdown_signal, Failure};
use crate::config::Pipeline;
use crate::domain::location::redact_text;
use crate::Error;
use std::path::Path;
use std::process::ExitCode;

/// What `harvester run` was limited to, as given on the command line.
pub(super) struct RunFilter {
    pub as_of: Option<String>,
    pub financial_years: Vec<String>,
    pub municipalities: Vec<String>,
    pub scenario: Option<String>,
}

pub(super) fn cmd_run(
    pipeline: &Path,
    sources: &[String],
    out: Option<&str>,
    filter: RunFilter,
    cwd: &Path,
    history: &Path,
) -> Result<ExitCode, Failure> {
    let mut p = Pipeline::load(pipeline, cwd).map_err(|e| Failure::stderr(e.into()))?;
    let mut errors = Vec::new();
    for s in sources {
        if let Err(e) = p.override_source(s, cwd) {
            errors.push(e);
        }
    }
    if let Some(o) = out {
        if let Err(e) = p.override_publish(o, cwd) {
            errors.push(e);
        }
    }
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        crate::progress::enable_bars();
    }
    let mut request = crate::run::RunRequest::new(chrono::Utc::now());
    for y in &filter.financial_years {
        match crate::domain::fiscal::FinancialYear::parse(
            y,
            crate::domain::fiscal::Calendar::Municipal,
            crate::domain::fiscal::YearLabel::Start,
        ) {
            Ok(fy) => request.financial_years.push(fy),
            Err(e) => errors.push(format!("--financial-year: {e}")),
        }
    }
    for m in &filter.municipalities {
        match crate::contracts::reference::Reference::bundled().resolve(m) {
            Ok(r) => request.municipalities.push(r.code),
            Err(e) => errors.push(format!("--municipality: {e}")),
        }
    }
    request.scenario.clone_from(&filter.scenario);
    request.as_of.clone_from(&filter.as_of);
    if let Err(e) = request.scenario_name() {
        errors.push(format!("--scenario: {e}"));
    }
    if !errors.is_empty() {
        return Err(Failure::stderr(Error::Usage(errors)));
    }
    let history = match crate::history::History::open_or_set_aside(history, chrono::Utc::now()) {
        Ok((h, note)) => {
            if let Some(n) = note {
                crate::logging::say(tracing::Level::WARN, &n);
            }
            h
        }
        Err(e) => return Err(Failure::log(Error::failed(e))),
    };
    // Runs left `running` by `harvester run` processes that died (kill -9) are settled now.
    match history.mark_dead(&chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)) {
        Ok(0) => {}
        Ok(n) => crate::logging::say(
            tracing::Level::WARN,
            &format!("{n} earlier run(s) whose process died were marked interrupted"),
        ),
        Err(e) => crate::logging::say(
            tracing::Level::WARN,
            &format!("cannot check the history for dead runs: {e}"),
        ),
    }
    // URLs given on the command line may carry credentials: the history keeps them redacted.
    let shown: Vec<String> = sources.iter().map(|s| redact_text(s)).collect();
    let params = serde_json::json!({
        "sources": shown,
        "out": out.map(redact_text),
        "as_of": filter.as_of,
        "financial_years": filter.financial_years,
        "municipalities": filter.municipalities,
        "scenario": filter.scenario,
    });
    let clock = crate::domain::SystemClock;
    let (interrupted, cancel) = (request.interrupted.clone(), request.cancel.clone());
    let result = runtime().block_on(async {
        let run = crate::service::execute(&p, &request, crate::history::Trigger::Cli, &params, &history, &clock);
        tokio::pin!(run);
        tokio::select! {
            r = &mut run => r,
            () = shutdown_signal() => {
                // SIGTERM/SIGINT: the run stops at its next check and is recorded as interrupted.
                crate::logging::say(tracing::Level::INFO, "signal received; stopping the run (nothing will be published)");
                interrupted.store(true, std::sync::atomic::Ordering::SeqCst);
                cancel.store(true, std::sync::atomic::Ordering::SeqCst);
                run.await
            }
        }
    });
    let report =
        result.map_err(|e| Failure::log(Error::failed(format!("run of pipeline `{}` failed: {e}", p.name))))?;
    print!("{}", crate::summary::render(&report));
    println!("{}", crate::summary::stages(&request.progress.stages()));
    Ok(ExitCode::SUCCESS)
}

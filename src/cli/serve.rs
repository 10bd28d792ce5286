//! `harvester serve`: the pipelines of a folder scheduled and served over the HTTP API until
//! SIGTERM/SIGINT, then a graceful shutdown.

use super::{runtime, shutdown_signal, Failure};
use crate::config::Pipeline;
use crate::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn load_pipelines(dir: &Path, cwd: &Path) -> Result<Vec<Pipeline>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read pipeline folder {}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut pipelines = Vec::new();
    let mut problems = Vec::new();
    for path in &paths {
        match Pipeline::load(path, cwd) {
            Ok(p) => pipelines.push(p),
            Err(e) => problems.extend(e.0),
        }
    }
    if !problems.is_empty() {
        return Err(crate::config::ConfigError(problems).to_string());
    }
    let mut names: Vec<&str> = pipelines.iter().map(|p| p.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("two pipelines in {} are named `{}`", dir.display(), w[0]));
    }
    Ok(pipelines)
}

/// Reads the API token from HARVESTER_API_TOKEN or the file in HARVESTER_API_TOKEN_FILE.
fn api_token() -> Result<Option<String>, String> {
    if let Ok(t) = std::env::var("HARVESTER_API_TOKEN") {
        let t = t.trim().to_string();
        return Ok((!t.is_empty()).then_some(t));
    }
    if let Ok(f) = std::env::var("HARVESTER_API_TOKEN_FILE") {
        let t = std::fs::read_to_string(&f).map_err(|e| format!("HARVESTER_API_TOKEN_FILE {f}: {e}"))?;
        let t = t.trim().to_string();
        return Ok((!t.is_empty()).then_some(t));
    }
    Ok(None)
}

pub(super) fn cmd_serve(
    dir: &Path,
    listen: &str,
    grace_secs: u64,
    cwd: &Path,
    history: &Path,
) -> Result<ExitCode, Failure> {
    let pipelines = load_pipelines(&cwd.join(dir), cwd).map_err(|e| Failure::log(Error::usage(e)))?;
    let token = api_token().map_err(|e| Failure::log(Error::usage(e)))?;
    if token.is_none() {
        crate::logging::say(
            tracing::Level::WARN,
            "no API token configured: POST endpoints are disabled",
        );
    }
    let history = match crate::history::History::open_or_set_aside(history, chrono::Utc::now()) {
        Ok((h, note)) => {
            if let Some(n) = note {
                crate::logging::say(tracing::Level::WARN, &n);
            }
            std::sync::Arc::new(h)
        }
        Err(e) => return Err(Failure::log(Error::failed(e))),
    };
    let clock: std::sync::Arc<dyn crate::domain::Clock> = std::sync::Arc::new(crate::domain::SystemClock);
    let service =
        crate::service::Service::new(pipelines, history, token, clock).map_err(|e| Failure::log(Error::failed(e)))?;
    runtime().block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| Failure::log(Error::usage(format!("cannot listen on {listen}: {e}"))))?;
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| listen.to_string());
        println!(
            "harvester: listening on http://{addr} ({} pipelines)",
            service.pipelines.len()
        );
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let scheduler = tokio::spawn(std::sync::Arc::clone(&service).schedule(stop_rx));
        let app = crate::service::api::app(std::sync::Arc::clone(&service));
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                let _ = stop_tx.send(true);
            })
            .await;
        let _ = scheduler.await;
        if let Err(e) = served {
            crate::logging::say(tracing::Level::ERROR, &format!("the API server stopped: {e}"));
        }
        crate::logging::say(
            tracing::Level::INFO,
            &format!("shutting down; waiting up to {grace_secs}s for running jobs"),
        );
        if !service.wait_idle(std::time::Duration::from_secs(grace_secs)).await {
            service.interrupt_running();
            // Told to stop, a run ends at its next check (a download at once): let it record
            // that and release its publish lock before the process exits.
            service.wait_idle(std::time::Duration::from_secs(3)).await;
            crate::logging::say(tracing::Level::INFO, "runs still in flight were marked interrupted");
        }
        Ok(ExitCode::SUCCESS)
    })
}

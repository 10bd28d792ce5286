//! What a run reads of the state earlier runs left at its location, and of the analysts' files
//! beside its sources: the fetch log, row counts, the quarantine's first-seen runs, the exception
//! register, the project keys, the metrics history, overrides and exception decisions.
//!
//! Previous state that cannot be read is never a reason to fail: it is skipped with a warning
//! and a note in the new manifest, and the run goes on as a first run would. The analysts' own
//! files are different: a wrong overrides or decisions file fails the run, naming every problem.

use super::ingest::fetch_side_file;
use super::{Place, RunError};
use crate::metrics::register::{Decision, RegisterRow};
use crate::publish::{self, tables, Manifest};
use crate::reconcile::overrides::Override;
use crate::sources::raw::{FetchLog, RawZone};
use crate::storage::Store;
use polars::prelude::DataFrame;
use std::collections::BTreeMap;

/// Project keys by natural key, from a project register.
pub(super) type ProjectKeys = BTreeMap<String, String>;

/// A previous run's table that cannot be read: logged and noted; the run goes on without it.
pub(super) fn unreadable(what: &str, files: &[String], error: &str, notes: &mut Vec<String>) {
    tracing::warn!(state = what, files = %files.join(", "), error = %error, "previous state cannot be read; starting without it");
    notes.push(format!(
        "the previous {what} ({}) could not be read ({error}); this run started without it",
        files.join(", ")
    ));
}

/// Reads a previous run's table from `files` and parses it; a table that cannot be read or
/// parsed is noted ([`unreadable`], as `what`) and the run goes on with `T::default()`.
async fn read_state<T: Default, E: std::fmt::Display>(
    store: &Store,
    files: &[String],
    what: &str,
    parse: impl FnOnce(&DataFrame) -> Result<T, E>,
    notes: &mut Vec<String>,
) -> T {
    let read = match publish::read_table(store, files).await {
        Ok(Some(df)) => parse(&df).map_err(|e| e.to_string()),
        Ok(None) => Ok(T::default()),
        Err(e) => Err(e.to_string()),
    };
    read.unwrap_or_else(|e| {
        unreadable(what, files, &e, notes);
        T::default()
    })
}

/// The latest fetch log (validators for conditional requests); none when replaying.
pub(super) async fn previous_fetch_log(raw: &RawZone, replaying: bool, notes: &mut Vec<String>) -> Option<FetchLog> {
    if replaying {
        return None;
    }
    raw.latest().await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot read the previous fetch log; fetching without conditional requests");
        notes.push(format!(
            "the previous fetch log could not be read ({e}); sources were fetched without conditional requests"
        ));
        None
    })
}

/// Rows each source gave last time, for `max_row_drop` (only read when a source asks; an
/// unreadable manifest is dealt with, and reported, where the run reads its state later).
pub(super) async fn previous_rows(
    pipeline: &crate::config::Pipeline,
    store: &Store,
    replaying: bool,
) -> Option<(String, BTreeMap<String, usize>)> {
    if replaying || !pipeline.sources.iter().any(|s| s.max_row_drop.is_some()) {
        return None;
    }
    let m = publish::read_manifest(store).await.ok().flatten()?;
    let rows = m
        .data_quality
        .iter()
        .map(|q| (q.source.clone(), q.rows_accepted))
        .collect();
    Some((m.run_id, rows))
}

/// The previous run's quarantined problems and the run each was first rejected in (the last file
/// of the quarantine history is the previous run's). Unreadable: noted, and every problem is
/// new again.
pub(super) async fn quarantine_seen(
    store: &Store,
    previous: Option<&Manifest>,
    notes: &mut Vec<String>,
) -> BTreeMap<String, String> {
    let Some((manifest, last)) = previous.and_then(|m| Some((m, m.tables.get("quarantine")?.files.last()?))) else {
        return Default::default();
    };
    let parse = |df: &DataFrame| tables::quarantine_first_seen(df, &manifest.run_id);
    read_state(store, std::slice::from_ref(last), "quarantine", parse, notes).await
}

/// The previous run's exception register (empty on a first run or when it cannot be read).
pub(super) async fn exception_register(
    store: &Store,
    previous: Option<&Manifest>,
    notes: &mut Vec<String>,
) -> Vec<RegisterRow> {
    let Some(t) = previous.and_then(|m| m.tables.get("exception_register")) else {
        return Vec::new();
    };
    read_state(
        store,
        &t.files,
        "exception register",
        publish::register::from_frame,
        notes,
    )
    .await
}

/// The project keys this run's projects keep. They come from the live register (read, never
/// written, by a scenario run), so a scenario's projects carry the keys analysts know. A replay
/// takes the keys the replayed run published (its own manifest under `runs/<id>/`), so it
/// reproduces that run's register whatever ran since; without it, the latest register.
pub(super) async fn project_keys(
    place: &Place,
    replay: Option<&FetchLog>,
    previous: Option<&Manifest>,
    notes: &mut Vec<String>,
) -> ProjectKeys {
    let replayed = match replay {
        Some(log) => publish::read_manifest(&place.live.sub(&format!("runs/{}", log.run_id)))
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
    let live_manifest = match (replayed, &place.scenario) {
        (Some(m), _) => Some(m),
        (None, Some(_)) => publish::read_manifest(&place.live).await.unwrap_or_else(|e| {
            notes.push(format!("the live manifest could not be read for project keys: {e}"));
            None
        }),
        (None, None) => previous.cloned(),
    };
    let Some(t) = live_manifest.as_ref().and_then(|m| m.tables.get("project_register")) else {
        return BTreeMap::new();
    };
    read_state(&place.live, &t.files, "project register", tables::project_keys, notes).await
}

/// Every earlier run's metrics history rows (none on a first run or when unreadable).
pub(super) async fn metrics_history(
    store: &Store,
    previous: Option<&Manifest>,
    notes: &mut Vec<String>,
) -> Option<DataFrame> {
    let t = previous.and_then(|m| m.tables.get("metrics_history"))?;
    publish::read_table(store, &t.files).await.unwrap_or_else(|e| {
        unreadable("metrics history", &t.files, &e.to_string(), notes);
        None
    })
}

/// The analysts' link overrides (must-link, cannot-link), when the pipeline names a file.
pub(super) async fn overrides(
    settings: &crate::reconcile::ReconcileSettings,
) -> Result<Option<Vec<Override>>, RunError> {
    let Some(location) = &settings.overrides else {
        return Ok(None);
    };
    let mut all = Vec::new();
    for f in &fetch_side_file("overrides", location).await? {
        all.extend(crate::reconcile::overrides::load(&f.bytes, &f.file_name).map_err(RunError::Overrides)?);
    }
    Ok(Some(all))
}

/// The analysts' decisions on findings (waive, resolve), when the pipeline names a file.
pub(super) async fn decisions(pipeline: &crate::config::Pipeline) -> Result<Vec<Decision>, RunError> {
    let Some(location) = &pipeline.exceptions.decisions else {
        return Ok(Vec::new());
    };
    let mut all = Vec::new();
    for f in &fetch_side_file("decisions", location).await? {
        all.extend(crate::metrics::register::load_decisions(&f.bytes, &f.file_name).map_err(RunError::Decisions)?);
    }
    Ok(all)
}

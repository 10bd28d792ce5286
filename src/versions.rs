//! `harvester versions`: the Delta tables' history (which run wrote which version), and an
//! earlier run's tables exported as plain Parquet files, for readers without time travel.
//!
//! Readers with Delta support travel in time themselves (`DeltaTable(path, version=N)` in
//! Python, `versionAsOf` in Spark); this command names the version each run wrote and copies a
//! run's data files (byte for byte, as committed) into a folder per table.

use crate::publish::delta::{self, DeltaError};
use crate::storage::Store;
use std::path::Path;

/// Why the command failed.
#[derive(Debug, thiserror::Error)]
pub enum VersionsError {
    /// The location is not usable.
    #[error("{0}")]
    Location(String),
    /// Reading the Delta tables failed.
    #[error(transparent)]
    Delta(#[from] DeltaError),
    /// The run wrote no version that is still in a table's log.
    #[error(
        "run {run_id} wrote no version of `{table}` that is still in its log (runs past retention_days are vacuumed)"
    )]
    NoSuchRun {
        /// Table name.
        table: String,
        /// Run id asked for.
        run_id: String,
    },
    /// Writing an exported file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// Local path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The tables to look at: `only`, or every table under `tables/`.
async fn chosen(store: &Store, only: Option<&str>) -> Result<Vec<String>, VersionsError> {
    Ok(match only {
        Some(t) => vec![t.to_string()],
        None => delta::table_names(store).await?,
    })
}

/// One block per table: every commit still in its log, oldest first.
pub async fn list(store: &Store, only: Option<&str>) -> Result<String, VersionsError> {
    let mut out = String::new();
    for table in chosen(store, only).await? {
        out.push_str(&format!(
            "{table}\n  version  operation     rows  committed (UTC)           run_id\n"
        ));
        for c in delta::history(store, &table).await? {
            let when = c
                .timestamp
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default();
            let rows = c.rows.map(|r| r.to_string()).unwrap_or_default();
            out.push_str(&format!(
                "  {:<7}  {:<12}  {:>5}  {:<24}  {}\n",
                c.version,
                c.operation,
                rows,
                when,
                c.run_id.unwrap_or_default()
            ));
        }
    }
    Ok(out)
}

/// Copies the data files of the version each table had after run `run_id` into
/// `dir/<table>/`, and returns (table, version, files copied) per table.
pub async fn export(
    store: &Store,
    only: Option<&str>,
    run_id: &str,
    dir: &Path,
) -> Result<Vec<(String, u64, usize)>, VersionsError> {
    let mut done = Vec::new();
    for table in chosen(store, only).await? {
        let version = delta::version_of_run(store, &table, run_id)
            .await?
            .ok_or_else(|| VersionsError::NoSuchRun {
                table: table.clone(),
                run_id: run_id.to_string(),
            })?;
        let files = delta::files_at(store, &table, Some(version)).await?;
        let folder = dir.join(&table);
        let write_err = |p: &Path| {
            let path = p.display().to_string();
            move |source| VersionsError::Write { path, source }
        };
        std::fs::create_dir_all(&folder).map_err(write_err(&folder))?;
        for f in &files {
            let bytes = read(store, f).await?;
            let target = folder.join(f.rsplit('/').next().unwrap_or(f));
            std::fs::write(&target, &bytes).map_err(write_err(&target))?;
        }
        done.push((table, version, files.len()));
    }
    Ok(done)
}

async fn read(store: &Store, rel: &str) -> Result<bytes::Bytes, VersionsError> {
    use object_store::ObjectStoreExt;
    let err = |source| {
        VersionsError::Delta(DeltaError::Store {
            path: rel.to_string(),
            location: store.display.clone(),
            source,
        })
    };
    store
        .store
        .get(&store.path(rel))
        .await
        .map_err(err)?
        .bytes()
        .await
        .map_err(err)
}

/// `harvester versions`' answer as text: every version of the tables (or one table); with
/// `run`, that run's version of each; with `run` and `export_to`, that run's files copied there.
pub async fn report(
    store: &Store,
    table: Option<&str>,
    run: Option<&str>,
    export_to: Option<&Path>,
) -> Result<String, VersionsError> {
    match (run, export_to) {
        (Some(run_id), Some(dir)) => export(store, table, run_id, dir).await.map(|done| {
            done.iter()
                .map(|(t, v, n)| format!("{t}: version {v}, {n} file(s) → {}\n", dir.join(t).display()))
                .collect::<String>()
        }),
        (Some(run_id), None) => {
            let mut text = String::new();
            for t in chosen(store, table).await? {
                match delta::version_of_run(store, &t, run_id).await? {
                    Some(v) => text.push_str(&format!("{t}: version {v}\n")),
                    None => text.push_str(&format!("{t}: no version from run {run_id}\n")),
                }
            }
            Ok(text)
        }
        (None, _) => list(store, table).await,
    }
}

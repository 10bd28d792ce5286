//! Publishing: Parquet tables and `manifest.json` through `object_store`.
//!
//! A run writes every table under its own prefix, `runs/<run_id>/<table>/...`, partitioned by
//! `financial_year=<start year>` where the table has a year. Only when every file is written is
//! `manifest.json` at the root of the publish location replaced: it is the commit point, so a
//! reader who follows the manifest never sees a half-written run, and a run that fails before
//! that point leaves the previous run's manifest and files untouched.

pub mod tables;

use crate::storage::Store;
use object_store::{ObjectStoreExt, PutPayload};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Name of the commit-point file at the root of the publish location.
pub const MANIFEST: &str = "manifest.json";

/// Tables that carry history across runs (and so name run ids): the same inputs give the same
/// bytes for every other table.
pub const HISTORY_TABLES: &[&str] = &["quarantine", "exception_register"];

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Building or encoding a table failed.
    #[error("cannot encode table `{table}`: {source}")]
    Encode {
        /// Table name.
        table: String,
        /// What polars reported.
        source: PolarsError,
    },
    /// Writing an object failed.
    #[error("cannot write {path} to {location}: {source}")]
    Write {
        /// Object path.
        path: String,
        /// Publish location.
        location: String,
        /// What object_store reported.
        source: object_store::Error,
    },
    /// Reading an object failed.
    #[error("cannot read {path} from {location}: {source}")]
    Read {
        /// Object path.
        path: String,
        /// Publish location.
        location: String,
        /// What object_store reported.
        source: object_store::Error,
    },
    /// The manifest could not be serialised or parsed.
    #[error("manifest.json is not valid: {0}")]
    Manifest(#[from] serde_json::Error),
}

/// How a table's files are split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    /// One file.
    None,
    /// `financial_year=<start year>/`, Hive-style.
    FinancialYear,
    /// `run_id=<run id>/`: for tables whose history is kept across runs (the quarantine); the
    /// rows carry the same `run_id` as a column, so the history can be filtered to one run
    /// without Hive partitioning.
    RunId,
}

/// A table ready to publish.
pub struct Table {
    /// Table name (folder name).
    pub name: &'static str,
    /// The rows.
    pub df: DataFrame,
    /// How files are split.
    pub partition: Partition,
}

/// One input of the run, as recorded in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InputEntry {
    /// Pipeline source name.
    pub source: String,
    /// Where it was read (credentials removed).
    pub location: String,
    /// Size in bytes.
    pub size: u64,
    /// Hex sha256 of the bytes.
    pub sha256: String,
}

/// One table in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TableEntry {
    /// Files, relative to the publish location.
    pub files: Vec<String>,
    /// Total rows over all files.
    pub rows: usize,
    /// The partition column, if any.
    pub partitioned_by: Option<String>,
}

/// The manifest: what a run read and wrote.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest layout version.
    pub format_version: u32,
    /// Pipeline name.
    pub pipeline: String,
    /// Run id.
    pub run_id: String,
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
    /// When publishing finished (UTC, RFC 3339).
    pub finished_at: String,
    /// harvester version that wrote it.
    pub harvester_version: String,
    /// Inputs read.
    pub inputs: Vec<InputEntry>,
    /// Tables written.
    pub tables: BTreeMap<String, TableEntry>,
    /// Rows read, accepted and rejected per source.
    pub data_quality: Vec<tables::SourceQuality>,
    /// Capital budget per municipality and year label, in Rand: the next run's magnitude check
    /// compares against it.
    #[serde(default)]
    pub budget_totals: BTreeMap<String, BTreeMap<String, f64>>,
    /// The run's HTML report, relative to the publish location.
    #[serde(default)]
    pub report: Option<String>,
    /// Set on scenario runs only (published under `scenarios/<name>/`): what the run was
    /// limited to. Live manifests do not carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<ScenarioEntry>,
}

/// What a scenario run was limited to, as recorded in its manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScenarioEntry {
    /// The scenario's name (its folder under `scenarios/`).
    pub name: String,
    /// Municipal financial years kept (`2025/26`); empty when not limited.
    pub financial_years: Vec<String>,
    /// Demarcation codes kept; empty when not limited.
    pub municipalities: Vec<String>,
    /// The earlier run whose inputs were replayed, if any.
    pub as_of: Option<String>,
    /// `full`: roll-ups (province, category, national) and peer ranks cover every municipality in
    /// the inputs, also when only some municipalities' rows are published (every municipality
    /// is linked and measured; the filter applies after). Kept as a field so a cheaper,
    /// population-limited mode could say `filtered`.
    pub population: String,
    /// The same in words, for a person opening the manifest.
    pub note: String,
}

/// Encodes a DataFrame as Parquet bytes (zstd, statistics on).
pub fn to_parquet(df: &mut DataFrame) -> PolarsResult<Vec<u8>> {
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(df)?;
    Ok(buf)
}

/// Splits a table into (partition folder, rows) pairs, years ascending, nulls last.
fn partitions(table: &Table, run_id: &str) -> PolarsResult<Vec<(Option<String>, DataFrame)>> {
    match table.partition {
        Partition::None => return Ok(vec![(None, table.df.clone())]),
        Partition::RunId => return Ok(vec![(Some(format!("run_id={run_id}")), table.df.clone())]),
        Partition::FinancialYear => {}
    }
    let years = table.df.column("financial_year")?.i32()?;
    let mut distinct: Vec<Option<i32>> = (0..years.len()).map(|i| years.get(i)).collect();
    distinct.sort_by_key(|y| (y.is_none(), *y));
    distinct.dedup();
    if distinct.is_empty() {
        return Ok(vec![]);
    }
    let mut out = Vec::new();
    for y in distinct {
        let (folder, pred) = match y {
            Some(y) => (format!("financial_year={y}"), col("financial_year").eq(lit(y))),
            None => (
                "financial_year=__HIVE_DEFAULT_PARTITION__".to_string(),
                col("financial_year").is_null(),
            ),
        };
        let part = table.df.clone().lazy().filter(pred).collect()?;
        out.push((Some(folder), part));
    }
    Ok(out)
}

/// Writes one object.
pub async fn put(store: &Store, relative: &str, bytes: Vec<u8>) -> Result<(), PublishError> {
    let path = store.path(relative);
    store
        .store
        .put(&path, PutPayload::from(bytes))
        .await
        .map(|_| ())
        .map_err(|source| PublishError::Write {
            path: relative.to_string(),
            location: store.display.clone(),
            source,
        })
}

/// Writes one table under `runs/<run_id>/<table>/` and returns its manifest entry.
pub async fn write_table(store: &Store, run_id: &str, table: &Table) -> Result<TableEntry, PublishError> {
    let enc = |source| PublishError::Encode {
        table: table.name.to_string(),
        source,
    };
    let mut files = Vec::new();
    let rows = table.df.height();
    let parts = partitions(table, run_id).map_err(enc)?;
    // An empty partitioned table still gets one (empty) file so its schema is readable.
    let parts = if parts.is_empty() {
        vec![(None, table.df.clone())]
    } else {
        parts
    };
    for (folder, mut df) in parts {
        let rel = match folder {
            Some(f) => format!("runs/{run_id}/{}/{f}/part-00000.parquet", table.name),
            None => format!("runs/{run_id}/{}/part-00000.parquet", table.name),
        };
        let bytes = to_parquet(&mut df).map_err(enc)?;
        put(store, &rel, bytes).await?;
        files.push(rel);
    }
    Ok(TableEntry {
        files,
        rows,
        partitioned_by: match table.partition {
            Partition::None => None,
            Partition::FinancialYear => Some("financial_year".to_string()),
            Partition::RunId => Some("run_id".to_string()),
        },
    })
}

/// Reads the files of a published table back into one DataFrame (empty when no files).
pub async fn read_table(store: &Store, files: &[String]) -> Result<Option<DataFrame>, PublishError> {
    let mut all: Option<DataFrame> = None;
    for f in files {
        let bytes = store
            .store
            .get(&store.path(f))
            .await
            .map_err(|source| PublishError::Read {
                path: f.clone(),
                location: store.display.clone(),
                source,
            })?
            .bytes()
            .await
            .map_err(|source| PublishError::Read {
                path: f.clone(),
                location: store.display.clone(),
                source,
            })?;
        let df = ParquetReader::new(std::io::Cursor::new(bytes.to_vec()))
            .finish()
            .map_err(|source| PublishError::Encode {
                table: f.clone(),
                source,
            })?;
        all = Some(match all {
            None => df,
            Some(mut a) => {
                a.vstack_mut(&df).map_err(|source| PublishError::Encode {
                    table: f.clone(),
                    source,
                })?;
                a
            }
        });
    }
    Ok(all)
}

/// Reads the current manifest, if there is one. A missing manifest is `Ok(None)`; an unreadable
/// one is an error, so a run never silently forgets the history it should carry on.
pub async fn read_manifest(store: &Store) -> Result<Option<Manifest>, PublishError> {
    let path = store.path(MANIFEST);
    match store.store.get(&path).await {
        Ok(r) => {
            let bytes = r.bytes().await.map_err(|source| PublishError::Read {
                path: MANIFEST.into(),
                location: store.display.clone(),
                source,
            })?;
            Ok(Some(serde_json::from_slice(&bytes)?))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(source) => Err(PublishError::Read {
            path: MANIFEST.into(),
            location: store.display.clone(),
            source,
        }),
    }
}

/// Writes the run's own manifest copy, then replaces the root `manifest.json`: the commit point.
pub async fn commit(store: &Store, manifest: &Manifest) -> Result<(), PublishError> {
    let bytes = serde_json::to_vec_pretty(manifest)?;
    put(store, &format!("runs/{}/{MANIFEST}", manifest.run_id), bytes.clone()).await?;
    put(store, MANIFEST, bytes).await
}

/// Deletes the files of runs older than `retention_days` (by the timestamp in their run id),
/// except `keep_run` and the quarantine files, which are the quarantine's history. Returns the
/// number of runs whose files were removed.
pub async fn apply_retention(
    store: &Store,
    keep_run: &str,
    now: chrono::DateTime<chrono::Utc>,
    retention_days: u32,
) -> Result<usize, PublishError> {
    use futures::TryStreamExt;
    let cutoff = now - chrono::Duration::days(i64::from(retention_days));
    let runs_prefix = store.path("runs");
    let listed: Vec<object_store::ObjectMeta> =
        store
            .store
            .list(Some(&runs_prefix))
            .try_collect()
            .await
            .map_err(|source| PublishError::Read {
                path: "runs/".into(),
                location: store.display.clone(),
                source,
            })?;
    let mut removed = std::collections::BTreeSet::new();
    for meta in listed {
        let key = meta.location.as_ref().to_string();
        let rel = key
            .strip_prefix(runs_prefix.as_ref())
            .unwrap_or(&key)
            .trim_start_matches('/');
        let Some((run_id, rest)) = rel.split_once('/') else {
            continue;
        };
        if run_id == keep_run || rest.starts_with("quarantine/") {
            continue;
        }
        let Some(started) = run_id
            .get(..15)
            .and_then(|t| chrono::NaiveDateTime::parse_from_str(t, "%Y%m%dT%H%M%S").ok())
            .map(|t| t.and_utc())
        else {
            continue;
        };
        if started < cutoff {
            store
                .store
                .delete(&meta.location)
                .await
                .map_err(|source| PublishError::Write {
                    path: key.clone(),
                    location: store.display.clone(),
                    source,
                })?;
            removed.insert(run_id.to_string());
        }
    }
    Ok(removed.len())
}

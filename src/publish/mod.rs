//! Publishing: Parquet tables and `manifest.json` through `object_store`.
//!
//! A run writes every table under its own prefix, `runs/<run_id>/<table>/*.parquet`: one file
//! per financial year (`financial_year_<start year>.parquet`, the year also a column inside)
//! where the table has a year, else `part-00000.parquet`. There is no Hive partitioning (no
//! `key=value` folders), so a table's folder reads as one table in pandas, pyarrow, DuckDB
//! (`<table>/*.parquet`) and polars, with every column typed as stored. Only when every file is
//! written is `manifest.json` at the root of the publish location replaced: it is the commit
//! point, so a reader who follows the manifest never sees a half-written run, and a run that
//! fails before that point leaves the previous run's manifest and files untouched. After the
//! commit, [`publish_current`] refreshes the stable copy under `current/`.
//!
//! Every file stores plain types only (see [`to_parquet`]): strings as Arrow `large_utf8`
//! (never `string_view`), signed integers (never unsigned), and every row names its `run_id`.

pub mod delta;
pub mod geo;
pub mod lock;
pub mod register;
pub mod sorted;
pub mod tables;

use crate::storage::Store;
use object_store::{ObjectStoreExt, PutPayload};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Name of the commit-point file at the root of the publish location.
pub const MANIFEST: &str = "manifest.json";

/// Tables that carry history across runs: the quarantine's manifest entry lists every run's file,
/// the exception register names runs in its columns. Every table names its run in `run_id`; with
/// that column dropped, the same inputs give the same bytes for every table but the register.
pub const HISTORY_TABLES: &[&str] = &["quarantine", "exception_register", "metrics_history"];

/// History tables written one file per run ([`Partition::RunId`]): each run's manifest lists
/// every earlier run's file too, and retention never deletes them (they are the history).
pub const RUN_HISTORY_TABLES: &[&str] = &["quarantine", "metrics_history"];

/// Whether `rest` (a path under `runs/<run_id>/`) is a file of a per-run history table.
fn is_run_history(rest: &str) -> bool {
    RUN_HISTORY_TABLES
        .iter()
        .any(|t| rest.strip_prefix(t).is_some_and(|r| r.starts_with('/')))
}

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
    /// The manifest about to be written would not read back; nothing was committed.
    #[error(
        "refusing to commit a manifest.json that would not read back ({0}); the previous manifest is still current"
    )]
    Unreadable(String),
}

/// How a table's files are split. Files are never in Hive (`key=value`) folders: the column a
/// table is split by stays in every file, so each file is self-contained and the folder reads
/// as one table with its stored types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    /// One file, `part-00000.parquet`.
    None,
    /// One file per financial year, `financial_year_<start year>.parquet`
    /// (`financial_year_unknown.parquet` for rows without a year).
    FinancialYear,
    /// For tables whose history is kept across runs (the quarantine): each run writes one file
    /// of its own rows, and the manifest lists every run's file; the rows' `run_id` says which
    /// run wrote them.
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
    /// Float cells that were NaN or infinite and were published as null instead (see
    /// [`null_non_finite`]); absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub non_finite_nulled: usize,
    /// The table's Delta version holding this run (`tables/<table>/`, see [`delta`]): set in
    /// `current/manifest.json` and the run summary, after the Delta commits; absent in the root
    /// manifest, which is committed before them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_version: Option<u64>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Replaces every NaN or infinite value in the float columns of `df` by null and returns how
/// many were replaced. Publishing calls it on every table, so no non-finite float ever reaches
/// a published file: Parquet would carry it, but JSON (and most readers' totals) cannot. The
/// contracts quarantine implausible inputs first; this is the last line of defence against a
/// computation (a ratio over zero) producing one.
pub fn null_non_finite(df: &mut DataFrame) -> PolarsResult<usize> {
    let mut replaced = 0;
    let names: Vec<PlSmallStr> = df
        .columns()
        .iter()
        .filter(|c| matches!(c.dtype(), DataType::Float64 | DataType::Float32))
        .map(|c| c.name().clone())
        .collect();
    for name in names {
        let column = df.column(name.as_str())?;
        let dtype = column.dtype().clone();
        let values = column.cast(&DataType::Float64)?;
        let ca = values.f64()?;
        let bad = ca.iter().filter(|v| v.is_some_and(|x| !x.is_finite())).count();
        if bad == 0 {
            continue;
        }
        replaced += bad;
        let cleaned: Float64Chunked = ca.iter().map(|v| v.filter(|x| x.is_finite())).collect();
        let cleaned = cleaned.with_name(name.clone()).into_series().cast(&dtype)?;
        df.with_column(cleaned.into())?;
    }
    Ok(replaced)
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
    /// Things the run wants a reader to know (a previous manifest that could not be read and
    /// was set aside, non-finite values dropped); absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
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

/// Removes non-finite totals (JSON has no NaN or infinity: `serde_json` would write `null`,
/// which then never reads back as `f64`) and returns what was removed, as `CODE year` labels.
pub fn retain_finite(totals: &mut BTreeMap<String, BTreeMap<String, f64>>) -> Vec<String> {
    let mut dropped = Vec::new();
    for (code, years) in totals.iter_mut() {
        years.retain(|year, v| {
            let keep = v.is_finite();
            if !keep {
                dropped.push(format!("{code} {year}"));
            }
            keep
        });
    }
    totals.retain(|_, years| !years.is_empty());
    dropped
}

/// The name of the column every published table carries: the run that published the row (for
/// the quarantine history, the run that rejected it).
pub const RUN_ID: &str = "run_id";

/// Casts unsigned integer columns to signed ones (`UInt8` → `Int16`, `UInt16`/`UInt32` →
/// `Int32`, `UInt64` → `Int64`): Spark, Power BI and older readers have no unsigned types (Spark
/// reads `UInt64` as `decimal(20,0)`). The cast is strict: a value that does not fit fails the
/// write instead of becoming null (row numbers and counts are far below `i32::MAX`).
pub fn plain_types(df: &mut DataFrame) -> PolarsResult<()> {
    let casts: Vec<(PlSmallStr, DataType)> = df
        .columns()
        .iter()
        .filter_map(|c| {
            let to = match c.dtype() {
                DataType::UInt8 => DataType::Int16,
                DataType::UInt16 | DataType::UInt32 => DataType::Int32,
                DataType::UInt64 => DataType::Int64,
                _ => return None,
            };
            Some((c.name().clone(), to))
        })
        .collect();
    for (name, to) in casts {
        let cast = df.column(name.as_str())?.strict_cast(&to)?;
        df.with_column(cast)?;
    }
    Ok(())
}

/// Adds the `run_id` column (first) when the table does not carry one already (the quarantine
/// names the run that rejected each row itself).
pub fn with_run_id(df: &mut DataFrame, run_id: &str) -> PolarsResult<()> {
    if df.schema().contains(RUN_ID) {
        return Ok(());
    }
    let column = Column::new(RUN_ID.into(), vec![run_id; df.height()]);
    df.insert_column(0, column)?;
    Ok(())
}

/// Encodes a DataFrame as Parquet bytes (zstd, statistics on) with plain types only: unsigned
/// integers are cast to signed ([`plain_types`]), and the Arrow schema stored in the footer
/// (`ARROW:schema`) declares strings as `large_utf8`, not polars' default `string_view`, which
/// pyarrow < 15 cannot read ("Unrecognized type: 24") and other tools map poorly. The column
/// data is the same either way (Parquet `BYTE_ARRAY`, `String` logical type); polars 0.55's
/// `ParquetWriter` has no compatibility-level option, so the footer's schema is supplied as
/// key-value metadata, which the writer then uses instead of its own.
pub fn to_parquet(df: &mut DataFrame) -> PolarsResult<Vec<u8>> {
    plain_types(df)?;
    let arrow_schema = df.schema().to_arrow(CompatLevel::oldest());
    let mut metadata = vec![polars_parquet::write::schema_to_metadata_key(&arrow_schema)];
    // A table with a WKB `geometry` column is GeoParquet: its `geo` metadata (publish::geo).
    if let Some(geo) = geo::file_metadata(df)? {
        metadata.push(polars_parquet::write::KeyValue::new("geo".to_string(), geo));
    }
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf)
        .with_compression(ParquetCompression::Zstd(None))
        .with_key_value_metadata(Some(KeyValueMetadata::Static(metadata)))
        .finish(df)?;
    Ok(buf)
}

/// Splits a table into (file name, rows) pairs, years ascending, rows without a year last.
fn partitions(table: &Table) -> PolarsResult<Vec<(String, DataFrame)>> {
    const ONE: &str = "part-00000.parquet";
    match table.partition {
        Partition::None | Partition::RunId => return Ok(vec![(ONE.to_string(), table.df.clone())]),
        Partition::FinancialYear => {}
    }
    let years = table.df.column("financial_year")?.i32()?;
    let mut distinct: Vec<Option<i32>> = (0..years.len()).map(|i| years.get(i)).collect();
    distinct.sort_by_key(|y| (y.is_none(), *y));
    distinct.dedup();
    if distinct.is_empty() {
        // An empty table still gets one (empty) file so its schema is readable.
        return Ok(vec![(ONE.to_string(), table.df.clone())]);
    }
    let mut out = Vec::new();
    for y in distinct {
        let (file, pred) = match y {
            Some(y) => (format!("financial_year_{y}.parquet"), col("financial_year").eq(lit(y))),
            None => (
                "financial_year_unknown.parquet".to_string(),
                col("financial_year").is_null(),
            ),
        };
        let part = table.df.clone().lazy().filter(pred).collect()?;
        out.push((file, part));
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

/// Every object under `runs/` (`runs_prefix`).
async fn list_runs(
    store: &Store,
    runs_prefix: &object_store::path::Path,
) -> Result<Vec<object_store::ObjectMeta>, PublishError> {
    use futures::TryStreamExt;
    store
        .store
        .list(Some(runs_prefix))
        .try_collect()
        .await
        .map_err(|source| PublishError::Read {
            path: "runs/".into(),
            location: store.display.clone(),
            source,
        })
}

/// Removes what dead runs left at a publish location (called by the next run, holding the
/// publish lock, after its commit): `runs/<id>/` folders of runs that never committed (no
/// `runs/<id>/manifest.json`, no file named by `manifest`, not `keep_run`), and on a local
/// folder the staging files (`<name>#<n>`) of writes cut short, when older than `min_age`, at
/// the root and under `runs/` (the raw zone and scenarios are not this lock's to clean).
/// Returns what was removed, relative to the location.
pub async fn remove_leftovers(
    store: &Store,
    keep_run: &str,
    manifest: &Manifest,
    local_root: Option<&std::path::Path>,
    min_age: std::time::Duration,
) -> Result<Vec<String>, PublishError> {
    let runs_prefix = store.path("runs");
    let listed = list_runs(store, &runs_prefix).await?;
    let referenced: std::collections::BTreeSet<&str> = manifest
        .tables
        .values()
        .flat_map(|t| t.files.iter().map(String::as_str))
        .collect();
    let mut by_run: BTreeMap<String, Vec<(object_store::path::Path, String)>> = BTreeMap::new();
    for meta in listed {
        let key = meta.location.as_ref().to_string();
        let rel = key
            .strip_prefix(runs_prefix.as_ref())
            .unwrap_or(&key)
            .trim_start_matches('/')
            .to_string();
        if let Some((run_id, _)) = rel.split_once('/') {
            by_run
                .entry(run_id.to_string())
                .or_default()
                .push((meta.location, format!("runs/{rel}")));
        }
    }
    let mut removed = Vec::new();
    for (run_id, objects) in by_run {
        let committed = objects
            .iter()
            .any(|(_, rel)| *rel == format!("runs/{run_id}/{MANIFEST}"));
        // A folder holding only history files (quarantine, metrics history) is an old run
        // thinned by retention, never a dead run's: those write other tables first.
        let only_quarantine = objects
            .iter()
            .all(|(_, rel)| rel.strip_prefix(&format!("runs/{run_id}/")).is_some_and(is_run_history));
        if run_id == keep_run
            || committed
            || only_quarantine
            || objects.iter().any(|(_, rel)| referenced.contains(rel.as_str()))
        {
            continue;
        }
        for (path, rel) in objects {
            match store.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(source) => {
                    return Err(PublishError::Write {
                        path: rel,
                        location: store.display.clone(),
                        source,
                    })
                }
            }
        }
        removed.push(format!("runs/{run_id}/"));
    }
    if let Some(root) = local_root {
        let is_staging = |name: &str| {
            name.rsplit_once('#')
                .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        };
        let old_enough = |p: &std::path::Path| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= min_age)
        };
        let mut dirs = vec![(root.to_path_buf(), false)];
        while let Some((dir, recurse)) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                let name = e.file_name().to_string_lossy().to_string();
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    if recurse || (dir == root && name == "runs") {
                        dirs.push((path, true));
                    }
                } else if is_staging(&name) && old_enough(&path) && std::fs::remove_file(&path).is_ok() {
                    removed.push(path.strip_prefix(root).unwrap_or(&path).display().to_string());
                }
            }
        }
    }
    Ok(removed)
}

/// Writes one table under `runs/<run_id>/<table>/` and returns its manifest entry. The rows get
/// a `run_id` column ([`with_run_id`]) and plain types ([`to_parquet`]).
pub async fn write_table(store: &Store, run_id: &str, table: &Table) -> Result<TableEntry, PublishError> {
    let enc = |source| PublishError::Encode {
        table: table.name.to_string(),
        source,
    };
    let mut files = Vec::new();
    let rows = table.df.height();
    let mut df = table.df.clone();
    with_run_id(&mut df, run_id).map_err(enc)?;
    let non_finite_nulled = null_non_finite(&mut df).map_err(enc)?;
    if non_finite_nulled > 0 {
        tracing::warn!(
            table = table.name,
            cells = non_finite_nulled,
            "non-finite floats (NaN or infinite) published as null"
        );
    }
    let table = &Table {
        name: table.name,
        df,
        partition: table.partition,
    };
    for (file, mut df) in partitions(table).map_err(enc)? {
        let rel = format!("runs/{run_id}/{}/{file}", table.name);
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
            Partition::RunId => Some(RUN_ID.to_string()),
        },
        non_finite_nulled,
        delta_version: None,
    })
}

/// Reads the files of a published table back into one DataFrame (empty when no files).
pub async fn read_table(store: &Store, files: &[String]) -> Result<Option<DataFrame>, PublishError> {
    read_columns(store, files, None).await
}

/// [`read_table`], decoding only `columns` when given (the links' evidence is most of that
/// table, and a reader that needs two columns should not decode it).
pub async fn read_columns(
    store: &Store,
    files: &[String],
    columns: Option<&[&str]>,
) -> Result<Option<DataFrame>, PublishError> {
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
            .with_columns(columns.map(|cs| cs.iter().map(|c| (*c).to_string()).collect()))
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
/// one is an error (runs use [`read_manifest_or_set_aside`], which sets it aside and says so).
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

/// A previous manifest that could not be read, and what was done about it.
#[derive(Debug, Clone)]
pub struct SetAside {
    /// Where the unreadable file now is, relative to the publish location.
    pub moved_to: String,
    /// Why it could not be read.
    pub reason: String,
}

impl SetAside {
    /// The note a run records about it.
    pub fn note(&self) -> String {
        format!(
            "the previous {MANIFEST} could not be read ({}); it was set aside as {} and this run started without previous state (no quarantine history, exception register or project keys carried over)",
            self.reason, self.moved_to
        )
    }
}

/// Reads the current manifest like [`read_manifest`], but a manifest whose content cannot be
/// read (not JSON, or not the manifest's schema) never stops a run: it is renamed to
/// `manifest.json.unreadable-<time>` beside it and `Ok((None, Some(..)))` says so. Failing to
/// reach the store is still an error, so a passing network fault never discards history.
pub async fn read_manifest_or_set_aside(
    store: &Store,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Option<Manifest>, Option<SetAside>), PublishError> {
    match read_manifest(store).await {
        Ok(m) => Ok((m, None)),
        Err(PublishError::Manifest(e)) => {
            let moved_to = format!("{MANIFEST}.unreadable-{}", now.format("%Y%m%dT%H%M%S%3fZ"));
            store
                .store
                .rename(&store.path(MANIFEST), &store.path(&moved_to))
                .await
                .map_err(|source| PublishError::Write {
                    path: moved_to.clone(),
                    location: store.display.clone(),
                    source,
                })?;
            Ok((
                None,
                Some(SetAside {
                    moved_to,
                    reason: e.to_string(),
                }),
            ))
        }
        Err(e) => Err(e),
    }
}

/// The manifest's JSON, checked to read back as a manifest: a value JSON cannot hold (a NaN
/// total becomes `null`) fails here, before anything is committed, not on the next run.
pub fn manifest_bytes(manifest: &Manifest) -> Result<Vec<u8>, PublishError> {
    let bytes = serde_json::to_vec_pretty(manifest)?;
    if let Err(e) = serde_json::from_slice::<Manifest>(&bytes) {
        return Err(PublishError::Unreadable(e.to_string()));
    }
    Ok(bytes)
}

/// Writes the run's own manifest copy, then replaces the root `manifest.json`: the commit point.
pub async fn commit(store: &Store, manifest: &Manifest) -> Result<(), PublishError> {
    let bytes = manifest_bytes(manifest)?;
    put(store, &format!("runs/{}/{MANIFEST}", manifest.run_id), bytes.clone()).await?;
    put(store, MANIFEST, bytes).await
}

/// The folder at the root of the publish location that holds the latest committed run's tables
/// at stable paths: `current/<table>/*.parquet` and `current/manifest.json`.
pub const CURRENT: &str = "current";

/// `path` relative to the store's prefix.
fn relative(store: &Store, path: &object_store::path::Path) -> String {
    let key = path.as_ref();
    key.strip_prefix(store.prefix.as_ref())
        .unwrap_or(key)
        .trim_start_matches('/')
        .to_string()
}

async fn exists(store: &Store, relative: &str) -> Result<bool, PublishError> {
    match store.store.head(&store.path(relative)).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(source) => Err(PublishError::Read {
            path: relative.to_string(),
            location: store.display.clone(),
            source,
        }),
    }
}

/// Where a published file is found under `current/`: a file of the committed run keeps its
/// name (`current/projects/financial_year_2024.parquet`), so the next run replaces it in place;
/// a history table's files (the quarantine: one per run) are named after the run that wrote
/// them (`current/quarantine/<run_id>.parquet`).
pub fn current_path(table: &str, file: &str, history: bool) -> String {
    let run = file
        .strip_prefix("runs/")
        .and_then(|r| r.split('/').next())
        .unwrap_or_default();
    let name = file.rsplit('/').next().unwrap_or(file);
    if history {
        format!("{CURRENT}/{table}/{run}.parquet")
    } else {
        format!("{CURRENT}/{table}/{name}")
    }
}

/// After the commit point: makes the committed run's tables available at stable paths under
/// `current/` and returns the manifest written there (`current/manifest.json`: the committed
/// manifest with every table's files at their `current/` paths).
///
/// object_store has no atomic folder swap, so the swap is done file by file, in this order:
/// 1. every file of every table is copied to its stable name ([`current_path`]), replacing the
///    previous run's file of that name (each copy is atomic per file: a server-side copy on
///    S3, Azure and GCS; a hard link renamed into place on a local folder). History files of
///    earlier runs already in place are left as they are; quarantine files in the pre-`current/`
///    layout (`run_id=<id>/` folders, view types) are re-encoded with plain types instead;
/// 2. every other object under `current/` (a year the new run no longer has, a table that no
///    longer exists) is deleted;
/// 3. `current/manifest.json` is replaced last.
///
/// A reader mid-swap may see some files of the previous run beside files of the new one, or a
/// year file the new run no longer has; every row's `run_id` says which run it came from, and
/// once `current/manifest.json` names the same `run_id` as the rows the swap is complete. A
/// reader who listed a folder just before step 2 may find a listed file gone. Readers who
/// need a consistent view at any moment follow the root `manifest.json` to `runs/<run_id>/`.
pub async fn publish_current(store: &Store, manifest: &Manifest) -> Result<Manifest, PublishError> {
    use futures::TryStreamExt;
    let mut current = manifest.clone();
    let mut wanted = std::collections::BTreeSet::from([format!("{CURRENT}/{MANIFEST}")]);
    for (name, entry) in current.tables.iter_mut() {
        let history = entry.partitioned_by.as_deref() == Some(RUN_ID);
        let mut files = Vec::new();
        for file in &entry.files {
            let target = current_path(name, file, history);
            let of_this_run = file.starts_with(&format!("runs/{}/", manifest.run_id));
            if !of_this_run && exists(store, &target).await? {
                // An earlier run's history file, copied by that run.
            } else if file.contains("/run_id=") {
                // Written before tables had plain types: re-encode rather than copy.
                let mut df = read_table(store, std::slice::from_ref(file)).await?.unwrap_or_default();
                let bytes = to_parquet(&mut df).map_err(|source| PublishError::Encode {
                    table: file.clone(),
                    source,
                })?;
                put(store, &target, bytes).await?;
            } else {
                store
                    .store
                    .copy(&store.path(file), &store.path(&target))
                    .await
                    .map_err(|source| PublishError::Write {
                        path: target.clone(),
                        location: store.display.clone(),
                        source,
                    })?;
            }
            wanted.insert(target.clone());
            files.push(target);
        }
        entry.files = files;
    }
    let listed: Vec<object_store::ObjectMeta> = store
        .store
        .list(Some(&store.path(CURRENT)))
        .try_collect()
        .await
        .map_err(|source| PublishError::Read {
            path: format!("{CURRENT}/"),
            location: store.display.clone(),
            source,
        })?;
    for meta in listed {
        let rel = relative(store, &meta.location);
        if !wanted.contains(&rel) {
            store
                .store
                .delete(&meta.location)
                .await
                .map_err(|source| PublishError::Write {
                    path: rel.clone(),
                    location: store.display.clone(),
                    source,
                })?;
        }
    }
    put(store, &format!("{CURRENT}/{MANIFEST}"), manifest_bytes(&current)?).await?;
    Ok(current)
}

/// Deletes the files of runs older than `retention_days` (by the timestamp in their run id),
/// except `keep_run` and the files of the per-run history tables ([`RUN_HISTORY_TABLES`]: the
/// quarantine and the metrics history). Returns the
/// number of runs whose files were removed.
pub async fn apply_retention(
    store: &Store,
    keep_run: &str,
    now: chrono::DateTime<chrono::Utc>,
    retention_days: u32,
) -> Result<usize, PublishError> {
    let cutoff = now - chrono::Duration::days(i64::from(retention_days));
    let runs_prefix = store.path("runs");
    let listed = list_runs(store, &runs_prefix).await?;
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
        if run_id == keep_run || is_run_history(rest) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::location::Location;

    fn manifest_with_total(v: f64) -> Manifest {
        Manifest {
            format_version: 1,
            pipeline: "p".into(),
            run_id: "r".into(),
            started_at: String::new(),
            finished_at: String::new(),
            harvester_version: String::new(),
            inputs: vec![],
            tables: BTreeMap::new(),
            data_quality: vec![],
            budget_totals: BTreeMap::from([("BUF".to_string(), BTreeMap::from([("2024/25".to_string(), v)]))]),
            report: None,
            notes: vec![],
            scenario: None,
        }
    }

    #[test]
    fn non_finite_floats_are_published_as_null_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_folder(&Location::Local(dir.path().to_path_buf())).unwrap();
        let df = df!(
            "amount_rand" => [Some(1.0), Some(f64::NAN), None, Some(f64::INFINITY), Some(-2.5)],
            "ratio" => [Some(0.5f32), Some(f32::NEG_INFINITY), Some(1.0), None, Some(0.0)],
            "name" => ["a", "b", "c", "d", "e"],
        )
        .unwrap();
        let table = Table {
            name: "projects",
            df,
            partition: Partition::None,
        };
        let (entry, back) = tokio::runtime::Runtime::new().unwrap().block_on(async {
            let entry = write_table(&store, "r1", &table).await.unwrap();
            let back = read_table(&store, &entry.files).await.unwrap().unwrap();
            (entry, back)
        });
        assert_eq!(entry.non_finite_nulled, 3);
        let amounts: Vec<Option<f64>> = back.column("amount_rand").unwrap().f64().unwrap().iter().collect();
        assert_eq!(amounts, [Some(1.0), None, None, None, Some(-2.5)]);
        let ratio = back.column("ratio").unwrap();
        assert_eq!(ratio.dtype(), &DataType::Float32, "the column keeps its type");
        let ratios: Vec<Option<f32>> = ratio.f32().unwrap().iter().collect();
        assert_eq!(ratios, [Some(0.5), None, Some(1.0), None, Some(0.0)]);
        // The count is in the manifest entry only when there is one.
        assert!(serde_json::to_string(&entry)
            .unwrap()
            .contains("\"non_finite_nulled\":3"));
        let clean = TableEntry {
            non_finite_nulled: 0,
            ..entry
        };
        assert!(!serde_json::to_string(&clean).unwrap().contains("non_finite_nulled"));
    }

    #[test]
    fn current_replaces_files_in_place_and_re_encodes_legacy_quarantine_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_folder(&Location::Local(dir.path().to_path_buf())).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        // A quarantine file as written before plain types: Hive folder, UInt32, string_view.
        let mut legacy = df!("run_id" => ["old"], "source_row" => [7u32]).unwrap();
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes).finish(&mut legacy).unwrap();
        let legacy_path = "runs/old/quarantine/run_id=old/part-00000.parquet".to_string();
        let quarantine = Table {
            name: "quarantine",
            df: df!("run_id" => ["new"], "source_row" => [Some(9u32)]).unwrap(),
            partition: Partition::RunId,
        };
        let projects = Table {
            name: "projects",
            df: df!("financial_year" => [2024i32, 2025], "amount_rand" => [1.0, 2.0]).unwrap(),
            partition: Partition::FinancialYear,
        };
        let current = rt.block_on(async {
            put(&store, &legacy_path, bytes).await.unwrap();
            // Left by an earlier run: a year the new run does not have.
            put(&store, "current/projects/financial_year_2019.parquet", vec![1])
                .await
                .unwrap();
            let mut q = write_table(&store, "new", &quarantine).await.unwrap();
            q.files.insert(0, legacy_path.clone());
            let p = write_table(&store, "new", &projects).await.unwrap();
            let mut m = manifest_with_total(1.0);
            m.run_id = "new".into();
            m.tables = BTreeMap::from([("quarantine".to_string(), q), ("projects".to_string(), p)]);
            publish_current(&store, &m).await.unwrap()
        });
        assert_eq!(
            current.tables["projects"].files,
            [
                "current/projects/financial_year_2024.parquet",
                "current/projects/financial_year_2025.parquet"
            ]
        );
        assert_eq!(
            current.tables["quarantine"].files,
            ["current/quarantine/old.parquet", "current/quarantine/new.parquet"]
        );
        assert!(!dir.path().join("current/projects/financial_year_2019.parquet").exists());
        assert!(dir.path().join("current/manifest.json").exists());
        let q = rt
            .block_on(read_table(&store, &current.tables["quarantine"].files))
            .unwrap()
            .unwrap();
        assert_eq!(q.column("source_row").unwrap().dtype(), &DataType::Int32);
        let rows: Vec<Option<i32>> = q.column("source_row").unwrap().i32().unwrap().iter().collect();
        assert_eq!(rows, [Some(7), Some(9)]);
        let p = rt
            .block_on(read_table(&store, &current.tables["projects"].files))
            .unwrap()
            .unwrap();
        assert_eq!(p.get_column_names()[0].as_str(), RUN_ID, "run_id comes first");
    }

    #[test]
    fn a_manifest_that_would_not_read_back_is_refused_and_non_finite_totals_dropped() {
        assert!(manifest_bytes(&manifest_with_total(1.5)).is_ok());
        let e = manifest_bytes(&manifest_with_total(f64::NAN)).unwrap_err().to_string();
        assert!(
            e.starts_with("refusing to commit a manifest.json that would not read back"),
            "{e}"
        );
        let mut m = manifest_with_total(f64::INFINITY);
        m.budget_totals
            .entry("BUF".into())
            .or_default()
            .insert("2025/26".into(), 7.0);
        m.budget_totals
            .insert("EC122".into(), BTreeMap::from([("2024/25".to_string(), f64::NAN)]));
        let dropped = retain_finite(&mut m.budget_totals);
        assert_eq!(dropped, ["BUF 2024/25", "EC122 2024/25"]);
        assert_eq!(
            m.budget_totals,
            BTreeMap::from([("BUF".to_string(), BTreeMap::from([("2025/26".to_string(), 7.0)]))])
        );
        assert!(manifest_bytes(&m).is_ok());
    }
}

//! Delta Lake tables at stable paths: `<root>/tables/<table>/`, one Delta table per table in the
//! manifest, replaced by each committed run in one Delta commit (delta-rs, `deltalake` crate).
//!
//! The data files are the run's own Parquet files (written by [`super::to_parquet`]: plain
//! types, deterministic), copied byte for byte next to the table's `_delta_log/` as
//! `<run_id>-<file name>` and committed with delta-rs's transaction API as `add` actions with
//! statistics read from each file's footer. Nothing is re-encoded by arrow-rs, so a Delta data
//! file is identical to the file under `runs/<run_id>/`. Tables are unpartitioned (the
//! `financial_year` column stays in the files; each year's file has min = max statistics, so
//! readers still skip other years), protocol reader 1 / writer 2: no deletion vectors, column
//! mapping or timestampNtz, readable by Spark 2.4+, DuckDB `delta_scan`, polars, pandas
//! (`deltalake`) and Fabric/Power BI.
//!
//! Order and guarantees (see docs/tables.md, "Delta tables"): the Delta commits come *after*
//! the root `manifest.json` commit, so a run that fails or dies before its manifest commit never
//! changes a Delta table. Each table's replacement is atomic (one commit, whose `commitInfo`
//! carries the run id in `userMetadata`); the ~dozen commits of a run are not atomic together.
//! [`sync`] is idempotent (a table whose latest write is the manifest's run is left alone), and
//! the next run calls it for the previous manifest before anything else ([`repair`]), so a crash
//! between the manifest commit and the last Delta commit is completed by the next run, even one
//! that then fails. `current/manifest.json` (written after the Delta commits) names each table's
//! Delta version of that run: the versions a reader needs for one consistent run.
//!
//! Every table and column carries its description from docs/tables.md (Delta metadata
//! `description`, schema field metadata `comment`). Retention is the format's own: the table
//! properties `delta.deletedFileRetentionDuration` and `delta.logRetentionDuration` are the
//! pipeline's `retention_days`, and each run vacuums (full mode, the run's clock).

use super::{Manifest, TableEntry};
use crate::storage::Store;
use chrono::{DateTime, Utc};
use deltalake::arrow::datatypes::{DataType as ArrowType, Field};
use deltalake::kernel::transaction::{CommitBuilder, TableReference};
use deltalake::kernel::{Action, Add, Remove};
use deltalake::operations::vacuum::{Clock, VacuumMode};
use deltalake::parquet::arrow::async_reader::ParquetObjectReader;
use deltalake::parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use deltalake::parquet::file::statistics::Statistics;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::{DeltaTable, DeltaTableBuilder};
use object_store::ObjectStoreExt;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

/// The folder, at the root of a publish location, that holds one Delta table per table.
pub const TABLES: &str = "tables";

/// Why a Delta step failed.
#[derive(Debug, thiserror::Error)]
pub enum DeltaError {
    /// delta-rs reported an error (log replay, commit, vacuum).
    #[error("Delta table `{table}` at {location}: {source}")]
    Delta {
        /// Table name.
        table: String,
        /// Publish location.
        location: String,
        /// What delta-rs reported.
        source: Box<deltalake::DeltaTableError>,
    },
    /// Reading or writing an object failed.
    #[error("cannot access {path} at {location}: {source}")]
    Store {
        /// Object path, relative to the location.
        path: String,
        /// Publish location.
        location: String,
        /// What object_store reported.
        source: object_store::Error,
    },
    /// A Parquet footer could not be read.
    #[error("cannot read the Parquet footer of {path}: {source}")]
    Footer {
        /// Object path, relative to the location.
        path: String,
        /// What the Parquet reader reported.
        source: deltalake::parquet::errors::ParquetError,
    },
    /// A column type that Delta protocol 1/2 cannot hold without a table feature.
    #[error("column `{column}` of `{table}` has type {dtype}, which a Delta table without table features cannot hold")]
    Type {
        /// Table name.
        table: String,
        /// Column name.
        column: String,
        /// The Arrow type.
        dtype: String,
    },
    /// A legacy file could not be re-encoded.
    #[error(transparent)]
    Publish(Box<super::PublishError>),
    /// A log entry or metadata value is not the JSON expected.
    #[error("Delta log of `{table}`: {message}")]
    Log {
        /// Table name.
        table: String,
        /// What was wrong.
        message: String,
    },
}

type Result<T> = std::result::Result<T, DeltaError>;

impl From<super::PublishError> for DeltaError {
    fn from(e: super::PublishError) -> Self {
        DeltaError::Publish(Box::new(e))
    }
}

/// The data dictionary: table → (description, column → meaning).
pub type Dictionary = BTreeMap<String, (String, BTreeMap<String, String>)>;

/// One commit in a table's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Delta version.
    pub version: u64,
    /// The harvester run that made it (`commitInfo.userMetadata`), if any.
    pub run_id: Option<String>,
    /// `WRITE`, `VACUUM START`, `VACUUM END`, ...
    pub operation: String,
    /// Commit time, milliseconds since the epoch (the writer's wall clock).
    pub timestamp: Option<i64>,
    /// Rows in the table after a `WRITE` commit (`operationMetrics.numOutputRows`).
    pub rows: Option<i64>,
}

/// `tables/<table>` relative to a publish location.
pub fn table_dir(table: &str) -> String {
    format!("{TABLES}/{table}")
}

fn delta_err<'a>(store: &'a Store, table: &str) -> impl Fn(deltalake::DeltaTableError) -> DeltaError + 'a {
    let table = table.to_string();
    move |source| DeltaError::Delta {
        table: table.clone(),
        location: store.display.clone(),
        source: Box::new(source),
    }
}

fn store_err<'a>(store: &'a Store, path: &str) -> impl Fn(object_store::Error) -> DeltaError + 'a {
    let path = path.to_string();
    move |source| DeltaError::Store {
        path: path.clone(),
        location: store.display.clone(),
        source,
    }
}

/// A table handle on our own object store. delta-rs uses the URL's scheme to pick its default
/// log store and the URL's path as the table's prefix in the store; every byte goes through our
/// `object_store` (local, S3, Azure, GCS), so no delta-rs storage crates are needed. The store
/// is wrapped so listings come back sorted ([`super::sorted`]: a local folder lists in no
/// order, and the kernel needs the log in version order).
fn builder(store: &Store, table: &str) -> Result<DeltaTableBuilder> {
    let path = store.path(&table_dir(table));
    let url = url::Url::parse(&format!("memory:///{}", path.as_ref())).map_err(|e| DeltaError::Log {
        table: table.to_string(),
        message: format!("table URL: {e}"),
    })?;
    Ok(DeltaTableBuilder::from_url(url.clone())
        .map_err(delta_err(store, table))?
        .with_storage_backend(Arc::new(super::sorted::SortedListing(store.store.clone())), url))
}

/// Opens a table at its latest version (or `version`); `None` when there is no table yet.
pub async fn open(store: &Store, table: &str, version: Option<u64>) -> Result<Option<DeltaTable>> {
    let err = delta_err(store, table);
    let mut t = builder(store, table)?.build().map_err(&err)?;
    if !t.verify_deltatable_existence().await.map_err(&err)? {
        return Ok(None);
    }
    match version {
        None => t.load().await.map_err(&err)?,
        Some(v) => t.load_version(v).await.map_err(&err)?,
    }
    Ok(Some(t))
}

/// The data files of a table at a version (latest when `None`), relative to the publish
/// location (`tables/<table>/<file>`), sorted.
pub async fn files_at(store: &Store, table: &str, version: Option<u64>) -> Result<Vec<String>> {
    let Some(t) = open(store, table, version).await? else {
        return Ok(Vec::new());
    };
    let mut files: Vec<String> = t
        .get_files_by_partitions(&[])
        .await
        .map_err(delta_err(store, table))?
        .iter()
        .map(|p| format!("{}/{}", table_dir(table), p.as_ref()))
        .collect();
    files.sort();
    Ok(files)
}

/// The tables under `tables/`, sorted.
pub async fn table_names(store: &Store) -> Result<Vec<String>> {
    let listed = store
        .store
        .list_with_delimiter(Some(&store.path(TABLES)))
        .await
        .map_err(store_err(store, TABLES))?;
    let mut names: Vec<String> = listed
        .common_prefixes
        .iter()
        .filter_map(|p| p.filename().map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

/// Every file under a table's `_delta_log/`, with the log's path.
async fn log_files(store: &Store, table: &str) -> Result<(String, Vec<object_store::ObjectMeta>)> {
    use futures::TryStreamExt;
    let log = format!("{}/_delta_log", table_dir(table));
    let listed = store
        .store
        .list(Some(&store.path(&log)))
        .try_collect()
        .await
        .map_err(store_err(store, &log))?;
    Ok((log, listed))
}

/// The commit files still in a table's log (`_delta_log/<version>.json`), oldest first.
async fn log_entries(store: &Store, table: &str) -> Result<Vec<(u64, object_store::path::Path)>> {
    let (_, listed) = log_files(store, table).await?;
    let mut entries: Vec<(u64, object_store::path::Path)> = listed
        .into_iter()
        .filter_map(|meta| {
            let version = meta
                .location
                .filename()?
                .strip_suffix(".json")
                .filter(|v| v.len() == 20)?
                .parse::<u64>()
                .ok()?;
            Some((version, meta.location))
        })
        .collect();
    entries.sort();
    Ok(entries)
}

async fn read_commit(store: &Store, version: u64, path: &object_store::path::Path) -> Result<Commit> {
    let err = store_err(store, path.as_ref());
    let bytes = store.store.get(path).await.map_err(&err)?.bytes().await.map_err(&err)?;
    Ok(parse_commit(version, &bytes))
}

/// Every commit still in a table's log, oldest first. Read from the JSON entries directly, so
/// it also lists vacuum commits and needs no snapshot.
pub async fn history(store: &Store, table: &str) -> Result<Vec<Commit>> {
    let mut commits = Vec::new();
    for (version, path) in log_entries(store, table).await? {
        commits.push(read_commit(store, version, &path).await?);
    }
    Ok(commits)
}

fn parse_commit(version: u64, bytes: &[u8]) -> Commit {
    let info = String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|v| v.get("commitInfo").cloned())
        .unwrap_or(Value::Null);
    let rows = info["operationMetrics"]["numOutputRows"]
        .as_i64()
        .or_else(|| info["operationMetrics"]["numOutputRows"].as_str()?.parse().ok());
    Commit {
        version,
        run_id: info["userMetadata"].as_str().map(str::to_string),
        operation: info["operation"].as_str().unwrap_or_default().to_string(),
        timestamp: info["timestamp"].as_i64(),
        rows,
    }
}

/// The version of `table` that run `run_id` wrote (its `WRITE` commit), if still in the log.
pub async fn version_of_run(store: &Store, table: &str, run_id: &str) -> Result<Option<u64>> {
    Ok(history(store, table)
        .await?
        .into_iter()
        .rev()
        .find(|c| c.operation == "WRITE" && c.run_id.as_deref() == Some(run_id))
        .map(|c| c.version))
}

/// The latest `WRITE` commit of a table, if any: log entries read newest first, so usually
/// one read (two more after a vacuum).
async fn latest_write(store: &Store, table: &str) -> Result<Option<Commit>> {
    for (version, path) in log_entries(store, table).await?.iter().rev() {
        let commit = read_commit(store, *version, path).await?;
        if commit.operation == "WRITE" {
            return Ok(Some(commit));
        }
    }
    Ok(None)
}

/// Column descriptions per table, from the data dictionary in docs/tables.md (compiled in): a
/// `## \`table\`` heading, its first paragraph (the table's description), then the
/// `| \`column\` | type | meaning |` rows.
pub fn dictionary() -> &'static Dictionary {
    static DICT: OnceLock<Dictionary> = OnceLock::new();
    DICT.get_or_init(|| parse_dictionary(include_str!("../../docs/tables.md")))
}

fn parse_dictionary(text: &str) -> Dictionary {
    let mut out = Dictionary::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            current = h
                .trim()
                .strip_prefix('`')
                .and_then(|h| h.strip_suffix('`'))
                .map(str::to_string);
            if let Some(t) = &current {
                out.entry(t.clone()).or_default();
            }
            continue;
        }
        let Some(entry) = current.as_ref().and_then(|t| out.get_mut(t)) else {
            continue;
        };
        let row = line.trim();
        if let Some(cells) = row.strip_prefix("| `").and_then(|r| r.strip_suffix('|')) {
            let mut parts = cells.splitn(3, " | ");
            let (Some(col), Some(_type), Some(meaning)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let col = col.trim_end_matches('`');
            // Markdown code marks are dropped: BI tools show comments as plain text.
            entry.1.insert(col.to_string(), meaning.trim().replace('`', ""));
        } else if entry.1.is_empty() && !row.is_empty() && !row.starts_with('|') {
            if !entry.0.is_empty() {
                entry.0.push(' ');
            }
            entry.0.push_str(&row.replace('`', ""));
        }
    }
    out
}

/// The Delta type of an Arrow type (as stored in our files' footers).
fn delta_type(table: &str, column: &str, dt: &ArrowType) -> Result<Value> {
    use ArrowType::*;
    let simple = match dt {
        Utf8 | LargeUtf8 | Utf8View => "string",
        Binary | LargeBinary | BinaryView => "binary",
        Boolean => "boolean",
        Int8 => "byte",
        Int16 => "short",
        Int32 => "integer",
        Int64 => "long",
        Float32 => "float",
        Float64 => "double",
        Date32 => "date",
        Timestamp(_, Some(_)) => "timestamp",
        Decimal128(p, s) => return Ok(Value::String(format!("decimal({p},{s})"))),
        List(f) | LargeList(f) => {
            return Ok(json!({
                "type": "array",
                "elementType": delta_type(table, column, f.data_type())?,
                "containsNull": f.is_nullable(),
            }))
        }
        Struct(fields) => {
            let fields = fields
                .iter()
                .map(|f| delta_field(table, f, None))
                .collect::<Result<Vec<_>>>()?;
            return Ok(json!({"type": "struct", "fields": fields}));
        }
        other => {
            return Err(DeltaError::Type {
                table: table.to_string(),
                column: column.to_string(),
                dtype: format!("{other:?}"),
            })
        }
    };
    Ok(Value::String(simple.to_string()))
}

fn delta_field(table: &str, f: &Field, comment: Option<&String>) -> Result<Value> {
    let mut metadata = Map::new();
    if let Some(c) = comment {
        metadata.insert("comment".into(), Value::String(c.clone()));
    }
    Ok(json!({
        "name": f.name(),
        "type": delta_type(table, f.name(), f.data_type())?,
        "nullable": f.is_nullable(),
        "metadata": metadata,
    }))
}

/// The Delta schema (`schemaString`) of a file, with the dictionary's column comments.
fn schema_string(table: &str, meta: &ParquetMetaData) -> Result<String> {
    let file = meta.file_metadata();
    let arrow = deltalake::parquet::arrow::parquet_to_arrow_schema(file.schema_descr(), file.key_value_metadata())
        .map_err(|source| DeltaError::Footer {
            path: table.to_string(),
            source,
        })?;
    let comments = dictionary().get(table).map(|(_, c)| c);
    let fields = arrow
        .fields()
        .iter()
        .map(|f| delta_field(table, f, comments.and_then(|c| c.get(f.name()))))
        .collect::<Result<Vec<_>>>()?;
    Ok(json!({"type": "struct", "fields": fields}).to_string())
}

/// Per-file statistics (`numRecords`, `nullCount`, and `minValues`/`maxValues` for numbers and
/// dates) from the footer's row-group statistics, as the Delta protocol's JSON `stats`.
fn stats(meta: &ParquetMetaData) -> String {
    let file = meta.file_metadata();
    let arrow = deltalake::parquet::arrow::parquet_to_arrow_schema(file.schema_descr(), file.key_value_metadata()).ok();
    let (mut min, mut max, mut nulls) = (Map::new(), Map::new(), Map::new());
    for (i, col) in file.schema_descr().columns().iter().enumerate() {
        if col.path().parts().len() != 1 {
            continue; // nested (list) columns: no statistics
        }
        let name = col.name().to_string();
        let is_date = arrow
            .as_ref()
            .and_then(|a| a.field_with_name(&name).ok())
            .is_some_and(|f| f.data_type() == &ArrowType::Date32);
        let mut null_count = Some(0u64);
        let mut range: Option<(Num, Num)> = None;
        let mut complete = true;
        for rg in meta.row_groups() {
            let s = rg.column(i).statistics();
            null_count = null_count
                .zip(s.and_then(Statistics::null_count_opt))
                .map(|(a, b)| a + b);
            match (s.and_then(min_max), rg.num_rows()) {
                (Some((lo, hi)), _) => {
                    range = Some(match range {
                        None => (lo, hi),
                        Some((a, b)) => (a.min(lo), b.max(hi)),
                    })
                }
                (None, 0) => {}
                (None, _) => complete = false,
            }
        }
        if let Some(n) = null_count {
            nulls.insert(name.clone(), json!(n));
        }
        if let (Some((lo, hi)), true) = (range, complete) {
            min.insert(name.clone(), lo.to_json(is_date));
            max.insert(name, hi.to_json(is_date));
        }
    }
    json!({
        "numRecords": file.num_rows(),
        "minValues": min,
        "maxValues": max,
        "nullCount": nulls,
    })
    .to_string()
}

/// A statistics value: integers kept exact, floats as floats.
#[derive(Debug, Clone, Copy)]
enum Num {
    I(i64),
    F(f64),
}

impl Num {
    fn as_f64(self) -> f64 {
        match self {
            Num::I(v) => v as f64,
            Num::F(v) => v,
        }
    }
    fn min(self, other: Num) -> Num {
        match (self, other) {
            (Num::I(a), Num::I(b)) => Num::I(a.min(b)),
            (a, b) => Num::F(a.as_f64().min(b.as_f64())),
        }
    }
    fn max(self, other: Num) -> Num {
        match (self, other) {
            (Num::I(a), Num::I(b)) => Num::I(a.max(b)),
            (a, b) => Num::F(a.as_f64().max(b.as_f64())),
        }
    }
    /// The JSON value Delta statistics use: a number, or a date as `YYYY-MM-DD`.
    fn to_json(self, is_date: bool) -> Value {
        match (self, is_date) {
            (Num::I(days), true) => {
                json!((chrono::NaiveDate::default() + chrono::Duration::days(days)).to_string())
            }
            (Num::I(v), false) => json!(v),
            (Num::F(v), _) => json!(v),
        }
    }
}

/// Min and max of one row group's column, for numeric physical types.
fn min_max(s: &Statistics) -> Option<(Num, Num)> {
    Some(match s {
        Statistics::Int32(v) => (Num::I(i64::from(*v.min_opt()?)), Num::I(i64::from(*v.max_opt()?))),
        Statistics::Int64(v) => (Num::I(*v.min_opt()?), Num::I(*v.max_opt()?)),
        Statistics::Float(v) => (Num::F(f64::from(*v.min_opt()?)), Num::F(f64::from(*v.max_opt()?))),
        Statistics::Double(v) => (Num::F(*v.min_opt()?), Num::F(*v.max_opt()?)),
        _ => return None,
    })
}

/// The name of a run file inside its Delta table: `<run_id>-<file name>`
/// (`runs/R/projects/financial_year_2025.parquet` → `R-financial_year_2025.parquet`), unique
/// across runs, so a table's history files (the quarantine) keep their names from run to run.
/// Files of runs published before issue #17 sit in Hive folders (`financial_year=2024/`,
/// `run_id=R/`): their folders become part of the name (`R-financial_year_2024-part-00000.parquet`).
pub fn data_file_name(file: &str) -> String {
    let parts: Vec<&str> = file.split('/').collect();
    match parts.as_slice() {
        ["runs", run, _table, rest @ ..] if !rest.is_empty() => {
            format!("{run}-{}", rest.join("-").replace('=', "_"))
        }
        _ => parts.last().copied().unwrap_or(file).to_string(),
    }
}

/// A data file placed in a table folder, not yet committed.
struct Staged {
    name: String,
    size: u64,
    modified: i64,
    meta: ParquetMetaData,
}

/// Copies one run file into the table's folder (a server-side copy; files written before plain
/// types, in Hive `key=value` folders, are re-encoded with plain types instead) and reads its
/// footer. Invisible to
/// readers until committed; a file left by a crash here is removed by a later full vacuum.
async fn stage(store: &Store, table: &str, file: &str) -> Result<Staged> {
    let name = data_file_name(file);
    let target = format!("{}/{name}", table_dir(table));
    if file.contains('=') {
        let mut df = super::read_table(store, &[file.to_string()]).await?.unwrap_or_default();
        let bytes = super::to_parquet(&mut df).map_err(|source| super::PublishError::Encode {
            table: file.to_string(),
            source,
        })?;
        super::put(store, &target, bytes).await?;
    } else {
        store
            .store
            .copy(&store.path(file), &store.path(&target))
            .await
            .map_err(store_err(store, &target))?;
    }
    let head = store
        .store
        .head(&store.path(&target))
        .await
        .map_err(store_err(store, &target))?;
    let mut reader = ParquetObjectReader::new(store.store.clone(), head.location.clone()).with_file_size(head.size);
    let meta = ParquetMetaDataReader::new()
        .load_and_finish(&mut reader, head.size)
        .await
        .map_err(|source| DeltaError::Footer {
            path: target.clone(),
            source,
        })?;
    Ok(Staged {
        name,
        size: head.size,
        modified: head.last_modified.timestamp_millis(),
        meta,
    })
}

/// The table properties: retention through the format's own settings, and statistics read
/// for every column (readers use only the first 32 columns' by default; `financial_year` is
/// the 47th column of `projects`). Neither needs a table feature.
fn configuration(retention_days: u32) -> Value {
    let days = format!("interval {retention_days} days");
    json!({
        "delta.deletedFileRetentionDuration": days,
        "delta.logRetentionDuration": days,
        "delta.dataSkippingNumIndexedCols": "-1",
    })
}

/// A stable table id (the Delta `metaData.id`) derived from where and when the table was made.
fn table_id(store: &Store, table: &str, run_id: &str) -> String {
    use sha2::Digest;
    let h = hex::encode(sha2::Sha256::digest(format!("{}/{table}/{run_id}", store.display)));
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// The `metaData` action to commit, if the table is new or its schema, description or
/// properties change; an existing table keeps its id and creation time.
fn metadata_action(
    table: &str,
    current: Option<&Value>,
    schema: Option<String>,
    retention_days: u32,
    new_id: String,
    now: i64,
) -> Result<Option<Action>> {
    let description = dictionary().get(table).map(|(d, _)| d.clone()).unwrap_or_default();
    let schema = match (schema, current) {
        (Some(s), _) => s,
        (None, Some(c)) => c["schemaString"].as_str().unwrap_or_default().to_string(),
        (None, None) => return Ok(None),
    };
    let value = json!({
        "id": current.map_or(Value::String(new_id), |c| c["id"].clone()),
        "name": table,
        "description": description,
        "format": {"provider": "parquet", "options": {}},
        "schemaString": schema,
        "partitionColumns": [],
        "configuration": configuration(retention_days),
        "createdTime": current.map_or(json!(now), |c| c["createdTime"].clone()),
    });
    let unchanged = current.is_some_and(|c| {
        ["schemaString", "configuration", "description", "name"]
            .iter()
            .all(|k| c[*k] == value[*k])
    });
    if unchanged {
        return Ok(None);
    }
    let metadata = serde_json::from_value(value).map_err(|e| DeltaError::Log {
        table: table.to_string(),
        message: format!("metadata: {e}"),
    })?;
    Ok(Some(Action::Metadata(metadata)))
}

fn add_action(s: &Staged) -> Action {
    Action::Add(Add {
        path: s.name.clone(),
        partition_values: HashMap::new(),
        size: s.size as i64,
        modification_time: s.modified,
        data_change: true,
        stats: Some(stats(&s.meta)),
        ..Default::default()
    })
}

fn remove_action(path: String, now: i64) -> Action {
    Action::Remove(Remove {
        path,
        data_change: true,
        deletion_timestamp: Some(now),
        extended_file_metadata: Some(false),
        ..Default::default()
    })
}

/// What a table should become for a run: its files (staged unless already in the table).
struct Plan {
    actions: Vec<Action>,
    files: usize,
}

/// Stages the run's files and builds the overwrite's actions against the current snapshot.
async fn plan(
    store: &Store,
    table: &str,
    entry: &TableEntry,
    current: Option<&DeltaTable>,
    run_id: &str,
    retention_days: u32,
    now: i64,
) -> Result<Plan> {
    let err = delta_err(store, table);
    let active: BTreeSet<String> = match current {
        Some(t) => t
            .get_files_by_partitions(&[])
            .await
            .map_err(&err)?
            .iter()
            .map(|p| p.as_ref().to_string())
            .collect(),
        None => BTreeSet::new(),
    };
    let mut wanted = BTreeSet::new();
    let mut adds = Vec::new();
    let mut schema = None;
    for file in &entry.files {
        let name = data_file_name(file);
        if wanted.insert(name.clone()) && !active.contains(&name) {
            let staged = stage(store, table, file).await?;
            schema = Some(schema_string(table, &staged.meta)?);
            adds.push(add_action(&staged));
        }
    }
    let current_meta = match current {
        Some(t) => Some(
            serde_json::to_value(t.snapshot().map_err(&err)?.metadata()).map_err(|e| DeltaError::Log {
                table: table.to_string(),
                message: e.to_string(),
            })?,
        ),
        None => None,
    };
    let mut actions = Vec::new();
    if current.is_none() {
        let protocol = serde_json::from_value(json!({"minReaderVersion": 1, "minWriterVersion": 2})).map_err(|e| {
            DeltaError::Log {
                table: table.to_string(),
                message: format!("protocol: {e}"),
            }
        })?;
        actions.push(Action::Protocol(protocol));
    }
    let new_id = table_id(store, table, run_id);
    actions.extend(metadata_action(
        table,
        current_meta.as_ref(),
        schema,
        retention_days,
        new_id,
        now,
    )?);
    actions.extend(active.difference(&wanted).map(|p| remove_action(p.clone(), now)));
    actions.extend(adds);
    Ok(Plan {
        actions,
        files: wanted.len(),
    })
}

/// Replaces a table's contents with the manifest entry's files in one commit (an overwrite
/// whose `commitInfo.userMetadata` is the run id) and returns the new version. A table whose
/// latest write is already this run's is left as it is (so [`sync`] can be repeated).
pub async fn sync_table(
    store: &Store,
    table: &str,
    entry: &TableEntry,
    run_id: &str,
    retention_days: u32,
    now: DateTime<Utc>,
) -> Result<u64> {
    let err = delta_err(store, table);
    if let Some(last) = latest_write(store, table).await? {
        if last.run_id.as_deref() == Some(run_id) {
            return Ok(last.version);
        }
    }
    let current = open_or_set_aside(store, table, now).await?;
    let now_ms = now.timestamp_millis();
    let plan = plan(store, table, entry, current.as_ref(), run_id, retention_days, now_ms).await?;
    let app_metadata = HashMap::from([
        ("userMetadata".to_string(), json!(run_id)),
        (
            "operationMetrics".to_string(),
            json!({"numFiles": plan.files.to_string(), "numOutputRows": entry.rows.to_string()}),
        ),
    ]);
    let operation = DeltaOperation::Write {
        mode: SaveMode::Overwrite,
        partition_by: None,
        predicate: None,
    };
    let log_store = match &current {
        Some(t) => t.log_store(),
        None => builder(store, table)?.build().map_err(&err)?.log_store(),
    };
    let snapshot: Option<&dyn TableReference> = match &current {
        Some(t) => Some(t.snapshot().map_err(&err)?),
        None => None,
    };
    let done = CommitBuilder::default()
        .with_actions(plan.actions)
        .with_app_metadata(app_metadata)
        .build(snapshot, log_store, operation)
        .await
        .map_err(&err)?;
    Ok(done.version())
}

/// Opens a table for a commit. A table whose log delta-rs cannot replay, although every log
/// entry reads as bytes and a second attempt fails the same way (a damaged or foreign entry, not
/// an unreachable store, which must never cost a table its history), has its log set aside
/// ([`set_aside_log`]) and starts again: `None`, like a new table.
async fn open_or_set_aside(store: &Store, table: &str, now: DateTime<Utc>) -> Result<Option<DeltaTable>> {
    if let Ok(t) = open(store, table, None).await {
        return Ok(t);
    }
    history(store, table).await?;
    match open(store, table, None).await {
        Ok(t) => Ok(t),
        Err(e) => {
            let moved = set_aside_log(store, table, now).await?;
            tracing::warn!(table, error = %e, moved_to = %moved, "a Delta log that cannot be read was set aside; the table starts again from this run");
            Ok(None)
        }
    }
}

/// Moves a table's unreadable `_delta_log/` aside, object by object, to
/// `_delta_log.unreadable-<time>/` inside the table folder (kept for inspection; Delta readers
/// ignore folders starting with `_`), so the next commit starts the table again at version 0
/// instead of every later run failing on it. Its data files stay until a vacuum finds them
/// unreferenced and older than the retention. Returns where the log went.
async fn set_aside_log(store: &Store, table: &str, now: DateTime<Utc>) -> Result<String> {
    let (log, listed) = log_files(store, table).await?;
    let aside = format!("{log}.unreadable-{}", now.format("%Y%m%dT%H%M%SZ"));
    for meta in listed {
        let name = meta
            .location
            .as_ref()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let target = store.path(&format!("{aside}/{name}"));
        store
            .store
            .copy(&meta.location, &target)
            .await
            .map_err(store_err(store, &aside))?;
        store
            .store
            .delete(&meta.location)
            .await
            .map_err(store_err(store, &log))?;
    }
    Ok(aside)
}

/// Brings every table of a committed manifest into its Delta table ([`sync_table`]) and returns
/// the versions; a table that fails is logged and left on its previous version (the others
/// still go ahead).
pub async fn sync(
    store: &Store,
    manifest: &Manifest,
    retention_days: u32,
    now: DateTime<Utc>,
) -> BTreeMap<String, u64> {
    let mut versions = BTreeMap::new();
    for (table, entry) in &manifest.tables {
        match sync_table(store, table, entry, &manifest.run_id, retention_days, now).await {
            Ok(v) => {
                versions.insert(table.clone(), v);
            }
            Err(e) => tracing::error!(
                table = %table,
                error = %e,
                "Delta table not updated; it still shows an earlier run (the next run completes it)"
            ),
        }
    }
    versions
}

/// At the start of a run (holding the publish lock, before anything can fail): completes the
/// Delta commits of the committed run that `manifest.json` names if a crash cut them short.
/// Tables already on that run are left untouched; a manifest that cannot be read is left to the
/// run, which sets it aside.
pub async fn repair(store: &Store, retention_days: u32, now: DateTime<Utc>) {
    let Ok(Some(previous)) = super::read_manifest(store).await else {
        return;
    };
    let versions = sync(store, &previous, retention_days, now).await;
    tracing::debug!(
        tables = versions.len(),
        "Delta tables checked against the committed manifest"
    );
}

/// The run's clock, for vacuum.
#[derive(Debug)]
struct RunClock(i64);

impl Clock for RunClock {
    fn current_timestamp_millis(&self) -> i64 {
        self.0
    }
}

/// Vacuums one table (full mode: files removed from the table more than `retention_days` ago,
/// by the run's clock, and files never committed that are that old) and returns how many files
/// were deleted. Versions older than that can no longer be read (their log entries stay until
/// `delta.logRetentionDuration` at a checkpoint).
pub async fn vacuum(store: &Store, table: &str, retention_days: u32, now: DateTime<Utc>) -> Result<usize> {
    let Some(t) = open(store, table, None).await? else {
        return Ok(0);
    };
    let (_, metrics) = t
        .vacuum()
        .with_retention_period(chrono::Duration::days(i64::from(retention_days)))
        .with_mode(VacuumMode::Full)
        .with_clock(Arc::new(RunClock(now.timestamp_millis())))
        .await
        .map_err(delta_err(store, table))?;
    Ok(metrics.files_deleted.len())
}

/// After the manifest commit: every table's Delta commit ([`sync`]), then vacuum. Returns the
/// manifest with each table's Delta version (`delta_version`), which `current/manifest.json`
/// then carries. Failures are logged, never fail the (already committed) run.
pub async fn publish(store: &Store, manifest: Manifest, retention_days: u32, now: DateTime<Utc>) -> Manifest {
    let started = std::time::Instant::now();
    let versions = sync(store, &manifest, retention_days, now).await;
    let mut manifest = manifest;
    for (table, entry) in manifest.tables.iter_mut() {
        entry.delta_version = versions.get(table).copied();
    }
    for table in versions.keys() {
        match vacuum(store, table, retention_days, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(table = %table, files = n, "Delta vacuum removed files past retention"),
            Err(e) => tracing::warn!(table = %table, error = %e, "Delta vacuum failed"),
        }
    }
    tracing::info!(
        tables = versions.len(),
        secs = started.elapsed().as_secs_f64(),
        "Delta tables committed"
    );
    manifest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dictionary_gives_every_documented_table_a_description_and_plain_comments() {
        let dict = dictionary();
        let (description, columns) = &dict["projects"];
        assert!(
            description.starts_with("One row per accepted source record"),
            "{description}"
        );
        assert_eq!(columns["run_id"], "run that published the row");
        assert!(columns.values().all(|c| !c.contains('`')), "code marks dropped");
        for (table, (description, columns)) in dict {
            assert!(!description.is_empty(), "{table} has a description");
            assert!(columns.contains_key("run_id"), "{table} documents run_id");
        }
        assert!(
            !dict.keys().any(|t| t.contains('/')),
            "only table headings: {:?}",
            dict.keys()
        );
    }

    #[test]
    fn run_files_get_unique_names_in_the_table_folder() {
        assert_eq!(
            data_file_name("runs/20261122T020000000Z-3fa9c1/projects/financial_year_2025.parquet"),
            "20261122T020000000Z-3fa9c1-financial_year_2025.parquet"
        );
        assert_eq!(
            data_file_name("runs/old/quarantine/run_id=old/part-00000.parquet"),
            "old-run_id_old-part-00000.parquet"
        );
        // Legacy Hive year folders: one name per year, not one name for all.
        assert_eq!(
            data_file_name("runs/old/projects/financial_year=2024/part-00000.parquet"),
            "old-financial_year_2024-part-00000.parquet"
        );
    }

    /// A manifest from before issue #17 (Hive year folders, `UInt32` and `string_view` columns)
    /// becomes a Delta table with one file per year and plain types: what the first run after
    /// an upgrade does for the last run before it.
    #[test]
    fn a_manifest_in_the_legacy_layout_becomes_a_delta_table_with_plain_types() {
        use polars::prelude::*;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_folder(&crate::domain::location::Location::Local(dir.path().to_path_buf())).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let mut files = Vec::new();
        for year in [2024i32, 2025] {
            let mut df =
                df!("financial_year" => [year, year], "source_row" => [1u32, 2], "name" => ["a", "b"]).unwrap();
            let mut bytes = Vec::new();
            ParquetWriter::new(&mut bytes).finish(&mut df).unwrap();
            let rel = format!("runs/old/projects/financial_year={year}/part-00000.parquet");
            rt.block_on(super::super::put(&store, &rel, bytes)).unwrap();
            files.push(rel);
        }
        let manifest: Manifest = serde_json::from_value(json!({
            "format_version": 1, "pipeline": "p", "run_id": "old", "started_at": "", "finished_at": "",
            "harvester_version": "", "inputs": [], "data_quality": [],
            "tables": {"projects": {"files": files, "rows": 4, "partitioned_by": "financial_year"}},
        }))
        .unwrap();
        let versions = rt.block_on(sync(&store, &manifest, 30, Utc::now()));
        assert_eq!(versions.get("projects"), Some(&0));
        let active = rt.block_on(files_at(&store, "projects", None)).unwrap();
        assert_eq!(
            active,
            [
                "tables/projects/old-financial_year_2024-part-00000.parquet",
                "tables/projects/old-financial_year_2025-part-00000.parquet"
            ]
        );
        let t = rt.block_on(open(&store, "projects", None)).unwrap().unwrap();
        let meta = serde_json::to_value(t.snapshot().unwrap().metadata()).unwrap();
        let schema: Value = serde_json::from_str(meta["schemaString"].as_str().unwrap()).unwrap();
        let types: Vec<&str> = schema["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["integer", "integer", "string"]);
    }

    #[test]
    fn types_without_a_table_feature_are_refused() {
        use deltalake::arrow::datatypes::TimeUnit;
        let ntz = ArrowType::Timestamp(TimeUnit::Microsecond, None);
        assert!(matches!(delta_type("t", "c", &ntz), Err(DeltaError::Type { .. })));
        assert!(delta_type("t", "c", &ArrowType::UInt32).is_err());
        assert_eq!(delta_type("t", "c", &ArrowType::LargeUtf8).unwrap(), "string");
        assert_eq!(delta_type("t", "c", &ArrowType::Date32).unwrap(), "date");
    }
}

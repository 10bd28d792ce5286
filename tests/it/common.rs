//! Helpers shared by the integration tests.

use chrono::{TimeZone, Utc};
use harvester::config::Pipeline;
use polars::prelude::*;
use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared real-data folder beside the checkout.
pub fn real(rel: &str) -> PathBuf {
    repo().join("../shared/data/real").join(rel)
}

/// A fixed clock for runs.
pub fn clock(minute: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 2, minute, 0)
        .single()
        .expect("valid time")
}

/// The sample pipeline, publishing into `out`.
pub fn sample_pipeline(out: &Path) -> Pipeline {
    let mut p = Pipeline::load(&repo().join("pipelines/sample.toml"), &repo()).expect("sample pipeline loads");
    p.override_publish(out.to_str().expect("utf-8 path"), &repo())
        .expect("publish override");
    p
}

/// Reads every file of a table listed in a manifest into one DataFrame.
pub fn read_table(out: &Path, manifest: &serde_json::Value, table: &str) -> DataFrame {
    let files = manifest["tables"][table]["files"]
        .as_array()
        .expect("table in manifest");
    let mut frames = Vec::new();
    for f in files {
        let bytes = std::fs::read(out.join(f.as_str().expect("path"))).expect("file exists");
        let df = ParquetReader::new(std::io::Cursor::new(bytes))
            .finish()
            .expect("valid parquet");
        frames.push(df);
    }
    let mut all = frames.remove(0);
    for f in frames {
        all.vstack_mut(&f).expect("same schema");
    }
    all
}

/// The manifest at the root of a publish location.
pub fn manifest(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("manifest.json")).expect("manifest exists"))
        .expect("manifest is JSON")
}

/// Runs a future on a fresh runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// The string values of a column, nulls as None.
pub fn strings(df: &DataFrame, column: &str) -> Vec<Option<String>> {
    let ca = df.column(column).expect("column").str().expect("strings").clone();
    (0..ca.len()).map(|i| ca.get(i).map(str::to_string)).collect()
}

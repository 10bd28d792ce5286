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

/// The hand-made in-year pipeline (`tests/data/sc36_in_year/`: SC36 2024/25 M06 lines of EC121
/// and EC122), publishing to `out`.
pub fn in_year_pipeline(out: &Path) -> Pipeline {
    let mut p =
        Pipeline::load(&repo().join("tests/data/sc36_in_year/pipeline.toml"), &repo()).expect("in-year pipeline loads");
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

/// Asserts that two runs on the same inputs published the same tables except for the run id.
/// Each file must be exactly the Parquet encoding of its rows (so comparing rows compares
/// bytes), every row's `run_id` must name the run whose folder holds the file, and with the
/// `run_id` column dropped the two files must encode to the same bytes. The exception register
/// is left out: it names runs in `first_seen_run` and `last_seen_run` by design.
pub fn assert_same_tables_except_run_id(
    a: &Path,
    ma: &harvester::publish::Manifest,
    b: &Path,
    mb: &harvester::publish::Manifest,
) {
    use harvester::publish::{to_parquet, HISTORY_TABLES, RUN_ID};
    let run_of = |f: &str| f.split('/').nth(1).expect("runs/<run_id>/...").to_string();
    let names = |files: &[String]| {
        files
            .iter()
            .map(|f| f.rsplit('/').next().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    for (name, ta) in &ma.tables {
        if name == "exception_register" {
            continue;
        }
        let tb = &mb.tables[name];
        if !HISTORY_TABLES.contains(&name.as_str()) {
            assert_eq!(names(&ta.files), names(&tb.files), "{name}");
        }
        for (fa, fb) in ta.files.iter().zip(&tb.files) {
            let mut frames = Vec::new();
            for (root, f) in [(a, fa), (b, fb)] {
                let bytes = std::fs::read(root.join(f)).expect("file exists");
                let mut df = ParquetReader::new(std::io::Cursor::new(bytes.clone()))
                    .finish()
                    .expect("valid parquet");
                assert!(
                    to_parquet(&mut df.clone()).unwrap() == bytes,
                    "{f} is not the plain encoding of its rows"
                );
                let run = run_of(f);
                assert!(
                    strings(&df, RUN_ID).iter().all(|r| r.as_deref() == Some(run.as_str())),
                    "{f}: every row names its run"
                );
                df.drop_in_place(RUN_ID).expect("run_id column");
                // The quarantine's first_seen_run names a run too (this one, on a first run).
                if df.drop_in_place("first_seen_run").is_ok() {
                    assert_eq!(name, "quarantine");
                }
                frames.push(to_parquet(&mut df).unwrap());
            }
            assert!(frames[0] == frames[1], "{fa} differs from {fb} beyond run_id");
        }
    }
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

/// What the test HTTP server does with one request.
pub enum Reply {
    /// Answer with this status line (e.g. `200 OK`), extra header lines (each ending in `\r\n`)
    /// and body, then close.
    Send(&'static str, String, Vec<u8>),
    /// Keep the connection open and say nothing (a stalled server).
    Hold,
}

/// One request as the test HTTP server saw it.
pub struct Request {
    /// The path, e.g. `/flaky.csv`.
    pub path: String,
    /// The request head, lower-cased header names included as sent.
    pub head: String,
    /// How many requests this path has had, this one included.
    pub count: usize,
}

impl Request {
    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    }
}

/// A real HTTP/1.1 server on 127.0.0.1 answering each request through `handle`; returns its base
/// URL (`http://127.0.0.1:PORT`) and its task (abort it to take the server away).
pub async fn http_server<F>(handle: F) -> (String, tokio::task::JoinHandle<()>)
where
    F: FnMut(&Request) -> Reply + Send + 'static,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut handle = handle;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        let mut held = Vec::new();
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = vec![0u8; 8192];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            let count = {
                let c = counts.entry(path.clone()).or_default();
                *c += 1;
                *c
            };
            match handle(&Request { path, head, count }) {
                Reply::Hold => held.push(sock),
                Reply::Send(status, extra, body) => {
                    let mut r = format!(
                        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(&body);
                    let _ = sock.write_all(&r).await;
                    let _ = sock.shutdown().await;
                }
            }
        }
    });
    (base, task)
}

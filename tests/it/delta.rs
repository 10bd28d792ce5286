//! Issue #17, Delta Lake tables at `<out>/tables/<table>/`: read back with delta-rs (log replay)
//! and arrow-rs (the data files), row counts against the manifest, the second run at the stable
//! path and the first by time travel, a run killed mid-write, an interrupted set of Delta
//! commits completed by the next run, vacuum after `retention_days`, column comments.

use crate::common::*;
use chrono::{TimeZone, Utc};
use deltalake::arrow::array::{Array, LargeStringArray, StringArray};
use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use harvester::domain::location::Location;
use harvester::publish::delta;
use harvester::run::run;
use harvester::storage::Store;
use std::collections::BTreeMap;
use std::path::Path;

fn store(out: &Path) -> Store {
    Store::open_folder(&Location::Local(out.to_path_buf())).unwrap()
}

/// Rows and the distinct `run_id`s of a table's data files at a version (latest when `None`):
/// delta-rs replays the log to the version's active files, arrow-rs reads them.
fn read_delta(out: &Path, table: &str, version: Option<u64>) -> (usize, Vec<String>) {
    let files = block_on(delta::files_at(&store(out), table, version)).unwrap();
    assert!(!files.is_empty(), "{table} has data files");
    let mut rows = 0;
    let mut runs = std::collections::BTreeSet::new();
    for f in files {
        let bytes = bytes::Bytes::from(std::fs::read(out.join(&f)).unwrap());
        for batch in ParquetRecordBatchReaderBuilder::try_new(bytes)
            .unwrap()
            .build()
            .unwrap()
        {
            let batch = batch.unwrap();
            rows += batch.num_rows();
            let col = batch.column_by_name("run_id").expect("run_id column");
            let values: Vec<String> = match col.as_any().downcast_ref::<LargeStringArray>() {
                Some(a) => a.iter().flatten().map(str::to_string).collect(),
                None => col
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .expect("run_id is a string")
                    .iter()
                    .flatten()
                    .map(str::to_string)
                    .collect(),
            };
            runs.extend(values);
        }
    }
    (rows, runs.into_iter().collect())
}

/// The latest `WRITE` commit's run id of every table under `tables/`.
fn latest_runs(out: &Path) -> BTreeMap<String, String> {
    let s = store(out);
    block_on(async {
        let mut m = BTreeMap::new();
        for t in delta::table_names(&s).await.unwrap() {
            let h = delta::history(&s, &t).await.unwrap();
            let last = h.iter().rev().find(|c| c.operation == "WRITE").unwrap();
            m.insert(t, last.run_id.clone().unwrap());
        }
        m
    })
}

/// Two runs: every table in the manifest is a Delta table whose latest version holds the second
/// run (row counts as in the manifest, every row's run_id), reader 1 / writer 2, with a comment
/// on every column; the data files are byte for byte the run's own files; time travel by the
/// first run's id gives the first run's rows.
#[test]
fn delta_tables_hold_the_latest_run_and_travel_back_to_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let p = sample_pipeline(&out);
    let first = block_on(run(&p, clock(0))).unwrap();
    let second = block_on(run(&p, clock(1))).unwrap();
    let (r1, r2) = (&first.manifest.run_id, &second.manifest.run_id);
    let s = store(&out);
    let names = block_on(delta::table_names(&s)).unwrap();
    let in_manifest: Vec<String> = second.manifest.tables.keys().cloned().collect();
    assert_eq!(names, in_manifest, "one Delta table per published table");
    let current = manifest(&out.join("current"));
    for (name, entry) in &second.manifest.tables {
        let t = block_on(delta::open(&s, name, None)).unwrap().expect("table exists");
        let version = t.version().unwrap();
        assert_eq!(
            entry.delta_version,
            Some(version),
            "{name}: run summary names the version"
        );
        assert_eq!(
            current["tables"][name]["delta_version"], version,
            "{name}: current/manifest.json"
        );
        let snapshot = t.snapshot().unwrap();
        assert_eq!(snapshot.protocol().min_reader_version(), 1, "{name}");
        assert_eq!(snapshot.protocol().min_writer_version(), 2, "{name}");
        let meta = serde_json::to_value(snapshot.metadata()).unwrap();
        assert_eq!(
            meta["configuration"]["delta.dataSkippingNumIndexedCols"], "-1",
            "{name}"
        );
        assert_eq!(
            meta["configuration"]["delta.deletedFileRetentionDuration"],
            "interval 30 days"
        );
        let schema: serde_json::Value = serde_json::from_str(meta["schemaString"].as_str().unwrap()).unwrap();
        for field in schema["fields"].as_array().unwrap() {
            let comment = field["metadata"]["comment"].as_str().unwrap_or_default();
            assert!(!comment.is_empty(), "{name}.{} has a comment", field["name"]);
        }
        let (rows, runs) = read_delta(&out, name, None);
        assert_eq!(rows, entry.rows, "{name}: rows as in the manifest");
        if harvester::publish::RUN_HISTORY_TABLES.contains(&name.as_str()) {
            assert_eq!(runs, [r1.clone(), r2.clone()], "{name} keeps both runs' rows");
        } else if entry.rows == 0 {
            // A table the inputs give no rows (spending_performance without an SC36).
            assert!(runs.is_empty(), "{name}: an empty table names no run");
        } else {
            assert_eq!(
                runs,
                std::slice::from_ref(r2),
                "{name}: the stable path shows the second run"
            );
        }
        // Time travel by run id: the first run's version.
        let v1 = block_on(delta::version_of_run(&s, name, r1))
            .unwrap()
            .expect("first run's version");
        let (rows1, runs1) = read_delta(&out, name, Some(v1));
        assert_eq!(rows1, first.manifest.tables[name].rows, "{name} at version {v1}");
        if rows1 > 0 {
            assert_eq!(runs1, std::slice::from_ref(r1), "{name} at version {v1}");
        }
        // Data files are the run's own files, byte for byte.
        for f in block_on(delta::files_at(&s, name, None)).unwrap() {
            let file = f.rsplit('/').next().unwrap();
            let (run_id, own) = file.split_at(26);
            let original = out.join(format!("runs/{run_id}/{name}/{}", &own[1..]));
            assert_eq!(
                std::fs::read(out.join(&f)).unwrap(),
                std::fs::read(&original).unwrap(),
                "{f}"
            );
        }
    }
    // Statistics: each year's file of `projects` says which year it holds.
    let log = std::fs::read_to_string(out.join("tables/projects/_delta_log/00000000000000000001.json")).unwrap();
    let add = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| {
            v["add"]["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("financial_year_2025.parquet"))
        })
        .expect("an add action for 2025");
    let stats: serde_json::Value = serde_json::from_str(add["add"]["stats"].as_str().unwrap()).unwrap();
    assert_eq!(stats["minValues"]["financial_year"], 2025);
    assert_eq!(stats["maxValues"]["financial_year"], 2025);
    assert!(stats["numRecords"].as_i64().unwrap() > 0);
    // The commit names the run in userMetadata, for Spark's DESCRIBE HISTORY and friends.
    let info = log
        .lines()
        .find_map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()?
                .get("commitInfo")
                .cloned()
        })
        .unwrap();
    assert_eq!(info["userMetadata"], r2.as_str());
    assert_eq!(info["operation"], "WRITE");
}

/// `harvester run` stopped dead (SIGSTOP, then SIGKILL) while it writes its tables: every Delta
/// table still shows the previous run, whole; the next run publishes normally.
#[test]
fn a_run_killed_mid_write_leaves_the_delta_tables_on_the_previous_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut committed = block_on(run(&sample_pipeline(&out), clock(0))).unwrap().manifest;
    let mut caught = false;
    for _attempt in 0..5 {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_harvester"))
            .args(["run", repo().join("pipelines/sample.toml").to_str().unwrap()])
            .args(["--out", out.to_str().unwrap()])
            .env("HARVESTER_HISTORY", tmp.path().join("history.sqlite"))
            .current_dir(tmp.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id().to_string();
        let started = std::time::Instant::now();
        // Wait until the new run has written a table but not yet its manifest.
        let writing = loop {
            if child.try_wait().unwrap().is_some() || started.elapsed().as_secs() > 600 {
                break None;
            }
            let new_run = std::fs::read_dir(out.join("runs")).unwrap().flatten().find_map(|e| {
                let id = e.file_name().to_string_lossy().to_string();
                (id != committed.run_id && e.path().join("projects").exists()).then_some(id)
            });
            if let Some(id) = new_run {
                break Some(id);
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        };
        let stopped = std::process::Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap();
        let root_manifest = manifest(&out);
        let mid_write = stopped.success()
            && writing.as_ref().is_some_and(|id| {
                root_manifest["run_id"] == committed.run_id.as_str()
                    && !out.join(format!("runs/{id}/manifest.json")).exists()
            });
        let _ = child.kill();
        let _ = child.wait();
        if mid_write {
            caught = true;
            break;
        }
        // Too late: that run committed; it is the previous run for the next attempt.
        let m = manifest(&out);
        committed = serde_json::from_value(m).unwrap();
        let _ = std::fs::remove_file(out.join(".lock"));
    }
    assert!(
        caught,
        "no attempt stopped the run between its first table and its manifest"
    );
    // The Delta tables: every one on the committed run, with its rows.
    let latest = latest_runs(&out);
    assert_eq!(latest.len(), committed.tables.len());
    for (name, entry) in &committed.tables {
        assert_eq!(latest[name], committed.run_id, "{name} still shows the committed run");
        assert_eq!(read_delta(&out, name, None).0, entry.rows, "{name}");
    }
    // The next run (taking the dead run's lock over) publishes normally.
    let next = block_on(run(&sample_pipeline(&out), clock(30))).unwrap();
    let latest = latest_runs(&out);
    assert!(latest.values().all(|r| *r == next.manifest.run_id), "{latest:?}");
}

/// A crash after the manifest commit but before every table's Delta commit (simulated by
/// removing the last commit of some tables) is completed by the next run before anything
/// else, so even a next run that fails leaves every table on the committed run.
#[test]
fn interrupted_delta_commits_are_completed_by_the_next_run_even_a_failing_one() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let p = sample_pipeline(&out);
    block_on(run(&p, clock(0))).unwrap();
    let second = block_on(run(&p, clock(1))).unwrap();
    for table in ["projects", "links", "variances"] {
        std::fs::remove_file(out.join(format!("tables/{table}/_delta_log/00000000000000000001.json"))).unwrap();
    }
    let latest = latest_runs(&out);
    assert_ne!(
        latest["projects"], second.manifest.run_id,
        "projects back on the first run"
    );
    let mut failing = sample_pipeline(&out);
    failing.override_source("idp=/nonexistent/idp.csv", &repo()).unwrap();
    assert!(block_on(run(&failing, clock(2))).is_err(), "the third run fails");
    let latest = latest_runs(&out);
    for (name, entry) in &second.manifest.tables {
        assert_eq!(
            latest[name], second.manifest.run_id,
            "{name} completed to the committed run"
        );
        assert_eq!(read_delta(&out, name, None).0, entry.rows, "{name}");
    }
}

/// Vacuum after `retention_days`: files a run replaced more than that long ago (by the run
/// clock) are deleted, so that version can no longer be read; newer ones and the quarantine's
/// history files, still in the table, stay.
#[test]
fn vacuum_removes_replaced_files_after_retention_days() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut p = sample_pipeline(&out);
    p.retention_days = 1;
    let day = |d: u32| Utc.with_ymd_and_hms(2026, 11, d, 2, 0, 0).single().unwrap();
    let r1 = block_on(run(&p, day(10))).unwrap().manifest.run_id;
    let r2 = block_on(run(&p, day(12))).unwrap().manifest.run_id;
    let files = |table: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(out.join("tables").join(table))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(".parquet"))
            .collect();
        v.sort();
        v
    };
    assert!(
        files("projects").iter().any(|f| f.starts_with(&r1)),
        "replaced a moment ago: kept"
    );
    let r3 = block_on(run(&p, day(14))).unwrap().manifest.run_id;
    let projects = files("projects");
    assert!(!projects.iter().any(|f| f.starts_with(&r1)), "{projects:?}");
    assert!(
        projects.iter().any(|f| f.starts_with(&r2)),
        "replaced at this run: kept"
    );
    assert!(projects.iter().any(|f| f.starts_with(&r3)));
    let quarantine = files("quarantine");
    assert!(
        quarantine.iter().any(|f| f.starts_with(&r1)),
        "history stays: {quarantine:?}"
    );
    let s = store(&out);
    let v2 = block_on(delta::version_of_run(&s, "projects", &r2)).unwrap().unwrap();
    assert_eq!(read_delta(&out, "projects", Some(v2)).1, std::slice::from_ref(&r2));
    let ops: Vec<String> = block_on(delta::history(&s, "projects"))
        .unwrap()
        .into_iter()
        .map(|c| c.operation)
        .collect();
    assert!(ops.contains(&"VACUUM END".to_string()), "{ops:?}");
}

/// `harvester versions` lists which run wrote each version, and `--run ID --export DIR` writes
/// that run's files (as committed) into one folder per table.
#[test]
fn versions_lists_runs_and_exports_an_earlier_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let p = sample_pipeline(&out);
    let first = block_on(run(&p, clock(0))).unwrap().manifest;
    let second = block_on(run(&p, clock(1))).unwrap().manifest;
    let bin = env!("CARGO_BIN_EXE_harvester");
    let o = std::process::Command::new(bin)
        .args(["versions", "--out", out.to_str().unwrap(), "--table", "projects"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}{}", String::from_utf8_lossy(&o.stderr));
    let line = |run_id: &str| text.lines().find(|l| l.ends_with(run_id)).map(str::split_whitespace);
    let v0: Vec<&str> = line(&first.run_id).expect("first run listed").collect();
    assert_eq!(v0[..2], ["0", "WRITE"]);
    assert_eq!(v0[2], first.tables["projects"].rows.to_string());
    assert!(line(&second.run_id).is_some());
    let export = tmp.path().join("export");
    let o = std::process::Command::new(bin)
        .args(["versions", "--out", out.to_str().unwrap(), "--run", &first.run_id])
        .args(["--export", export.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for (name, entry) in &first.tables {
        let mut exported: Vec<Vec<u8>> = std::fs::read_dir(export.join(name))
            .unwrap()
            .flatten()
            .map(|e| std::fs::read(e.path()).unwrap())
            .collect();
        let mut own: Vec<Vec<u8>> = entry
            .files
            .iter()
            .map(|f| std::fs::read(out.join(f)).unwrap())
            .collect();
        exported.sort();
        own.sort();
        assert_eq!(exported, own, "{name}: the first run's files, byte for byte");
    }
}

/// A Delta log that cannot be read (a damaged entry) never stops the table for good: the next
/// run sets the log aside (`_delta_log.unreadable-<time>/`, kept) and starts the table again
/// from the committed run; the other tables keep their history.
#[test]
fn a_damaged_delta_log_is_set_aside_and_the_table_starts_again() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let p = sample_pipeline(&out);
    block_on(run(&p, clock(0))).unwrap();
    let second = block_on(run(&p, clock(1))).unwrap().manifest;
    let damaged = out.join("tables/projects/_delta_log/00000000000000000001.json");
    std::fs::write(&damaged, b"{\"add\": not json\n").unwrap();
    assert!(
        block_on(delta::open(&store(&out), "projects", None)).is_err(),
        "damaged"
    );
    let third = block_on(run(&p, clock(2))).unwrap().manifest;
    let (rows, runs) = read_delta(&out, "projects", None);
    assert_eq!(rows, third.tables["projects"].rows);
    assert_eq!(runs, std::slice::from_ref(&third.run_id));
    let s = store(&out);
    let history = block_on(delta::history(&s, "projects")).unwrap();
    // Set aside at the third run's start, when it completes the committed (second) run's
    // commits: the table starts again with the second run, then the third.
    let writes: Vec<Option<String>> = history.iter().map(|c| c.run_id.clone()).collect();
    assert_eq!(writes, [Some(second.run_id.clone()), Some(third.run_id.clone())]);
    let aside: Vec<String> = std::fs::read_dir(out.join("tables/projects"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("_delta_log.unreadable-"))
        .collect();
    assert_eq!(aside.len(), 1, "the damaged log is kept aside");
    let kept = std::fs::read_dir(out.join("tables/projects").join(&aside[0]))
        .unwrap()
        .count();
    assert_eq!(kept, 2, "both entries kept");
    assert_eq!(
        block_on(delta::history(&s, "links")).unwrap().len(),
        3,
        "other tables keep theirs"
    );
}

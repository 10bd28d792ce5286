//! Hard-to-break inputs (issue #15): absurd numbers, state files that cannot be read back, empty
//! sources, secrets in URLs, a 304 whose stored copy is gone. Every test runs the real pipeline
//! (or the real binary) on files or on a real HTTP server on 127.0.0.1 and checks what reached
//! disk: tables, manifest, raw zone, run history, and what the process printed.

use crate::common::*;
use harvester::config::Pipeline;
use harvester::run::{run, run_with, RunRequest};
use polars::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

fn sample_idp() -> String {
    std::fs::read_to_string(repo().join("sample/idp/idp_register_2024_25.csv")).unwrap()
}

/// The sample IDP register with the amount (last field) of the first data row replaced.
fn idp_with_first_amount(dir: &Path, amount: &str) -> PathBuf {
    let text = sample_idp();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let (head, old) = lines[1].rsplit_once(',').unwrap();
    assert!(
        old.parse::<f64>().is_ok(),
        "the sample's first row ends in its amount: {old}"
    );
    lines[1] = format!("{head},{amount}");
    let path = dir.join("idp_huge.csv");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// A two-source pipeline (the 2024/25 SA36 sample and an IDP register at `idp`).
fn small_pipeline(dir: &Path, idp: &str, extra: &str, out: &Path) -> Pipeline {
    let text = format!(
        r#"
name = "hardening"
[publish]
location = "{out}"
[[sources]]
name = "budget"
location = "{budget}"
contract = "sa36_capital_budget"
max_reject_ratio = 0.1
[[sources]]
name = "idp"
location = "{idp}"
contract = "idp_register"
format = "csv"
retry_base_ms = 10
{extra}
"#,
        out = out.display(),
        budget = repo().join("sample/budget/sa36_2024_25.xlsx").display(),
    );
    Pipeline::parse(&text, "hardening.toml", dir, dir).unwrap()
}

/// Every float cell of every table the manifest lists; panics on a NaN or infinity.
fn finite_float_cells(out: &Path, m: &serde_json::Value) -> usize {
    let mut scanned = 0;
    for (table, entry) in m["tables"].as_object().unwrap() {
        assert!(
            entry.get("non_finite_nulled").is_none(),
            "{table}: the publish guard had to null values: {entry}"
        );
        let df = read_table(out, m, table);
        for column in df.columns() {
            if !matches!(column.dtype(), DataType::Float64 | DataType::Float32) {
                continue;
            }
            let values = column.cast(&DataType::Float64).unwrap();
            for v in values.f64().unwrap().iter().flatten() {
                assert!(v.is_finite(), "{table}.{}: {v}", column.name());
                scanned += 1;
            }
        }
    }
    scanned
}

#[test]
fn a_1e308_amount_is_quarantined_and_every_published_float_is_finite() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let idp = idp_with_first_amount(tmp.path(), "1e308");
    let mut p = sample_pipeline(&out);
    p.override_source(&format!("idp={}", idp.display()), tmp.path())
        .unwrap();
    let report = block_on(run(&p, clock(0))).expect("one absurd cell does not fail the run");
    let m = manifest(&out);

    let q = read_table(&out, &m, "quarantine");
    let rules = strings(&q, "rule");
    let hits: Vec<usize> = (0..q.height())
        .filter(|&i| rules[i].as_deref() == Some("max_abs"))
        .collect();
    assert_eq!(hits.len(), 1, "exactly the one absurd cell: {rules:?}");
    let i = hits[0];
    assert_eq!(strings(&q, "source")[i].as_deref(), Some("idp"));
    assert_eq!(strings(&q, "column")[i].as_deref(), Some("amount"));
    assert_eq!(strings(&q, "raw_value")[i].as_deref(), Some("1e308"));
    assert_eq!(strings(&q, "severity")[i].as_deref(), Some("error"));
    let row = q.column("source_row").unwrap().cast(&DataType::Int64).unwrap();
    assert_eq!(row.i64().unwrap().get(i), Some(2), "first data row of the CSV");
    let idp_quality = report.manifest.data_quality.iter().find(|d| d.source == "idp").unwrap();
    assert!(idp_quality.rows_rejected >= 1);
    assert_eq!(
        idp_quality.rows_read,
        idp_quality.rows_accepted + idp_quality.rows_rejected
    );

    // No NaN or infinity anywhere: every float of every table, and every budget total.
    let scanned = finite_float_cells(&out, &m);
    assert!(scanned > 1_000, "only {scanned} float cells scanned");
    let totals = m["budget_totals"].as_object().unwrap();
    assert!(!totals.is_empty());
    for (code, years) in totals {
        for (year, v) in years.as_object().unwrap() {
            assert!(v.as_f64().is_some_and(f64::is_finite), "{code} {year}: {v}");
        }
    }
    let amounts = read_table(&out, &m, "projects");
    let max = amounts
        .column("amount_rand")
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .flatten()
        .fold(0.0_f64, |a, v| a.max(v.abs()));
    assert!(max > 0.0 && max <= 1e13, "largest published amount {max}");
    // The next run reads this manifest back without trouble.
    block_on(run(&p, clock(1))).expect("a second run reads the manifest");
}

#[test]
fn a_manifest_that_cannot_be_read_is_set_aside_and_the_run_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let idp = repo().join("sample/idp/idp_register_2024_25.csv");
    let p = small_pipeline(tmp.path(), &idp.display().to_string(), "", &out);
    block_on(run(&p, clock(0))).expect("first run");
    // What the issue saw: a total written as `null` where an f64 is expected.
    let mut m = manifest(&out);
    let code = m["budget_totals"].as_object().unwrap().keys().next().unwrap().clone();
    let year = m["budget_totals"][&code]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    m["budget_totals"][&code][&year] = serde_json::Value::Null;
    let bad = serde_json::to_vec_pretty(&m).unwrap();
    std::fs::write(out.join("manifest.json"), &bad).unwrap();

    let report = block_on(run(&p, clock(1))).expect("an unreadable manifest does not stop the run");
    let set_aside: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("manifest.json.unreadable-")
        })
        .collect();
    assert_eq!(set_aside.len(), 1, "{set_aside:?}");
    assert_eq!(
        std::fs::read(&set_aside[0]).unwrap(),
        bad,
        "the bad file is kept as it was"
    );
    let name = set_aside[0].file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(report.manifest.notes.len(), 1, "{:?}", report.manifest.notes);
    let note = &report.manifest.notes[0];
    assert!(note.contains(&format!("set aside as {name}")), "{note}");
    assert!(note.contains("expected f64"), "{note}");
    // The new manifest is readable, names this run and carries the note.
    let now = manifest(&out);
    assert_eq!(now["run_id"], report.manifest.run_id.as_str());
    assert_eq!(now["notes"][0], note.as_str());
    let parsed: harvester::publish::Manifest =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert!(parsed.budget_totals[&code][&year].is_finite());
    // And the run after that is an ordinary run again.
    let third = block_on(run(&p, clock(2))).expect("third run");
    assert!(third.manifest.notes.is_empty(), "{:?}", third.manifest.notes);
}

#[test]
fn an_empty_or_header_only_source_fails_the_run_and_leaves_the_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let good = small_pipeline(
        tmp.path(),
        &repo().join("sample/idp/idp_register_2024_25.csv").display().to_string(),
        "",
        &out,
    );
    block_on(run(&good, clock(0))).expect("first run");
    let before = std::fs::read(out.join("manifest.json")).unwrap();

    let header = sample_idp().lines().next().unwrap().to_string();
    let header_only = tmp.path().join("idp_header_only.csv");
    std::fs::write(&header_only, format!("{header}\n")).unwrap();
    let empty = tmp.path().join("idp_empty.csv");
    std::fs::write(&empty, "").unwrap();
    for file in [&header_only, &empty] {
        let p = small_pipeline(tmp.path(), &file.display().to_string(), "", &out);
        let err = block_on(run(&p, clock(1))).unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "source `idp`: 0 row(s) accepted from {} (0 data row(s) read), fewer than min_rows 1",
                file.display()
            )),
            "{err}"
        );
        assert!(err.contains("nothing was published"), "{err}");
        assert_eq!(
            std::fs::read(out.join("manifest.json")).unwrap(),
            before,
            "the published manifest is unchanged"
        );
    }
    // A source that may be empty says so.
    let p = small_pipeline(tmp.path(), &header_only.display().to_string(), "min_rows = 0", &out);
    let report = block_on(run(&p, clock(2))).expect("min_rows = 0 allows an empty source");
    let idp = report.manifest.data_quality.iter().find(|d| d.source == "idp").unwrap();
    assert_eq!((idp.rows_read, idp.rows_accepted), (0, 0));
    // A larger minimum fails a source with fewer rows.
    let p = small_pipeline(
        tmp.path(),
        &repo().join("sample/idp/idp_register_2024_25.csv").display().to_string(),
        "min_rows = 100000",
        &out,
    );
    let err = block_on(run(&p, clock(3))).unwrap_err().to_string();
    assert!(err.contains("fewer than min_rows 100000"), "{err}");
}

/// A server that answers `/idp.csv` (any query) with the sample IDP register, and records each
/// request head.
async fn idp_server() -> (String, Arc<Mutex<Vec<String>>>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let body = sample_idp().into_bytes();
    let (base, task) = http_server(move |req| {
        seen2.lock().unwrap().push(req.head.clone());
        if req.path.starts_with("/idp.csv") {
            Reply::Send("200 OK", String::new(), body.clone())
        } else {
            Reply::Send("404 Not Found", String::new(), b"no such file".to_vec())
        }
    })
    .await;
    (base, seen, task)
}

fn all_bytes_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_bytes_under(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_source_urls_reach_no_output_log_or_history() {
    const KEY: &str = "CanaryKey7f3a";
    const PASS: &str = "CanaryPass91c2";
    let (base, seen, _server) = idp_server().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let pipeline = dir.join("p.toml");
    std::fs::write(
        &pipeline,
        format!(
            r#"name = "secrets"
[publish]
location = "out"
[[sources]]
name = "budget"
location = "{budget}"
contract = "sa36_capital_budget"
max_reject_ratio = 0.1
[[sources]]
name = "idp"
location = "{base}/idp.csv?api_key={KEY}&year=2024"
contract = "idp_register"
format = "csv"
retry_base_ms = 10
"#,
            budget = repo().join("sample/budget/sa36_2024_25.xlsx").display(),
        ),
    )
    .unwrap();
    let host = base.trim_start_matches("http://").to_string();
    let run_cli = |source: String| {
        let dir = dir.clone();
        let pipeline = pipeline.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_harvester"))
                .args(["-v", "run", pipeline.to_str().unwrap(), "--source", &source])
                .current_dir(&dir)
                .env("HARVESTER_HISTORY", dir.join("history.sqlite"))
                .env("RUST_LOG", "harvester=debug")
                .output()
                .unwrap()
        })
    };
    // A good run: the pipeline's query-string key, and a --source with user info and a token.
    let ok = run_cli(format!(
        "idp=http://alice:{PASS}@{host}/idp.csv?api_key={KEY}&token={KEY}&year=2024"
    ))
    .await
    .unwrap();
    // A failing run: the error message names the URL.
    let failed = run_cli(format!(
        "idp=http://alice:{PASS}@{host}/missing.csv?X-Amz-Signature={KEY}"
    ))
    .await
    .unwrap();

    let ok_out = String::from_utf8_lossy(&ok.stdout).into_owned();
    let ok_err = String::from_utf8_lossy(&ok.stderr).into_owned();
    assert!(ok.status.success(), "{ok_out}\n{ok_err}");
    let fail_err = String::from_utf8_lossy(&failed.stderr).into_owned();
    assert_eq!(failed.status.code(), Some(1), "{fail_err}");
    // Not vacuous: the secrets were used on the wire, and the places checked do name the source.
    {
        let heads = seen.lock().unwrap();
        assert!(heads.iter().any(|h| h.contains(&format!("api_key={KEY}"))), "{heads:?}");
        assert!(
            heads
                .iter()
                .any(|h| h.to_ascii_lowercase().contains("authorization: basic")),
            "user info is sent as basic auth: {heads:?}"
        );
    }
    let m = manifest(&dir.join("out"));
    let shown = m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["source"] == "idp")
        .unwrap()["location"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        shown,
        format!("{base}/idp.csv?api_key=REDACTED&token=REDACTED&year=2024")
    );
    assert!(ok_err.contains("fetching"), "info logs were on: {ok_err}");
    assert!(ok_err.contains("api_key=REDACTED"), "{ok_err}");
    assert!(fail_err.contains("X-Amz-Signature=REDACTED"), "{fail_err}");
    assert!(fail_err.contains("HTTP 404"), "{fail_err}");

    let mut checked = vec![
        ("stdout of the good run".to_string(), ok.stdout.clone()),
        ("stderr of the good run".to_string(), ok.stderr.clone()),
        ("stdout of the failed run".to_string(), failed.stdout.clone()),
        ("stderr of the failed run".to_string(), failed.stderr.clone()),
    ];
    let files = all_bytes_under(&dir);
    let history: Vec<&(PathBuf, Vec<u8>)> = files
        .iter()
        .filter(|(p, _)| p.to_string_lossy().contains("history.sqlite"))
        .collect();
    assert!(!history.is_empty(), "the run history exists");
    assert!(
        history.iter().any(|(_, b)| contains(b, "REDACTED")),
        "the history recorded the (redacted) source"
    );
    let fetch_logs = files
        .iter()
        .filter(|(p, _)| p.to_string_lossy().contains("/raw/runs/"))
        .count();
    assert!(fetch_logs >= 1, "a fetch log was written");
    for (p, bytes) in &files {
        if p == &pipeline {
            continue; // the pipeline file is where the operator put the key
        }
        checked.push((p.display().to_string(), bytes.clone()));
    }
    for (what, bytes) in &checked {
        for canary in [KEY, PASS] {
            assert!(!contains(bytes, canary), "{canary} leaked into {what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_304_whose_stored_copy_is_gone_downloads_again() {
    let body = sample_idp().into_bytes();
    let requests: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let requests2 = requests.clone();
    let (base, _server) = http_server(move |req| {
        let inm = req.header("if-none-match");
        requests2.lock().unwrap().push(inm.clone());
        if inm.as_deref() == Some("\"v1\"") {
            Reply::Send("304 Not Modified", "etag: \"v1\"\r\n".into(), vec![])
        } else {
            Reply::Send("200 OK", "etag: \"v1\"\r\n".into(), body.clone())
        }
    })
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let p = small_pipeline(tmp.path(), &format!("{base}/idp.csv"), "", &out);
    let first = run_with(&p, &RunRequest::new(clock(0))).await.expect("first run");
    let sha = first
        .manifest
        .inputs
        .iter()
        .find(|i| i.source == "idp")
        .unwrap()
        .sha256
        .clone();
    let blob = out.join(format!("raw/sha256/{}/{sha}", &sha[..2]));
    assert!(blob.exists());
    std::fs::remove_file(&blob).unwrap();

    let second = run_with(&p, &RunRequest::new(clock(1)))
        .await
        .expect("a 304 without its stored copy downloads again");
    assert_eq!(
        *requests.lock().unwrap(),
        [None, Some("\"v1\"".to_string()), None],
        "conditional request answered 304, then one unconditional request"
    );
    assert!(blob.exists(), "the downloaded copy is stored again");
    assert_eq!(std::fs::read(&blob).unwrap(), sample_idp().into_bytes());
    let log: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(format!("raw/runs/{}.json", second.manifest.run_id))).unwrap())
            .unwrap();
    let entry = log["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == "idp")
        .unwrap();
    assert_eq!(entry["not_modified"], false);
    assert_eq!(
        first.manifest.tables["projects"].rows,
        second.manifest.tables["projects"].rows
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_page_served_as_data_is_named_as_one() {
    let (base, _server) = http_server(|_| {
        Reply::Send(
            "200 OK",
            "content-type: text/html\r\n".into(),
            b"<!DOCTYPE html><html><head><title>Login</title></head><body>Please sign in</body></html>".to_vec(),
        )
    })
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let p = small_pipeline(tmp.path(), &format!("{base}/export/idp.csv"), "", &out);
    let err = run_with(&p, &RunRequest::new(clock(0))).await.unwrap_err().to_string();
    assert!(
        err.contains("source `idp`: idp.csv: received an HTML page (title `Login`), not a data file"),
        "{err}"
    );
    assert!(!out.join("manifest.json").exists(), "nothing was published");
}

#[test]
fn control_characters_in_names_are_stripped_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let text = sample_idp();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let name = "Refurbishment of Zwelitsha Stormwater Drainage Phase 3";
    assert!(lines[1].contains(name));
    lines[1] = lines[1].replace(
        name,
        "Refurbishment of Zwelitsha\u{0} Stormwater \u{1b}[2JDrainage Phase 3",
    );
    let idp = tmp.path().join("idp_controls.csv");
    std::fs::write(&idp, lines.join("\n") + "\n").unwrap();
    let p = small_pipeline(tmp.path(), &idp.display().to_string(), "", &out);
    block_on(run(&p, clock(0))).expect("the row is kept, cleaned");
    let m = manifest(&out);
    let projects = read_table(&out, &m, "projects");
    let sources = strings(&projects, "source");
    let rows = projects.column("source_row").unwrap().cast(&DataType::Int64).unwrap();
    let i = (0..projects.height())
        .find(|&i| sources[i].as_deref() == Some("idp") && rows.i64().unwrap().get(i) == Some(2))
        .expect("row 2 of the IDP file was accepted");
    assert_eq!(strings(&projects, "project_name")[i].as_deref(), Some(name));
    let q = read_table(&out, &m, "quarantine");
    let rules = strings(&q, "rule");
    let hits: Vec<usize> = (0..q.height())
        .filter(|&k| rules[k].as_deref() == Some("control_characters"))
        .collect();
    assert_eq!(hits.len(), 1, "{rules:?}");
    assert_eq!(strings(&q, "severity")[hits[0]].as_deref(), Some("warning"));
    let raw = strings(&q, "raw_value")[hits[0]].clone().unwrap();
    assert!(
        raw.contains("\\u{1b}[2J") && !raw.contains('\u{1b}') && !raw.contains('\0'),
        "{raw}"
    );
}

#[test]
fn a_source_that_shrinks_past_max_row_drop_fails_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let full = repo().join("sample/idp/idp_register_2024_25.csv");
    let first = block_on(run(
        &small_pipeline(tmp.path(), &full.display().to_string(), "max_row_drop = 0.5", &out),
        clock(0),
    ))
    .expect("first run: nothing to compare with");
    let before_rows = first
        .manifest
        .data_quality
        .iter()
        .find(|d| d.source == "idp")
        .unwrap()
        .rows_accepted;
    assert!(before_rows > 20, "{before_rows}");
    let before = std::fs::read(out.join("manifest.json")).unwrap();
    // A partial delivery: the header and the first ten rows.
    let partial = tmp.path().join("idp_partial.csv");
    let text = sample_idp();
    let lines: Vec<&str> = text.lines().take(11).collect();
    std::fs::write(&partial, lines.join("\n") + "\n").unwrap();
    let p = small_pipeline(tmp.path(), &partial.display().to_string(), "max_row_drop = 0.5", &out);
    let err = block_on(run(&p, clock(1))).unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "source `idp`: 10 row(s) accepted from {}, down from {before_rows} in the previous run {}",
            partial.display(),
            first.manifest.run_id
        )),
        "{err}"
    );
    assert!(err.contains("> max_row_drop 50.0%"), "{err}");
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), before);
    // Without the setting the same file publishes.
    let p = small_pipeline(tmp.path(), &partial.display().to_string(), "", &out);
    block_on(run(&p, clock(2))).expect("max_row_drop is off by default");
}

/// An SA36 workbook with one sheet, `BUF`, whose second project's 2024/25 budget is the largest
/// f64 stored as a number: the cell from the issue.
fn sa36_with_max_f64(path: &Path) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("BUF").unwrap();
    let headers = [
        "Function",
        "Project Description",
        "Project Number",
        "Type",
        "Asset Class",
        "Ward Location",
        "Budget Year 2024/25",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    let rows = [
        ("Zwelitsha Stormwater Drainage", 13_440_000.0),
        ("Mdantsane Community Hall", f64::MAX),
        ("Gonubie Water Reservoir", 25_000_000.0),
    ];
    for (i, (name, amount)) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        ws.write_string(r, 0, "Water Management").unwrap();
        ws.write_string(r, 1, *name).unwrap();
        ws.write_string(r, 2, format!("PC001002003001_0002{i}")).unwrap();
        ws.write_string(r, 3, "New").unwrap();
        ws.write_string(r, 4, "Water Supply Infrastructure").unwrap();
        ws.write_string(r, 5, "Ward 4").unwrap();
        ws.write_number(r, 6, *amount).unwrap();
    }
    std::fs::write(path, wb.save_to_buffer().unwrap()).unwrap();
}

#[test]
fn the_largest_f64_in_an_sa36_workbook_never_reaches_the_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let workbook = tmp.path().join("sa36_max.xlsx");
    sa36_with_max_f64(&workbook);
    let text = format!(
        r#"
name = "issue15"
[publish]
location = "{out}"
[[sources]]
name = "budget"
location = "{budget}"
contract = "sa36_capital_budget"
max_reject_ratio = 0.5
[[sources]]
name = "idp"
location = "{idp}"
contract = "idp_register"
"#,
        out = out.display(),
        budget = workbook.display(),
        idp = repo().join("sample/idp/idp_register_2024_25.csv").display(),
    );
    let p = Pipeline::parse(&text, "issue15.toml", tmp.path(), tmp.path()).unwrap();
    let report = block_on(run(&p, clock(0))).expect("the absurd cell is quarantined, the rest published");
    let budget = report
        .manifest
        .data_quality
        .iter()
        .find(|d| d.source == "budget")
        .unwrap();
    assert_eq!(
        (budget.rows_read, budget.rows_accepted, budget.rows_rejected),
        (3, 2, 1)
    );
    let m = manifest(&out);
    let q = read_table(&out, &m, "quarantine");
    let rules = strings(&q, "rule");
    let i = (0..q.height())
        .find(|&i| rules[i].as_deref() == Some("max_abs"))
        .expect("a max_abs entry");
    assert_eq!(strings(&q, "source")[i].as_deref(), Some("budget"));
    assert_eq!(strings(&q, "source_sheet")[i].as_deref(), Some("BUF"));
    assert_eq!(strings(&q, "column")[i].as_deref(), Some("budget year 2024/25"));
    assert_eq!(strings(&q, "raw_value")[i].as_deref(), Some("1.7976931348623157e308"));
    // BUF's 2024/25 total is the two plausible projects, a number, not `null`.
    assert_eq!(m["budget_totals"]["BUF"]["2024/25"].as_f64(), Some(38_440_000.0));
    assert!(finite_float_cells(&out, &m) > 0);
    // And every later run still reads the manifest.
    block_on(run(&p, clock(1))).expect("second run");
    block_on(run(&p, clock(2))).expect("third run");
}

/// Peak resident memory of this process so far, in bytes (`VmHWM`).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// A workbook-shaped zip whose one sheet is `spaces` bytes of blanks: a few hundred KiB on disk.
/// Written through the zip crate a megabyte at a time, so the test never holds the expansion.
fn zip_bomb(path: &Path, spaces: usize) {
    use std::io::Write;
    let mut z = ::zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = ::zip::write::SimpleFileOptions::default()
        .compression_method(::zip::CompressionMethod::Deflated)
        .large_file(true);
    z.start_file("xl/worksheets/sheet1.xml", opts).unwrap();
    z.write_all(b"<?xml version=\"1.0\"?><worksheet><sheetData>").unwrap();
    let chunk = vec![b' '; 1 << 20];
    let mut left = spaces;
    while left > 0 {
        let n = left.min(chunk.len());
        z.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    z.write_all(b"</sheetData></worksheet>").unwrap();
    z.finish().unwrap();
}

#[test]
fn a_zip_bomb_workbook_is_refused_before_it_expands() {
    let tmp = tempfile::tempdir().unwrap();
    let bomb = tmp.path().join("sa36_bomb.xlsx");
    zip_bomb(&bomb, 600 << 20);
    let on_disk = std::fs::metadata(&bomb).unwrap().len();
    assert!(on_disk < 1 << 20, "the bomb is small on disk: {on_disk} bytes");
    // Peak memory from here on (Linux resets VmHWM on `5` > clear_refs).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let out = tmp.path().join("out");
    let text = format!(
        r#"
name = "bomb"
[publish]
location = "{out}"
[[sources]]
name = "budget"
location = "{budget}"
contract = "sa36_capital_budget"
"#,
        out = out.display(),
        budget = bomb.display(),
    );
    let p = Pipeline::parse(&text, "bomb.toml", tmp.path(), tmp.path()).unwrap();
    let err = block_on(run(&p, clock(0)))
        .expect_err("the bomb is refused")
        .to_string();
    assert!(err.contains("sa36_bomb.xlsx"), "the file is named: {err}");
    assert!(
        err.contains("at most 200 times") && err.contains("decompression bomb"),
        "the ratio limit is named: {err}"
    );
    assert!(!out.join("manifest.json").exists(), "nothing is published");
    let peak = peak_rss();
    assert!(peak < 512 << 20, "peak RSS {} MiB", peak >> 20);

    // The total: a lower `max_uncompressed_bytes` refuses even a plausible ratio, naming the limit.
    let text = format!(
        r#"
name = "small"
[publish]
location = "{out}"
[[sources]]
name = "budget"
location = "{budget}"
contract = "sa36_capital_budget"
max_uncompressed_bytes = 20000
"#,
        out = out.display(),
        budget = repo().join("sample/budget/sa36_2024_25.xlsx").display(),
    );
    let p = Pipeline::parse(&text, "small.toml", tmp.path(), tmp.path()).unwrap();
    let err = block_on(run(&p, clock(0))).expect_err("over the limit").to_string();
    assert!(
        err.contains("sa36_2024_25.xlsx") && err.contains("max_uncompressed_bytes = 20000"),
        "file and limit named: {err}"
    );
}

/// Two runs into one location at the same time: the second waits for the first's lock, so it
/// reads the state the first committed (registers, quarantine history) instead of trampling it.
#[test]
fn two_concurrent_runs_into_one_location_take_turns() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let p = sample_pipeline(&out);
    let (a, b) = (RunRequest::new(clock(0)), RunRequest::new(clock(0)));
    let (ra, rb) = block_on(async { tokio::join!(run_with(&p, &a), run_with(&p, &b)) });
    let (ra, rb) = (ra.expect("first run"), rb.expect("second run"));
    assert!(!out.join(".lock").exists(), "the lock is released");
    let m = manifest(&out);
    let last = m["run_id"].as_str().unwrap().to_string();
    let first = if last == ra.manifest.run_id {
        rb.manifest.run_id.clone()
    } else {
        ra.manifest.run_id.clone()
    };
    assert_ne!(first, last);
    // The manifest reads back with every file present.
    for (table, t) in m["tables"].as_object().unwrap() {
        for f in t["files"].as_array().unwrap() {
            assert!(out.join(f.as_str().unwrap()).exists(), "{table}: {f}");
        }
    }
    // Both runs' quarantine files are kept: the last run's history includes the first's.
    let q = read_table(&out, &m, "quarantine");
    let runs: std::collections::BTreeSet<_> = strings(&q, "run_id").into_iter().flatten().collect();
    assert!(runs.contains(&first) && runs.contains(&last), "{runs:?}");
    // The second run saw the first's exception register: every finding first seen by the first.
    let reg = read_table(&out, &m, "exception_register");
    assert!(reg.height() > 0);
    assert!(strings(&reg, "first_seen_run")
        .iter()
        .all(|s| s.as_deref() == Some(first.as_str())));
    assert!(strings(&reg, "last_seen_run")
        .iter()
        .all(|s| s.as_deref() == Some(last.as_str())));
}

/// A live holder makes a run wait and then fail naming it; a stale one (expired) is taken over
/// and the takeover noted in the manifest.
#[test]
fn a_held_publish_lock_names_its_holder_and_a_stale_one_is_taken_over() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut p = sample_pipeline(&out);
    p.lock_wait_secs = 1;
    let holder = |expires: chrono::DateTime<chrono::Utc>| {
        serde_json::json!({
            "run_id": "20261130T020000000Z-abc123",
            "pipeline": "nightly",
            "host": "elsewhere",
            "pid": 4242,
            "acquired_at": "2026-11-30T02:00:00.000Z",
            "expires_at": expires.to_rfc3339(),
        })
        .to_string()
    };
    std::fs::write(
        out.join(".lock"),
        holder(chrono::Utc::now() + chrono::Duration::hours(1)),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let err = block_on(run(&p, clock(0)))
        .expect_err("the location is locked")
        .to_string();
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "it waited");
    assert!(
        err.contains("locked by run 20261130T020000000Z-abc123 of pipeline `nightly` (host elsewhere, process 4242")
            && err.contains("waited 1 s"),
        "{err}"
    );
    assert!(!out.join("manifest.json").exists());
    assert!(out.join(".lock").exists(), "someone else's lock is left alone");

    std::fs::write(
        out.join(".lock"),
        holder(chrono::Utc::now() - chrono::Duration::minutes(5)),
    )
    .unwrap();
    let report = block_on(run(&p, clock(0))).expect("a stale lock is taken over");
    assert!(
        report
            .manifest
            .notes
            .iter()
            .any(|n| n.contains("took over the publish lock of run 20261130T020000000Z-abc123 (it expired")),
        "{:?}",
        report.manifest.notes
    );
    assert!(!out.join(".lock").exists());
}

/// A cancelled run does not wait for a stalled download (whose timeout is ten minutes here):
/// the fetch is dropped within about two seconds of the cancellation.
#[test]
fn a_stalled_download_is_cancelled_within_two_seconds() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (elapsed, result) = block_on(async {
        let (base, _server) = http_server(|_| Reply::Hold).await;
        let p = small_pipeline(tmp.path(), &format!("{base}/idp.csv"), "timeout_secs = 600", &out);
        let request = RunRequest::new(clock(0));
        let cancel = request.cancel.clone();
        let cancelled_at = Arc::new(Mutex::new(None));
        let at = cancelled_at.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            *at.lock().unwrap() = Some(std::time::Instant::now());
            cancel.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let result = run_with(&p, &request).await;
        let at = cancelled_at
            .lock()
            .unwrap()
            .expect("the run lasted until it was cancelled");
        (at.elapsed(), result)
    });
    assert!(
        matches!(result, Err(harvester::run::RunError::Cancelled)),
        "{:?}",
        result.map(|r| r.manifest.run_id)
    );
    assert!(
        elapsed < std::time::Duration::from_secs(2),
        "stopped {elapsed:?} after the cancellation"
    );
    assert!(!out.join("manifest.json").exists());
    assert!(!out.join(".lock").exists(), "the lock is released");
}

/// What a run that died left at the location (its run folder without a manifest, half-written
/// staging files) is removed by the next run; committed runs and thinned quarantine history stay.
#[test]
fn the_next_run_removes_what_dead_runs_left() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let p = sample_pipeline(&out);
    let first = block_on(run(&p, clock(0))).unwrap();
    let write = |rel: &str| {
        let path = out.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"partial").unwrap();
        // Old enough to be a dead writer's.
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
            .unwrap();
    };
    let dead = "20261122T020500000Z-dead00";
    write(&format!("runs/{dead}/projects/financial_year=2024/part-00000.parquet"));
    write(&format!("runs/{dead}/quarantine/run_id={dead}/part-00000.parquet"));
    write("manifest.json#3");
    write(&format!("runs/{}/projects/part-00000.parquet#1", first.manifest.run_id));
    let thinned = "20250101T020000000Z-old000";
    write(&format!(
        "runs/{thinned}/quarantine/run_id={thinned}/part-00000.parquet"
    ));
    let second = block_on(run(&p, clock(1))).unwrap();
    assert!(
        !out.join(format!("runs/{dead}")).exists(),
        "the dead run's folder is removed"
    );
    assert!(!out.join("manifest.json#3").exists());
    assert!(!out
        .join(format!("runs/{}/projects/part-00000.parquet#1", first.manifest.run_id))
        .exists());
    assert!(out
        .join(format!("runs/{}/manifest.json", first.manifest.run_id))
        .exists());
    assert!(out
        .join(format!("runs/{}/manifest.json", second.manifest.run_id))
        .exists());
    assert!(
        out.join(format!("runs/{thinned}/quarantine")).exists(),
        "quarantine history stays"
    );
    let m = manifest(&out);
    assert_eq!(m["run_id"], second.manifest.run_id.as_str());
    read_table(&out, &m, "projects");
}

/// A cell formatted as a date in an amount column is a date, not R45,474: the row is
/// quarantined with the date it shows.
#[test]
fn an_excel_date_in_an_amount_column_is_quarantined() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let workbook = tmp.path().join("sa36_date.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("BUF").unwrap();
    for (c, h) in [
        "Function",
        "Project Description",
        "Project Number",
        "Type",
        "Budget Year 2024/25",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    for (r, name) in [(1u32, "Zwelitsha Stormwater Drainage"), (2, "Mdantsane Community Hall")] {
        ws.write_string(r, 0, "Water Management").unwrap();
        ws.write_string(r, 1, name).unwrap();
        ws.write_string(r, 2, format!("PC001002003001_0002{r}")).unwrap();
        ws.write_string(r, 3, "New").unwrap();
    }
    ws.write_number(1, 4, 13_440_000.0).unwrap();
    ws.write_number_with_format(2, 4, 45474.0, &date).unwrap();
    std::fs::write(&workbook, wb.save_to_buffer().unwrap()).unwrap();
    let text = format!(
        "name = \"dates\"\n[publish]\nlocation = \"{out}\"\n[[sources]]\nname = \"budget\"\nlocation = \"{budget}\"\ncontract = \"sa36_capital_budget\"\nmax_reject_ratio = 0.5\n",
        out = out.display(),
        budget = workbook.display(),
    );
    let p = Pipeline::parse(&text, "dates.toml", tmp.path(), tmp.path()).unwrap();
    let report = block_on(run(&p, clock(0))).unwrap();
    let dq = &report.manifest.data_quality[0];
    assert_eq!((dq.rows_read, dq.rows_accepted, dq.rows_rejected), (2, 1, 1));
    let q = read_table(&out, &manifest(&out), "quarantine");
    let raw = strings(&q, "raw_value");
    assert!(raw.contains(&Some("2024-07-01".to_string())), "{raw:?}");
}

#[test]
fn a_negative_amount_is_kept_and_named_as_a_notice() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let idp = idp_with_first_amount(tmp.path(), "-1500000");
    let mut p = sample_pipeline(&out);
    p.override_source(&format!("idp={}", idp.display()), tmp.path())
        .unwrap();
    let report = block_on(run(&p, clock(0))).expect("a negative amount does not fail the run");
    let m = manifest(&out);

    let q = read_table(&out, &m, "quarantine");
    let rules = strings(&q, "rule");
    let sources = strings(&q, "source");
    let hits: Vec<usize> = (0..q.height())
        .filter(|&i| rules[i].as_deref() == Some("negative_amount"))
        .filter(|&i| sources[i].as_deref() == Some("idp"))
        .collect();
    assert_eq!(hits.len(), 1, "exactly the one negative cell: {rules:?}");
    let i = hits[0];
    assert_eq!(strings(&q, "raw_value")[i].as_deref(), Some("-1500000"));
    assert_eq!(strings(&q, "severity")[i].as_deref(), Some("notice"));
    let message = strings(&q, "message")[i].clone().unwrap();
    assert!(message.contains("R -1500000"), "{message}");
    let row = q.column("source_row").unwrap().cast(&DataType::Int64).unwrap();
    assert_eq!(row.i64().unwrap().get(i), Some(2), "first data row of the CSV");

    // Kept: the row has no error (the sample's own two bad rows stay the only rejections), and
    // the amount reached the projects table.
    let severities = strings(&q, "severity");
    let rows = row.i64().unwrap();
    assert!(!(0..q.height()).any(|j| sources[j].as_deref() == Some("idp")
        && rows.get(j) == Some(2)
        && severities[j].as_deref() == Some("error")));
    let quality = report.manifest.data_quality.iter().find(|d| d.source == "idp").unwrap();
    assert_eq!(quality.rows_rejected, 2, "the sample's two known bad rows");
    assert_eq!(quality.notices, 1);
    let projects = read_table(&out, &m, "projects");
    let amounts = projects
        .column("amount_rand")
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap();
    assert!(
        amounts.f64().unwrap().iter().flatten().any(|v| v == -1_500_000.0),
        "the negative amount is published as read"
    );
}

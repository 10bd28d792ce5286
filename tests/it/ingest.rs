//! Ingestion against real servers started by the tests: an HTTP server that fails, rate-limits,
//! stalls and answers conditional requests, and an S3-compatible server (s3s-fs) for reading and
//! publishing. Reruns `--as-of` an earlier run reproduce its tables byte for byte offline.

use crate::common::*;
use harvester::config::Pipeline;
use harvester::run::{run_with, RunRequest};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the test server saw.
#[derive(Debug, Default)]
struct Seen {
    /// Requests per path, in order, with their If-None-Match header.
    requests: BTreeMap<String, Vec<Option<String>>>,
    /// Bodies sent per path.
    bodies: BTreeMap<String, usize>,
}

/// An HTTP/1.1 server on 127.0.0.1 with one behaviour per path:
/// `/flaky.csv` 503 twice then 200 with an ETag (304 when it matches);
/// `/limited.csv` 429 with `Retry-After: 1` once, then 200; `/stall.csv` never answers;
/// anything else 404.
async fn test_server(body: Vec<u8>) -> (String, Arc<Mutex<Seen>>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let seen2 = seen.clone();
    let (base, task) = http_server(move |req| {
        let inm = req.header("if-none-match");
        seen2
            .lock()
            .unwrap()
            .requests
            .entry(req.path.clone())
            .or_default()
            .push(inm.clone());
        let ok = |extra: &str| {
            *seen2.lock().unwrap().bodies.entry(req.path.clone()).or_default() += 1;
            Reply::Send("200 OK", extra.to_string(), body.clone())
        };
        match (req.path.as_str(), req.count) {
            ("/flaky.csv", n) if n <= 2 => Reply::Send("503 Service Unavailable", "retry-after: 0\r\n".into(), vec![]),
            ("/flaky.csv", _) if inm.as_deref() == Some("\"v1\"") => {
                Reply::Send("304 Not Modified", "etag: \"v1\"\r\n".into(), vec![])
            }
            ("/flaky.csv", _) => ok("etag: \"v1\"\r\n"),
            ("/limited.csv", 1) => Reply::Send("429 Too Many Requests", "retry-after: 1\r\n".into(), vec![]),
            ("/limited.csv", _) => ok(""),
            ("/stall.csv", _) => Reply::Hold,
            _ => Reply::Send("404 Not Found", String::new(), b"no such file".to_vec()),
        }
    })
    .await;
    (base, seen, task)
}

fn pipeline_with_idp(dir: &Path, idp: &str, extra: &str, out: &Path) -> Pipeline {
    let text = format!(
        r#"
name = "ingest"
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
    Pipeline::parse(&text, "ingest.toml", dir, dir).unwrap()
}

fn idp_bytes() -> Vec<u8> {
    std::fs::read(repo().join("sample/idp/idp_register_2024_25.csv")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_source_retries_then_uses_conditional_requests() {
    let (base, seen, _server) = test_server(idp_bytes()).await;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let p = pipeline_with_idp(tmp.path(), &format!("{base}/flaky.csv"), "retries = 3", &out);

    let first = run_with(&p, &RunRequest::new(clock(0)))
        .await
        .expect("retried past two 503s");
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.requests["/flaky.csv"].len(), 3, "two 503s, then the file");
        assert_eq!(s.bodies["/flaky.csv"], 1);
    }
    let idp_input = first
        .manifest
        .inputs
        .iter()
        .find(|i| i.source == "idp")
        .unwrap()
        .clone();
    assert_eq!(idp_input.sha256, harvester::domain::sha256_hex(&idp_bytes()));

    // Second run: If-None-Match is sent, the server answers 304, nothing is downloaded, and the
    // run uses the copy kept in the raw zone.
    let second = run_with(&p, &RunRequest::new(clock(1))).await.unwrap();
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.requests["/flaky.csv"].len(), 4);
        assert_eq!(s.requests["/flaky.csv"][3].as_deref(), Some("\"v1\""));
        assert_eq!(s.bodies["/flaky.csv"], 1, "304: nothing downloaded again");
    }
    assert_eq!(
        second
            .manifest
            .inputs
            .iter()
            .find(|i| i.source == "idp")
            .unwrap()
            .sha256,
        idp_input.sha256
    );
    let log: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(format!("raw/runs/{}.json", second.manifest.run_id))).unwrap())
            .unwrap();
    let entry = log["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == "idp")
        .unwrap();
    assert_eq!(entry["not_modified"], true);
    assert_eq!(entry["etag"], "\"v1\"");
    // Content-addressed: the file is stored once under its sha256.
    assert!(out
        .join(format!("raw/sha256/{}/{}", &idp_input.sha256[..2], idp_input.sha256))
        .exists());
    assert_eq!(
        first.manifest.tables["projects"].rows,
        second.manifest.tables["projects"].rows
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_is_honoured_and_other_4xx_fail_at_once() {
    let (base, seen, _server) = test_server(idp_bytes()).await;
    let tmp = tempfile::tempdir().unwrap();
    let p = pipeline_with_idp(
        tmp.path(),
        &format!("{base}/limited.csv"),
        "retries = 2",
        &tmp.path().join("a"),
    );
    let started = std::time::Instant::now();
    run_with(&p, &RunRequest::new(clock(0)))
        .await
        .expect("the 429 is retried");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After: 1 was not honoured"
    );
    assert_eq!(seen.lock().unwrap().requests["/limited.csv"].len(), 2);

    let p = pipeline_with_idp(
        tmp.path(),
        &format!("{base}/missing.csv"),
        "retries = 3",
        &tmp.path().join("b"),
    );
    let err = run_with(&p, &RunRequest::new(clock(0))).await.unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "source `idp`: cannot download {base}/missing.csv: HTTP 404 Not Found (after 1 attempt)"
        )),
        "{err}"
    );
    assert_eq!(
        seen.lock().unwrap().requests["/missing.csv"].len(),
        1,
        "a 404 is not retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_source_fails_the_run_and_keeps_the_previous_outputs() {
    let (base, _seen, _server) = test_server(idp_bytes()).await;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let good = pipeline_with_idp(
        tmp.path(),
        &repo().join("sample/idp/idp_register_2024_25.csv").display().to_string(),
        "",
        &out,
    );
    run_with(&good, &RunRequest::new(clock(0))).await.unwrap();
    let before = std::fs::read(out.join("manifest.json")).unwrap();

    let stalled = pipeline_with_idp(
        tmp.path(),
        &format!("{base}/stall.csv"),
        "timeout_secs = 1\nretries = 1",
        &out,
    );
    let err = run_with(&stalled, &RunRequest::new(clock(1)))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("source `idp`: cannot download {base}/stall.csv: timed out")),
        "{err}"
    );
    assert!(err.contains("(after 2 attempts)"), "{err}");
    assert!(
        err.contains("nothing was published and the previous outputs are unchanged"),
        "{err}"
    );
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), before);
    assert!(read_table(&out, &manifest(&out), "projects").height() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_rerun_is_byte_identical_but_for_run_id_without_the_network() {
    let (base, _seen, server) = test_server(idp_bytes()).await;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let p = pipeline_with_idp(tmp.path(), &format!("{base}/flaky.csv"), "retries = 3", &out);
    let first = run_with(&p, &RunRequest::new(clock(0))).await.unwrap();
    // The network goes away.
    server.abort();
    let _ = server.await;
    let mut req = RunRequest::new(clock(30));
    req.as_of = Some(first.manifest.run_id.clone());
    let replay = run_with(&p, &req).await.expect("replayed from the raw zone");
    assert_eq!(replay.manifest.inputs, first.manifest.inputs);
    assert_same_tables_except_run_id(&out, &first.manifest, &out, &replay.manifest);
    // By time: the latest run started by then.
    let mut req = RunRequest::new(clock(40));
    req.as_of = Some("2026-11-22T02:10:00Z".into());
    let by_time = run_with(&p, &req).await.unwrap();
    assert_eq!(by_time.manifest.inputs, first.manifest.inputs);
    let mut req = RunRequest::new(clock(41));
    req.as_of = Some("1999-01-01".into());
    let err = run_with(&p, &req).await.unwrap_err().to_string();
    assert!(err.contains("--as-of `1999-01-01`: no run with that id"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glob_source_reads_every_matching_workbook() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sa36");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["sa36_2024_25.xlsx", "sa36_2025_26.xlsx"] {
        std::fs::copy(repo().join("sample/budget").join(f), dir.join(f)).unwrap();
    }
    std::fs::write(dir.join("notes.txt"), "not a workbook").unwrap();
    let out = tmp.path().join("out");
    let text = format!(
        "name = \"glob\"\n[publish]\nlocation = \"{}\"\n[[sources]]\nname = \"budget\"\nlocation = \"sa36/sa36_*.xlsx\"\ncontract = \"sa36_capital_budget\"\n",
        out.display()
    );
    let p = Pipeline::parse(&text, "glob.toml", tmp.path(), tmp.path()).unwrap();
    let report = run_with(&p, &RunRequest::new(clock(0))).await.unwrap();
    assert_eq!(report.manifest.inputs.len(), 2);
    assert_eq!(report.manifest.data_quality[0].rows_read, 44 + 41);
    let projects = read_table(&out, &manifest(&out), "projects");
    let ids = strings(&projects, "record_id");
    assert!(
        ids.contains(&Some("budget:sa36_2025_26.xlsx:BUF:4".to_string())),
        "{:?}",
        &ids[..3]
    );
}

/// An S3-compatible server (s3s-fs over a temporary folder) on 127.0.0.1.
async fn s3_server(root: &Path) -> String {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder as ConnBuilder;
    let fs = s3s_fs::FileSystem::new(root).unwrap();
    let mut b = s3s::service::S3ServiceBuilder::new(fs);
    b.set_auth(s3s::auth::SimpleAuth::from_single("harvester-test", "harvester-secret"));
    let service = b.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let http = ConnBuilder::new(TokioExecutor::new());
        while let Ok((sock, _)) = listener.accept().await {
            let conn = http.serve_connection(TokioIo::new(sock), service.clone()).into_owned();
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_publishes_through_an_s3_compatible_server() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("s3");
    let incoming = root.join("treasury/incoming");
    std::fs::create_dir_all(&incoming).unwrap();
    std::fs::copy(
        repo().join("sample/budget/sa36_2024_25.xlsx"),
        incoming.join("sa36_2024_25.xlsx"),
    )
    .unwrap();
    std::fs::copy(
        repo().join("sample/idp/idp_register_2024_25.csv"),
        incoming.join("idp.csv"),
    )
    .unwrap();
    let endpoint = s3_server(&root).await;
    let pipeline = tmp.path().join("s3.toml");
    std::fs::write(
        &pipeline,
        r#"name = "s3"
[publish]
location = "s3://treasury/published"
[[sources]]
name = "budget"
location = "s3://treasury/incoming/sa36_*.xlsx"
contract = "sa36_capital_budget"
max_reject_ratio = 0.1
[[sources]]
name = "idp"
location = "s3://treasury/incoming/idp.csv"
contract = "idp_register"
"#,
    )
    .unwrap();
    let dir = tmp.path().to_path_buf();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_harvester"))
            .args(["run", pipeline.to_str().unwrap()])
            .current_dir(&dir)
            .env("HARVESTER_HISTORY", dir.join("history.sqlite"))
            .env("AWS_ENDPOINT", &endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "harvester-test")
            .env("AWS_SECRET_ACCESS_KEY", "harvester-secret")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains("harvester-secret") && !stderr.contains("harvester-secret"));
    // s3s-fs keeps objects as files: the published tables are on disk under the bucket folder.
    let published = root.join("treasury/published");
    let m = manifest(&published);
    assert_eq!(m["inputs"][0]["location"], "s3://treasury/incoming/sa36_2024_25.xlsx");
    let projects = read_table(&published, &m, "projects");
    assert_eq!(
        projects.height() as u64,
        m["tables"]["projects"]["rows"].as_u64().unwrap()
    );
    assert!(projects.height() > 100);
    // The Delta tables were committed through the S3 API too (log entries with conditional puts).
    let store =
        harvester::storage::Store::open_folder(&harvester::domain::location::Location::Local(published.clone()))
            .unwrap();
    for name in m["tables"].as_object().unwrap().keys() {
        let history = harvester::publish::delta::history(&store, name).await.unwrap();
        assert_eq!(history.len(), 1, "{name}: one commit");
        assert_eq!(history[0].run_id.as_deref(), m["run_id"].as_str(), "{name}");
        assert_eq!(history[0].rows, m["tables"][name]["rows"].as_i64(), "{name}");
        for f in harvester::publish::delta::files_at(&store, name, None).await.unwrap() {
            assert!(published.join(&f).exists(), "{f}");
        }
    }
}

/// An `--as-of` replay after a run on changed data reproduces the replayed run's tables, project
/// keys included: it takes its keys from the register that run published, not the latest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_replay_after_a_run_on_changed_data_keeps_that_runs_project_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let idp = tmp.path().join("idp.csv");
    std::fs::write(&idp, idp_bytes()).unwrap();
    let p = pipeline_with_idp(tmp.path(), &idp.display().to_string(), "", &out);
    let first = run_with(&p, &RunRequest::new(clock(0))).await.unwrap();
    // The IDP changes: every project renamed beyond recognition, without mSCOA numbers, wards or
    // asset classes, so no budget line links to it and the register moves on (the budget lines
    // keep their keys, the IDP projects get new ones).
    let original = idp_bytes();
    let mut rdr = csv::Reader::from_reader(&original[..]);
    let headers = rdr.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let blank = [
        col("description"),
        col("mscoa_project_number"),
        col("wards"),
        col("asset_class"),
    ];
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&headers).unwrap();
    for (i, row) in rdr.records().enumerate() {
        let row = row.unwrap();
        let fields: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, v)| match c {
                c if c == col("project_name") => format!("Unrelated item {i}"),
                c if blank.contains(&c) => String::new(),
                _ => v.to_string(),
            })
            .collect();
        w.write_record(&fields).unwrap();
    }
    std::fs::write(&idp, w.into_inner().unwrap()).unwrap();
    let second = run_with(&p, &RunRequest::new(clock(10))).await.unwrap();
    assert_ne!(
        read_table(&out, &manifest(&out), "project_register").height(),
        0,
        "the intervening run published a register"
    );
    assert_ne!(second.manifest.inputs, first.manifest.inputs);
    let mut req = RunRequest::new(clock(20));
    req.as_of = Some(first.manifest.run_id.clone());
    let replay = run_with(&p, &req).await.expect("replayed from the raw zone");
    assert_eq!(replay.manifest.inputs, first.manifest.inputs);
    assert_same_tables_except_run_id(&out, &first.manifest, &out, &replay.manifest);
}

/// A source that redirects to itself fails at once with a message that says so, not after
/// retries with "error following redirect".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_loop_is_named_and_not_retried() {
    let (base, _server) =
        http_server(|req: &Request| Reply::Send("302 Found", format!("location: {}\r\n", req.path), Vec::new())).await;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let p = pipeline_with_idp(tmp.path(), &format!("{base}/loop.csv"), "retries = 3", &out);
    let err = run_with(&p, &RunRequest::new(clock(0))).await.unwrap_err().to_string();
    assert!(err.contains("redirected in a loop or more than 10 times"), "{err}");
    assert!(err.contains("(after 1 attempt)"), "{err}");
}

//! The service as deployed: the real binary on 127.0.0.1 with per-second schedules, the API with
//! a bearer token, run history across a kill -9 and a restart.

use crate::common::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const TOKEN: &str = "test-token-3f9a";

/// A pipeline over the bundled sample with absolute paths, publishing to `out`.
pub(crate) fn sample_pipeline_text(
    name: &str,
    schedule: Option<&str>,
    out: &Path,
    idp_location: Option<&str>,
) -> String {
    let sample = repo().join("sample");
    let s = |rel: &str| sample.join(rel).display().to_string();
    let idp = idp_location
        .map(str::to_string)
        .unwrap_or_else(|| s("idp/idp_register_2024_25.csv"));
    format!(
        r#"name = "{name}"
{schedule}
[publish]
location = "{out}"
[reconcile]
financial_years = ["2024/25", "2025/26"]
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
"#,
        schedule = schedule.map(|s| format!("schedule = \"{s}\"")).unwrap_or_default(),
        out = out.display(),
        budget = s("budget/sa36_2024_25.xlsx"),
    )
}

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Server {
    pub(crate) fn start(dir: &Path, pipelines: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_harvester"))
            .args([
                "serve",
                "--pipelines",
                pipelines.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
                "--grace-secs",
                "5",
            ])
            .env("HARVESTER_HISTORY", dir.join("history.sqlite"))
            .env("HARVESTER_API_TOKEN", TOKEN)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Server {
            child,
            base: format!("http://{addr}"),
        }
    }

    fn kill9(&mut self) {
        let _ = Command::new("kill").args(["-9", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

pub(crate) async fn get_json(url: &str) -> serde_json::Value {
    client().get(url).send().await.unwrap().json().await.unwrap()
}

pub(crate) async fn trigger(base: &str, pipeline: &str, body: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let mut req = client()
        .post(format!("{base}/pipelines/{pipeline}/runs"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

/// Polls `GET /runs/{id}` until its status is not `running`.
pub(crate) async fn wait_for(base: &str, run_id: &str, within: Duration) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let r = get_json(&format!("{base}/runs/{run_id}")).await;
        if r["status"] != "running" {
            return r;
        }
        assert!(start.elapsed() < within, "run {run_id} still running after {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) fn setup(pipelines: &[(&str, String)]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pipelines");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in pipelines {
        std::fs::write(dir.join(format!("{name}.toml")), text).unwrap();
    }
    (tmp, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_and_triggered_runs_with_auth_and_metrics() {
    let tmp0 = tempfile::tempdir().unwrap();
    let (tmp, dir) = setup(&[
        (
            "tick",
            sample_pipeline_text("tick", Some("* * * * * *"), &tmp0.path().join("tick"), None),
        ),
        (
            "manual",
            sample_pipeline_text("manual", None, &tmp0.path().join("manual"), None),
        ),
    ]);
    let server = Server::start(tmp.path(), &dir);
    let base = server.base.clone();

    // The per-second schedule runs by itself.
    let start = Instant::now();
    let scheduled = loop {
        let runs = get_json(&format!("{base}/runs?pipeline=tick")).await;
        if let Some(r) = runs
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["trigger"] == "schedule" && r["status"] == "succeeded")
        {
            break r.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no scheduled run succeeded: {runs}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(tmp0.path().join("tick/manifest.json").exists());
    assert!(scheduled["rows_in"].as_i64().unwrap() > 0);

    // Unauthenticated and wrongly authenticated triggers are refused.
    assert_eq!(trigger(&base, "manual", "", None).await.0, 401);
    assert_eq!(trigger(&base, "manual", "", Some("wrong")).await.0, 401);
    // Unknown pipelines and bad parameters are named.
    let (code, body) = trigger(&base, "nope", "", Some(TOKEN)).await;
    assert_eq!(
        (code, body["error"].as_str().unwrap()),
        (404, "no pipeline named `nope`")
    );
    let (code, body) = trigger(&base, "manual", r#"{"financial_years": ["someday"]}"#, Some(TOKEN)).await;
    assert_eq!(code, 422);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("`someday` is not a financial year"),
        "{body}"
    );

    // A triggered run with parameters happens and shows in GET /runs.
    let (code, body) = trigger(
        &base,
        "manual",
        r#"{"financial_years": ["2024/25"], "municipalities": ["BUF"]}"#,
        Some(TOKEN),
    )
    .await;
    assert_eq!(code, 202, "{body}");
    let run_id = body["run_id"].as_str().unwrap().to_string();
    let done = wait_for(&base, &run_id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["trigger"], "api");
    assert_eq!(done["parameters"]["municipalities"][0], "BUF");
    let runs = get_json(&format!("{base}/runs")).await;
    assert!(runs.as_array().unwrap().iter().any(|r| r["run_id"] == run_id.as_str()));
    // A filtered run is a scenario run: published under scenarios/<name>/, never as the live
    // manifest.
    let root = tmp0.path().join("manual");
    assert!(
        !root.join("manifest.json").exists(),
        "a filtered run wrote the live manifest"
    );
    assert_eq!(
        done["manifest"],
        format!("scenarios/fy2024-BUF/runs/{run_id}/manifest.json")
    );
    let out = root.join("scenarios/fy2024-BUF");
    assert_eq!(manifest(&out)["scenario"]["population"], "full");
    // Only BUF, only 2024/25 in the published metrics.
    let metrics = read_table(&out, &manifest(&out), "alignment_metrics");
    // Municipality rows are BUF's only, with the roll-ups BUF belongs to (EC, A, ZA), computed
    // over every municipality.
    let levels = strings(&metrics, "level");
    let codes = strings(&metrics, "area_code");
    for (l, c) in levels.iter().zip(&codes) {
        let expected = match l.as_deref() {
            Some("municipality") => "BUF",
            Some("province") => "EC",
            Some("category") => "A",
            _ => "ZA",
        };
        assert_eq!(c.as_deref(), Some(expected));
    }
    assert!(
        (0..metrics.height()).all(|i| metrics.column("financial_year").unwrap().i32().unwrap().get(i) == Some(2024))
    );

    // A rerun from the stored inputs of that run, under a named scenario, through the API.
    let (code, body) = trigger(
        &base,
        "manual",
        &format!(r#"{{"as_of": "{run_id}", "scenario": "replay-1"}}"#),
        Some(TOKEN),
    )
    .await;
    assert_eq!(code, 202, "{body}");
    let replay_id = body["run_id"].as_str().unwrap().to_string();
    let replay = wait_for(&base, &replay_id, Duration::from_secs(60)).await;
    assert_eq!(replay["status"], "succeeded", "{replay}");
    let replayed = manifest(&root.join("scenarios/replay-1"));
    assert_eq!(replayed["scenario"]["as_of"], run_id.as_str());
    assert_eq!(replayed["scenario"]["population"], "full");
    assert_eq!(replayed["inputs"], manifest(&out)["inputs"]);
    assert!(!root.join("manifest.json").exists());
    // Scenario names must be safe folder names.
    let (code, body) = trigger(&base, "manual", r#"{"scenario": "../live"}"#, Some(TOKEN)).await;
    assert_eq!(code, 422);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("scenario `../live`: a scenario name is 1 to 80 ASCII letters"),
        "{body}"
    );

    // Two concurrent triggers never overlap: one starts, the other is refused.
    let (a, b) = tokio::join!(
        trigger(&base, "manual", "", Some(TOKEN)),
        trigger(&base, "manual", "", Some(TOKEN))
    );
    let mut codes = [a.0, b.0];
    codes.sort_unstable();
    assert_eq!(codes, [202, 409], "{a:?} {b:?}");
    let started = if a.0 == 202 { &a.1 } else { &b.1 };
    wait_for(&base, started["run_id"].as_str().unwrap(), Duration::from_secs(60)).await;
    let history = get_json(&format!("{base}/runs?pipeline=manual")).await;
    let mut spans: Vec<(String, String)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["started_at"].as_str().unwrap().to_string(),
                r["finished_at"].as_str().unwrap_or("9999").to_string(),
            )
        })
        .collect();
    spans.sort();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "runs overlap: {w:?}");
    }

    // GET /pipelines shows the next scheduled time.
    let pipelines = get_json(&format!("{base}/pipelines")).await;
    let tick = pipelines
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "tick")
        .unwrap();
    assert!(tick["next_run_at"].as_str().is_some(), "{tick}");

    // /metrics is Prometheus text exposition.
    let text = client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    crate::ops::assert_prometheus_text(&text);
    assert!(
        // The filtered run, its replay and the first of the two concurrent triggers.
        text.contains("harvester_runs_total{pipeline=\"manual\",status=\"succeeded\"} 3"),
        "{text}"
    );
    assert!(
        text.lines().any(
            |l| l.starts_with("harvester_last_success_timestamp_seconds{pipeline=\"tick\"} ") && !l.ends_with(" 0")
        ),
        "{text}"
    );
}

/// Serves `bytes` once, then accepts every later request and never answers.
async fn stalling_http_server(bytes: Vec<u8>) -> String {
    let mut served = false;
    let (base, _task) = http_server(move |_| {
        if std::mem::replace(&mut served, true) {
            Reply::Hold // stall: keep the connection open, say nothing
        } else {
            Reply::Send("200 OK", String::new(), bytes.clone())
        }
    })
    .await;
    format!("{base}/idp.csv")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_mid_run_keeps_outputs_and_restart_marks_it_interrupted() {
    let idp = std::fs::read(repo().join("sample/idp/idp_register_2024_25.csv")).unwrap();
    let url = stalling_http_server(idp).await;
    let tmp0 = tempfile::tempdir().unwrap();
    let out = tmp0.path().join("slow");
    let (tmp, dir) = setup(&[("slow", sample_pipeline_text("slow", None, &out, Some(&url)))]);
    let mut server = Server::start(tmp.path(), &dir);
    let base = server.base.clone();

    // First run: the HTTP source answers; outputs are published.
    let (code, body) = trigger(&base, "slow", "", Some(TOKEN)).await;
    assert_eq!(code, 202);
    let first = wait_for(&base, body["run_id"].as_str().unwrap(), Duration::from_secs(60)).await;
    assert_eq!(first["status"], "succeeded", "{first}");
    let manifest_before = std::fs::read(out.join("manifest.json")).unwrap();

    // Second run: the source stalls; kill -9 while it is in flight.
    let (code, body) = trigger(&base, "slow", "", Some(TOKEN)).await;
    assert_eq!(code, 202);
    let second = body["run_id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(get_json(&format!("{base}/runs/{second}")).await["status"], "running");
    server.kill9();

    // The previous outputs are intact and readable through the manifest.
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), manifest_before);
    let m = manifest(&out);
    assert!(read_table(&out, &m, "projects").height() > 0);

    // After a restart the killed run shows as interrupted.
    let server = Server::start(tmp.path(), &dir);
    let r = get_json(&format!("{}/runs/{second}", server.base)).await;
    assert_eq!(r["status"], "interrupted", "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_schedule_catches_up_at_start_and_sigterm_interrupts_after_grace() {
    let idp = std::fs::read(repo().join("sample/idp/idp_register_2024_25.csv")).unwrap();
    let url = stalling_http_server(idp).await;
    let tmp0 = tempfile::tempdir().unwrap();
    // Daily at 02:00; the history says the last run was three days ago.
    let text = sample_pipeline_text("nightly", Some("0 2 * * *"), &tmp0.path().join("nightly"), Some(&url))
        .replace("name = \"nightly\"", "name = \"nightly\"\ncatch_up = true");
    let (tmp, dir) = setup(&[("nightly", text)]);
    {
        let h = harvester::history::History::open(&tmp.path().join("history.sqlite")).unwrap();
        let then =
            (chrono::Utc::now() - chrono::Duration::days(3)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        h.start(
            "20000101T000000000Z-old",
            "nightly",
            harvester::history::Trigger::Schedule,
            &serde_json::json!({}),
            &then,
        )
        .unwrap();
        let f = harvester::history::Finish {
            status: "succeeded",
            finished_at: then.clone(),
            ..Default::default()
        };
        h.finish("20000101T000000000Z-old", &f).unwrap();
    }
    let server = Server::start(tmp.path(), &dir);
    let base = server.base.clone();
    // The catch-up run starts at once (its source answers the first request).
    let start = Instant::now();
    let caught_up = loop {
        let runs = get_json(&format!("{base}/runs?pipeline=nightly")).await;
        if let Some(r) = runs
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["run_id"] != "20000101T000000000Z-old")
        {
            break r.clone();
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no catch-up run: {runs}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(caught_up["trigger"], "schedule");
    wait_for(&base, caught_up["run_id"].as_str().unwrap(), Duration::from_secs(60)).await;

    // A run whose source stalls is in flight when SIGTERM arrives: after the 5 s grace period
    // the service exits and records the run as interrupted.
    let (code, body) = trigger(&base, "nightly", "", Some(TOKEN)).await;
    assert_eq!(code, 202);
    let stuck = body["run_id"].as_str().unwrap().to_string();
    let mut server = server;
    Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let h = harvester::history::History::open(&tmp.path().join("history.sqlite")).unwrap();
    let r = h.get(&stuck).unwrap().unwrap();
    assert_eq!(r.status, "interrupted");
    assert_eq!(r.error.as_deref(), Some(harvester::service::INTERRUPTED));
}

/// The API keeps answering while two heavy runs (two national worlds of two metros each, in two
/// pipelines) read, link and publish at once: runs must not occupy the threads that serve HTTP.
/// The runtime has a single worker thread, so any stretch of run work on it would hold
/// `/health` for that long.
#[test]
fn health_answers_promptly_while_two_heavy_runs_link() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let pipelines: Vec<_> = ["a", "b"]
        .iter()
        .enumerate()
        .map(|(seed, world)| {
            let dir = tmp.path().join(world);
            harvester::synth::national::write(
                &dir,
                harvester::synth::national::Scale {
                    municipalities: 2,
                    years: 1,
                    seed: seed as u64 + 1,
                    noise: harvester::synth::national::Noise::DEFAULT,
                },
            )
            .unwrap();
            let mut p = harvester::config::Pipeline::load(&dir.join("national.toml"), &dir).unwrap();
            p.name = format!("national_{world}");
            p
        })
        .collect();
    let names: Vec<String> = pipelines.iter().map(|p| p.name.clone()).collect();
    let history = std::sync::Arc::new(harvester::history::History::open(&tmp.path().join("history.sqlite")).unwrap());
    let svc = harvester::service::Service::new(
        pipelines,
        history.clone(),
        None,
        std::sync::Arc::new(harvester::domain::SystemClock),
    )
    .unwrap();
    let (run_ids, latencies) = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = harvester::service::api::app(svc.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let run_ids: Vec<String> = names
            .iter()
            .map(|n| {
                svc.trigger(n, harvester::history::Trigger::Api, Default::default())
                    .unwrap()
            })
            .collect();
        let client = client();
        let mut latencies = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(900);
        // Probed while both runs are in flight (the first to finish ends the probing).
        while names.iter().all(|n| svc.running_run(n).is_some()) {
            assert!(Instant::now() < deadline, "the runs finish within 15 minutes");
            let t = Instant::now();
            let r = client.get(format!("{base}/health")).send().await.unwrap();
            assert_eq!(r.status(), 200);
            latencies.push(t.elapsed());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        while names.iter().any(|n| svc.running_run(n).is_some()) {
            assert!(Instant::now() < deadline, "the runs finish within 15 minutes");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        (run_ids, latencies)
    });
    for run_id in &run_ids[1..] {
        let row = history.get(run_id).unwrap().unwrap();
        assert_eq!(row.status, "succeeded", "{row:?}");
    }
    let run_id = &run_ids[0];
    let row = history.get(run_id).unwrap().unwrap();
    assert_eq!(row.status, "succeeded", "{row:?}");
    let mut sorted = latencies.clone();
    sorted.sort();
    assert!(
        sorted.len() >= 5,
        "the run lasted long enough to be probed: {} probes",
        sorted.len()
    );
    let p99 = sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)];
    let max = *sorted.last().unwrap();
    eprintln!(
        "/health during two runs: {} probes, p50 {:?}, p99 {p99:?}, max {max:?}, waiting {:?} in all",
        sorted.len(),
        sorted[sorted.len() / 2],
        latencies.iter().sum::<Duration>()
    );
    // The issue's figure: p99 under 100 ms (seen: 12–23 ms in a debug build on 2 busy cores).
    assert!(p99 < Duration::from_millis(100), "p99 {p99:?} (max {max:?})");
    // Probes are 50 ms apart: waiting on the server must be a small part of the probing time
    // (with the run on the serving thread it was about 80%: 20 probes in 6 s, up to 450 ms each).
    let waiting: Duration = latencies.iter().sum();
    let probing = waiting + Duration::from_millis(50) * latencies.len() as u32;
    let share = waiting.as_secs_f64() / probing.as_secs_f64();
    assert!(share < 0.25, "the API was busy {:.0}% of the time", share * 100.0);
}

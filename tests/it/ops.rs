//! Issue #18, what an operator relies on: JSON log lines that carry the run's stage, no escape
//! codes in pipes, a short summary, `/runs/{id}` showing the stage, a cancel that stops linking
//! within two seconds, and `/metrics` that a Prometheus parser (and `promtool`, when installed)
//! accepts, with counters that never go down.

use crate::common::*;
use crate::service::{client, get_json, setup, trigger, wait_for, Server, TOKEN};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

/// `harvester -v run` on the sample with stderr and stdout piped (as under a supervisor).
fn run_sample(extra: &[&str]) -> (String, String, Duration) {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let output = Command::new(env!("CARGO_BIN_EXE_harvester"))
        .args(extra)
        .args(["-v", "run", "pipelines/sample.toml", "--out", out.to_str().unwrap()])
        .env("HARVESTER_HISTORY", tmp.path().join("history.sqlite"))
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .env_remove("HARVESTER_LOG_FORMAT")
        .current_dir(repo())
        .output()
        .expect("harvester runs");
    let (stdout, stderr) = (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    );
    assert!(output.status.success(), "{stderr}");
    (stdout, stderr, started.elapsed())
}

#[test]
fn piped_logs_are_json_lines_with_the_stage_and_no_escape_codes() {
    let (stdout, stderr, wall) = run_sample(&[]);
    assert!(
        !stderr.contains('\x1b') && !stdout.contains('\x1b'),
        "escape codes in a pipe"
    );
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let run_id = stdout
        .split_whitespace()
        .nth(2)
        .expect("harvester: run <id> ...")
        .to_string();
    // Every line written during the run names it, and the stage it was in.
    let fetching: Vec<&serde_json::Value> = lines.iter().filter(|l| l["message"] == "fetching").collect();
    assert_eq!(fetching.len(), 6, "one per sample source: {stderr}");
    for l in &fetching {
        assert_eq!(
            (l["stage"].as_str(), l["run_id"].as_str()),
            (Some("fetch"), Some(run_id.as_str())),
            "{l}"
        );
        assert_eq!(l["pipeline"], "sample");
        assert_eq!(l["level"], "INFO");
    }
    let linked = lines.iter().find(|l| l["message"] == "linked").expect("a linked line");
    assert_eq!(linked["stage"], "link", "{linked}");
    assert!(linked["links"].as_u64().unwrap() > 0, "numbers stay numbers: {linked}");
    // Each stage's own seconds, in order.
    let finished: Vec<(&str, f64)> = lines
        .iter()
        .filter(|l| l["message"] == "stage finished")
        .map(|l| (l["stage"].as_str().unwrap(), l["secs"].as_f64().unwrap()))
        .collect();
    let names: Vec<&str> = finished.iter().map(|(s, _)| *s).collect();
    // Each stage is timed on its own: together they fit in the process's wall time (seconds
    // counted from the start of linking would add up to more).
    let sum: f64 = finished.iter().map(|(_, s)| s).sum();
    assert!(
        sum <= wall.as_secs_f64(),
        "stages {finished:?} add up to more than the run's {wall:?}"
    );
    assert_eq!(
        names,
        ["fetch", "link", "variances", "metrics", "exceptions", "publish"]
    );
    let summary_line = stdout
        .lines()
        .find(|l| l.starts_with("Stages: "))
        .expect("a stages line");
    assert!(
        summary_line.contains("link ") && summary_line.contains("publish "),
        "{summary_line}"
    );
    assert!(stdout.lines().count() < 60, "a short summary: {stdout}");
}

#[test]
fn a_failed_run_in_a_pipe_says_why_in_a_json_line_too() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("idp_missing.csv");
    let output = Command::new(env!("CARGO_BIN_EXE_harvester"))
        .args(["run", "pipelines/sample.toml", "--out"])
        .arg(tmp.path().join("out"))
        .arg("--source")
        .arg(format!("idp={}", missing.display()))
        .env("HARVESTER_HISTORY", tmp.path().join("history.sqlite"))
        .env_remove("HARVESTER_LOG_FORMAT")
        .current_dir(repo())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let last = lines.last().expect("the failure is reported");
    assert_eq!(last["level"], "ERROR", "{last}");
    let message = last["message"].as_str().unwrap();
    assert!(
        message.starts_with("run of pipeline `sample` failed: ") && message.contains("idp_missing.csv"),
        "{message}"
    );
}

#[test]
fn text_logs_in_a_pipe_have_no_escape_codes_and_show_the_stage() {
    let (_, stderr, _) = run_sample(&["--log-format", "text"]);
    assert!(!stderr.contains('\x1b'), "escape codes in a pipe: {stderr:?}");
    let linked = stderr.lines().find(|l| l.contains(" linked ")).expect("a linked line");
    assert!(linked.contains("[link]") && linked.contains("INFO"), "{linked}");
    assert!(serde_json::from_str::<serde_json::Value>(linked).is_err());
}

/// Checks every line of a Prometheus text (0.0.4) exposition: HELP and TYPE once per family
/// before its samples; every sample `name{labels} value` of a declared family (a histogram's
/// `_bucket`, `_sum` and `_count` included); `promtool check metrics` clean when promtool is
/// installed (`.ci/run` installs it).
pub(crate) fn assert_prometheus_text(text: &str) {
    let sample = regex::Regex::new(r#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$"#).unwrap();
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    assert!(text.ends_with('\n'));
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(
                typed.insert(name.to_string(), kind.to_string()).is_none(),
                "TYPE twice for {name}"
            );
        } else if !line.starts_with("# HELP ") {
            let c = sample
                .captures(line)
                .unwrap_or_else(|| panic!("not a sample line: {line:?}"));
            let name = &c[1];
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .filter_map(|s| name.strip_suffix(s))
                .find(|f| typed.get(*f).is_some_and(|k| k == "histogram"))
                .unwrap_or(name);
            assert!(typed.contains_key(family), "sample before its TYPE: {line}");
            if typed[family] == "counter" {
                assert!(name.ends_with("_total"), "{line}");
            }
        }
    }
    promtool_check(text);
}

fn promtool_check(text: &str) {
    use std::io::Write;
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("skipped: promtool is not installed (apt-get install prometheus; .ci/run does), so `promtool check metrics` was not run");
        return;
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every counter sample and histogram count of a scrape, by name and labels.
fn counters(text: &str) -> BTreeMap<String, f64> {
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parses");
    let mut out = BTreeMap::new();
    for s in scrape.samples {
        let key = format!("{}{{{}}}", s.metric, s.labels);
        match s.value {
            prometheus_parse::Value::Counter(v) => {
                out.insert(key, v);
            }
            prometheus_parse::Value::Histogram(buckets) => {
                for b in buckets {
                    out.insert(format!("{key} le={}", b.less_than), b.count);
                }
            }
            // A histogram's `_sum` and `_count` parse as untyped samples of their own names.
            prometheus_parse::Value::Untyped(v) if s.metric.ends_with("_sum") || s.metric.ends_with("_count") => {
                out.insert(key, v);
            }
            _ => {}
        }
    }
    out
}

async fn scrape(base: &str) -> String {
    let resp = client().get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    resp.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_counters_never_decrease_across_a_run() {
    let tmp0 = tempfile::tempdir().unwrap();
    let text = crate::service::sample_pipeline_text("m", None, &tmp0.path().join("m"), None);
    let (tmp, dir) = setup(&[("m", text)]);
    let server = Server::start(tmp.path(), &dir);
    let base = server.base.clone();
    let first = scrape(&base).await;
    assert_prometheus_text(&first);
    let before = counters(&first);
    assert_eq!(
        before["harvester_runs_total{pipeline=\"m\",status=\"succeeded\"}"], 0.0,
        "{first}"
    );

    let (code, body) = trigger(&base, "m", "", Some(TOKEN)).await;
    assert_eq!(code, 202, "{body}");
    let run_id = body["run_id"].as_str().unwrap();
    let done = wait_for(&base, run_id, Duration::from_secs(120)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let stages: Vec<&str> = done["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        ["fetch", "link", "variances", "metrics", "exceptions", "publish"],
        "{done}"
    );

    let second = scrape(&base).await;
    assert_prometheus_text(&second);
    let after = counters(&second);
    for (k, v) in &before {
        let now = after.get(k).unwrap_or_else(|| panic!("{k} vanished:\n{second}"));
        assert!(now >= v, "{k} went down from {v} to {now}");
    }
    assert_eq!(
        after["harvester_runs_total{pipeline=\"m\",status=\"succeeded\"}"], 1.0,
        "{second}"
    );
    assert_eq!(
        after["harvester_run_duration_seconds_count{pipeline=\"m\",status=\"succeeded\"}"],
        1.0
    );
    assert_eq!(
        after["harvester_stage_duration_seconds_count{pipeline=\"m\",stage=\"link\"}"],
        1.0
    );
    assert!(after["harvester_rows_in_total{pipeline=\"m\"}"] > 0.0);
    assert!(second.contains("harvester_running{pipeline=\"m\"} 0\n"), "{second}");
    // A scraper that asks for OpenMetrics gets it.
    let om = client()
        .get(format!("{base}/metrics"))
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        om.ends_with("# EOF\n") && om.contains("# TYPE harvester_runs counter\n"),
        "{om}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_during_linking_stops_the_run_within_two_seconds() {
    // Two metros: linking takes many seconds in a debug build.
    let world = tempfile::tempdir().unwrap();
    harvester::synth::national::write(
        world.path(),
        harvester::synth::national::Scale {
            municipalities: 2,
            years: 1,
            seed: 1,
            noise: harvester::synth::national::Noise::DEFAULT,
        },
    )
    .unwrap();
    let state = tempfile::tempdir().unwrap();
    let server = Server::start(state.path(), world.path());
    let base = server.base.clone();
    let (code, body) = trigger(&base, "national", "", Some(TOKEN)).await;
    assert_eq!(code, 202, "{body}");
    let run_id = body["run_id"].as_str().unwrap().to_string();
    // /runs/{id} says which stage the run is in; wait until linking is under way.
    let start = Instant::now();
    let progress = loop {
        let r = get_json(&format!("{base}/runs/{run_id}")).await;
        assert_eq!(r["status"], "running", "the run ended before linking was seen: {r}");
        if r["progress"]["stage"] == "link" && r["progress"]["total"].as_u64().is_some() {
            break r["progress"].clone();
        }
        assert!(start.elapsed() < Duration::from_secs(300), "linking never started: {r}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        progress["done"].as_u64().unwrap() < progress["total"].as_u64().unwrap(),
        "{progress}"
    );
    assert_eq!(progress["unit"], "municipality blocks");
    assert_eq!(progress["finished"][0]["stage"], "fetch", "{progress}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cancel = client()
        .post(format!("{base}/runs/{run_id}/cancel"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status().as_u16(), 202);
    let asked = Instant::now();
    let done = wait_for(&base, &run_id, Duration::from_secs(30)).await;
    let took = asked.elapsed();
    eprintln!("cancel during linking took effect in {took:?}");
    assert_eq!(done["status"], "cancelled", "{done}");
    assert!(took < Duration::from_secs(2), "the cancel took {took:?}");
    let stages: Vec<&str> = done["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["fetch", "link"], "stopped in linking: {done}");
    assert!(!world.path().join("out/manifest.json").exists(), "nothing published");
}

//! `harvester validate` and `run` from the command line, as a user types them.

use crate::common::repo;
use std::process::Command;

fn harvester(args: &[&str], cwd: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_harvester"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validate_names_all_three_mistakes_with_file_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("broken.toml");
    std::fs::write(
        &file,
        r#"
name = "broken"
schedule = "at two in the morning"
[[sources]]
name = "budget"
location = "budget.xlsx"
contract = "sa36_budget"
[[sources]]
name = "idp"
location = "idp.csv"
contract = "idp_register"
unit = "pounds"
"#,
    )
    .unwrap();
    let (code, _, err) = harvester(&["validate", file.to_str().unwrap()], tmp.path());
    assert_eq!(code, 2, "{err}");
    // The three mistakes, and the two local files that are not there.
    assert!(err.contains("5 problems in pipeline configuration"), "{err}");
    let f = file.display().to_string();
    assert!(
        err.contains(&format!(
            "{f}: schedule: \"at two in the morning\": minute `at` is not a number;"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{f}: sources[0].contract: unknown contract `sa36_budget`")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{f}: sources[1].unit: expected `rand`, `thousand` or `million`, found `pounds`"
        )),
        "{err}"
    );
    let missing = tmp.path().join("idp.csv");
    assert!(
        err.contains(&format!(
            "{f}: sources[1].location: {} does not exist",
            missing.display()
        )),
        "{err}"
    );
}

#[test]
fn validate_reports_missing_files_empty_globs_duplicates_and_cron_in_one_go() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("drop")).unwrap();
    std::fs::write(tmp.path().join("drop/readme.txt"), "not a budget").unwrap();
    std::fs::write(tmp.path().join("idp.csv"), "x").unwrap();
    let file = tmp.path().join("nightly.toml");
    std::fs::write(
        &file,
        r#"
name = "nightly"
schedule = "0 25 * * *"
[reconcile]
overrides = "overrides.csv"
[[sources]]
name = "budget"
location = "drop/sa36_*.xlsx"
contract = "sa36_budget"
[[sources]]
name = "budget"
location = "idp.csv"
contract = "idp_register"
[[sources]]
name = "bepp"
location = "https://example.org/bepp.csv"
contract = "bepp_pipeline"
"#,
    )
    .unwrap();
    let (code, _, err) = harvester(&["validate", file.to_str().unwrap()], tmp.path());
    assert_eq!(code, 2, "{err}");
    let f = file.display().to_string();
    let expected = [
        format!("{f}: schedule: \"0 25 * * *\": hour 25 is out of range 0–23"),
        format!("{f}: sources[0].contract: unknown contract `sa36_budget`"),
        format!("{f}: sources[1].name: `budget` is used by another source (sources[0]); source names must be unique"),
        format!(
            "{f}: reconcile.overrides: {} does not exist",
            tmp.path().join("overrides.csv").display()
        ),
        format!(
            "{f}: sources[0].location: no file in {} matches `sa36_*.xlsx`",
            tmp.path().join("drop").display()
        ),
    ];
    for e in &expected {
        assert!(err.contains(e.as_str()), "missing {e:?} in:\n{err}");
    }
    assert!(err.contains("5 problems in pipeline configuration"), "{err}");
    assert!(!err.contains("bepp.csv"), "remote sources are not contacted: {err}");
}

#[test]
fn validate_accepts_the_bundled_pipelines() {
    let (code, out, err) = harvester(&["validate"], &repo());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pipeline `sample`, 6 sources"), "{out}");
}

#[test]
fn run_prints_a_summary_and_honours_out() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("published");
    let (code, out, err) = harvester(&["run", "--out", out_dir.to_str().unwrap()], &repo());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Sources"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("budget_2024") && l.contains(" 44 ") && l.contains(" 41 ")),
        "{out}"
    );
    assert!(out.contains("bepp_idp"), "{out}");
    assert!(out_dir.join("manifest.json").exists());
}

#[test]
fn unknown_source_override_is_a_usage_error() {
    let (code, _, err) = harvester(&["run", "--source", "nope=x.csv"], &repo());
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "pipeline `sample` has no source `nope`; its sources are budget_2024, budget_2025, idp, bepp, irm, a5"
        ),
        "{err}"
    );
}

#[test]
fn the_ops_example_pipeline_stays_valid() {
    let (code, out, err) = harvester(&["validate", "ops/pipelines/s3_example.toml"], &repo());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pipeline `national-s3`, 3 sources"), "{out}");
}

/// SIGTERM to `harvester run` while a download stalls: the run stops within seconds, nothing is
/// published, and the history records it as `interrupted` (not cancelled, failed, or running).
#[test]
fn sigterm_during_a_cli_run_records_it_as_interrupted() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let (base, _server) = rt.block_on(crate::common::http_server(|_| crate::common::Reply::Hold));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let pipeline = tmp.path().join("stall.toml");
    std::fs::write(
        &pipeline,
        format!(
            r#"
name = "stall"
[publish]
location = "{out}"
[[sources]]
name = "idp"
location = "{base}/idp.csv"
contract = "idp_register"
format = "csv"
timeout_secs = 600
"#,
            out = out.display()
        ),
    )
    .unwrap();
    let history = tmp.path().join("history.sqlite");
    let mut child = Command::new(env!("CARGO_BIN_EXE_harvester"))
        .args([
            "--history",
            history.to_str().unwrap(),
            "run",
            pipeline.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the run is recorded as running (its download is then stalled).
    let started = std::time::Instant::now();
    loop {
        let running = harvester::history::History::open(&history)
            .ok()
            .and_then(|h| h.list(None, 10).ok())
            .is_some_and(|rows| rows.iter().any(|r| r.status == "running"));
        if running {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the run never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let signalled = std::time::Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    let took = signalled.elapsed();
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{status:?}: {stderr}");
    assert!(
        took < std::time::Duration::from_secs(5),
        "exited {took:?} after SIGTERM"
    );
    let rows = harvester::history::History::open(&history)
        .unwrap()
        .list(None, 10)
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "interrupted", "{:?}", rows[0]);
    assert!(!out.join("manifest.json").exists());
    assert!(!out.join(".lock").exists(), "the lock is released: {stderr}");
}

fn stalled_pipeline(dir: &std::path::Path, base: &str, out: &std::path::Path) -> std::path::PathBuf {
    let pipeline = dir.join("stall.toml");
    std::fs::write(
        &pipeline,
        format!(
            "name = \"stall\"\n[publish]\nlocation = \"{}\"\n[[sources]]\nname = \"idp\"\nlocation = \"{base}/idp.csv\"\ncontract = \"idp_register\"\nformat = \"csv\"\ntimeout_secs = 600\n",
            out.display()
        ),
    )
    .unwrap();
    pipeline
}

fn statuses(history: &std::path::Path) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = harvester::history::History::open(history)
        .unwrap()
        .list(None, 100)
        .unwrap()
        .into_iter()
        .map(|r| (r.run_id, r.status))
        .collect();
    rows.sort();
    rows
}

/// Waits until `n` runs are recorded as running.
fn wait_running(history: &std::path::Path, n: usize) {
    let started = std::time::Instant::now();
    while statuses(history).iter().filter(|(_, s)| s == "running").count() < n {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{:?}",
            statuses(history)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A `harvester run` killed with -9 leaves its run `running` and its publish lock behind; the
/// next `harvester run` marks that run interrupted and takes the lock over, while a run whose
/// process is alive is left alone.
#[test]
fn a_dead_cli_run_is_marked_interrupted_at_the_next_start_and_its_lock_taken_over() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (base, _server) = rt.block_on(crate::common::http_server(|_| crate::common::Reply::Hold));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let pipeline = stalled_pipeline(tmp.path(), &base, &out);
    let history = tmp.path().join("history.sqlite");
    let start = |p: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_harvester"))
            .args(["--history", history.to_str().unwrap(), "run", p.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut first = start(&pipeline);
    wait_running(&history, 1);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(out.join(".lock").exists(), "the first run holds the lock");
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let dead = statuses(&history)[0].0.clone();

    // The second run settles the dead one and, the lock's process being gone, takes it over.
    let mut second = start(&pipeline);
    let started = std::time::Instant::now();
    let live = loop {
        let s = statuses(&history);
        if let Some((id, _)) = s.iter().find(|(id, st)| *id != dead && st == "running") {
            break id.clone();
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "{s:?}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let s = statuses(&history);
    assert!(s.contains(&(dead.clone(), "interrupted".to_string())), "{s:?}");
    let started = std::time::Instant::now();
    loop {
        let lock: serde_json::Value = std::fs::read(out.join(".lock"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        if lock["run_id"] == live.as_str() {
            break; // the second run holds the lock now
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "lock: {lock}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // A third run (elsewhere, failing fast) leaves the live second run alone.
    let other = tmp.path().join("broken.toml");
    std::fs::write(
        &other,
        format!(
            "name = \"broken\"\n[publish]\nlocation = \"{}\"\n[[sources]]\nname = \"idp\"\nlocation = \"{}\"\ncontract = \"idp_register\"\n",
            tmp.path().join("out2").display(),
            tmp.path().join("missing.csv").display()
        ),
    )
    .unwrap();
    let third = start(&other).wait_with_output().unwrap();
    assert_eq!(
        third.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&third.stderr)
    );
    assert!(statuses(&history).contains(&(live.clone(), "running".to_string())));
    let _ = Command::new("kill").args(["-TERM", &second.id().to_string()]).status();
    second.wait().unwrap();
    assert!(statuses(&history).contains(&(live, "interrupted".to_string())));
}

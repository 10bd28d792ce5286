//! Scenario runs (issue #14): a run filtered to some years or municipalities publishes under
//! `scenarios/<name>/` with its own manifest and leaves the live outputs byte for byte as they
//! were; its tables hold only what was chosen.

use crate::common::*;
use harvester::domain::fiscal::{Calendar, FinancialYear};
use harvester::run::{run, run_with, RunRequest};
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every file under `dir` (relative path → bytes), skipping the folders named in `skip`.
fn snapshot(dir: &Path, skip: &[&str]) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
            if skip.iter().any(|s| rel == *s) {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn years(df: &DataFrame) -> BTreeSet<Option<i32>> {
    let ca = df.column("financial_year").unwrap().i32().unwrap().clone();
    (0..ca.len()).map(|i| ca.get(i)).collect()
}

fn distinct(df: &DataFrame, column: &str) -> BTreeSet<Option<String>> {
    strings(df, column).into_iter().collect()
}

fn chosen(codes: &[&str]) -> BTreeSet<Option<String>> {
    codes.iter().map(|c| Some((*c).to_string())).collect()
}

/// Metric rows of one year: (level, area, metric, dimension) → (value, peer rank, peer count,
/// peer percentile), as text.
fn metric_rows(df: &DataFrame, year: i32) -> BTreeMap<String, String> {
    let y = df.column("financial_year").unwrap().i32().unwrap().clone();
    let keys: Vec<Vec<Option<String>>> = ["level", "area_code", "metric", "dimension"]
        .iter()
        .map(|c| strings(df, c))
        .collect();
    let vals: Vec<&Column> = ["value", "peer_rank", "peer_count", "peer_percentile"]
        .iter()
        .map(|c| df.column(c).unwrap())
        .collect();
    (0..df.height())
        .filter(|&i| y.get(i) == Some(year))
        .map(|i| {
            (
                format!("{:?}", keys.iter().map(|c| &c[i]).collect::<Vec<_>>()),
                vals.iter()
                    .map(|c| format!("{}", c.get(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join(" | "),
            )
        })
        .collect()
}

#[test]
fn a_filtered_run_publishes_its_own_scenario_and_leaves_the_live_outputs_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let p = sample_pipeline(out);
    block_on(run(&p, clock(0))).unwrap();
    let live = manifest(out);
    let register_files: Vec<String> = ["exception_register", "project_register"]
        .iter()
        .flat_map(|t| live["tables"][t]["files"].as_array().unwrap().clone())
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    assert_eq!(register_files.len(), 2, "{register_files:?}");
    let before_manifest = std::fs::read(out.join("manifest.json")).unwrap();
    let before_registers: Vec<Vec<u8>> = register_files
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();
    // The raw zone legitimately gains the scenario's fetch log; everything else must not move.
    let before_all = snapshot(out, &["raw"]);

    let mut req = RunRequest::new(clock(5));
    req.financial_years = vec![FinancialYear::new(Calendar::Municipal, 2025)];
    req.municipalities = vec!["BUF".into(), "EC121".into()];
    let report = block_on(run_with(&p, &req)).unwrap();

    assert_eq!(report.scenario.as_deref(), Some("fy2025-BUF-EC121"));
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), before_manifest);
    for (f, bytes) in register_files.iter().zip(&before_registers) {
        assert_eq!(&std::fs::read(out.join(f)).unwrap(), bytes, "{f} changed");
    }
    let after_all = snapshot(out, &["raw", "scenarios"]);
    assert_eq!(
        after_all.keys().collect::<Vec<_>>(),
        before_all.keys().collect::<Vec<_>>(),
        "no live file added or removed"
    );
    assert!(after_all == before_all, "no live file changed");
    assert!(
        before_all.keys().any(|k| k.starts_with("tables/projects/_delta_log/")),
        "the live Delta tables are among the unchanged files"
    );

    // Its own manifest, under scenarios/<name>/, naming files under the same prefix.
    let root = out.join("scenarios/fy2025-BUF-EC121");
    let m = manifest(&root);
    assert_eq!(m["run_id"], report.manifest.run_id.as_str());
    assert_eq!(m["scenario"]["name"], "fy2025-BUF-EC121");
    assert_eq!(m["scenario"]["financial_years"], serde_json::json!(["2025/26"]));
    assert_eq!(m["scenario"]["municipalities"], serde_json::json!(["BUF", "EC121"]));
    assert_eq!(m["scenario"]["population"], "full");
    assert!(live.get("scenario").is_none(), "live manifests carry no scenario");
    // The scenario's own Delta tables, under its prefix, hold its run.
    let scenario_store =
        harvester::storage::Store::open_folder(&harvester::domain::location::Location::Local(root.clone())).unwrap();
    let history = block_on(harvester::publish::delta::history(&scenario_store, "projects")).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].run_id.as_deref(), Some(report.manifest.run_id.as_str()));
    assert!(root
        .join(format!("runs/{}/manifest.json", report.manifest.run_id))
        .exists());
    assert_eq!(
        report.manifest_path,
        format!(
            "scenarios/fy2025-BUF-EC121/runs/{}/manifest.json",
            report.manifest.run_id
        )
    );

    // Only the chosen municipalities and year.
    let projects = read_table(&root, &m, "projects");
    assert!(projects.height() > 0);
    assert_eq!(distinct(&projects, "demarcation_code"), chosen(&["BUF", "EC121"]));
    assert_eq!(years(&projects), BTreeSet::from([Some(2025)]));
    for table in ["project_amounts", "variances", "alignment_metrics"] {
        let df = read_table(&root, &m, table);
        assert!(df.height() > 0, "{table} is empty");
        assert_eq!(years(&df), BTreeSet::from([Some(2025)]), "{table}");
    }
    for table in ["project_amounts", "links", "variances", "exceptions"] {
        let df = read_table(&root, &m, table);
        let codes = distinct(&df, "demarcation_code");
        assert!(codes.is_subset(&chosen(&["BUF", "EC121"])), "{table}: {codes:?}");
    }
    let metrics = read_table(&root, &m, "alignment_metrics");
    let levels = strings(&metrics, "level");
    let areas = strings(&metrics, "area_code");
    let munis: BTreeSet<Option<String>> = (0..metrics.height())
        .filter(|&i| levels[i].as_deref() == Some("municipality"))
        .map(|i| areas[i].clone())
        .collect();
    assert_eq!(munis, chosen(&["BUF", "EC121"]));
    // Roll-ups and peer ranks are those of the full population: the scenario's rows are the live
    // run's rows for BUF, EC121 and the roll-ups they belong to (DC12; EC; A and B; ZA), values,
    // peer ranks and percentiles alike. Only the MTREF stability needs the year left out.
    let kept = [
        "\"municipality\"), Some(\"BUF\")",
        "\"municipality\"), Some(\"EC121\")",
        "\"district\"), Some(\"DC12\")",
        "\"province\"), Some(\"EC\")",
        "\"category\"), Some(\"A\")",
        "\"category\"), Some(\"B\")",
        "\"national\"), Some(\"ZA\")",
    ];
    let expected: BTreeMap<String, String> = metric_rows(&read_table(out, &live, "alignment_metrics"), 2025)
        .into_iter()
        .filter(|(k, _)| kept.iter().any(|a| k.contains(a)) && !k.contains("mtref_stability_wape"))
        .collect();
    assert!(expected.len() > 40, "{}", expected.len());
    assert_eq!(metric_rows(&metrics, 2025), expected);

    // Project keys are taken from the live register, never invented afresh.
    let live_keys: BTreeMap<Option<String>, Option<String>> = {
        let df = read_table(out, &live, "project_register");
        strings(&df, "record_id")
            .into_iter()
            .zip(strings(&df, "project_key"))
            .collect()
    };
    let scen = read_table(&root, &m, "project_register");
    let ids = strings(&scen, "record_id");
    let keys = strings(&scen, "project_key");
    let mut shared = 0;
    for (id, key) in ids.iter().zip(&keys) {
        if let Some(k) = live_keys.get(id) {
            // A scenario cluster may be smaller than the live one, so its key is one of the
            // live keys of its members; for single-record projects it is the same key.
            if live_keys.values().any(|v| v == key) {
                shared += 1;
            } else {
                panic!("{id:?}: scenario key {key:?} is not a live key (live: {k:?})");
            }
        }
    }
    assert!(shared > 0);
}

#[test]
fn a_second_live_run_after_a_scenario_carries_on_the_live_history_only() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let p = sample_pipeline(out);
    let first = block_on(run(&p, clock(0))).unwrap();
    let mut req = RunRequest::new(clock(1));
    req.municipalities = vec!["BUF".into()];
    let scenario = block_on(run_with(&p, &req)).unwrap();
    assert_eq!(scenario.scenario.as_deref(), Some("BUF"));
    let second = block_on(run(&p, clock(2))).unwrap();
    // Nothing was resolved in between: every exception open after the first run is open after
    // the second, none resolved by the scenario that left EC121 and EC122 out.
    let reg = read_table(out, &manifest(out), "exception_register");
    let status = strings(&reg, "status");
    let resolved_in = strings(&reg, "resolved_in_run");
    assert!(status.iter().all(|s| s.as_deref() == Some("open")), "{status:?}");
    assert!(resolved_in.iter().all(Option::is_none));
    let last = strings(&reg, "last_seen_run");
    assert!(last
        .iter()
        .all(|r| r.as_deref() == Some(second.manifest.run_id.as_str())));
    let first_seen = strings(&reg, "first_seen_run");
    assert!(first_seen
        .iter()
        .all(|r| r.as_deref() == Some(first.manifest.run_id.as_str())));
    // The quarantine history of the live outputs holds the two live runs only.
    let q = read_table(out, &manifest(out), "quarantine");
    let runs = distinct(&q, "run_id");
    assert_eq!(
        runs,
        BTreeSet::from([
            Some(first.manifest.run_id.clone()),
            Some(second.manifest.run_id.clone())
        ])
    );
    // The scenario's own register covers BUF only.
    let sm = manifest(&out.join("scenarios/BUF"));
    let sreg = read_table(&out.join("scenarios/BUF"), &sm, "exception_register");
    assert!(sreg.height() > 0);
    assert_eq!(distinct(&sreg, "demarcation_code"), chosen(&["BUF"]));
}

#[test]
fn the_command_line_runs_a_scenario_and_says_where_it_went() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let bin = env!("CARGO_BIN_EXE_harvester");
    let history = tmp.path().join("history.sqlite");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "--history".to_string(),
            history.to_str().unwrap().to_string(),
            "run".into(),
            repo().join("pipelines/sample.toml").to_str().unwrap().to_string(),
            "--out".into(),
            out.to_str().unwrap().to_string(),
        ];
        a.extend(extra.iter().map(|s| (*s).to_string()));
        a
    };
    let o = std::process::Command::new(bin)
        .args(args(&[
            "--financial-year",
            "2025/26",
            "--municipality",
            "BUF",
            "--municipality",
            "EC121",
        ]))
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains("Scenario `fy2025-BUF-EC121` (years 2025/26; municipalities BUF, EC121): published under"),
        "{stdout}"
    );
    assert!(stdout.contains("scenarios/fy2025-BUF-EC121/manifest.json"), "{stdout}");
    assert!(out.join("scenarios/fy2025-BUF-EC121/manifest.json").exists());
    assert!(!out.join("manifest.json").exists(), "no live manifest was written");

    let o = std::process::Command::new(bin)
        .args(args(&["--scenario", "../live"]))
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("--scenario: scenario `../live`: a scenario name is 1 to 80 ASCII letters"),
        "{stderr}"
    );
}

#[test]
fn a_year_only_scenario_keeps_the_full_population_and_the_live_values_of_that_year() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let p = sample_pipeline(out);
    block_on(run(&p, clock(0))).unwrap();
    let mut req = RunRequest::new(clock(5));
    req.financial_years = vec![FinancialYear::new(Calendar::Municipal, 2025)];
    let report = block_on(run_with(&p, &req)).unwrap();
    assert_eq!(report.scenario.as_deref(), Some("fy2025"));
    let root = out.join("scenarios/fy2025");
    let m = manifest(&root);
    assert_eq!(m["scenario"]["population"], "full");
    let live = metric_rows(&read_table(out, &manifest(out), "alignment_metrics"), 2025);
    let scen = metric_rows(&read_table(&root, &m, "alignment_metrics"), 2025);
    // Every metric of 2025/26 has its live value at every level, national roll-up and peer
    // population included; only the MTREF stability (2025/26 BY against the 2024/25 budget's
    // BY+1) needs the year left out.
    let expected: BTreeMap<String, String> = live
        .into_iter()
        .filter(|(k, _)| !k.contains("mtref_stability_wape"))
        .collect();
    assert!(expected.len() > 50, "{}", expected.len());
    assert_eq!(scen, expected);
}

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
    assert!(err.contains("3 problems in pipeline configuration"), "{err}");
    let f = file.display().to_string();
    assert!(
        err.contains(&format!("{f}: schedule: expected a cron expression")),
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

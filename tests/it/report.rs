//! The HTML run report: written with every run, self-contained, and clean in a real browser.

use crate::common::*;
use harvester::run::run;

#[test]
fn report_is_written_self_contained_and_renders_without_console_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let report = block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    let rel = report.manifest.report.clone().expect("the manifest names the report");
    assert_eq!(rel, format!("runs/{}/report.html", report.manifest.run_id));
    let html = std::fs::read_to_string(out.join(&rel)).unwrap();
    for section in [
        "Data quality",
        "Metrics across municipalities",
        "Trend: BUF",
        "Findings by municipality",
    ] {
        assert!(html.contains(section), "missing section {section}");
    }
    assert!(html.contains("<svg"), "charts are inline SVG");
    // Self-contained: nothing is fetched from anywhere.
    for external in ["src=\"http", "href=\"http", "<script", "@import", "url("] {
        assert!(!html.contains(external), "report references {external}");
    }
    // The summary printed after a run names the report.
    let summary = harvester::summary::render(&report);
    assert!(
        summary.contains(&format!("Report:   {}/{rel}", out.display())),
        "{summary}"
    );

    // In a real browser, when one is installed (.ci/run installs Chromium).
    let has_browser = ["chromium", "chromium-browser", "google-chrome"].iter().any(|b| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {b}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !has_browser {
        eprintln!("report test: no Chromium on this machine; the browser check did not run");
        return;
    }
    let png = tmp.path().join("report.png");
    let status = std::process::Command::new(repo().join("scripts/report-screenshot.sh"))
        .args([out.join(&rel).to_str().unwrap(), png.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000, "a real screenshot");
}

#[test]
fn metrics_catalogue_matches_what_is_produced() {
    let doc = std::fs::read_to_string(repo().join("docs/metrics.md")).unwrap();
    let table = doc.split("## Variances").next().unwrap();
    let mut documented: Vec<String> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect();
    documented.sort();
    let mut coded: Vec<String> = harvester::metrics::METRICS.iter().map(|m| m.name.to_string()).collect();
    coded.sort();
    assert_eq!(documented, coded, "docs/metrics.md and METRICS disagree");
    // The sample produces every catalogued metric, and nothing else.
    let tmp = tempfile::tempdir().unwrap();
    block_on(run(&sample_pipeline(tmp.path()), clock(0))).unwrap();
    let m = read_table(tmp.path(), &manifest(tmp.path()), "alignment_metrics");
    let mut produced: Vec<String> = strings(&m, "metric").into_iter().flatten().collect();
    produced.sort();
    produced.dedup();
    assert_eq!(produced, coded);
}

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
    if !has_browser() {
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
    // The sample produces every catalogued metric but the in-year ones (it has no SC36), the
    // in-year pipeline exactly those, and neither anything else.
    const IN_YEAR: [&str; 2] = ["capital_spend_rate", "underspent_budget_share"];
    let produced = |pipeline: fn(&std::path::Path) -> harvester::config::Pipeline| {
        let tmp = tempfile::tempdir().unwrap();
        block_on(run(&pipeline(tmp.path()), clock(0))).unwrap();
        let m = read_table(tmp.path(), &manifest(tmp.path()), "alignment_metrics");
        let mut names: Vec<String> = strings(&m, "metric").into_iter().flatten().collect();
        names.sort();
        names.dedup();
        names
    };
    let sample: Vec<String> = coded
        .iter()
        .filter(|m| !IN_YEAR.contains(&m.as_str()))
        .cloned()
        .collect();
    assert_eq!(produced(sample_pipeline), sample);
    assert_eq!(produced(in_year_pipeline), IN_YEAR.map(String::from));
}

/// Keeps, in every file of `files` (CSV with a header), only the rows whose `id` column is
/// among the first `k` distinct ids of their `group` columns in the first file.
fn thin(files: &[std::path::PathBuf], group: &[&str], id: &str, k: usize) {
    let read = |f: &std::path::Path| {
        let mut r = csv::Reader::from_path(f).unwrap();
        let header = r.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        (header, rows)
    };
    let col = |h: &csv::StringRecord, name: &str| h.iter().position(|c| c == name).unwrap();
    let (h0, rows0) = read(&files[0]);
    let mut chosen: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for r in &rows0 {
        let g: Vec<&str> = group.iter().map(|c| &r[col(&h0, c)]).collect();
        let ids = chosen.entry(g.join("|")).or_default();
        let v = r[col(&h0, id)].to_string();
        if ids.len() < k && !ids.contains(&v) {
            ids.push(v);
        }
    }
    let keep: std::collections::BTreeSet<String> = chosen.into_values().flatten().collect();
    for f in files {
        let (h, rows) = read(f);
        let mut w = csv::Writer::from_path(f).unwrap();
        w.write_record(&h).unwrap();
        for r in rows.iter().filter(|r| keep.contains(&r[col(&h, id)])) {
            w.write_record(r).unwrap();
        }
        w.flush().unwrap();
    }
}

/// The national world at all 257 municipalities and 2 years, thinned to a few projects each so a
/// debug run takes seconds, with one hostile budget line and one hostile amount cell in BUF.
fn national_world(dir: &std::path::Path) {
    harvester::synth::national::write(
        dir,
        harvester::synth::national::Scale {
            municipalities: 257,
            years: 2,
            seed: 11,
            noise: harvester::synth::national::Noise::DEFAULT,
        },
    )
    .unwrap();
    let p = |f: &str| dir.join(f);
    thin(
        &[p("budget_2024.csv"), p("budget_2025.csv")],
        &["demarcation_code"],
        "Project Number",
        8,
    );
    thin(&[p("idp.csv")], &["demarcation_code"], "idp_project_ref", 8);
    thin(&[p("bepp.csv")], &["metro_code"], "project_ref", 10);
    thin(
        &[p("irm_2024.csv"), p("irm_2025.csv")],
        &["Province", "Local Municipality", "District Municipality"],
        "Project ID",
        2,
    );
    let budget = p("budget_2025.csv");
    let mut text = std::fs::read_to_string(&budget).unwrap();
    text.push_str("BUF,Water Distribution,<script>alert(\"pwned\")</script> Reservoir,PC001002007003_99999,New,Safe and liveable communities,Water Supply Infrastructure,Reservoirs,Ward 12,900000000,900000000,900000000\n");
    text.push_str("BUF,Water Distribution,Quarantined Pipe Line,PC001002007003_99998,New,Safe and liveable communities,Water Supply Infrastructure,Reservoirs,Ward 12,<img src=x onerror=alert(1)>,1000,1000\n");
    std::fs::write(&budget, text).unwrap();
}

/// A `<td class="n {class}">N</td>` count in the report's changes table, in the row of `row`.
fn change_cell(html: &str, row: &str, class: &str) -> usize {
    let start = html
        .find(&format!("<tr class=\"{row}\">"))
        .unwrap_or_else(|| panic!("no {row} row"));
    let cell = format!("<td class=\"n {class}\">");
    let at = start + html[start..].find(&cell).unwrap() + cell.len();
    html[at..at + html[at..].find('<').unwrap()]
        .replace(',', "")
        .parse()
        .unwrap()
}

/// Links of a published run by (type, band, left natural key, right natural key).
fn link_keys(
    out: &std::path::Path,
    m: &serde_json::Value,
) -> std::collections::BTreeSet<(String, String, String, String)> {
    let reg = read_table(out, m, "project_register");
    let natural: std::collections::BTreeMap<String, String> = strings(&reg, "record_id")
        .into_iter()
        .zip(strings(&reg, "natural_key"))
        .map(|(a, b)| (a.unwrap(), b.unwrap()))
        .collect();
    let l = read_table(out, m, "links");
    let key = |id: Option<String>| {
        let id = id.unwrap();
        natural.get(&id).cloned().unwrap_or(id)
    };
    let (t, b, left, right) = (
        strings(&l, "link_type"),
        strings(&l, "band"),
        strings(&l, "left_record_id"),
        strings(&l, "right_record_id"),
    );
    (0..l.height())
        .map(|i| {
            (
                t[i].clone().unwrap(),
                b[i].clone().unwrap(),
                key(left[i].clone()),
                key(right[i].clone()),
            )
        })
        .collect()
}

/// Exception ids of a published run.
fn finding_ids(out: &std::path::Path, m: &serde_json::Value) -> std::collections::BTreeSet<String> {
    strings(&read_table(out, m, "exceptions"), "exception_id")
        .into_iter()
        .flatten()
        .collect()
}

/// Issue #18's report at national scale: 257 municipalities, names beside codes, amounts in
/// Rand units, every section, hostile text escaped, a reasonable size; a second run on changed
/// data reports exactly the findings, links and budget totals that changed.
#[test]
fn report_at_257_municipalities_has_names_amounts_sections_and_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    national_world(dir);
    let p = harvester::config::Pipeline::load(&dir.join("national.toml"), dir).unwrap();
    let out = dir.join("out");
    let first = block_on(run(&p, clock(0))).unwrap();
    let html = std::fs::read_to_string(out.join(first.manifest.report.as_ref().unwrap())).unwrap();
    eprintln!("report at 257 municipalities: {} bytes", html.len());
    // REPORT_KEEP=DIR keeps both reports (for scripts/report-screenshot.sh).
    let keep = std::env::var_os("REPORT_KEEP").map(std::path::PathBuf::from);
    if let Some(k) = &keep {
        std::fs::create_dir_all(k).unwrap();
        std::fs::write(k.join("report-257-first.html"), &html).unwrap();
    }
    assert!(html.len() < 3_000_000, "report is {} bytes", html.len());
    for id in [
        "changes",
        "first-run",
        "top",
        "top-findings",
        "metrics",
        "municipality-table",
        "trend",
        "findings",
        "links",
        "review",
        "review-band",
        "quality",
        "quarantine-by-rule",
        "quarantine",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "missing section #{id}");
    }
    assert!(html.contains("First run: there is no previous run"));
    // Every current municipality, name beside code, in the municipality table.
    let reference = harvester::contracts::reference::Reference::bundled();
    let current: Vec<_> = reference.current().collect();
    assert_eq!(current.len(), 257);
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    for m in &current {
        let cell = format!(
            "<tr id=\"m-{0}\"><td><a href=\"#m-{0}\">{0}</a></td><td>{1}</td>",
            m.code,
            escape(&m.name)
        );
        assert!(html.contains(&cell), "no row for {} {}", m.code, m.name);
    }
    assert!(html.contains("All 257 municipalities"));
    // Peer groups, the marked municipality, direct labels.
    for group in ["A metros", "B local municipalities", "C district municipalities"] {
        assert!(html.contains(group), "no {group} row");
    }
    assert!(html.contains("class=\"sel\""), "the focus municipality is marked");
    // Any municipality can be marked by a click on its code (a style rule per code, no script).
    assert!(html.contains("body:has(#m-EC101:target) .d[data-m=\"EC101\"]"));
    assert!(html.contains("data-m=\"EC101\""));
    // A ratio metric is drawn on an axis in its own units, not 0–100%.
    let wape = html.find("<b>idp_budget_variance_wape</b>").expect("the WAPE chart");
    let chart = &html[wape..wape + html[wape..].find("</svg>").unwrap()];
    assert!(!chart.contains("%</text>"), "ratio axis written as percentages");
    // Amounts: in Rand units everywhere, never raw.
    let raw = regex::Regex::new(r"R ?\d{5,}").unwrap();
    assert!(
        raw.find(&html).is_none(),
        "raw amount {:?}",
        raw.find(&html).map(|m| m.as_str())
    );
    let top = &html[html.find("id=\"top-findings\"").unwrap()..];
    let top = &top[..top.find("</table>").unwrap()];
    assert!(
        top.contains("<td class=\"n\">R 900.0 m</td><td>BUF Buffalo City (municipal)</td>"),
        "the hostile line's R 900 m at stake (its MTREF's budget year), owner named"
    );
    let amount = regex::Regex::new(r"^-?R \d+(\.\d)? (k|m|bn)$|^-?R \d{1,3}$").unwrap();
    let cells = regex::Regex::new(r#"<td class="n">([^<]*R[^<]*)</td>"#).unwrap();
    let at_stake: Vec<&str> = cells.captures_iter(top).map(|c| c.get(1).unwrap().as_str()).collect();
    assert!(at_stake.len() >= 10, "{at_stake:?}");
    assert!(at_stake.iter().all(|a| amount.is_match(a)), "{at_stake:?}");
    // The top list names each project once (by municipality and the name its detail quotes); a
    // BEPP project missing from both the IDP and the budget is one line wherever it is listed.
    let rows: Vec<&str> = top.split("<tr>").skip(2).collect();
    let quoted = regex::Regex::new(r"<td>([A-Z0-9]+) [^<]*</td>.*`([^`]+)`").unwrap();
    let projects: std::collections::BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| {
            let c = quoted.captures(r).unwrap_or_else(|| panic!("no project in {r}"));
            (c[1].to_string(), c[2].to_string())
        })
        .collect();
    assert_eq!(projects.len(), rows.len(), "a project twice in the top list: {rows:#?}");
    assert!(
        html.contains("bepp_project_missing_from_budget<br>bepp_project_missing_from_idp")
            || html.contains("bepp_project_missing_from_idp<br>bepp_project_missing_from_budget"),
        "a BEPP project's two findings share a line"
    );
    // A material bundle of minor findings is a line of its own that says how many it stands for.
    let exceptions = read_table(&out, &serde_json::to_value(&first.manifest).unwrap(), "exceptions");
    let sizes = exceptions
        .column("bundle_size")
        .unwrap()
        .cast(&polars::prelude::DataType::Int64)
        .unwrap();
    let material = exceptions.column("material").unwrap().bool().unwrap().clone();
    let bundle_sizes: std::collections::BTreeSet<i64> = (0..exceptions.height())
        .filter(|&i| material.get(i) == Some(true))
        .filter_map(|i| sizes.i64().unwrap().get(i))
        .collect();
    assert!(!bundle_sizes.is_empty(), "the national world has material bundles");
    assert!(
        bundle_sizes
            .iter()
            .any(|n| html.contains(&format!("(bundle of {} minor findings)", thousands_of(*n as usize)))),
        "no bundle line for sizes {bundle_sizes:?}"
    );
    assert!(html.contains("a bundle of minor findings counts once"));
    // Findings per municipality by priority: the first section's priorities never increase.
    let section = &html[html
        .find("<details class=\"muni\" open>")
        .expect("an open municipality section")..];
    let section = &section[..section.find("</table>").unwrap()];
    let priority = regex::Regex::new(r#"<tr><td class="n">([0-9.]+)</td>"#).unwrap();
    let ps: Vec<f64> = priority.captures_iter(section).map(|c| c[1].parse().unwrap()).collect();
    assert!(ps.len() >= 3 && ps.windows(2).all(|w| w[0] >= w[1]), "{ps:?}");
    // Links: the histogram's labels count the published links; three links explained.
    let m1 = serde_json::to_value(&first.manifest).unwrap();
    let links = read_table(&out, &m1, "links");
    let (bands, methods) = (strings(&links, "band"), strings(&links, "method"));
    let n = |band: &str, exact: bool| {
        (0..links.height())
            .filter(|&i| bands[i].as_deref() == Some(band))
            .filter(|&i| band == "review" || (methods[i].as_deref() == Some("exact_identifier")) == exact)
            .count()
    };
    let thousands = |n: usize| {
        let s = n.to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    };
    assert!(html.contains(&format!(
        ">accepted (exact identifier) ({})<",
        thousands(n("accept", true))
    )));
    assert!(html.contains(&format!(
        ">accepted (probabilistic) ({})<",
        thousands(n("accept", false))
    )));
    assert!(html.contains(&format!(">review ({})<", thousands(n("review", false)))));
    assert!(html.contains(&format!("{} links, between ", thousands(n("review", false)))));
    assert_eq!(
        html.matches("<div class=\"explain\">").count(),
        3,
        "three links explained"
    );
    let step = regex::Regex::new(r">name: [a-z_]+ \(\d\.\d\d\)</text>").unwrap();
    assert!(
        step.is_match(&html),
        "a name comparison, its level and similarity, in a waterfall"
    );
    assert!(html.contains(">match weight</text>"), "the waterfall's total");
    // The review band: one line per pair of projects, each with its match probability.
    let band = &html[html.find("id=\"review-band\"").unwrap()..];
    let band = &band[..band.find("</table>").unwrap()];
    let probability = regex::Regex::new(r#"<tr><td class="n">([^<]*)</td>"#).unwrap();
    let ps: Vec<&str> = probability
        .captures_iter(band)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    assert!(!ps.is_empty());
    assert!(
        ps.iter().all(|p| p.parse::<f64>().is_ok_and(|p| p > 0.0 && p <= 1.0)),
        "{ps:?}"
    );
    let pairs: Vec<&str> = band
        .split("<tr>")
        .skip(2)
        .map(|r| r.split_once("</td>").unwrap().1)
        .collect();
    let unique: std::collections::BTreeSet<&&str> = pairs.iter().collect();
    assert_eq!(unique.len(), pairs.len(), "a pair of projects twice in the review band");
    // Hostile text from a spreadsheet is shown as text, never as markup.
    assert!(!html.contains("<script>alert"), "project name injected a script");
    assert!(html.contains("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; Reservoir"));
    assert!(!html.contains("<img src=x"), "a raw cell injected markup");
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "the quarantined cell is shown"
    );
    assert!(!html.contains("<script"), "the report has no scripts at all");

    // Second run: the hostile line is gone and EC101 has no budget lines any more.
    for file in ["budget_2024.csv", "budget_2025.csv"] {
        let budget = dir.join(file);
        let text = std::fs::read_to_string(&budget).unwrap();
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains("pwned") && !l.starts_with("EC101,"))
            .collect();
        std::fs::write(&budget, kept.join("\n") + "\n").unwrap();
    }
    let second = block_on(run(&p, clock(30))).unwrap();
    let html2 = std::fs::read_to_string(out.join(second.manifest.report.as_ref().unwrap())).unwrap();
    if let Some(k) = &keep {
        std::fs::write(k.join("report-257-second.html"), &html2).unwrap();
    }
    assert!(html2.contains(&format!("Compared with run <code>{}</code>", first.manifest.run_id)));
    let m2 = serde_json::to_value(&second.manifest).unwrap();
    let (f1, f2) = (finding_ids(&out, &m1), finding_ids(&out, &m2));
    let opened = f2.difference(&f1).count();
    let resolved = f1.difference(&f2).count();
    assert!(resolved >= 1, "the hostile line's finding is resolved");
    assert_eq!(change_cell(&html2, "findings", "opened"), opened);
    assert_eq!(change_cell(&html2, "findings", "resolved"), resolved);
    let (l1, l2) = (link_keys(&out, &m1), link_keys(&out, &m2));
    assert!(l1.difference(&l2).count() >= 1, "EC101's links are gone");
    assert_eq!(change_cell(&html2, "links", "added"), l2.difference(&l1).count());
    assert_eq!(change_cell(&html2, "links", "removed"), l1.difference(&l2).count());
    // Budget totals: BUF and EC101 changed in the 2025 MTREF's years.
    let t1 = &first.manifest.budget_totals;
    let t2 = &second.manifest.budget_totals;
    let changed = t1
        .iter()
        .flat_map(|(m, ys)| ys.iter().map(move |(y, v)| (m, y, v)))
        .filter(|(m, y, v)| {
            t2.get(*m)
                .and_then(|ys| ys.get(*y))
                .is_some_and(|w| (*v - w).abs() >= 0.5)
        })
        .count();
    assert!(changed >= 2, "{changed}");
    assert!(html2.contains(&format!("<span class=\"changed\">{changed}</span> changed")));
    assert!(
        html2.contains("<td>BUF Buffalo City</td>"),
        "largest changes name the municipality"
    );
    assert!(
        html2.contains("-R 900.0 m"),
        "BUF's budget fell by the hostile line's R 900 m"
    );
    // Same inputs, same bytes: a third run on the second run's data differs only in run ids.
    let third = block_on(run(&p, clock(31))).unwrap();
    let html3 = std::fs::read_to_string(out.join(third.manifest.report.as_ref().unwrap())).unwrap();
    let strip = |h: &str, runs: &[&str]| runs.iter().fold(h.to_string(), |h, r| h.replace(r, "RUN"));
    let (r1, r2, r3) = (&first.manifest.run_id, &second.manifest.run_id, &third.manifest.run_id);
    let (a, b) = (strip(&html2, &[r1, r2]), strip(&html3, &[r2, r3]));
    let a = a
        .replace("2026-11-22T02:30:00.000Z", "START")
        .replace("2026-11-22T02:00:00.000Z", "PREV");
    let b = b
        .replace("2026-11-22T02:31:00.000Z", "START")
        .replace("2026-11-22T02:30:00.000Z", "PREV");
    // Only the changes section may differ (nothing changed between the second and third run).
    let body = |h: &str| {
        let start = h.find("<h2 id=\"top\">").unwrap();
        h[start..].to_string()
    };
    assert!(
        body(&a) == body(&b),
        "the report differs beyond its run ids and the changes section"
    );
    assert_eq!(change_cell(&html3, "findings", "opened"), 0);
    assert_eq!(change_cell(&html3, "links", "removed"), 0);

    // In a real browser at this size, when one is installed (.ci/run installs Chromium).
    if !has_browser() {
        eprintln!("report test: no Chromium on this machine; the 257-municipality browser check did not run");
        return;
    }
    let report = out.join(third.manifest.report.as_ref().unwrap());
    let png = dir.join("report-257.png");
    let shot = std::process::Command::new(repo().join("scripts/report-screenshot.sh"))
        .args([report.to_str().unwrap(), png.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(shot.status.success(), "{}", String::from_utf8_lossy(&shot.stderr));
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000, "a real screenshot");
}

/// Whether a Chromium the screenshot script can use is installed.
/// `12,345`: how the report writes counts.
fn thousands_of(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn has_browser() -> bool {
    ["chromium", "chromium-browser", "google-chrome"].iter().any(|b| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {b}")])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

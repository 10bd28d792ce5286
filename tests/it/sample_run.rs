//! The bundled sample, end to end: tables on disk, a known link, a known quarantined row, a known
//! metric, lineage, determinism, and a failed run that leaves the last good outputs in place.

use crate::common::*;
use harvester::run::{run, RunError};
use polars::prelude::*;

fn row_where(df: &DataFrame, column: &str, value: &str) -> usize {
    strings(df, column)
        .iter()
        .position(|v| v.as_deref() == Some(value))
        .unwrap_or_else(|| panic!("no row with {column} = {value}"))
}

#[test]
fn sample_run_publishes_every_table_with_manifest_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let report = block_on(run(&sample_pipeline(out), clock(0))).expect("sample run succeeds");
    let m = manifest(out);
    assert_eq!(m["run_id"], report.manifest.run_id);
    assert_eq!(m["pipeline"], "sample");
    assert_eq!(m["inputs"].as_array().unwrap().len(), 6);
    for input in m["inputs"].as_array().unwrap() {
        assert_eq!(input["sha256"].as_str().unwrap().len(), 64);
    }
    for table in [
        "projects",
        "project_amounts",
        "links",
        "link_model",
        "project_register",
        "variances",
        "alignment_metrics",
        "exceptions",
        "exception_register",
        "quarantine",
        "data_quality",
    ] {
        let df = read_table(out, &m, table);
        assert_eq!(
            df.height() as u64,
            m["tables"][table]["rows"].as_u64().unwrap(),
            "{table}"
        );
        assert!(df.height() > 0, "{table} is empty");
    }
    // One file per financial year, the year a column inside (no Hive `key=value` folders).
    let files: Vec<&str> = m["tables"]["projects"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        files.iter().all(
            |f| f.starts_with(&format!("runs/{}/projects/financial_year_", report.manifest.run_id)) && !f.contains('=')
        ),
        "{files:?}"
    );
    // Rows read = accepted + quarantined, per source.
    let dq = read_table(out, &m, "data_quality");
    let read = dq.column("rows_read").unwrap().i64().unwrap().clone();
    let acc = dq.column("rows_accepted").unwrap().i64().unwrap().clone();
    let rej = dq.column("rows_rejected").unwrap().i64().unwrap().clone();
    for i in 0..dq.height() {
        assert_eq!(read.get(i), Some(acc.get(i).unwrap() + rej.get(i).unwrap()));
    }
    assert_eq!(
        strings(&dq, "source"),
        ["budget_2024", "budget_2025", "idp", "bepp", "irm", "a5"].map(|s| Some(s.to_string()))
    );
    assert_eq!(
        (0..6).map(|i| rej.get(i).unwrap()).collect::<Vec<_>>(),
        // The IRM row in a district's area is accepted (location_scope = district).
        [3, 0, 2, 1, 0, 0]
    );
}

#[test]
fn sample_types_are_what_bi_tools_expect() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    let projects = read_table(out, &manifest(out), "projects");
    let schema = projects.schema();
    assert_eq!(schema.get("amount_rand"), Some(&DataType::Float64));
    assert_eq!(schema.get("financial_year"), Some(&DataType::Int32));
    assert_eq!(schema.get("period_start"), Some(&DataType::Date));
    assert_eq!(schema.get("demarcation_code"), Some(&DataType::String));
    // Signed: Spark and Power BI have no unsigned integers.
    assert_eq!(schema.get("source_row"), Some(&DataType::Int32));
    assert_eq!(schema.get("run_id"), Some(&DataType::String));
}

#[test]
fn known_record_keeps_its_lineage() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    let projects = read_table(out, &manifest(out), "projects");
    let i = row_where(&projects, "record_id", "budget_2024:BUF:4");
    let get = |c: &str| strings(&projects, c)[i].clone();
    assert_eq!(get("source").as_deref(), Some("budget_2024"));
    assert_eq!(get("source_file").as_deref(), Some("sa36_2024_25.xlsx"));
    assert_eq!(get("source_sheet").as_deref(), Some("BUF"));
    assert_eq!(projects.column("source_row").unwrap().i32().unwrap().get(i), Some(4));
    assert_eq!(get("demarcation_code").as_deref(), Some("BUF"));
    assert_eq!(get("mscoa_project_number").as_deref(), Some("PC001002003001_00022"));
    assert_eq!(
        get("project_name").as_deref(),
        Some("REFURB ZWELITSHA STORMWATER DRAINAGE PH3")
    );
    assert_eq!(get("financial_year_label").as_deref(), Some("2024/25"));
    assert_eq!(get("calendar").as_deref(), Some("municipal_jul_jun"));
    // CSV lineage counts the header as row 1.
    let j = row_where(&projects, "record_id", "idp:2");
    assert_eq!(strings(&projects, "idp_project_ref")[j].as_deref(), Some("IDP-BUF-001"));
}

#[test]
fn known_links_carry_their_evidence() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    let links = read_table(out, &manifest(out), "links");
    let left = strings(&links, "left_record_id");
    let right = strings(&links, "right_record_id");
    let method = strings(&links, "method");
    let find = |l: &str, r: &str| {
        (0..links.height())
            .find(|&i| left[i].as_deref() == Some(l) && right[i].as_deref() == Some(r))
            .unwrap_or_else(|| panic!("no link {l} -> {r}"))
    };
    // Abbreviated budget name ↔ full IDP name, no shared identifier.
    let i = find("budget_2024:BUF:10", "idp:20");
    assert_eq!(method[i].as_deref(), Some("probabilistic"));
    assert_eq!(strings(&links, "band")[i].as_deref(), Some("accept"));
    // The evidence lists every comparison with its level and weight.
    let evidence: serde_json::Value = serde_json::from_str(strings(&links, "evidence")[i].as_deref().unwrap()).unwrap();
    let name = evidence
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "name")
        .unwrap();
    assert_eq!(name["level"], "exact");
    assert!(name["weight"].as_f64().unwrap() > 9.0);
    let total: f64 = evidence
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["weight"].as_f64().unwrap())
        .sum();
    let weight = links.column("match_weight").unwrap().f64().unwrap().get(i).unwrap();
    assert!((total - weight).abs() < 1e-9);
    assert_eq!(
        strings(&links, "left_name")[i].as_deref(),
        Some("UPGR DUNCAN VILLAGE STREET LIGHTING")
    );
    assert_eq!(
        strings(&links, "right_name")[i].as_deref(),
        Some("Upgrading of Duncan Village Street Lighting")
    );
    // Shared mSCOA project number.
    let i = find("budget_2024:BUF:12", "idp:26");
    assert_eq!(method[i].as_deref(), Some("exact_identifier"));
    assert_eq!(
        strings(&links, "matched_on")[i].as_deref(),
        Some("mscoa_project_number")
    );
    // A provincial project found among the IDP's sector projects.
    let i = find("irm:Project List:5", "idp:130");
    assert_eq!(strings(&links, "link_type")[i].as_deref(), Some("departmental_idp"));
}

#[test]
fn known_bad_row_is_quarantined_with_its_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    let q = read_table(out, &manifest(out), "quarantine");
    let i = row_where(&q, "raw_value", "PC0010_19");
    assert_eq!(strings(&q, "source")[i].as_deref(), Some("budget_2024"));
    assert_eq!(strings(&q, "source_file")[i].as_deref(), Some("sa36_2024_25.xlsx"));
    assert_eq!(strings(&q, "source_sheet")[i].as_deref(), Some("BUF"));
    assert_eq!(q.column("source_row").unwrap().i32().unwrap().get(i), Some(25));
    assert_eq!(strings(&q, "column")[i].as_deref(), Some("mscoa_project_number"));
    assert_eq!(strings(&q, "rule")[i].as_deref(), Some("pattern"));
    assert_eq!(strings(&q, "severity")[i].as_deref(), Some("error"));
    // The IRM row naming a district is a project in the district's area, not a bad row.
    assert!(!strings(&q, "raw_value").contains(&Some("Amathole Metro".to_string())));
    let projects = read_table(out, &manifest(out), "projects");
    let i = row_where(&projects, "record_id", "irm:Project List:11");
    assert_eq!(strings(&projects, "demarcation_code")[i].as_deref(), Some("DC12"));
    assert_eq!(strings(&projects, "location_scope")[i].as_deref(), Some("district"));
    // Quarantined rows never reach the projects table.
    assert!(!strings(&projects, "record_id").contains(&Some("budget_2024:BUF:25".to_string())));
}

#[test]
fn known_metric_values() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    let m = read_table(out, &manifest(out), "alignment_metrics");
    let munis = strings(&m, "demarcation_code");
    let metrics = strings(&m, "metric");
    let years = m.column("financial_year").unwrap().i32().unwrap().clone();
    let value = |muni: &str, year: i32, metric: &str| {
        let i = (0..m.height())
            .find(|&i| {
                munis[i].as_deref() == Some(muni) && years.get(i) == Some(year) && metrics[i].as_deref() == Some(metric)
            })
            .unwrap_or_else(|| panic!("no {metric} for {muni} {year}"));
        (
            m.column("numerator").unwrap().f64().unwrap().get(i).unwrap(),
            m.column("denominator").unwrap().f64().unwrap().get(i).unwrap(),
            m.column("value").unwrap().f64().unwrap().get(i).unwrap(),
        )
    };
    // BUF's BEPP has 10 projects per year: 4 carry an IDP reference, 4 are found by name,
    // 2 catalytic projects never reached the IDP.
    assert_eq!(value("BUF", 2024, "bepp_projects_in_idp_share"), (8.0, 10.0, 0.8));
    // Three provincial projects in BUF, two listed among the IDP's sector projects.
    let (n, d, _) = value("BUF", 2024, "departmental_projects_in_idp_share");
    assert_eq!((n, d), (2.0, 3.0));
    // Only 2024/25 and 2025/26 are reported (reconcile.financial_years).
    assert!((0..m.height()).all(|i| matches!(years.get(i), Some(2024 | 2025))));
}

/// Same inputs, same tables: the files differ only in the `run_id` column (which names each
/// run, so queries across runs never mix them silently).
#[test]
fn reruns_give_byte_identical_tables_but_for_run_id() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let ra = block_on(run(&sample_pipeline(a.path()), clock(0))).unwrap();
    let rb = block_on(run(&sample_pipeline(b.path()), clock(7))).unwrap();
    assert_ne!(ra.manifest.run_id, rb.manifest.run_id);
    assert_same_tables_except_run_id(a.path(), &ra.manifest, b.path(), &rb.manifest);
}

#[test]
fn failing_run_leaves_previous_outputs_current() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    let before = std::fs::read(out.join("manifest.json")).unwrap();
    // failtest.xlsx is a real SA36 whose sheet was renamed `BYU`: every row is rejected.
    let mut p = sample_pipeline(out);
    p.override_source(
        &format!("budget_2024={}", real("municipal-data/failtest.xlsx").display()),
        &repo(),
    )
    .unwrap();
    let err = block_on(run(&p, clock(5))).unwrap_err();
    assert!(matches!(err, RunError::Sources(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("nothing was published and the previous outputs are unchanged"),
        "{text}"
    );
    assert!(text.contains("source `budget_2024`: 27 of 27 rows rejected"), "{text}");
    assert!(
        text.contains("sheet `BYU` of failtest.xlsx should be named by the municipality's demarcation code"),
        "{text}"
    );
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), before);
    // The previous run's files are all still readable.
    let m = manifest(out);
    assert!(read_table(out, &m, "projects").height() > 0);
}

#[test]
fn committed_sample_matches_the_generator() {
    let tmp = tempfile::tempdir().unwrap();
    let files = harvester::synth::write_sample(tmp.path(), 2024).unwrap();
    assert_eq!(files.len(), 7);
    for f in files {
        let rel = f.strip_prefix(tmp.path()).unwrap();
        let committed = std::fs::read(repo().join("sample").join(rel)).unwrap_or_default();
        assert!(
            committed == std::fs::read(&f).unwrap(),
            "sample/{} differs from `harvester synth --seed 2024`; regenerate it",
            rel.display()
        );
    }
}

#[test]
fn runs_past_their_retention_are_removed_but_the_quarantine_history_stays() {
    use chrono::TimeZone;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let old = block_on(run(
        &sample_pipeline(out),
        chrono::Utc.with_ymd_and_hms(2026, 1, 5, 2, 0, 0).unwrap(),
    ))
    .unwrap();
    let new = block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    let old_dir = out.join("runs").join(&old.manifest.run_id);
    assert!(
        !old_dir.join("projects").exists(),
        "the old run's tables are past the 30-day retention"
    );
    assert!(!old_dir.join("manifest.json").exists());
    assert!(old_dir.join("quarantine").exists(), "quarantine history is kept");
    assert!(out.join("runs").join(&new.manifest.run_id).join("projects").exists());
    let q = read_table(out, &manifest(out), "quarantine");
    assert_eq!(q.height(), new.manifest.tables["quarantine"].rows);
}

#[test]
fn exception_ids_are_stable_and_a_fixed_cause_is_recorded_as_resolved() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let first = block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    let second = block_on(run(&sample_pipeline(out), clock(1))).unwrap();
    let ids = |df: &DataFrame| {
        let mut v = strings(df, "exception_id");
        v.sort();
        v
    };
    let e1 = read_table(out, &serde_json::to_value(&first.manifest).unwrap(), "exceptions");
    let e2 = read_table(out, &manifest(out), "exceptions");
    assert_eq!(ids(&e1), ids(&e2), "the same inputs give the same exception ids");
    let reg = read_table(out, &manifest(out), "exception_register");
    let status = strings(&reg, "status");
    let first_seen = strings(&reg, "first_seen_run");
    let last_seen = strings(&reg, "last_seen_run");
    assert!(status.iter().all(|s| s.as_deref() == Some("open")));
    assert!(first_seen
        .iter()
        .all(|s| s.as_deref() == Some(first.manifest.run_id.as_str())));
    assert!(last_seen
        .iter()
        .all(|s| s.as_deref() == Some(second.manifest.run_id.as_str())));

    // Fix the cause: replace the A5 file with one whose totals match the SA36 lines.
    let tmp_a5 = tempfile::tempdir().unwrap();
    let fixed = std::fs::read_to_string(repo().join("sample/capital_cube/a5_capital_2024_25.csv"))
        .unwrap()
        .replace(
            "EC122,2025ORGB,ROADS,INFRA,NEW,15684130",
            "EC122,2025ORGB,ROADS,INFRA,NEW,13647230",
        );
    let a5 = tmp_a5.path().join("a5.csv");
    std::fs::write(&a5, fixed).unwrap();
    let mut p = sample_pipeline(out);
    p.override_source(&format!("a5={}", a5.display()), &repo()).unwrap();
    let third = block_on(run(&p, clock(2))).unwrap();
    let reg = read_table(out, &manifest(out), "exception_register");
    let types = strings(&reg, "exception_type");
    let i = (0..reg.height())
        .find(|&i| types[i].as_deref() == Some("sa36_a5_mismatch"))
        .expect("kept in the register");
    assert_eq!(strings(&reg, "status")[i].as_deref(), Some("resolved"));
    assert_eq!(
        strings(&reg, "resolved_in_run")[i].as_deref(),
        Some(third.manifest.run_id.as_str())
    );
    assert_eq!(
        strings(&reg, "first_seen_run")[i].as_deref(),
        Some(first.manifest.run_id.as_str())
    );
    let e3 = read_table(out, &manifest(out), "exceptions");
    assert!(!strings(&e3, "exception_type").contains(&Some("sa36_a5_mismatch".to_string())));
}

/// The SA36 2025/26 workbook's budget-year column, summed straight from the file: every sheet,
/// from the header row to the first empty row (the sample's unit is Rand).
fn workbook_budget_year_total(path: &std::path::Path, header: &str, year: &str) -> f64 {
    use calamine::{Data, Reader};
    let mut wb = calamine::open_workbook_auto(path).unwrap();
    let mut total = 0.0;
    for name in wb.sheet_names() {
        let range = wb.worksheet_range(&name).unwrap();
        let rows: Vec<&[Data]> = range.rows().collect();
        let (h, col) = rows
            .iter()
            .enumerate()
            .find_map(|(i, r)| {
                r.iter()
                    .position(|c| {
                        let t = c.to_string();
                        t.contains(header) && t.contains(year)
                    })
                    .map(|c| (i, c))
            })
            .unwrap_or_else(|| panic!("no `{header} {year}` column in sheet {name}"));
        for r in &rows[h + 1..] {
            if r.iter().all(|c| c.to_string().trim().is_empty()) {
                break;
            }
            total += match &r[col] {
                Data::Float(f) => *f,
                Data::Int(i) => *i as f64,
                Data::String(s) => s.trim().replace(' ', "").parse().unwrap_or(0.0),
                _ => 0.0,
            };
        }
    }
    total
}

/// Summing `project_amounts` for one vintage, phase and year gives the document's own total;
/// summing over every vintage adds the earlier MTREF's estimate for the same year on top.
#[test]
fn one_vintage_of_project_amounts_sums_to_its_document() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    let amounts = read_table(out, &manifest(out), "project_amounts");
    let (vintages, phases) = (strings(&amounts, "vintage"), strings(&amounts, "phase"));
    let years = amounts.column("financial_year").unwrap().i32().unwrap().clone();
    let rand = amounts.column("amount_rand").unwrap().f64().unwrap().clone();
    let sum = |vintage: Option<&str>| -> f64 {
        (0..amounts.height())
            .filter(|&i| {
                years.get(i) == Some(2025)
                    && phases[i].as_deref() == Some("budget")
                    && vintage.is_none_or(|v| vintages[i].as_deref() == Some(v))
                    && vintages[i].as_deref().is_some_and(|v| v.starts_with("SA36"))
            })
            .map(|i| rand.get(i).unwrap())
            .sum()
    };
    let document = workbook_budget_year_total(
        &repo().join("sample/budget/sa36_2025_26.xlsx"),
        "Budget year",
        "2025/26",
    );
    assert!(document > 0.0);
    assert!(
        (sum(Some("SA36 2025/26")) - document).abs() < 0.5,
        "{} vs {document}",
        sum(Some("SA36 2025/26"))
    );
    let estimate = sum(Some("SA36 2024/25"));
    assert!(estimate > 0.0);
    assert!((sum(None) - (document + estimate)).abs() < 0.5);
}

/// No NaN or infinity in any float column of any table of a sample run.
#[test]
fn every_published_float_is_finite() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    let m = manifest(out);
    let tables: Vec<String> = m["tables"].as_object().unwrap().keys().cloned().collect();
    assert!(tables.len() >= 10, "{tables:?}");
    for t in tables {
        let df = read_table(out, &m, &t);
        for c in df.columns() {
            if c.dtype() == &DataType::Float64 {
                let s = c.f64().unwrap();
                let bad = (0..s.len()).filter_map(|i| s.get(i)).filter(|v| !v.is_finite()).count();
                assert_eq!(bad, 0, "{t}.{} has {bad} non-finite values", c.name());
            }
        }
    }
}

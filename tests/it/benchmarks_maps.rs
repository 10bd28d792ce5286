//! Issue #19 on the bundled sample, as an analyst reads the outputs: peer groups by MIIF class,
//! MTSF outcomes carried through links, projects on a map (GeoParquet), budget per ward, and the
//! metrics history that outlives retention.

use crate::common::*;
use harvester::contracts::reference::Reference;
use harvester::metrics::peers::peer_group;
use harvester::run::run;
use polars::prelude::*;

/// The sample's municipal metric rows carry their MIIF class; profiles are unranked.
#[test]
fn sample_peers_are_miif_classes_and_profiles_are_unranked() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    let m = read_table(out, &manifest(out), "alignment_metrics");
    let (level, area, metric, group, better) = (
        strings(&m, "level"),
        strings(&m, "area_code"),
        strings(&m, "metric"),
        strings(&m, "peer_group"),
        strings(&m, "better"),
    );
    let rank = m.column("peer_rank").unwrap().i32().unwrap().clone();
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..m.height() {
        if level[i].as_deref() != Some("municipality") {
            assert_eq!(group[i], None, "roll-up rows have no peer group");
            continue;
        }
        let code = area[i].clone().unwrap();
        let want = match code.as_str() {
            "BUF" => "A".to_string(),
            "EC121" | "EC122" => "B4".to_string(),
            other => peer_group(Reference::bundled(), other),
        };
        assert_eq!(group[i].as_deref(), Some(want.as_str()));
        if better[i].as_deref() == Some("none") {
            assert_eq!(rank.get(i), None, "{:?} is a profile and must not be ranked", metric[i]);
            seen.insert(metric[i].clone().unwrap());
        }
    }
    assert!(seen.contains("budget_by_mtsf_outcome_share"), "{seen:?}");
    assert!(seen.contains("idp_value_by_mtsf_outcome_share"), "{seen:?}");
}

/// An IDP project of the sample inherits the MTSF outcome of the budget line it is linked to,
/// and says so.
#[test]
fn sample_idp_projects_inherit_their_linked_budget_lines_mtsf_outcome() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    let man = manifest(out);
    let p = read_table(out, &man, "projects");
    let links = read_table(out, &man, "links");
    let (id, dataset, outcome, origin, from) = (
        strings(&p, "record_id"),
        strings(&p, "dataset"),
        strings(&p, "mtsf_outcome"),
        strings(&p, "mtsf_outcome_origin"),
        strings(&p, "mtsf_outcome_from_record"),
    );
    let outcome_of = |rid: &str| {
        let i = id.iter().position(|x| x.as_deref() == Some(rid)).unwrap();
        outcome[i].clone()
    };
    let (left, right, band) = (
        strings(&links, "left_record_id"),
        strings(&links, "right_record_id"),
        strings(&links, "band"),
    );
    let mut inherited = 0;
    for i in 0..p.height() {
        if dataset[i].as_deref() == Some("budget") {
            assert_ne!(
                origin[i].as_deref(),
                Some("inherited_via_link"),
                "budget lines never inherit"
            );
        }
        if dataset[i].as_deref() != Some("idp") || origin[i].as_deref() != Some("inherited_via_link") {
            continue;
        }
        inherited += 1;
        let line = from[i].clone().expect("the line it came from");
        assert_eq!(outcome[i], outcome_of(&line), "{:?} inherits {line}'s outcome", id[i]);
        assert!(outcome[i].is_some());
        let linked = (0..links.height()).any(|j| {
            left[j].as_deref() == Some(line.as_str()) && right[j] == id[i] && band[j].as_deref() == Some("accept")
        });
        assert!(linked, "{:?} is linked to {line}", id[i]);
    }
    assert!(
        inherited > 0,
        "the sample's IDP projects have no outcome of their own; some must inherit one"
    );
    // Own values are marked own.
    for i in 0..p.height() {
        if origin[i].as_deref() == Some("own") {
            assert_eq!(from[i], None);
            assert!(outcome[i].is_some());
        }
    }
}

/// The `geo` key-value metadata of a Parquet file's footer.
fn geo_metadata(path: &std::path::Path) -> serde_json::Value {
    let mut f = std::fs::File::open(path).unwrap();
    let meta = polars_parquet::read::read_metadata(&mut f).unwrap();
    let text = meta
        .key_value_metadata()
        .as_ref()
        .and_then(|kv| kv.iter().find(|kv| kv.key == "geo"))
        .and_then(|kv| kv.value.clone())
        .unwrap_or_else(|| panic!("{} has no geo metadata", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The sample's located projects read back as GeoParquet: the `geo` footer metadata (CRS84,
/// WKB, Point, bbox) and a geometry column whose WKB points are the rows' coordinates.
#[test]
fn project_locations_read_back_as_geoparquet_with_crs_and_points() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    let man = manifest(out);
    let files = man["tables"]["project_locations"]["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    for path in [
        out.join(files[0].as_str().unwrap()),
        out.join("current/project_locations/part-00000.parquet"),
    ] {
        let geo = geo_metadata(&path);
        assert_eq!(geo["version"], "1.1.0");
        assert_eq!(geo["primary_column"], "geometry");
        let g = &geo["columns"]["geometry"];
        assert_eq!(g["encoding"], "WKB");
        assert_eq!(g["geometry_types"], serde_json::json!(["Point"]));
        assert_eq!(g["crs"]["id"]["authority"], "OGC");
        assert_eq!(g["crs"]["id"]["code"], "CRS84");
        assert_eq!(g["crs"]["type"], "GeographicCRS");
        let bbox: Vec<f64> = g["bbox"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(bbox.len(), 4);
        let df = ParquetReader::new(std::fs::File::open(&path).unwrap())
            .finish()
            .unwrap();
        assert!(df.height() > 0, "the sample's IRM rows have coordinates");
        let geom = df.column("geometry").unwrap().binary().unwrap().clone();
        let lat = df.column("latitude").unwrap().f64().unwrap().clone();
        let lon = df.column("longitude").unwrap().f64().unwrap().clone();
        let (mut min_x, mut min_y, mut max_x, mut max_y) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for i in 0..df.height() {
            let wkb = geom.get(i).unwrap();
            // ISO WKB point, little-endian: 1, type 1, x, y.
            assert_eq!(wkb.len(), 21);
            assert_eq!(&wkb[..5], &[1, 1, 0, 0, 0]);
            let x = f64::from_le_bytes(wkb[5..13].try_into().unwrap());
            let y = f64::from_le_bytes(wkb[13..21].try_into().unwrap());
            assert_eq!((x, y), (lon.get(i).unwrap(), lat.get(i).unwrap()));
            assert!(
                (16.0..=33.0).contains(&x) && (-35.0..=-22.0).contains(&y),
                "inside South Africa"
            );
            (min_x, min_y, max_x, max_y) = (min_x.min(x), min_y.min(y), max_x.max(x), max_y.max(y));
        }
        assert_eq!(bbox, [min_x, min_y, max_x, max_y]);
        let checks = strings(&df, "coordinate_check");
        assert!(checks.iter().all(|c| matches!(
            c.as_deref(),
            Some("consistent" | "outside_province_box" | "far_from_municipality_projects" | "not_checked")
        )));
    }
}

/// Budget per ward on the sample: every line's ward rows sum to the line, and every
/// municipality-year sums to its capital budget in `project_amounts` (one MTREF per year).
#[test]
fn ward_budget_rows_sum_to_each_line_and_to_the_capital_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let report = block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    let man = manifest(out);
    let w = read_table(out, &man, "ward_budget");
    let ids = strings(&w, "record_id");
    let rules = strings(&w, "ward_split_rule");
    let years = w.column("financial_year").unwrap().i32().unwrap().clone();
    let line = w.column("line_amount_rand").unwrap().f64().unwrap().clone();
    let share = w.column("ward_amount_rand").unwrap().f64().unwrap().clone();
    let mut per_line: std::collections::BTreeMap<(String, i32), (f64, f64)> = Default::default();
    for (i, id) in ids.iter().enumerate() {
        let e = per_line
            .entry((id.clone().unwrap(), years.get(i).unwrap()))
            .or_default();
        e.0 = line.get(i).unwrap();
        e.1 += share.get(i).unwrap();
    }
    for ((id, y), (l, s)) in &per_line {
        assert!((l - s).abs() < 1e-6, "{id} {y}: rows sum to {s}, line is {l}");
    }
    // The sample's ward texts: single wards, a list cut short (`18,19,21,...`, not split), a
    // region, head office and the whole metro (the three-ward split is a unit test in
    // src/metrics/spatial.rs).
    let seen: std::collections::BTreeSet<&str> = rules.iter().filter_map(|r| r.as_deref()).collect();
    for r in ["single_ward", "not_split_list_cut_short", "not_in_wards"] {
        assert!(seen.contains(r), "{r} in {seen:?}");
    }
    let regions = strings(&w, "region");
    assert!(regions
        .iter()
        .any(|r| r.as_deref() == Some("Region 3 B: Central Region")));
    // Per municipality and year: the capital budget the manifest records.
    let munis = strings(&w, "demarcation_code");
    let mut totals: std::collections::BTreeMap<(String, i32), f64> = Default::default();
    for (i, muni) in munis.iter().enumerate() {
        *totals
            .entry((muni.clone().unwrap(), years.get(i).unwrap()))
            .or_default() += share.get(i).unwrap();
    }
    assert!(!report.manifest.budget_totals.is_empty());
    for (muni, by_year) in &report.manifest.budget_totals {
        for (label, total) in by_year {
            let y: i32 = label[..4].parse().unwrap();
            let got = totals.get(&(muni.clone(), y)).copied().unwrap_or(0.0);
            assert!((got - total).abs() < 1e-3, "{muni} {label}: {got} vs {total}");
        }
    }
}

/// The metrics history outlives retention: after a second run removed the first run's folder,
/// the history still holds both runs' rows, its files are where the manifest says, and the
/// trend reads both.
#[test]
fn the_metrics_history_holds_two_runs_after_retention_removed_the_older_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let mut pipeline = sample_pipeline(out);
    pipeline.retention_days = 1;
    let first = block_on(run(&pipeline, clock(0))).unwrap().manifest.run_id;
    // Three days later: the first run is past its retention.
    let later = clock(0) + chrono::Duration::days(3);
    let second = block_on(run(&pipeline, later)).unwrap().manifest.run_id;
    let first_dir = out.join("runs").join(&first);
    assert!(
        !first_dir.join("projects").exists(),
        "retention removed the first run's tables"
    );
    assert!(!first_dir.join("manifest.json").exists());
    let mut left: Vec<String> = std::fs::read_dir(&first_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    left.sort();
    assert_eq!(left, ["metrics_history", "quarantine"], "only the histories are kept");
    let man = manifest(out);
    let files: Vec<&str> = man["tables"]["metrics_history"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            format!("runs/{first}/metrics_history/part-00000.parquet"),
            format!("runs/{second}/metrics_history/part-00000.parquet"),
        ]
    );
    let h = read_table(out, &man, "metrics_history");
    let runs: std::collections::BTreeSet<String> = strings(&h, "run_id").into_iter().flatten().collect();
    assert_eq!(runs, [first.clone(), second.clone()].into_iter().collect());
    // Same inputs: each run has the same rows, only municipal ones, with the inputs' vintage.
    let of = |r: &str| strings(&h, "run_id").iter().filter(|x| x.as_deref() == Some(r)).count();
    assert_eq!(of(&first), of(&second));
    assert_eq!(
        of(&first) * 2,
        man["tables"]["metrics_history"]["rows"].as_u64().unwrap() as usize
    );
    let by = h.column("inputs_budget_year").unwrap().i32().unwrap().clone();
    let munis = strings(&h, "demarcation_code");
    for (i, m) in munis.iter().enumerate() {
        if m.as_deref() == Some("BUF") {
            assert_eq!(by.get(i), Some(2025), "the sample's latest BUF budget is 2025/26");
        }
    }
    // current/ holds both runs' files, named by run.
    for r in [&first, &second] {
        assert!(out.join(format!("current/metrics_history/{r}.parquet")).exists());
    }
    // The trend reads the history: the sample measures 2024/25 and 2025/26.
    let t = read_table(out, &man, "metrics_trend");
    let years = t.column("trend_years").unwrap().i32().unwrap().clone();
    let metric = strings(&t, "metric");
    let i = (0..t.height())
        .find(|&i| {
            strings(&t, "demarcation_code")[i].as_deref() == Some("BUF")
                && metric[i].as_deref() == Some("budget_linked_to_idp_share")
        })
        .unwrap();
    assert_eq!(years.get(i), Some(2));
    assert_eq!(
        strings(&t, "series")[i].as_deref().map(|s| s.matches(';').count()),
        Some(1)
    );
}

/// A scenario run keeps its own metrics history under `scenarios/<name>/` and never appends to
/// the live one.
#[test]
fn a_scenario_run_does_not_append_to_the_live_metrics_history() {
    use harvester::run::{run_with, RunRequest};
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let p = sample_pipeline(out);
    let live = block_on(run(&p, clock(0))).unwrap().manifest.run_id;
    let before = std::fs::read(out.join("manifest.json")).unwrap();
    let mut req = RunRequest::new(clock(1));
    req.municipalities = vec!["BUF".into()];
    let scenario = block_on(run_with(&p, &req)).unwrap();
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), before);
    let man = manifest(out);
    let h = read_table(out, &man, "metrics_history");
    assert!(strings(&h, "run_id")
        .iter()
        .all(|r| r.as_deref() == Some(live.as_str())));
    let name = scenario.scenario.unwrap();
    let sdir = out.join("scenarios").join(&name);
    let sm = manifest(&sdir);
    let sh = read_table(&sdir, &sm, "metrics_history");
    assert!(sh.height() > 0);
    assert!(strings(&sh, "demarcation_code")
        .iter()
        .all(|m| m.as_deref() == Some("BUF")));
    assert!(strings(&sh, "run_id")
        .iter()
        .all(|r| r.as_deref() == Some(scenario.manifest.run_id.as_str())));
}

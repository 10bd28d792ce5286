//! Issue #16: an exceptions register an adjudicator can work through — measures apart from
//! findings, materiality and priority, owners, analysts' decisions and status across runs.

use crate::common::*;
use chrono::TimeZone;
use harvester::domain::location::Location;
use harvester::run::run;
use polars::prelude::*;

fn column_u32(df: &DataFrame, c: &str) -> Vec<Option<u32>> {
    // Stored signed (Int32) for BI tools; the counts are never negative.
    let ca = df
        .column(c)
        .unwrap()
        .cast(&DataType::UInt32)
        .unwrap()
        .u32()
        .unwrap()
        .clone();
    (0..ca.len()).map(|i| ca.get(i)).collect()
}

#[test]
fn the_sample_register_takes_decisions_and_a_waiver_runs_out() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let p = sample_pipeline(out);
    block_on(run(&p, clock(0))).unwrap();
    let e = read_table(out, &manifest(out), "exceptions");
    let types = strings(&e, "exception_type");
    for measure in ["unfunded_idp_project", "placeholder_strategic_objective"] {
        assert!(
            !types.contains(&Some(measure.into())),
            "{measure} is a measure, not a finding"
        );
    }
    // Material findings come first, by priority, each with an owner and an action.
    let flags = e.column("material").unwrap().bool().unwrap().clone();
    let material: Vec<Option<bool>> = (0..flags.len()).map(|i| flags.get(i)).collect();
    assert_eq!(material[0], Some(true), "{e}");
    assert!(material.windows(2).all(|w| w[0] >= w[1]), "material first");
    for c in ["owner_sphere", "owner", "suggested_action"] {
        assert!(
            strings(&e, c)
                .iter()
                .all(|v| v.as_deref().is_some_and(|s| !s.is_empty())),
            "{c}"
        );
    }
    let years = e
        .column("financial_years")
        .unwrap()
        .as_materialized_series()
        .list()
        .unwrap()
        .clone();
    assert!(
        (0..e.height()).any(|i| years.get_as_series(i).is_some_and(|s| s.len() > 1)),
        "some sample finding spans more than one year"
    );
    // One finding per id.
    let ids = strings(&e, "exception_id");
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
    // The report names municipalities and prints amounts in R m.
    let m = manifest(out);
    let html = std::fs::read_to_string(out.join(m["report"].as_str().unwrap())).unwrap();
    assert!(html.contains("BUF Buffalo City"), "municipality names beside codes");
    assert!(html.contains(" m</td>"), "amounts as R x.x m");

    // An analyst waives the top finding until today and assigns the second.
    let (waived, assigned) = (ids[0].clone().unwrap(), ids[1].clone().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let decisions = dir.path().join("decisions.csv");
    std::fs::write(
        &decisions,
        format!(
            "exception_id,status,reason,until,assigned_to,decided_by\n\
             {waived},waived,funded in the adjustments budget,2026-11-22,,t.ndlovu\n\
             {assigned},assigned,,,BUF infrastructure planning,t.ndlovu\n"
        ),
    )
    .unwrap();
    let mut p = sample_pipeline(out);
    p.exceptions.decisions = Some(Location::Local(decisions));
    let status_of = |reg: &DataFrame, id: &str| {
        let i = strings(reg, "exception_id")
            .iter()
            .position(|x| x.as_deref() == Some(id))
            .unwrap();
        (
            strings(reg, "status")[i].clone().unwrap(),
            column_u32(reg, "reopened_count")[i].unwrap(),
        )
    };
    block_on(run(&p, clock(1))).unwrap();
    let reg = read_table(out, &manifest(out), "exception_register");
    assert_eq!(status_of(&reg, &waived), ("waived".into(), 0));
    assert_eq!(status_of(&reg, &assigned), ("assigned".into(), 0));
    // The next day (on the run's clock) the waiver has run out: the finding reopens.
    let tomorrow = chrono::Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap();
    let report = block_on(run(&p, tomorrow)).unwrap();
    let reg = read_table(out, &manifest(out), "exception_register");
    assert_eq!(status_of(&reg, &waived), ("open".into(), 1));
    assert_eq!(status_of(&reg, &assigned), ("assigned".into(), 0));
    let i = strings(&reg, "exception_id")
        .iter()
        .position(|x| x.as_deref() == Some(waived.as_str()))
        .unwrap();
    let history = strings(&reg, "status_history")[i].clone().unwrap();
    assert!(history.contains("\"waiver_expired\""), "{history}");
    assert!(report.material_open > 0);
}

#[test]
fn a_finding_fixed_then_broken_again_shows_resolved_then_reopened() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    // Fix the cause: an A5 total that matches the SA36 lines.
    let dir = tempfile::tempdir().unwrap();
    let fixed = std::fs::read_to_string(repo().join("sample/capital_cube/a5_capital_2024_25.csv"))
        .unwrap()
        .replace(
            "EC122,2025ORGB,ROADS,INFRA,NEW,15684130",
            "EC122,2025ORGB,ROADS,INFRA,NEW,13647230",
        );
    let a5 = dir.path().join("a5.csv");
    std::fs::write(&a5, fixed).unwrap();
    let mut p = sample_pipeline(out);
    p.override_source(&format!("a5={}", a5.display()), &repo()).unwrap();
    block_on(run(&p, clock(1))).unwrap();
    // And break it again.
    block_on(run(&sample_pipeline(out), clock(2))).unwrap();
    let reg = read_table(out, &manifest(out), "exception_register");
    let i = strings(&reg, "exception_type")
        .iter()
        .position(|t| t.as_deref() == Some("sa36_a5_mismatch"))
        .unwrap();
    assert_eq!(strings(&reg, "status")[i].as_deref(), Some("open"));
    assert_eq!(column_u32(&reg, "reopened_count")[i], Some(1));
    assert_eq!(strings(&reg, "resolved_in_run")[i], None);
    let history: Vec<serde_json::Value> =
        serde_json::from_str(strings(&reg, "status_history")[i].as_deref().unwrap()).unwrap();
    let events: Vec<&str> = history.iter().map(|h| h["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["new", "resolved", "reopened"]);
}

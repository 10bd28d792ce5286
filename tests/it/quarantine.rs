//! Bad rows: a few are quarantined and the rest published; too many fail the run before
//! publishing. The quarantine keeps its history across runs. Unit mix-ups are flagged.

use crate::common::*;
use harvester::config::Pipeline;
use harvester::run::run;
use std::path::Path;

/// An IDP register of `rows` projects in BUF, where rows whose index is in `bad` have an amount
/// that is not a number.
fn idp_csv(rows: usize, bad: &[usize]) -> String {
    let mut s = String::from("demarcation_code,idp_project_ref,project_name,financial_year,amount\n");
    for i in 0..rows {
        let amount = if bad.contains(&i) {
            "abc".to_string()
        } else {
            format!("{}", 100_000 * (i + 1))
        };
        s.push_str(&format!("BUF,IDP-{i:03},Construction of Hall {i},2024/25,{amount}\n"));
    }
    s
}

fn pipeline(dir: &Path, out: &Path) -> Pipeline {
    let text = r#"
name = "q"
[[sources]]
name = "idp"
location = "idp.csv"
contract = "idp_register"
max_reject_ratio = 0.10
"#;
    let mut p = Pipeline::parse(text, "q.toml", dir, dir).unwrap();
    p.override_publish(out.to_str().unwrap(), dir).unwrap();
    p
}

#[test]
fn three_percent_bad_rows_publish_the_good_and_quarantine_exactly_the_bad() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::write(tmp.path().join("idp.csv"), idp_csv(100, &[9, 49, 89])).unwrap();
    let report = block_on(run(&pipeline(tmp.path(), &out), clock(0))).unwrap();
    assert_eq!(report.manifest.data_quality[0].rows_read, 100);
    assert_eq!(report.manifest.data_quality[0].rows_accepted, 97);
    let m = manifest(&out);
    let q = read_table(&out, &m, "quarantine");
    assert_eq!(q.height(), 3);
    // Data row i is CSV record i + 2 (the header is row 1).
    let rows: Vec<i32> = (0..3)
        .map(|i| q.column("source_row").unwrap().i32().unwrap().get(i).unwrap())
        .collect();
    assert_eq!(rows, [11, 51, 91]);
    assert_eq!(strings(&q, "rule"), vec![Some("number".to_string()); 3]);
    assert_eq!(strings(&q, "raw_value"), vec![Some("abc".to_string()); 3]);
    assert_eq!(read_table(&out, &m, "projects").height(), 97);
}

#[test]
fn sixty_percent_bad_rows_fail_before_publishing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::write(tmp.path().join("idp.csv"), idp_csv(100, &[])).unwrap();
    block_on(run(&pipeline(tmp.path(), &out), clock(0))).unwrap();
    let before = std::fs::read(out.join("manifest.json")).unwrap();
    let runs_before = std::fs::read_dir(out.join("runs")).unwrap().count();
    let bad: Vec<usize> = (0..60).collect();
    std::fs::write(tmp.path().join("idp.csv"), idp_csv(100, &bad)).unwrap();
    let err = block_on(run(&pipeline(tmp.path(), &out), clock(1)))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("source `idp`: 60 of 100 rows rejected (60.0% > max_reject_ratio 10.0%)"),
        "{err}"
    );
    assert!(err.contains("number: `abc` in `amount` is not a number (×60)"), "{err}");
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), before);
    assert_eq!(
        std::fs::read_dir(out.join("runs")).unwrap().count(),
        runs_before,
        "nothing of the failed run was written"
    );
}

#[test]
fn quarantine_history_is_kept_across_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let first = block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    let second = block_on(run(&sample_pipeline(out), clock(1))).unwrap();
    let q1 = &first.manifest.tables["quarantine"];
    let q2 = &second.manifest.tables["quarantine"];
    assert_eq!(q2.files.len(), 2);
    assert_eq!(q2.rows, 2 * q1.rows);
    assert_eq!(q2.files[0], q1.files[0]);
    assert!(
        q2.files[1] == format!("runs/{}/quarantine/part-00000.parquet", second.manifest.run_id),
        "{:?}",
        q2.files
    );
    assert_eq!(read_table(out, &manifest(out), "quarantine").height(), q2.rows);
}

#[test]
fn a_thousandfold_jump_since_the_last_run_is_flagged() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    // Same file, now declared as R thousand: every amount is 1000× larger.
    let mut p = sample_pipeline(out);
    let budget = p.sources.iter_mut().find(|s| s.name == "budget_2024").unwrap();
    budget.unit = harvester::domain::Unit::Thousand;
    block_on(run(&p, clock(1))).unwrap();
    let e = read_table(out, &manifest(out), "exceptions");
    let types = strings(&e, "exception_type");
    let details = strings(&e, "detail");
    let hit = (0..e.height())
        .find(|&i| {
            types[i].as_deref() == Some("unit_mixup_suspected")
                && details[i]
                    .as_deref()
                    .unwrap_or("")
                    .starts_with("BUF capital budget 2024/25")
        })
        .expect("a unit mix-up exception for BUF 2024/25");
    assert!(
        details[hit].as_deref().unwrap().contains("1000.000× the R"),
        "{:?}",
        details[hit]
    );
}

#[test]
fn each_quarantine_row_names_its_run_so_one_run_can_be_picked_out_of_the_history() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let reports: Vec<_> = (0..3)
        .map(|minute| block_on(run(&sample_pipeline(out), clock(minute))).unwrap())
        .collect();
    let per_run = reports[0].manifest.tables["quarantine"].rows;
    assert!(per_run > 0, "the sample has quarantined rows");
    let q = read_table(out, &manifest(out), "quarantine");
    assert_eq!(q.height(), 3 * per_run, "the history holds every run's rows");
    let run_ids = strings(&q, "run_id");
    let second = &reports[1].manifest.run_id;
    let mine: Vec<usize> = (0..q.height())
        .filter(|&i| run_ids[i].as_deref() == Some(second.as_str()))
        .collect();
    assert_eq!(mine.len(), per_run, "one run's rows, once each");
    // Within one run each rejected cell appears once.
    let key = |i: usize| {
        ["source", "source_file", "source_sheet", "column", "rule"]
            .iter()
            .map(|c| strings(&q, c)[i].clone().unwrap_or_default())
            .chain([format!("{:?}", q.column("source_row").unwrap().i32().unwrap().get(i))])
            .collect::<Vec<_>>()
    };
    let distinct: std::collections::BTreeSet<Vec<String>> = mine.iter().map(|&i| key(i)).collect();
    assert_eq!(distinct.len(), per_run);
    let ids: std::collections::BTreeSet<Option<String>> = run_ids.into_iter().collect();
    let expected: std::collections::BTreeSet<Option<String>> =
        reports.iter().map(|r| Some(r.manifest.run_id.clone())).collect();
    assert_eq!(ids, expected);
}

/// Each run's rows say since which run the same problem (file, row, column, rule, value) has been
/// rejected without a break: a problem kept across runs keeps its first run, a new one starts
/// at its own run, and one that was fixed and came back starts again.
#[test]
fn each_quarantined_problem_says_since_which_run_it_has_been_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, out) = (tmp.path(), tmp.path().join("out"));
    let mut ids = Vec::new();
    let mut since = Vec::new();
    for (minute, bad) in [&[2usize, 5][..], &[2, 5, 7], &[5, 7], &[2, 5]].iter().enumerate() {
        std::fs::write(dir.join("idp.csv"), idp_csv(40, bad)).unwrap();
        let report = block_on(run(&pipeline(dir, &out), clock(minute as u32))).unwrap();
        let run_id = report.manifest.run_id.clone();
        let q = read_table(&out, &manifest(&out), "quarantine");
        let (runs, first) = (strings(&q, "run_id"), strings(&q, "first_seen_run"));
        let rows = q.column("source_row").unwrap().i32().unwrap().clone();
        let mut mine: Vec<(i32, String)> = (0..q.height())
            .filter(|&i| runs[i].as_deref() == Some(run_id.as_str()))
            .map(|i| (rows.get(i).unwrap(), first[i].clone().unwrap()))
            .collect();
        mine.sort();
        ids.push(run_id);
        since.push(mine);
    }
    // Data rows start at file row 2: project i is on row i + 2.
    assert_eq!(since[0], [(4, ids[0].clone()), (7, ids[0].clone())]);
    assert_eq!(
        since[1],
        [(4, ids[0].clone()), (7, ids[0].clone()), (9, ids[1].clone())]
    );
    assert_eq!(since[2], [(7, ids[0].clone()), (9, ids[1].clone())]);
    assert_eq!(
        since[3],
        [(4, ids[3].clone()), (7, ids[0].clone())],
        "row 4 was fixed in the third run"
    );
}

//! Issue #13's amount tables on whole runs: `amount_revisions` on the sample's two SA36 files,
//! `grant_budget` against the capital budget the metrics use, and `spending_performance` with
//! its metrics on a hand-made SC36 (`tests/data/sc36_in_year/`).

use crate::common::*;
use harvester::run::run;
use polars::prelude::*;
use std::collections::BTreeMap;

fn f64s(df: &DataFrame, column: &str) -> Vec<Option<f64>> {
    let ca = df.column(column).unwrap().f64().unwrap().clone();
    (0..ca.len()).map(|i| ca.get(i)).collect()
}

fn i32s(df: &DataFrame, column: &str) -> Vec<Option<i32>> {
    let ca = df.column(column).unwrap().i32().unwrap().clone();
    (0..ca.len()).map(|i| ca.get(i)).collect()
}

fn bools(df: &DataFrame, column: &str) -> Vec<Option<bool>> {
    let ca = df.column(column).unwrap().bool().unwrap().clone();
    (0..ca.len()).map(|i| ca.get(i)).collect()
}

/// Σ `value_col` per (municipality, year) over the rows `keep` accepts.
fn sums(df: &DataFrame, muni: &str, value_col: &str, keep: impl Fn(usize) -> bool) -> BTreeMap<(String, i32), f64> {
    let (m, y, v) = (strings(df, muni), i32s(df, "financial_year"), f64s(df, value_col));
    let mut out = BTreeMap::new();
    for i in (0..df.height()).filter(|&i| keep(i)) {
        *out.entry((m[i].clone().unwrap(), y[i].unwrap())).or_insert(0.0) += v[i].unwrap();
    }
    out
}

/// BUF's line PC001002002001001_00033: the 2024/25 MTREF put R12,776,000 in 2025/26 (BY+1), the
/// 2025/26 MTREF R13,145,000 (its budget year): +R369,000, and the later one is compared. The
/// figures are the two workbooks' cells.
#[test]
fn sample_revisions_follow_one_line_across_both_sa36_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    let m = manifest(out);
    let r = read_table(out, &m, "amount_revisions");
    let key = strings(&r, "project_key");
    let year = i32s(&r, "financial_year");
    let rows: Vec<usize> = (0..r.height())
        .filter(|&i| key[i].as_deref() == Some("budget|BUF|PC001002002001001_00033") && year[i] == Some(2025))
        .collect();
    assert_eq!(rows.len(), 2);
    let (vintage, phase) = (strings(&r, "vintage"), strings(&r, "phase"));
    let (amount, prev) = (f64s(&r, "amount_rand"), f64s(&r, "previous_amount_rand"));
    let (change, rel, latest) = (
        f64s(&r, "change_rand"),
        f64s(&r, "relative_change"),
        bools(&r, "latest"),
    );
    let order = i32s(&r, "vintage_order");
    let (a, b) = (rows[0], rows[1]);
    assert_eq!(
        (
            vintage[a].as_deref(),
            phase[a].as_deref(),
            order[a],
            amount[a],
            latest[a]
        ),
        (
            Some("SA36 2024/25"),
            Some("budget"),
            Some(1),
            Some(12_776_000.0),
            Some(false)
        )
    );
    assert_eq!((prev[a], change[a], rel[a]), (None, None, None));
    assert_eq!(
        (
            vintage[b].as_deref(),
            order[b],
            amount[b],
            prev[b],
            change[b],
            latest[b]
        ),
        (
            Some("SA36 2025/26"),
            Some(2),
            Some(13_145_000.0),
            Some(12_776_000.0),
            Some(369_000.0),
            Some(true)
        )
    );
    assert!((rel[b].unwrap() - 369_000.0 / 12_776_000.0).abs() < 1e-12);
    assert_eq!(strings(&r, "previous_vintage")[b].as_deref(), Some("SA36 2024/25"));
    // One figure per budget project-year is `latest`, and together they are the capital budget
    // by one MTREF per year: grant_budget's total (BUF 2025/26: R152,176,000).
    let dataset = strings(&r, "dataset");
    let latest_budget = sums(&r, "demarcation_code", "amount_rand", |i| {
        latest[i] == Some(true) && dataset[i].as_deref() == Some("budget")
    });
    let g = read_table(out, &m, "grant_budget");
    let by_grant = sums(&g, "demarcation_code", "amount_rand", |_| true);
    assert_eq!(latest_budget, by_grant);
    assert_eq!(by_grant[&("BUF".to_string(), 2025)], 152_176_000.0);
}

/// The grant view sums to each municipality-year's capital budget, which is the denominator of
/// the budget metrics, and `budget_by_funding_source_share` carries the same amounts.
#[test]
fn sample_grant_budget_is_the_capital_budget_split_by_funding_source() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    let m = manifest(out);
    let g = read_table(out, &m, "grant_budget");
    let capital = f64s(&g, "capital_budget_rand");
    let by_muni = sums(&g, "demarcation_code", "amount_rand", |_| true);
    let (muni, year) = (strings(&g, "demarcation_code"), i32s(&g, "financial_year"));
    for i in 0..g.height() {
        let total = by_muni[&(muni[i].clone().unwrap(), year[i].unwrap())];
        assert!((capital[i].unwrap() - total).abs() < 1e-6);
    }
    // BUF's SA36 lines have no funding column: their USDG comes from the linked IDP projects.
    let (source, inherited) = (strings(&g, "funding_source"), f64s(&g, "amount_inherited_rand"));
    let i = (0..g.height())
        .find(|&i| muni[i].as_deref() == Some("BUF") && year[i] == Some(2025) && source[i].as_deref() == Some("usdg"))
        .unwrap();
    assert_eq!(inherited[i], f64s(&g, "amount_rand")[i]);
    let a = read_table(out, &m, "alignment_metrics");
    let (level, metric, dim) = (strings(&a, "level"), strings(&a, "metric"), strings(&a, "dimension"));
    let is = |i: usize, name: &str| level[i].as_deref() == Some("municipality") && metric[i].as_deref() == Some(name);
    let denominators = sums(&a, "area_code", "denominator", |i| is(i, "budget_linked_to_idp_share"));
    let numerators = sums(&a, "area_code", "numerator", |i| {
        is(i, "budget_by_funding_source_share")
    });
    // The metrics are limited to the pipeline's years (2024/25, 2025/26).
    let in_years: BTreeMap<(String, i32), f64> = by_muni
        .iter()
        .filter(|((_, y), _)| [2024, 2025].contains(y))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    assert_eq!(denominators, in_years);
    assert_eq!(numerators, in_years);
    let j = (0..a.height())
        .find(|&j| {
            is(j, "budget_by_funding_source_share")
                && strings(&a, "area_code")[j].as_deref() == Some("BUF")
                && i32s(&a, "financial_year")[j] == Some(2025)
                && dim[j].as_deref() == Some("usdg")
        })
        .unwrap();
    assert_eq!(f64s(&a, "numerator")[j], f64s(&g, "amount_rand")[i]);
}

/// The hand-made SC36 at M06 (expected share 0.5): EC121's road has spent 600,000 of 1,200,000
/// (0.5, on track), its hall 100,000 of 2,000,000 (0.05, 45 points behind); EC122's water line
/// 1,500,000 of 3,000,000. EC121's spend rate is 700,000 ÷ 3,200,000 = 0.21875 and 2,000,000 of
/// its 3,200,000 is under-spending (0.625).
#[test]
fn sc36_lines_give_spending_performance_and_metrics_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    block_on(run(&in_year_pipeline(out), clock(0))).unwrap();
    let m = manifest(out);
    let s = read_table(out, &m, "spending_performance");
    assert_eq!(s.height(), 3);
    assert!(strings(&s, "period").iter().all(|p| p.as_deref() == Some("M06")));
    assert!(i32s(&s, "financial_year").iter().all(|y| *y == Some(2024)));
    assert_eq!(
        f64s(&s, "spend_rate"),
        [Some(0.5), Some(0.05), Some(0.5)],
        "{:?}",
        strings(&s, "record_id")
    );
    assert_eq!(f64s(&s, "expected_share"), [Some(0.5); 3]);
    let gap = f64s(&s, "gap");
    assert!((gap[1].unwrap() + 0.45).abs() < 1e-12 && gap[0] == Some(0.0));
    assert_eq!(
        strings(&s, "spend_status"),
        ["on_track", "under_spending", "on_track"].map(|x| Some(x.to_string()))
    );
    assert_eq!(f64s(&s, "original_budget_rand")[2], Some(4_000_000.0));
    let a = read_table(out, &m, "alignment_metrics");
    let (level, area, metric) = (strings(&a, "level"), strings(&a, "area_code"), strings(&a, "metric"));
    let value = |muni: &str, name: &str| {
        let i = (0..a.height())
            .find(|&i| {
                level[i].as_deref() == Some("municipality")
                    && area[i].as_deref() == Some(muni)
                    && metric[i].as_deref() == Some(name)
            })
            .unwrap();
        (
            f64s(&a, "numerator")[i],
            f64s(&a, "denominator")[i],
            f64s(&a, "value")[i],
        )
    };
    assert_eq!(
        value("EC121", "capital_spend_rate"),
        (Some(700_000.0), Some(3_200_000.0), Some(0.21875))
    );
    assert_eq!(
        value("EC121", "underspent_budget_share"),
        (Some(2_000_000.0), Some(3_200_000.0), Some(0.625))
    );
    assert_eq!(
        value("EC122", "capital_spend_rate"),
        (Some(1_500_000.0), Some(3_000_000.0), Some(0.5))
    );
}

//! Alignment metrics: every metric is Σ numerator ÷ Σ denominator over per-record facts.
//! (In-year spending facts come from `spending.rs`, funding-source and programme splits from
//! `dimensions.rs`.)
//!
//! Facts are derived per record (and per link or variance) in Rust; polars' lazy engine sums them
//! per municipality, province, category (A/B/C) and nation, so roll-ups are exact ratios of sums,
//! not averages of ratios. Peer statistics (`peers.rs`: MIIF class groups, median, quartiles,
//! ranks for metrics with a direction) and the change since the previous year are added last. Each metric's definition, unit and direction live in
//! [`METRICS`] and in `docs/metrics.md`; a test keeps the two in step.

use crate::contracts::reference::Reference;
use crate::contracts::Dataset;
use crate::domain::fiscal::{Calendar, FinancialYear};
use crate::domain::Better;
use crate::metrics::peers;
use crate::metrics::{BudgetVintages, Linked};
use crate::reconcile::{Link, LinkType, Variance};
use crate::records::{is_placeholder_objective, Record};
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// One metric of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    /// Name, as published.
    pub name: &'static str,
    /// `share_by_value`, `share_by_count` or `ratio`.
    pub unit: &'static str,
    /// Which direction is better; [`Better::None`] for profiles, which are never ranked.
    pub better: Better,
    /// The extra dimension, if the metric is split (`department`, `mtsf_outcome`, `iudf_goal`,
    /// `funding_source`, `programme`).
    pub dimension: Option<&'static str>,
}

const fn m(name: &'static str, unit: &'static str, better: Better, dimension: Option<&'static str>) -> MetricDef {
    MetricDef {
        name,
        unit,
        better,
        dimension,
    }
}

/// The catalogue, in output order.
pub const METRICS: &[MetricDef] = &[
    m("budget_linked_to_idp_share", "share_by_value", Better::Higher, None),
    m("idp_projects_funded_share", "share_by_count", Better::Higher, None),
    m("idp_value_funded_share", "share_by_value", Better::Higher, None),
    m("idp_budget_variance_wape", "ratio", Better::Lower, None),
    m("bepp_projects_in_idp_share", "share_by_count", Better::Higher, None),
    m("bepp_budget_coverage_share", "share_by_value", Better::Higher, None),
    m(
        "departmental_projects_in_idp_share",
        "share_by_count",
        Better::Higher,
        Some("department"),
    ),
    m(
        "departmental_value_in_idp_share",
        "share_by_value",
        Better::Higher,
        Some("department"),
    ),
    m("budget_in_wards_share", "share_by_value", Better::Higher, None),
    m(
        "budget_in_integration_zones_share",
        "share_by_value",
        Better::Higher,
        None,
    ),
    m("sa36_to_a5_ratio", "ratio", Better::TargetOne, None),
    m("placeholder_objective_share", "share_by_count", Better::Lower, None),
    m("mtref_stability_wape", "ratio", Better::Lower, None),
    m(
        "budget_by_mtsf_outcome_share",
        "share_by_value",
        Better::None,
        Some("mtsf_outcome"),
    ),
    m(
        "budget_by_iudf_goal_share",
        "share_by_value",
        Better::None,
        Some("iudf_goal"),
    ),
    m(
        "idp_value_by_mtsf_outcome_share",
        "share_by_value",
        Better::None,
        Some("mtsf_outcome"),
    ),
    m(
        "idp_value_by_iudf_goal_share",
        "share_by_value",
        Better::None,
        Some("iudf_goal"),
    ),
    m(
        "bepp_value_by_mtsf_outcome_share",
        "share_by_value",
        Better::None,
        Some("mtsf_outcome"),
    ),
    m(
        "bepp_value_by_iudf_goal_share",
        "share_by_value",
        Better::None,
        Some("iudf_goal"),
    ),
    m(
        "departmental_value_by_mtsf_outcome_share",
        "share_by_value",
        Better::None,
        Some("mtsf_outcome"),
    ),
    m(
        "departmental_value_by_iudf_goal_share",
        "share_by_value",
        Better::None,
        Some("iudf_goal"),
    ),
    m("capital_spend_rate", "ratio", Better::Higher, None),
    m("underspent_budget_share", "share_by_value", Better::Lower, None),
    m(
        "budget_by_funding_source_share",
        "share_by_value",
        Better::None,
        Some("funding_source"),
    ),
    m(
        "bepp_value_by_programme_share",
        "share_by_value",
        Better::None,
        Some("programme"),
    ),
];

/// The catalogue entry of a metric.
pub fn def(name: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|d| d.name == name)
}

/// A5 period types compared with SA36, in order of preference.
const A5_PHASES: &[&str] = &["orgb", "tabb", "adjb"];

/// Per-record facts: one numerator and denominator per metric, dimension, municipality and
/// year, summed by the roll-ups (other modules of `metrics` add theirs through [`Facts::push`]).
#[derive(Default)]
pub(crate) struct Facts {
    pub(crate) metric: Vec<&'static str>,
    pub(crate) dimension: Vec<Option<String>>,
    pub(crate) muni: Vec<String>,
    pub(crate) year: Vec<i32>,
    pub(crate) num: Vec<f64>,
    pub(crate) den: Vec<f64>,
}

impl Facts {
    /// Adds one fact.
    pub(crate) fn push(
        &mut self,
        metric: &'static str,
        dimension: Option<&str>,
        muni: &str,
        year: FinancialYear,
        num: f64,
        den: f64,
    ) {
        self.metric.push(metric);
        self.dimension.push(dimension.map(str::to_string));
        self.muni.push(muni.to_string());
        self.year.push(year.start_year);
        self.num.push(num);
        self.den.push(den);
    }
}

/// Years of a record, aligned to the municipal calendar, with its amount in each.
pub(crate) fn municipal_years(r: &Record) -> Vec<(FinancialYear, f64)> {
    let mut ys: Vec<FinancialYear> = r.amounts.iter().map(|a| a.year).collect();
    if ys.is_empty() {
        ys.extend(r.financial_year);
    }
    ys.sort();
    ys.dedup();
    ys.into_iter()
        .map(|y| (y.dominant_in(Calendar::Municipal), r.amount_in(y).unwrap_or(0.0)))
        .collect()
}

/// What the facts of one record depend on beyond the record: the links, the budget vintages and
/// the sets derived from them.
struct FactContext<'a> {
    vintages: BudgetVintages,
    linked: Linked<'a>,
    /// Budget lines linked to a BEPP project that lies in an integration zone.
    in_zone: BTreeSet<&'a str>,
    /// Metros that have a BEPP.
    metros_with_bepp: BTreeSet<&'a str>,
    /// IDP record → municipal years in which a linked budget line has money (one MTREF per year).
    funded: BTreeSet<(&'a str, FinancialYear)>,
}

impl<'a> FactContext<'a> {
    fn new(records: &'a [Record], links: &[&'a Link], by_id: &BTreeMap<&str, &'a Record>) -> Self {
        let vintages = BudgetVintages::new(records);
        let in_zone = links
            .iter()
            .filter(|l| l.link_type == LinkType::BeppBudget)
            .filter(|l| {
                by_id
                    .get(l.left_record_id.as_str())
                    .is_some_and(|b| b.integration_zone.is_some())
            })
            .map(|l| l.right_record_id.as_str())
            .collect();
        let metros_with_bepp = records
            .iter()
            .filter(|r| r.dataset == Dataset::Bepp)
            .filter_map(|r| r.demarcation_code.as_deref())
            .collect();
        let mut funded = BTreeSet::new();
        for l in links.iter().filter(|l| l.link_type == LinkType::BudgetIdp) {
            if let Some(b) = by_id.get(l.left_record_id.as_str()) {
                for a in b
                    .amounts
                    .iter()
                    .filter(|a| a.phase == "budget" && a.rand > 0.0 && vintages.counts(b, a.year))
                {
                    funded.insert((l.right_record_id.as_str(), a.year));
                }
            }
        }
        Self {
            vintages,
            linked: Linked::new(links),
            in_zone,
            metros_with_bepp,
            funded,
        }
    }
}

/// Budget sums per municipality and year that shares are taken of once every record is read.
#[derive(Default)]
struct BudgetSums<'a> {
    total: BTreeMap<(&'a str, FinancialYear), f64>,
    by_outcome: BTreeMap<(&'a str, FinancialYear, &'a str), f64>,
    by_iudf: BTreeMap<(&'a str, FinancialYear, &'a str), f64>,
    /// A5 (capital cube) totals by phase.
    a5: BTreeMap<(&'a str, FinancialYear, &'a str), f64>,
}

fn facts(records: &[Record], links: &[&Link], variances: &[Variance]) -> Facts {
    let by_id: BTreeMap<&str, &Record> = records.iter().map(|r| (r.record_id.as_str(), r)).collect();
    let cx = FactContext::new(records, links, &by_id);
    let mut f = Facts::default();
    let mut sums = BudgetSums::default();
    for r in records {
        let Some(muni) = r.demarcation_code.as_deref() else {
            continue;
        };
        match r.dataset {
            Dataset::Budget => budget_facts(&mut f, &cx, &mut sums, r, muni),
            Dataset::Idp => idp_facts(&mut f, &cx, r, muni),
            Dataset::Bepp => bepp_facts(&mut f, &cx, r, muni),
            Dataset::Departmental => departmental_facts(&mut f, &cx, r, muni),
            Dataset::Reference => {
                for a in r.amounts.iter().filter(|a| A5_PHASES.contains(&a.phase.as_str())) {
                    *sums
                        .a5
                        .entry((
                            muni,
                            a.year,
                            A5_PHASES.iter().find(|p| **p == a.phase).copied().unwrap_or(""),
                        ))
                        .or_default() += a.rand;
                }
            }
        }
    }
    for (&(muni, y, outcome), &v) in &sums.by_outcome {
        let total = sums.total.get(&(muni, y)).copied().unwrap_or(0.0);
        f.push("budget_by_mtsf_outcome_share", Some(outcome), muni, y, v, total);
    }
    for (&(muni, y, goal), &v) in &sums.by_iudf {
        let total = sums.total.get(&(muni, y)).copied().unwrap_or(0.0);
        f.push("budget_by_iudf_goal_share", Some(goal), muni, y, v, total);
    }
    plan_profiles(&mut f, records);
    // SA36 project total against the A5 (capital cube) total, preferring the original budget.
    for (&(muni, y), &sa36) in &sums.total {
        if let Some(total) = A5_PHASES.iter().find_map(|p| sums.a5.get(&(muni, y, *p))) {
            f.push("sa36_to_a5_ratio", None, muni, y, sa36, *total);
        }
    }
    // IDP vs budget: weighted absolute percentage difference over linked pairs.
    for v in variances.iter().filter(|v| v.link_type == LinkType::BudgetIdp) {
        let Some(b) = by_id.get(v.left_record_id.as_str()) else {
            continue;
        };
        if cx.vintages.counts(b, v.financial_year) {
            f.push(
                "idp_budget_variance_wape",
                None,
                &v.demarcation_code,
                v.financial_year,
                v.difference.abs(),
                v.right_amount.abs(),
            );
        }
    }
    mtref_stability(&mut f, records);
    // In-year spending (SC36), and funding source and programme as dimensions (issue #13).
    super::spending::push_facts(&mut f, records);
    super::dimensions::push_facts(&mut f, records, links);
    f
}

/// A budget line's facts: linked to the IDP, in wards, in integration zones, its objective; and
/// its amounts added to the municipality's sums.
fn budget_facts<'a>(f: &mut Facts, cx: &FactContext<'_>, sums: &mut BudgetSums<'a>, r: &'a Record, muni: &'a str) {
    let id = r.record_id.as_str();
    for a in r
        .amounts
        .iter()
        .filter(|a| a.phase == "budget" && cx.vintages.counts(r, a.year))
    {
        let y = a.year;
        let linked = if cx.linked.budget_idp.contains(id) { a.rand } else { 0.0 };
        f.push("budget_linked_to_idp_share", None, muni, y, linked, a.rand);
        let in_ward = r.ward_scope.as_deref() == Some("ward");
        f.push(
            "budget_in_wards_share",
            None,
            muni,
            y,
            if in_ward { a.rand } else { 0.0 },
            a.rand,
        );
        if cx.metros_with_bepp.contains(muni) {
            let zoned = if cx.in_zone.contains(id) { a.rand } else { 0.0 };
            f.push("budget_in_integration_zones_share", None, muni, y, zoned, a.rand);
        }
        *sums.total.entry((muni, y)).or_default() += a.rand;
        *sums
            .by_outcome
            .entry((muni, y, r.mtsf_outcome.as_deref().unwrap_or("(none)")))
            .or_default() += a.rand;
        *sums
            .by_iudf
            .entry((muni, y, r.iudf.as_deref().unwrap_or("(none)")))
            .or_default() += a.rand;
    }
    // An SC36 restates its year's SA36 lines: counted once, on the SA36.
    if let Some(by) = r.financial_year.filter(|_| !super::spending::is_in_year(r)) {
        let placeholder = r.strategic_objective.as_deref().is_none_or(is_placeholder_objective);
        f.push(
            "placeholder_objective_share",
            None,
            muni,
            by,
            f64::from(u8::from(placeholder)),
            1.0,
        );
    }
}

/// An IDP project's facts: funded by a linked budget line in each of its years.
fn idp_facts(f: &mut Facts, cx: &FactContext<'_>, r: &Record, muni: &str) {
    for (y, amount) in municipal_years(r) {
        let hit = cx.funded.contains(&(r.record_id.as_str(), y));
        f.push(
            "idp_projects_funded_share",
            None,
            muni,
            y,
            f64::from(u8::from(hit)),
            1.0,
        );
        f.push(
            "idp_value_funded_share",
            None,
            muni,
            y,
            if hit { amount } else { 0.0 },
            amount,
        );
    }
}

/// A BEPP project's facts: in the IDP, in the budget.
fn bepp_facts(f: &mut Facts, cx: &FactContext<'_>, r: &Record, muni: &str) {
    let id = r.record_id.as_str();
    for (y, amount) in municipal_years(r) {
        let in_idp = cx.linked.bepp_idp.contains(id);
        f.push(
            "bepp_projects_in_idp_share",
            None,
            muni,
            y,
            f64::from(u8::from(in_idp)),
            1.0,
        );
        let budgeted = if cx.linked.bepp_budget.contains(id) {
            amount
        } else {
            0.0
        };
        f.push("bepp_budget_coverage_share", None, muni, y, budgeted, amount);
    }
}

/// A departmental project's facts: in the IDP, overall and per department.
fn departmental_facts(f: &mut Facts, cx: &FactContext<'_>, r: &Record, muni: &str) {
    let hit = cx.linked.departmental_idp.contains(r.record_id.as_str());
    for (y, amount) in municipal_years(r) {
        for dim in [None, r.department.as_deref().or(Some("(none)"))] {
            f.push(
                "departmental_projects_in_idp_share",
                dim,
                muni,
                y,
                f64::from(u8::from(hit)),
                1.0,
            );
            f.push(
                "departmental_value_in_idp_share",
                dim,
                muni,
                y,
                if hit { amount } else { 0.0 },
                amount,
            );
        }
    }
}

/// MTREF stability: this year's budget-year amount against last year's BY+1 for the same line.
fn mtref_stability(f: &mut Facts, records: &[Record]) {
    let mut by_key: BTreeMap<(&str, &str, FinancialYear), &Record> = BTreeMap::new();
    for r in records
        .iter()
        .filter(|r| r.dataset == Dataset::Budget && !r.is_in_year())
    {
        if let (Some(m), Some(n), Some(by)) = (
            r.demarcation_code.as_deref(),
            r.mscoa_project_number.as_deref(),
            r.financial_year,
        ) {
            by_key.insert((m, n, by), r);
        }
    }
    let budget_in = |r: &Record, y: FinancialYear| {
        r.amounts
            .iter()
            .find(|a| a.phase == "budget" && a.year == y)
            .map_or(0.0, |a| a.rand)
    };
    for (&(muni, number, by), r) in &by_key {
        let previous_by = FinancialYear::new(by.calendar, by.start_year - 1);
        let Some(prev) = by_key.get(&(muni, number, previous_by)) else {
            continue;
        };
        let (planned, now) = (budget_in(prev, by), budget_in(r, by));
        if planned > 0.0 || now > 0.0 {
            f.push("mtref_stability_wape", None, muni, by, (now - planned).abs(), planned);
        }
    }
}

/// The plans' profiles by national priority: planned Rand of IDP, BEPP and departmental
/// projects per MTSF outcome and IUDF goal (own or inherited through links, see
/// `reconcile::priorities`) over the plan's total, per municipal year. `(none)` is the value
/// without an outcome or goal.
fn plan_profiles(f: &mut Facts, records: &[Record]) {
    type Key<'a> = (&'static str, &'a str, FinancialYear, &'a str);
    let mut part: BTreeMap<Key, f64> = BTreeMap::new();
    let mut total: BTreeMap<(&'static str, &str, FinancialYear), f64> = BTreeMap::new();
    for r in records {
        let Some(muni) = r.demarcation_code.as_deref() else {
            continue;
        };
        let (outcome, goal) = match r.dataset {
            Dataset::Idp => ("idp_value_by_mtsf_outcome_share", "idp_value_by_iudf_goal_share"),
            Dataset::Bepp => ("bepp_value_by_mtsf_outcome_share", "bepp_value_by_iudf_goal_share"),
            Dataset::Departmental => (
                "departmental_value_by_mtsf_outcome_share",
                "departmental_value_by_iudf_goal_share",
            ),
            Dataset::Budget | Dataset::Reference => continue,
        };
        for (y, amount) in municipal_years(r) {
            *part
                .entry((outcome, muni, y, r.mtsf_outcome.as_deref().unwrap_or("(none)")))
                .or_default() += amount;
            *part
                .entry((goal, muni, y, r.iudf.as_deref().unwrap_or("(none)")))
                .or_default() += amount;
            *total.entry((outcome, muni, y)).or_default() += amount;
            *total.entry((goal, muni, y)).or_default() += amount;
        }
    }
    for (&(metric, muni, y, dim), &v) in &part {
        let den = total.get(&(metric, muni, y)).copied().unwrap_or(0.0);
        f.push(metric, Some(dim), muni, y, v, den);
    }
}

/// One aggregated row before ranks and changes.
#[derive(Debug, Clone)]
struct Row {
    level: &'static str,
    area: String,
    year: i32,
    metric: String,
    dimension: Option<String>,
    num: f64,
    den: f64,
}

fn collect_rows(df: &DataFrame, level: &'static str, area_col: &str) -> PolarsResult<Vec<Row>> {
    let area = df.column(area_col)?.str()?.clone();
    let year = df.column("financial_year")?.i32()?.clone();
    let metric = df.column("metric")?.str()?.clone();
    let dim = df.column("dimension")?.str()?.clone();
    let num = df.column("numerator")?.f64()?.clone();
    let den = df.column("denominator")?.f64()?.clone();
    Ok((0..df.height())
        .map(|i| Row {
            level,
            area: area.get(i).unwrap_or("").to_string(),
            year: year.get(i).unwrap_or(0),
            metric: metric.get(i).unwrap_or("").to_string(),
            dimension: dim.get(i).map(str::to_string),
            num: num.get(i).unwrap_or(0.0),
            den: den.get(i).unwrap_or(0.0),
        })
        .collect())
}

/// Computes the alignment metrics table. `years` limits the output to those municipal years
/// (all when empty).
pub fn alignment_metrics(
    records: &[Record],
    links: &[&Link],
    variances: &[Variance],
    years: &[FinancialYear],
) -> PolarsResult<DataFrame> {
    let rows = rolled_up(facts(records, links, variances), years)?;
    let reference = Reference::bundled();
    let peer = peer_cells(&rows, reference);
    let change = changes(&rows);
    metrics_frame(&rows, &peer, change, reference)
}

/// The facts summed per area (municipality, district, province, category, national), year,
/// metric and dimension, sorted; only the chosen years when `years` names any.
fn rolled_up(f: Facts, years: &[FinancialYear]) -> PolarsResult<Vec<Row>> {
    let reference = Reference::bundled();
    let province: Vec<String> = f
        .muni
        .iter()
        .map(|m| reference.get(m).map_or("?".into(), |x| x.province.clone()))
        .collect();
    let category: Vec<String> = f
        .muni
        .iter()
        .map(|m| reference.get(m).map_or("?".into(), |x| x.category.clone()))
        .collect();
    // A district's area: the district itself and its local municipalities (metros have none).
    let district: Vec<String> = f.muni.iter().map(|m| district_of(reference, m)).collect();
    let n = f.metric.len();
    let df = DataFrame::new(
        n,
        vec![
            Column::new("metric".into(), f.metric),
            Column::new("dimension".into(), f.dimension),
            Column::new("municipality".into(), f.muni),
            Column::new("province".into(), province),
            Column::new("district".into(), district),
            Column::new("category".into(), category),
            Column::new("national".into(), vec!["ZA"; n]),
            Column::new("financial_year".into(), f.year),
            Column::new("num".into(), f.num),
            Column::new("den".into(), f.den),
        ],
    )?;
    let mut lf = df.lazy();
    if !years.is_empty() {
        let mut pred = lit(false);
        for y in years {
            pred = pred.or(col("financial_year").eq(lit(y.start_year)));
        }
        lf = lf.filter(pred);
    }
    let mut rows = Vec::new();
    for (level, area) in [
        ("municipality", "municipality"),
        ("district", "district"),
        ("province", "province"),
        ("category", "category"),
        ("national", "national"),
    ] {
        let agg = lf
            .clone()
            .filter(col(area).neq(lit("")))
            .group_by([col(area), col("financial_year"), col("metric"), col("dimension")])
            .agg([
                col("num").sum().alias("numerator"),
                col("den").sum().alias("denominator"),
            ])
            .collect()?;
        rows.extend(collect_rows(&agg, level, area)?);
    }
    rows.sort_by(|a, b| {
        (a.level, &a.area, a.year, &a.metric, &a.dimension).cmp(&(b.level, &b.area, b.year, &b.metric, &b.dimension))
    });
    Ok(rows)
}

/// A row's value (`None` when its denominator is zero).
fn value(r: &Row) -> Option<f64> {
    (r.den != 0.0).then(|| r.num / r.den)
}

/// Peer statistics: municipalities of the same MIIF class, per metric, dimension and year.
fn peer_cells(rows: &[Row], reference: &Reference) -> Vec<peers::PeerCells> {
    let peer_rows = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.level == "municipality")
        .filter_map(|(i, r)| {
            let v = value(r)?;
            let better = def(&r.metric).map_or(Better::None, |d| d.better);
            let key = (
                peers::peer_group(reference, &r.area),
                r.year,
                r.metric.clone(),
                r.dimension.clone(),
            );
            Some((i, key, v, better))
        })
        .collect();
    peers::cells(peer_rows, rows.len())
}

/// Change since the previous year, same level, area, metric and dimension.
fn changes(rows: &[Row]) -> Vec<Option<f64>> {
    let index: BTreeMap<(&str, &str, i32, &str, Option<&str>), f64> = rows
        .iter()
        .filter_map(|r| {
            value(r).map(|v| {
                (
                    (
                        r.level,
                        r.area.as_str(),
                        r.year,
                        r.metric.as_str(),
                        r.dimension.as_deref(),
                    ),
                    v,
                )
            })
        })
        .collect();
    rows.iter()
        .map(|r| {
            let now = value(r)?;
            let before = index.get(&(
                r.level,
                r.area.as_str(),
                r.year - 1,
                r.metric.as_str(),
                r.dimension.as_deref(),
            ))?;
            Some(now - before)
        })
        .collect()
}

/// The `alignment_metrics` table.
fn metrics_frame(
    rows: &[Row],
    peer: &[peers::PeerCells],
    change: Vec<Option<f64>>,
    reference: &Reference,
) -> PolarsResult<DataFrame> {
    let n = rows.len();
    DataFrame::new(
        n,
        vec![
            Column::new("level".into(), rows.iter().map(|r| r.level).collect::<Vec<_>>()),
            Column::new(
                "area_code".into(),
                rows.iter().map(|r| r.area.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "demarcation_code".into(),
                rows.iter()
                    .map(|r| (r.level == "municipality").then(|| r.area.clone()))
                    .collect::<Vec<_>>(),
            ),
            Column::new("financial_year".into(), rows.iter().map(|r| r.year).collect::<Vec<_>>()),
            Column::new("calendar".into(), vec![Calendar::Municipal.as_str(); n]),
            Column::new(
                "metric".into(),
                rows.iter().map(|r| r.metric.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "dimension".into(),
                rows.iter().map(|r| r.dimension.clone()).collect::<Vec<_>>(),
            ),
            Column::new("value".into(), rows.iter().map(value).collect::<Vec<_>>()),
            Column::new("numerator".into(), rows.iter().map(|r| r.num).collect::<Vec<_>>()),
            Column::new("denominator".into(), rows.iter().map(|r| r.den).collect::<Vec<_>>()),
            Column::new(
                "unit".into(),
                rows.iter()
                    .map(|r| def(&r.metric).map_or("", |d| d.unit))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "better".into(),
                rows.iter()
                    .map(|r| def(&r.metric).map_or("", |d| d.better.as_str()))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "peer_group".into(),
                rows.iter()
                    .map(|r| (r.level == "municipality").then(|| peers::peer_group(reference, &r.area)))
                    .collect::<Vec<_>>(),
            ),
            Column::new("peer_rank".into(), peer.iter().map(|c| c.rank).collect::<Vec<_>>()),
            Column::new("peer_count".into(), peer.iter().map(|c| c.count).collect::<Vec<_>>()),
            Column::new(
                "peer_percentile".into(),
                peer.iter().map(|c| c.percentile).collect::<Vec<_>>(),
            ),
            Column::new("peer_median".into(), peer.iter().map(|c| c.median).collect::<Vec<_>>()),
            Column::new("peer_q1".into(), peer.iter().map(|c| c.q1).collect::<Vec<_>>()),
            Column::new("peer_q3".into(), peer.iter().map(|c| c.q3).collect::<Vec<_>>()),
            Column::new(
                "distance_from_peer_median".into(),
                peer.iter().map(|c| c.distance).collect::<Vec<_>>(),
            ),
            Column::new("change_since_previous_year".into(), change),
        ],
    )
}

/// The district whose area a municipality is in: its parent for a local municipality, itself
/// for a district, none (empty) for a metro.
fn district_of(reference: &Reference, code: &str) -> String {
    match reference.get(code) {
        Some(m) if m.category == "B" => m.parent_code.clone(),
        Some(m) if m.category == "C" => m.code.clone(),
        _ => String::new(),
    }
}

/// The rows a run limited to `municipalities` publishes: those municipalities' own rows and the
/// province, category and national roll-ups they belong to. The roll-ups and peer ranks were
/// computed over every municipality, so they stay those of the full population.
pub fn keep_areas(df: &DataFrame, municipalities: &[String]) -> PolarsResult<DataFrame> {
    let reference = Reference::bundled();
    let mut areas: BTreeSet<(&str, String)> = BTreeSet::from([("national", "ZA".to_string())]);
    for m in municipalities {
        areas.insert(("municipality", m.clone()));
        if let Some(x) = reference.get(m) {
            areas.insert(("province", x.province.clone()));
            areas.insert(("category", x.category.clone()));
            let d = district_of(reference, m);
            if !d.is_empty() {
                areas.insert(("district", d));
            }
        }
    }
    let level = df.column("level")?.str()?;
    let area = df.column("area_code")?.str()?;
    let mask: BooleanChunked = (0..df.height())
        .map(|i| match (level.get(i), area.get(i)) {
            (Some(l), Some(a)) => areas.contains(&(l, a.to_string())),
            _ => false,
        })
        .collect();
    df.filter(&mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::validate::AmountValue;
    use crate::reconcile::Link;

    fn fy(y: i32) -> FinancialYear {
        FinancialYear::new(Calendar::Municipal, y)
    }

    fn rec(id: &str, dataset: Dataset, muni: &str, by: i32, amounts: &[(i32, &str, f64)]) -> Record {
        Record {
            source_file: "f".into(),
            project_name: Some(id.into()),
            strategic_objective: Some("Real objective".into()),
            financial_year: Some(fy(by)),
            amounts: amounts
                .iter()
                .map(|(y, p, r)| AmountValue {
                    year: fy(*y),
                    phase: (*p).into(),
                    rand: *r,
                })
                .collect(),
            ..Record::bare(id, "s", dataset, muni)
        }
    }

    fn link(l: &str, r: &str, t: LinkType, muni: &str) -> Link {
        Link::bare(l, r, t, muni)
    }

    /// A small world computed by hand; every metric's numerator and denominator is checked.
    #[test]
    fn every_metric_on_a_hand_computed_case() {
        let mut b1 = rec("b1", Dataset::Budget, "EC121", 2024, &[(2024, "budget", 100.0)]);
        b1.ward_scope = Some("ward".into());
        b1.mtsf_outcome = Some("A".into());
        b1.iudf = Some("X".into());
        b1.strategic_objective = Some("TO BE CORRECTED".into());
        b1.mscoa_project_number = Some("PC001_00001".into());
        let mut b2 = rec("b2", Dataset::Budget, "EC121", 2024, &[(2024, "budget", 300.0)]);
        b2.ward_scope = Some("whole_municipality".into());
        b2.mtsf_outcome = Some("B".into());
        b2.iudf = Some("X".into());
        b2.funding_source = Some("MIG ".into());
        // An SC36 line at M06 (expected 50%): 20 of 200 spent, 40 points behind.
        let sc = rec(
            "sc",
            Dataset::Budget,
            "EC121",
            2024,
            &[
                (2024, "adjusted_budget", 200.0),
                (2024, "actual_m06", 20.0),
                (2024, "actual_ytd", 20.0),
            ],
        );
        // Last year's MTREF planned 80 for 2024/25 on the same project.
        let mut b0 = rec(
            "b0",
            Dataset::Budget,
            "EC121",
            2023,
            &[(2023, "budget", 90.0), (2024, "budget", 80.0)],
        );
        b0.mscoa_project_number = Some("PC001_00001".into());
        let mut idp1 = rec("idp1", Dataset::Idp, "EC121", 2024, &[(2024, "planned", 120.0)]);
        // As inherited from b1 through the budget_idp link (reconcile::priorities).
        idp1.mtsf_outcome = Some("A".into());
        idp1.iudf = Some("X".into());
        let idp2 = rec("idp2", Dataset::Idp, "EC121", 2024, &[(2024, "planned", 50.0)]);
        let a5 = rec("a5", Dataset::Reference, "EC121", 2024, &[(2024, "orgb", 500.0)]);
        let mut d1 = rec("d1", Dataset::Departmental, "EC121", 2024, &[]);
        d1.amounts = vec![AmountValue {
            year: FinancialYear::new(Calendar::National, 2024),
            phase: "main_appropriation".into(),
            rand: 700.0,
        }];
        d1.department = Some("Health".into());
        d1.mtsf_outcome = Some("A".into());
        let mut d2 = d1.clone();
        d2.record_id = "d2".into();
        d2.amounts[0].rand = 300.0;
        d2.department = Some("Education".into());
        d2.mtsf_outcome = None;
        let mut p1 = rec("p1", Dataset::Bepp, "BUF", 2024, &[(2024, "planned", 1000.0)]);
        p1.integration_zone = Some("IZ1".into());
        p1.iudf = Some("X".into());
        p1.programme = Some("Hub".into());
        let p2 = rec("p2", Dataset::Bepp, "BUF", 2024, &[(2024, "planned", 500.0)]);
        let bb1 = rec("bb1", Dataset::Budget, "BUF", 2024, &[(2024, "budget", 2000.0)]);
        let bb2 = rec("bb2", Dataset::Budget, "BUF", 2024, &[(2024, "budget", 1000.0)]);
        let records = vec![b0, b1, b2, sc, idp1, idp2, a5, d1, d2, p1, p2, bb1, bb2];
        let links = [
            link("b1", "idp1", LinkType::BudgetIdp, "EC121"),
            link("d1", "idp1", LinkType::DepartmentalIdp, "EC121"),
            link("p1", "idp1", LinkType::BeppIdp, "BUF"),
            link("p1", "bb1", LinkType::BeppBudget, "BUF"),
        ];
        let variances = vec![Variance {
            left_record_id: "b1".into(),
            right_record_id: "idp1".into(),
            link_type: LinkType::BudgetIdp,
            demarcation_code: "EC121".into(),
            financial_year: fy(2024),
            left_amount: 100.0,
            right_amount: 120.0,
            difference: -20.0,
            relative_difference: Some(-20.0 / 120.0),
            over_tolerance: false,
            left_vintage: "SA36 2024/25".into(),
            right_vintage: "IDP".into(),
            apportionment: "none".into(),
            comparison: "compared",
        }];
        let df = alignment_metrics(&records, &links.iter().collect::<Vec<_>>(), &variances, &[fy(2024)]).unwrap();
        let level = df.column("level").unwrap().str().unwrap().clone();
        let area = df.column("area_code").unwrap().str().unwrap().clone();
        let metric = df.column("metric").unwrap().str().unwrap().clone();
        let dim = df.column("dimension").unwrap().str().unwrap().clone();
        let num = df.column("numerator").unwrap().f64().unwrap().clone();
        let den = df.column("denominator").unwrap().f64().unwrap().clone();
        let get = |a: &str, m: &str, d: Option<&str>| -> (f64, f64) {
            let i = (0..df.height())
                .find(|&i| {
                    level.get(i) == Some("municipality")
                        && area.get(i) == Some(a)
                        && metric.get(i) == Some(m)
                        && dim.get(i) == d
                })
                .unwrap_or_else(|| panic!("no {m} {d:?} for {a}"));
            (num.get(i).unwrap(), den.get(i).unwrap())
        };
        // (municipality, metric, dimension, (numerator, denominator))
        type Case<'a> = (&'a str, &'a str, Option<&'a str>, (f64, f64));
        let cases: &[Case] = &[
            ("EC121", "budget_linked_to_idp_share", None, (100.0, 400.0)),
            ("EC121", "idp_projects_funded_share", None, (1.0, 2.0)),
            ("EC121", "idp_value_funded_share", None, (120.0, 170.0)),
            ("EC121", "idp_budget_variance_wape", None, (20.0, 120.0)),
            ("EC121", "departmental_projects_in_idp_share", None, (1.0, 2.0)),
            (
                "EC121",
                "departmental_projects_in_idp_share",
                Some("Health"),
                (1.0, 1.0),
            ),
            (
                "EC121",
                "departmental_projects_in_idp_share",
                Some("Education"),
                (0.0, 1.0),
            ),
            ("EC121", "departmental_value_in_idp_share", None, (700.0, 1000.0)),
            ("EC121", "budget_in_wards_share", None, (100.0, 400.0)),
            ("EC121", "sa36_to_a5_ratio", None, (400.0, 500.0)),
            ("EC121", "placeholder_objective_share", None, (1.0, 2.0)),
            ("EC121", "mtref_stability_wape", None, (20.0, 80.0)),
            ("EC121", "budget_by_mtsf_outcome_share", Some("A"), (100.0, 400.0)),
            ("EC121", "budget_by_mtsf_outcome_share", Some("B"), (300.0, 400.0)),
            ("EC121", "budget_by_iudf_goal_share", Some("X"), (400.0, 400.0)),
            ("EC121", "idp_value_by_mtsf_outcome_share", Some("A"), (120.0, 170.0)),
            (
                "EC121",
                "idp_value_by_mtsf_outcome_share",
                Some("(none)"),
                (50.0, 170.0),
            ),
            ("EC121", "idp_value_by_iudf_goal_share", Some("X"), (120.0, 170.0)),
            (
                "BUF",
                "bepp_value_by_mtsf_outcome_share",
                Some("(none)"),
                (1500.0, 1500.0),
            ),
            ("BUF", "bepp_value_by_iudf_goal_share", Some("X"), (1000.0, 1500.0)),
            (
                "EC121",
                "departmental_value_by_mtsf_outcome_share",
                Some("A"),
                (700.0, 1000.0),
            ),
            (
                "EC121",
                "departmental_value_by_iudf_goal_share",
                Some("(none)"),
                (1000.0, 1000.0),
            ),
            ("BUF", "bepp_projects_in_idp_share", None, (1.0, 2.0)),
            ("BUF", "bepp_budget_coverage_share", None, (1000.0, 1500.0)),
            ("BUF", "budget_in_integration_zones_share", None, (2000.0, 3000.0)),
            ("EC121", "capital_spend_rate", None, (20.0, 200.0)),
            ("EC121", "underspent_budget_share", None, (200.0, 200.0)),
            ("EC121", "budget_by_funding_source_share", Some("mig"), (300.0, 400.0)),
            (
                "EC121",
                "budget_by_funding_source_share",
                Some("unknown"),
                (100.0, 400.0),
            ),
            ("BUF", "bepp_value_by_programme_share", Some("Hub"), (1000.0, 1500.0)),
            ("BUF", "bepp_value_by_programme_share", Some("(none)"), (500.0, 1500.0)),
        ];
        for (a, m, d, want) in cases {
            assert_eq!(get(a, m, *d), *want, "{a} {m} {d:?}");
        }
        // Every catalogued metric has a hand-computed case.
        for d in METRICS {
            assert!(cases.iter().any(|c| c.1 == d.name), "no case for {}", d.name);
        }
        // A national roll-up sums numerators and denominators.
        let i = (0..df.height())
            .find(|&i| level.get(i) == Some("national") && metric.get(i) == Some("budget_linked_to_idp_share"))
            .unwrap();
        assert_eq!((num.get(i), den.get(i)), (Some(100.0), Some(3400.0)));
    }

    /// Issue #19: a B3 municipality is ranked among B3 peers only; a profile is not ranked.
    #[test]
    fn a_b3_municipality_is_ranked_among_b3_peers_only() {
        // (municipality, MIIF class, linked Rand, budget Rand)
        let cases = [
            ("EC129", 50.0, 100.0),  // B3: 0.5
            ("EC145", 80.0, 100.0),  // B3: 0.8
            ("EC139", 100.0, 100.0), // B2: 1.0, better than both, but not a peer
            ("EC121", 10.0, 100.0),  // B4: 0.1
        ];
        let mut records = Vec::new();
        let mut links = Vec::new();
        for (muni, linked, total) in cases {
            let mut a = rec(
                &format!("{muni}-a"),
                Dataset::Budget,
                muni,
                2024,
                &[(2024, "budget", linked)],
            );
            a.mtsf_outcome = Some("Outcome 9".into());
            let b = rec(
                &format!("{muni}-b"),
                Dataset::Budget,
                muni,
                2024,
                &[(2024, "budget", total - linked)],
            );
            records.extend([a, b, rec(&format!("{muni}-i"), Dataset::Idp, muni, 2024, &[])]);
            links.push(link(
                &format!("{muni}-a"),
                &format!("{muni}-i"),
                LinkType::BudgetIdp,
                muni,
            ));
        }
        let df = alignment_metrics(&records, &links.iter().collect::<Vec<_>>(), &[], &[]).unwrap();
        let col = |c: &str| df.column(c).unwrap().clone();
        let row = |muni: &str, metric: &str| {
            (0..df.height())
                .find(|&i| {
                    col("level").str().unwrap().get(i) == Some("municipality")
                        && col("area_code").str().unwrap().get(i) == Some(muni)
                        && col("metric").str().unwrap().get(i) == Some(metric)
                })
                .unwrap()
        };
        let i = row("EC129", "budget_linked_to_idp_share");
        assert_eq!(col("peer_group").str().unwrap().get(i), Some("B3"));
        assert_eq!(col("peer_count").u32().unwrap().get(i), Some(2));
        assert_eq!(col("peer_rank").u32().unwrap().get(i), Some(2));
        assert_eq!(col("peer_percentile").f64().unwrap().get(i), Some(0.0));
        // Median of 0.5 and 0.8 = 0.65; quartiles 0.575 and 0.725; distance 0.5 − 0.65.
        let f = |c: &str| col(c).f64().unwrap().get(i).unwrap();
        assert!((f("peer_median") - 0.65).abs() < 1e-12);
        assert!((f("peer_q1") - 0.575).abs() < 1e-12);
        assert!((f("peer_q3") - 0.725).abs() < 1e-12);
        assert!((f("distance_from_peer_median") + 0.15).abs() < 1e-12);
        let j = row("EC145", "budget_linked_to_idp_share");
        assert_eq!(col("peer_rank").u32().unwrap().get(j), Some(1));
        // The B2 and B4 municipalities are alone in their groups.
        let k = row("EC139", "budget_linked_to_idp_share");
        assert_eq!(col("peer_group").str().unwrap().get(k), Some("B2"));
        assert_eq!(col("peer_count").u32().unwrap().get(k), Some(1));
        // A profile (share by MTSF outcome) has peer statistics but no rank.
        let p = row("EC129", "budget_by_mtsf_outcome_share");
        assert_eq!(col("better").str().unwrap().get(p), Some("none"));
        assert_eq!(col("peer_rank").u32().unwrap().get(p), None);
        assert_eq!(col("peer_percentile").f64().unwrap().get(p), None);
        assert_eq!(col("peer_count").u32().unwrap().get(p), Some(2));
        assert!(col("peer_median").f64().unwrap().get(p).is_some());
    }
}

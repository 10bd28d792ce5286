//! The metrics part of the report: each catalogued metric's distribution across municipalities
//! per peer group (metros, locals, districts) with the focus municipality marked, the focus
//! municipality's trend, and one table with every municipality's name, budget and values, so a
//! name seen only on hover in a chart can also be found and read.

use super::charts::{self, Axis, Dot, Group, Series};
use super::format::{category, category_name, metric_value, municipality_label, municipality_name, rand, year_label};
use crate::domain::Better;
use crate::metrics::alignment::{def, METRICS};
use crate::metrics::Totals;
use maud::{html, Markup};
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// One municipality-level value of the `alignment_metrics` table (no dimension).
pub(super) struct MetricRow {
    pub muni: String,
    pub year: i32,
    pub metric: String,
    pub value: f64,
}

/// The municipality rows of the metrics table that have a value.
pub(super) fn municipality_rows(metrics: &DataFrame) -> PolarsResult<Vec<MetricRow>> {
    let level = metrics.column("level")?.str()?.clone();
    let muni = metrics.column("area_code")?.str()?.clone();
    let dim = metrics.column("dimension")?.str()?.clone();
    let year = metrics.column("financial_year")?.i32()?.clone();
    let metric = metrics.column("metric")?.str()?.clone();
    let value = metrics.column("value")?.f64()?.clone();
    Ok((0..metrics.height())
        .filter(|&i| level.get(i) == Some("municipality") && dim.get(i).is_none())
        .filter_map(|i| {
            Some(MetricRow {
                muni: muni.get(i)?.to_string(),
                year: year.get(i)?,
                metric: metric.get(i)?.to_string(),
                value: value.get(i).filter(|v| v.is_finite())?,
            })
        })
        .collect())
}

/// The municipality the charts mark: the largest capital budget in the latest year it has one
/// (ties by code), or the first municipality with metrics.
pub(super) fn focus(totals: &Totals, rows: &[MetricRow]) -> Option<String> {
    totals
        .iter()
        .filter_map(|(m, ys)| ys.iter().next_back().map(|(_, v)| (m, *v)))
        .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(m, _)| m.clone())
        .or_else(|| rows.iter().map(|r| r.muni.clone()).min())
}

/// The axis a metric is drawn on: shares on 0–100%, or zoomed to where they cluster; ratios
/// fitted to the values (with 1 inside for metrics whose best value is 1).
fn axis_for(unit: &str, better: Better, values: &[f64]) -> Axis {
    if unit == "ratio" {
        Axis::fitted(values, if better == Better::TargetOne { &[1.0] } else { &[] })
    } else {
        Axis::share_fitted(values)
    }
}

/// How the chart says which way is better (a profile has no direction).
fn better_label(better: Better) -> String {
    match better {
        Better::None => "a profile: no direction is better".to_string(),
        b => format!("{} is better", b.as_str().replace('_', " ")),
    }
}

/// Each metric's latest year as a dot plot per peer group.
pub(super) fn distributions(rows: &[MetricRow], focus: Option<&str>) -> Markup {
    let charts: Vec<Markup> = METRICS
        .iter()
        .filter(|d| d.dimension.is_none())
        .filter_map(|d| distribution(rows, d, focus))
        .collect();
    html! {
        p.small {
            "One dot per municipality, latest year of each metric, in its peer group (the category "
            "peer ranks use). Dots with about the same value are stacked; the dark line is the "
            "group's median; hover a dot for its name and value, or find it in the table below. "
            @if let Some(f) = focus { "Marked in red: " b { (municipality_label(f)) } " (largest capital budget). " }
            "Hollow dots lie beyond the axis and are drawn at its edge. To mark another municipality in "
            "orange in every chart, click its code in the table of all municipalities below."
        }
        @for chart in &charts { (chart) }
    }
}

fn distribution(rows: &[MetricRow], d: &crate::metrics::alignment::MetricDef, focus: Option<&str>) -> Option<Markup> {
    let of_metric: Vec<&MetricRow> = rows.iter().filter(|r| r.metric == d.name).collect();
    let latest = of_metric.iter().map(|r| r.year).max()?;
    let latest_rows: Vec<&&MetricRow> = of_metric.iter().filter(|r| r.year == latest).collect();
    let values: Vec<f64> = latest_rows.iter().map(|r| r.value).collect();
    let axis = axis_for(d.unit, d.better, &values);
    let groups: Vec<Group> = ["A", "B", "C", "?"]
        .iter()
        .map(|cat| Group {
            label: format!("{cat} {}", category_name(cat)),
            dots: latest_rows
                .iter()
                .filter(|r| category(&r.muni) == *cat)
                .map(|r| Dot {
                    key: r.muni.clone(),
                    title: format!("{}: {}", municipality_label(&r.muni), metric_value(d.unit, r.value)),
                    value: r.value,
                })
                .collect(),
        })
        .collect();
    let beyond: Vec<&&MetricRow> = latest_rows.iter().copied().filter(|r| r.value > axis.hi).collect();
    let reference = (d.better == Better::TargetOne).then_some((1.0, "target 1"));
    Some(html! {
        div.metric {
            div {
                b { (d.name) } " — " (year_label(latest)) " · " (d.unit.replace('_', " ")) " · "
                (better_label(d.better)) " · " (values.len()) " municipalities"
                @if axis.share && !axis.is_full_share() {
                    span.small { " · axis zoomed to " (axis.label(axis.lo)) "–" (axis.label(axis.hi)) }
                }
                @if !beyond.is_empty() {
                    span.small { " · beyond the axis: "
                        @for (i, r) in beyond.iter().take(5).enumerate() {
                            @if i > 0 { ", " }
                            (r.muni) " " (metric_value(d.unit, r.value))
                        }
                        @if beyond.len() > 5 { " and " (beyond.len() - 5) " more" }
                    }
                }
            }
            (charts::distribution(&groups, &axis, focus, reference))
        }
    })
}

/// The focus municipality's share metrics over the years, one coloured line each, labelled at
/// its end.
pub(super) fn trend(rows: &[MetricRow], muni: &str) -> Markup {
    let mine: Vec<&MetricRow> = rows.iter().filter(|r| r.muni == muni).collect();
    let years: Vec<i32> = mine
        .iter()
        .map(|r| r.year)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut by_metric: BTreeMap<&str, Vec<(usize, f64)>> = BTreeMap::new();
    for r in mine
        .iter()
        .filter(|r| def(&r.metric).is_some_and(|d| d.unit != "ratio"))
    {
        if let Some(i) = years.iter().position(|y| *y == r.year) {
            by_metric.entry(r.metric.as_str()).or_default().push((i, r.value));
        }
    }
    let series: Vec<Series> = METRICS
        .iter()
        .filter_map(|d| by_metric.get(d.name).map(|p| (d.name, p)))
        .filter(|(_, p)| p.len() > 1)
        .map(|(name, p)| {
            let mut points = p.clone();
            points.sort_by_key(|x| x.0);
            Series {
                label: name.trim_end_matches("_share").replace('_', " "),
                points,
            }
        })
        .take(charts::PALETTE.len())
        .collect();
    let labels: Vec<String> = years.iter().map(|y| year_label(*y)).collect();
    html! {
        @if series.is_empty() {
            p.small { "Only one year of data: no trend to draw." }
        } @else {
            p.small { "Share metrics (0–100%) of " (municipality_label(muni)) " by financial year; each line is labelled where it ends." }
            (charts::lines(&series, &labels, &Axis::share()))
        }
    }
}

/// A style rule per municipality that marks its dots in every chart while its row in the
/// municipality table is the page's target (`#m-BUF`, a click on its code): no script needed.
/// Only codes of letters and digits get a rule, so nothing from the data can end the rule.
pub(super) fn marking_css(rows: &[MetricRow]) -> String {
    let codes: BTreeSet<&str> = rows
        .iter()
        .map(|r| r.muni.as_str())
        .filter(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_alphanumeric()))
        .collect();
    codes
        .iter()
        .map(|m| {
            format!("body:has(#m-{m}:target) .d[data-m=\"{m}\"]{{fill:#ff7f0e;fill-opacity:1;stroke:#000;r:4.5px}}\n")
        })
        .collect()
}

/// Every municipality with metrics or a budget: name, category, province, latest capital
/// budget, open material findings and the latest value of each metric.
pub(super) fn municipality_table(
    rows: &[MetricRow],
    totals: &Totals,
    material_open: &BTreeMap<String, usize>,
) -> Markup {
    let metrics: Vec<&crate::metrics::alignment::MetricDef> = METRICS
        .iter()
        .filter(|d| d.dimension.is_none())
        .filter(|d| rows.iter().any(|r| r.metric == d.name))
        .collect();
    let mut latest: BTreeMap<(&str, &str), (i32, f64)> = BTreeMap::new();
    for r in rows {
        let e = latest
            .entry((r.muni.as_str(), r.metric.as_str()))
            .or_insert((r.year, r.value));
        if r.year >= e.0 {
            *e = (r.year, r.value);
        }
    }
    let munis: BTreeSet<&str> = rows
        .iter()
        .map(|r| r.muni.as_str())
        .chain(totals.keys().map(String::as_str))
        .collect();
    let reference = crate::contracts::reference::Reference::bundled();
    html! {
        details #municipality-table {
            summary { "All " (munis.len()) " municipalities: names, capital budget, open material findings and the latest value of each metric" }
            div.scroll {
                table {
                    tr {
                        th { "code" } th { "municipality" } th { "cat." } th { "prov." } th { "capital budget (latest year)" } th { "open material findings" }
                        @for d in &metrics { th.v title=(d.name) { (d.name.trim_end_matches("_share").replace('_', " ")) } }
                    }
                    @for m in &munis {
                        tr id={"m-" (m)} {
                            td { a href={"#m-" (m)} { (m) } }
                            td { (municipality_name(m).unwrap_or("")) }
                            td { (category(m)) }
                            td { (reference.get(m).map_or("", |x| x.province.as_str())) }
                            td.n { (totals.get(*m).and_then(|ys| ys.iter().next_back()).map_or(String::new(), |(y, v)| format!("{} ({y})", rand(*v)))) }
                            td.n { (material_open.get(*m).copied().unwrap_or(0)) }
                            @for d in &metrics {
                                td.n { (latest.get(&(*m, d.name)).map_or(String::new(), |(_, v)| metric_value(d.unit, *v))) }
                            }
                        }
                    }
                }
            }
        }
    }
}

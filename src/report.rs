//! The run report: one self-contained static HTML file with inline SVG charts.
//!
//! No scripts, fonts or stylesheets are fetched, so the file opens from a shared drive or an
//! e-mail attachment exactly as it was written. It shows each metric's distribution across
//! municipalities (latest year), the trend of the municipality with the largest capital budget,
//! the findings per municipality by priority, and the data-quality summary.

use crate::metrics::alignment::{def, METRICS};
use crate::metrics::Exception;
use crate::publish::tables::SourceQuality;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

struct MetricRow {
    muni: String,
    year: i32,
    metric: String,
    value: f64,
}

fn municipality_rows(metrics: &DataFrame) -> PolarsResult<Vec<MetricRow>> {
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
                value: value.get(i)?,
            })
        })
        .collect())
}

fn year_label(y: i32) -> String {
    crate::contracts::fiscal::FinancialYear::new(crate::contracts::fiscal::Calendar::Municipal, y).label()
}

/// A strip plot: one dot per municipality on a 0..max axis.
fn strip_svg(points: &[(String, f64)], max: f64) -> String {
    let (w, h, pad) = (520.0, 46.0, 20.0);
    let x = |v: f64| pad + (v / max).clamp(0.0, 1.0) * (w - 2.0 * pad);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" viewBox="0 0 {w} {h}">"#
    );
    let _ = write!(
        s,
        r##"<line x1="{pad}" y1="24" x2="{}" y2="24" stroke="#999"/>"##,
        w - pad
    );
    for t in 0..=4 {
        let v = max * f64::from(t) / 4.0;
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="42" font-size="9" text-anchor="middle" fill="#555">{}</text>"##,
            x(v),
            fmt_value(v, max)
        );
    }
    for (label, v) in points {
        let _ = write!(
            s,
            r##"<circle cx="{:.1}" cy="24" r="5" fill="#1f6fb2" fill-opacity="0.6"><title>{}: {}</title></circle>"##,
            x(*v),
            esc(label),
            fmt_value(*v, max)
        );
    }
    s.push_str("</svg>");
    s
}

fn fmt_value(v: f64, max: f64) -> String {
    if max <= 1.0 {
        format!("{:.0}%", v * 100.0)
    } else {
        format!("{v:.2}")
    }
}

/// A line chart of several metrics over years (values 0..1 shown as %).
fn trend_svg(series: &BTreeMap<String, Vec<(i32, f64)>>, years: &[i32]) -> String {
    let (w, h, left, right, top, bottom) = (640.0, 220.0, 40.0, 230.0, 10.0, 30.0);
    let colours = ["#1f6fb2", "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e"];
    let n = years.len().max(2) as f64 - 1.0;
    let x = |i: usize| left + (i as f64 / n.max(1.0)) * (w - left - right);
    let y = |v: f64| top + (1.0 - v.clamp(0.0, 1.0)) * (h - top - bottom);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" viewBox="0 0 {w} {h}">"#
    );
    for t in 0..=4 {
        let v = f64::from(t) / 4.0;
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="#eee"/><text x="{2}" y="{3:.1}" font-size="9" text-anchor="end" fill="#555">{4:.0}%</text>"##,
            y(v),
            w - right,
            left - 4.0,
            y(v) + 3.0,
            v * 100.0
        );
    }
    for (i, yr) in years.iter().enumerate() {
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{}" font-size="9" text-anchor="middle" fill="#555">{}</text>"##,
            x(i),
            h - 12.0,
            year_label(*yr)
        );
    }
    for (k, (name, pts)) in series.iter().enumerate() {
        let colour = colours[k % colours.len()];
        let path: Vec<String> = pts
            .iter()
            .filter_map(|(yr, v)| {
                years
                    .iter()
                    .position(|y| y == yr)
                    .map(|i| format!("{:.1},{:.1}", x(i), y(*v)))
            })
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        for p in &path {
            let (px, py) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = write!(s, r#"<circle cx="{px}" cy="{py}" r="3" fill="{colour}"/>"#);
        }
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" font-size="10" fill="{colour}">{}</text>"#,
            w - right + 8.0,
            top + 14.0 * (k as f64 + 1.0),
            esc(name)
        );
    }
    s.push_str("</svg>");
    s
}

/// Everything the report shows.
pub struct ReportInput<'a> {
    /// Pipeline name.
    pub pipeline: &'a str,
    /// Run id.
    pub run_id: &'a str,
    /// Run start (RFC 3339).
    pub started_at: &'a str,
    /// The alignment metrics table.
    pub metrics: &'a DataFrame,
    /// The exceptions register of this run.
    pub exceptions: &'a [Exception],
    /// Rows read, accepted and rejected per source.
    pub quality: &'a [SourceQuality],
    /// Capital budget per municipality and year label.
    pub budget_totals: &'a crate::metrics::Totals,
}

/// Renders the report.
pub fn render(input: &ReportInput<'_>) -> PolarsResult<String> {
    let rows = municipality_rows(input.metrics)?;
    let mut html = String::new();
    let _ = write!(
        html,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>harvester run {run}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px; color: #222; max-width: 1100px; }}
h1 {{ font-size: 20px; }} h2 {{ font-size: 16px; margin-top: 28px; border-bottom: 1px solid #ddd; }}
table {{ border-collapse: collapse; font-size: 12px; }} td, th {{ border: 1px solid #ddd; padding: 3px 8px; }}
td.n {{ text-align: right; font-variant-numeric: tabular-nums; }} .metric {{ margin: 6px 0 14px; }}
.metric div {{ font-size: 12px; }} .small {{ color: #666; font-size: 11px; }}
</style></head><body>
<h1>harvester — pipeline <code>{pipeline}</code>, run <code>{run}</code></h1>
<p class="small">Started {started}. Amounts in Rand; financial years are municipal (July–June) unless stated.</p>
"#,
        run = esc(input.run_id),
        pipeline = esc(input.pipeline),
        started = esc(input.started_at)
    );
    // Data quality.
    html.push_str("<h2>Data quality</h2><table><tr><th>source</th><th>contract</th><th>rows read</th><th>accepted</th><th>quarantined</th><th>warnings</th></tr>");
    for q in input.quality {
        let _ = write!(
            html,
            r#"<tr><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            esc(&q.source),
            esc(&q.contract),
            q.rows_read,
            q.rows_accepted,
            q.rows_rejected,
            q.warnings
        );
    }
    html.push_str("</table>");
    // Distributions, latest year per metric.
    html.push_str("<h2>Metrics across municipalities (latest year)</h2>");
    for d in METRICS.iter().filter(|d| d.dimension.is_none()) {
        let of_metric: Vec<&MetricRow> = rows.iter().filter(|r| r.metric == d.name).collect();
        let Some(latest) = of_metric.iter().map(|r| r.year).max() else {
            continue;
        };
        let points: Vec<(String, f64)> = of_metric
            .iter()
            .filter(|r| r.year == latest)
            .map(|r| (r.muni.clone(), r.value))
            .collect();
        let max = if d.unit == "ratio" {
            points.iter().map(|p| p.1).fold(1.0_f64, f64::max).ceil()
        } else {
            1.0
        };
        let _ = write!(
            html,
            r#"<div class="metric"><div><b>{}</b> — {} ({}; {} is better; {} municipalities)</div>{}</div>"#,
            esc(d.name),
            year_label(latest),
            d.unit,
            match d.better {
                crate::metrics::peers::Better::None => "a profile: no direction is".to_string(),
                b => b.as_str().replace('_', " "),
            },
            points.len(),
            strip_svg(&points, max)
        );
    }
    // Trend of the municipality with the largest capital budget.
    let largest = input
        .budget_totals
        .iter()
        .map(|(m, ys)| (m, ys.values().sum::<f64>()))
        .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(m, _)| m.clone());
    if let Some(muni) = largest {
        let mut years: Vec<i32> = rows.iter().filter(|r| r.muni == muni).map(|r| r.year).collect();
        years.sort_unstable();
        years.dedup();
        let mut series: BTreeMap<String, Vec<(i32, f64)>> = BTreeMap::new();
        for r in rows
            .iter()
            .filter(|r| r.muni == muni && def(&r.metric).is_some_and(|d| d.unit != "ratio"))
        {
            series.entry(r.metric.clone()).or_default().push((r.year, r.value));
        }
        series.retain(|_, v| v.len() > 1);
        let _ = write!(html, "<h2>Trend: {} (largest capital budget)</h2>", esc(&muni));
        if series.is_empty() {
            html.push_str("<p class=\"small\">Only one year of data.</p>");
        } else {
            html.push_str(&trend_svg(&series, &years));
        }
    }
    // Findings per municipality, material ones by priority.
    html.push_str(&findings_section(input.exceptions));
    html.push_str("</body></html>\n");
    Ok(html)
}

/// Most findings shown per municipality.
const FINDINGS_PER_MUNICIPALITY: usize = 15;

/// `BUF Buffalo City` (the code alone when the reference data does not know it).
fn municipality_label(code: &str) -> String {
    match crate::contracts::reference::Reference::bundled().get(code) {
        Some(m) => format!("{code} {}", m.name),
        None if code.is_empty() => "(no municipality)".into(),
        None => code.to_string(),
    }
}

/// The findings section: a line per municipality (findings, material findings, Rand at stake),
/// then each municipality's material findings sorted by priority with owner and suggested
/// action.
fn findings_section(exceptions: &[Exception]) -> String {
    use crate::metrics::rand_text;
    let mut html = String::from("<h2>Findings by municipality (material first, by priority)</h2>");
    let mut by_muni: BTreeMap<&str, Vec<&Exception>> = BTreeMap::new();
    for e in exceptions {
        by_muni.entry(e.demarcation_code.as_str()).or_default().push(e);
    }
    let mut order: Vec<(&str, f64, f64)> = by_muni
        .iter()
        .map(|(m, es)| {
            let material = es.iter().filter(|e| e.material);
            (
                *m,
                material.clone().map(|e| e.priority).sum::<f64>(),
                material.map(|e| e.amount_at_stake).sum::<f64>(),
            )
        })
        .collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    html.push_str(
        "<table><tr><th>municipality</th><th>findings</th><th>material</th><th>material Rand at stake</th></tr>",
    );
    for (m, _, amount) in &order {
        let es = &by_muni[m];
        let _ = write!(
            html,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            esc(&municipality_label(m)),
            es.len(),
            es.iter().filter(|e| e.material).count(),
            esc(&rand_text(*amount))
        );
    }
    html.push_str("</table>");
    for (m, _, _) in &order {
        let mut material: Vec<&Exception> = by_muni[m].iter().copied().filter(|e| e.material).collect();
        if material.is_empty() {
            continue;
        }
        material.sort_by(|a, b| {
            b.priority
                .total_cmp(&a.priority)
                .then_with(|| b.amount_at_stake.total_cmp(&a.amount_at_stake))
                .then_with(|| a.exception_id.cmp(&b.exception_id))
        });
        let _ = write!(
            html,
            "<h3>{}</h3><table><tr><th>priority</th><th>finding</th><th>severity</th><th>years</th><th>at stake</th><th>owner</th><th>suggested action</th><th>detail</th></tr>",
            esc(&municipality_label(m))
        );
        for e in material.iter().take(FINDINGS_PER_MUNICIPALITY) {
            let _ = write!(
                html,
                r#"<tr><td class="n">{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td class="n">{}</td><td>{} ({})</td><td>{}</td><td>{}</td></tr>"#,
                e.priority,
                esc(e.exception_type),
                esc(e.severity),
                esc(&e.years_label()),
                esc(&rand_text(e.amount_at_stake)),
                esc(&e.owner),
                esc(&e.owner_sphere),
                esc(e.suggested_action),
                esc(&e.detail)
            );
        }
        html.push_str("</table>");
        if material.len() > FINDINGS_PER_MUNICIPALITY {
            let _ = write!(
                html,
                r#"<p class="small">and {} more material findings.</p>"#,
                material.len() - FINDINGS_PER_MUNICIPALITY
            );
        }
    }
    let _ = write!(
        html,
        "<p class=\"small\">{} findings in all, {} material; see the <code>exceptions</code> and <code>exception_register</code> tables (status, owner, decisions).</p>",
        exceptions.len(),
        exceptions.iter().filter(|e| e.material).count()
    );
    html
}

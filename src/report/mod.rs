//! The run report: one self-contained HTML file, written with every run beside its tables.
//!
//! Built with maud, so every value from the data (project names from municipal spreadsheets,
//! raw cells from the quarantine) is HTML-escaped unless the code says otherwise, and the
//! templates are checked when the crate compiles. Nothing is fetched (no scripts, fonts,
//! stylesheets or images from anywhere; the charts are inline SVG), so the file opens from a
//! shared drive or an e-mail attachment exactly as written, and the same inputs give the same
//! bytes. Sections: what changed since the previous run, the top findings, each metric's
//! distribution per peer group, the focus municipality's trend, findings per municipality, links
//! (match weights, explained links, the review band) and data quality (the quarantine by rule).

mod changes;
mod charts;
mod findings;
mod format;
mod links;
mod metrics;
mod quality;

pub use changes::{load as load_previous, ChangesError, PreviousRun};

use crate::metrics::register::RegisterRow;
use crate::metrics::{Exception, Totals};
use crate::publish::tables::{QuarantineRow, SourceQuality};
use crate::reconcile::register::Member;
use crate::reconcile::Link;
use format::{count, municipality_label, rand};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use polars::prelude::*;
use std::collections::BTreeMap;

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
    /// This run's findings.
    pub exceptions: &'a [Exception],
    /// The exception register after this run (status, decisions).
    pub register: &'a [RegisterRow],
    /// Rows read, accepted and rejected per source.
    pub quality: &'a [SourceQuality],
    /// This run's quarantine.
    pub quarantine: &'a [QuarantineRow],
    /// Capital budget per municipality and year label.
    pub budget_totals: &'a Totals,
    /// Every link of this run, both bands.
    pub links: &'a [Link],
    /// The project register (records' project keys and natural keys).
    pub projects: &'a [Member],
    /// The previous run at this location, if any ([`load_previous`]).
    pub previous: Option<&'a PreviousRun>,
}

/// The report's styles (inline: nothing is fetched).
const CSS: &str = r#"
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; max-width: 1180px; }
h1 { font-size: 20px; } h2 { font-size: 17px; margin-top: 30px; border-bottom: 1px solid #ddd; }
h3 { font-size: 14px; margin: 16px 0 6px; }
table { border-collapse: collapse; font-size: 12px; margin: 6px 0; }
td, th { border: 1px solid #ddd; padding: 3px 7px; vertical-align: top; text-align: left; }
th { background: #f5f5f5; } th.v { font-size: 10px; max-width: 80px; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.metric { margin: 8px 0 18px; } .metric > div { font-size: 12px; margin-bottom: 2px; }
.small { color: #666; font-size: 11px; } .scroll { max-height: 420px; overflow: auto; }
nav a { margin-right: 12px; font-size: 13px; } summary { cursor: pointer; font-size: 13px; margin: 6px 0; }
ul.ex { margin: 0; padding-left: 16px; } .raw { font-family: monospace; }
.kpi { display: flex; gap: 14px; flex-wrap: wrap; margin: 10px 0; }
.kpi div { border: 1px solid #ddd; padding: 6px 12px; border-radius: 4px; font-size: 12px; }
.kpi b { display: block; font-size: 18px; }
svg text { font-family: system-ui, sans-serif; }
.tick { font-size: 10px; fill: #555; } .grp { font-size: 11px; fill: #222; font-weight: 600; }
.lab { font-size: 11px; font-weight: 600; } .cnt { font-size: 9px; fill: #1f4e79; font-weight: 600; }
.d { fill: #1f77b4; fill-opacity: 0.7; } .d.out { fill: #fff; stroke: #1f77b4; }
tr:target { background: #ffe8cc; }
.sel { fill: #d62728; stroke: #000; stroke-width: 1; } .selt { font-size: 11px; fill: #d62728; font-weight: 600; }
"#;

/// Renders the report.
pub fn render(input: &ReportInput<'_>) -> PolarsResult<String> {
    let rows = metrics::municipality_rows(input.metrics)?;
    let focus = metrics::focus(input.budget_totals, &rows);
    let now = changes::Now {
        exceptions: input.exceptions,
        links: input.links,
        projects: input.projects,
        budget_totals: input.budget_totals,
        quality: input.quality,
    };
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "harvester run " (input.run_id) }
                style { (PreEscaped(CSS)) (PreEscaped(metrics::marking_css(&rows))) }
            }
            body {
                h1 { "harvester — pipeline " code { (input.pipeline) } ", run " code { (input.run_id) } }
                p.small { "Started " (input.started_at) ". Amounts in Rand; financial years are municipal (July–June)." }
                (key_figures(input))
                nav {
                    a href="#changes" { "Changes" } a href="#top" { "Top findings" } a href="#metrics" { "Metrics" }
                    a href="#trend" { "Trend" } a href="#findings" { "Findings by municipality" } a href="#links" { "Links" }
                    a href="#review" { "Review band" } a href="#quality" { "Data quality" }
                }
                h2 #changes { "Changes since the previous run" }
                (changes::section(input.previous, &now))
                h2 #top { "Top findings (material, in force, one line per project)" }
                (findings::top_list(input.register, input.projects, input.exceptions))
                h2 #metrics { "Metrics across municipalities, by peer group (latest year)" }
                (metrics::distributions(&rows, focus.as_deref()))
                (metrics::municipality_table(&rows, input.budget_totals, &findings::material_open(input.register)))
                @if let Some(f) = &focus {
                    h2 #trend { "Trend: " (municipality_label(f)) " (largest capital budget)" }
                    (metrics::trend(&rows, f))
                }
                h2 #findings { "Findings by municipality (material, by priority)" }
                (findings::per_municipality(input.register, input.projects, input.exceptions))
                h2 #links { "Links" }
                (links::summary(input.links))
                h3 { "Match weights" }
                (links::weight_histogram(input.links))
                h3 { "Links explained: each comparison's weight" }
                (links::explanations(input.links))
                h2 #review { "Review band" }
                (links::review_band(input.links, input.projects))
                h2 #quality { "Data quality" }
                (quality::sources(input.quality))
                h3 #quarantine-by-rule { "Quarantine by rule" }
                (quality::quarantine_by_rule(input.quarantine))
            }
        }
    };
    let mut html = page.into_string();
    html.push('\n');
    Ok(html)
}

/// The run at a glance: municipalities, capital budget per year, links, findings, quarantine.
fn key_figures(input: &ReportInput<'_>) -> Markup {
    let mut per_year: BTreeMap<&str, f64> = BTreeMap::new();
    for ys in input.budget_totals.values() {
        for (y, v) in ys {
            *per_year.entry(y.as_str()).or_default() += v;
        }
    }
    let material_open = input
        .register
        .iter()
        .filter(|r| r.material && r.status == "open")
        .count();
    let review = input
        .links
        .iter()
        .filter(|l| l.band == crate::domain::Band::Review)
        .count();
    html! {
        div.kpi {
            div { b { (count(input.budget_totals.len())) } "municipalities with a capital budget" }
            @for (y, v) in &per_year { div { b { (rand(*v)) } "capital budget " (y) } }
            div { b { (count(input.links.len())) } "links (" (count(review)) " in review)" }
            div { b { (count(material_open)) } "open material findings" }
            div { b { (count(input.quarantine.len())) } "quarantined cells or rows" }
        }
    }
}

//! The run summary printed on the terminal: sources, links and headline metrics as aligned
//! tables, and where the outputs are. Plain text, so it reads the same in a terminal, a log
//! file and a CI transcript.

use crate::run::RunReport;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The metrics shown in the terminal summary (all of them are in the table).
const HEADLINE: &[&str] = &[
    "budget_linked_to_idp_share",
    "idp_projects_funded_share",
    "bepp_projects_in_idp_share",
    "departmental_projects_in_idp_share",
];

/// Municipality-years shown in the terminal summary; a national run has hundreds, and they are
/// all in the table and the report.
const MAX_METRIC_ROWS: usize = 12;

/// Formats rows as a left-aligned first column and right-aligned others.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::from("  ");
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(c.chars().count());
            if i == 0 {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str("  ");
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    out.push_str(&line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    ));
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

fn percent(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{:.1}%", v * 100.0))
}

/// Headline metric values: (municipality, year label) → metric → value.
pub type Headline = BTreeMap<(String, String), BTreeMap<String, Option<f64>>>;

/// Reads the headline values out of the alignment metrics table.
pub fn headline(metrics: &DataFrame) -> PolarsResult<Headline> {
    let munis = metrics.column("demarcation_code")?.str()?.clone();
    let dims = metrics.column("dimension")?.str()?.clone();
    let years = metrics.column("financial_year")?.i32()?.clone();
    let names = metrics.column("metric")?.str()?.clone();
    let values = metrics.column("value")?.f64()?.clone();
    let mut out = Headline::new();
    for i in 0..metrics.height() {
        let (Some(m), Some(y), Some(n), None) = (munis.get(i), years.get(i), names.get(i), dims.get(i)) else {
            continue;
        };
        let label = crate::domain::fiscal::FinancialYear::new(crate::domain::fiscal::Calendar::Municipal, y).label();
        out.entry((m.to_string(), label))
            .or_default()
            .insert(n.to_string(), values.get(i));
    }
    Ok(out)
}

/// The headline metrics table, at most [`MAX_METRIC_ROWS`] municipality-years, then how many
/// more there are.
fn metrics_section(head: &Headline) -> String {
    let headers = [
        "municipality",
        "year",
        "budget→IDP (value)",
        "IDP funded",
        "BEPP in IDP",
        "dept. in IDP",
    ];
    let rows: Vec<Vec<String>> = head
        .iter()
        .take(MAX_METRIC_ROWS)
        .map(|((muni, year), vals)| {
            let mut r = vec![muni.clone(), year.clone()];
            for name in HEADLINE {
                r.push(percent(vals.get(*name).copied().flatten()));
            }
            r
        })
        .collect();
    let mut s = String::from("\nAlignment metrics (municipal financial years)\n");
    s.push_str(&table(&headers, &rows));
    if head.len() > MAX_METRIC_ROWS {
        let _ = writeln!(
            s,
            "  … and {} more municipality-years: every one is in alignment_metrics and the report",
            head.len() - MAX_METRIC_ROWS
        );
    }
    s
}

/// Renders the whole summary.
pub fn render(report: &RunReport) -> String {
    let m = &report.manifest;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "harvester: run {} of pipeline `{}` published to {}\n",
        m.run_id, m.pipeline, report.publish_location
    );
    if let Some(sc) = &m.scenario {
        let limited: Vec<String> = [
            (!sc.financial_years.is_empty()).then(|| format!("years {}", sc.financial_years.join(", "))),
            (!sc.municipalities.is_empty()).then(|| format!("municipalities {}", sc.municipalities.join(", "))),
            sc.as_of.as_ref().map(|a| format!("inputs as of {a}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        let limited = if limited.is_empty() {
            String::new()
        } else {
            format!(" ({})", limited.join("; "))
        };
        let _ = writeln!(
            s,
            "Scenario `{}`{limited}: published under {}; the live manifest.json and registers were not touched.\nPopulation {}: {}.\n",
            sc.name, report.publish_location, sc.population, sc.note
        );
    }
    let rows: Vec<Vec<String>> = m
        .data_quality
        .iter()
        .map(|q| {
            vec![
                q.source.clone(),
                q.contract.clone(),
                q.rows_read.to_string(),
                q.rows_accepted.to_string(),
                q.rows_rejected.to_string(),
                q.warnings.to_string(),
            ]
        })
        .collect();
    s.push_str("Sources\n");
    s.push_str(&table(
        &["source", "contract", "rows read", "accepted", "quarantined", "warnings"],
        &rows,
    ));
    let rows: Vec<Vec<String>> = report
        .links_by_type
        .iter()
        .map(|(k, v)| vec![k.clone(), v.to_string()])
        .collect();
    s.push_str("\nLinks\n");
    s.push_str(&table(&["link type", "links"], &rows));
    let head = headline(&report.metrics).unwrap_or_default();
    s.push_str(&metrics_section(&head));
    if !m.notes.is_empty() {
        s.push_str("\nNotes\n");
        for n in &m.notes {
            let _ = writeln!(s, "  - {n}");
        }
    }
    let _ = writeln!(
        s,
        "\nExceptions: {} ({} material and open in the register)",
        report.exceptions, report.material_open
    );
    let _ = writeln!(s, "Tables:");
    for (name, t) in &m.tables {
        let _ = writeln!(s, "  {name:<18} {:>6} rows", t.rows);
    }
    let base = report.publish_location.trim_end_matches('/');
    let _ = writeln!(
        s,
        "\nManifest: {base}/manifest.json\nReport:   {base}/{}\nTables:   {base}/tables/<table>/ (Delta Lake: the latest run, earlier runs by time travel); plain Parquet: {base}/current/<table>/*.parquet; this run's own: {base}/runs/{}/<table>/*.parquet\nOpen in DuckDB:\n  duckdb -c \"SELECT * FROM read_parquet('{base}/current/alignment_metrics/*.parquet')\"",
        m.report.as_deref().unwrap_or("(none)"),
        m.run_id
    );
    s
}

/// One line with each stage's own wall time: `Stages: fetch 0.4 s, link 3.1 s, …`.
pub fn stages(stages: &[crate::progress::StageTime]) -> String {
    let parts: Vec<String> = stages
        .iter()
        .map(|t| format!("{} {:.1} s", t.stage.as_str(), t.secs))
        .collect();
    format!("Stages: {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_national_run_prints_a_dozen_metric_rows_not_hundreds() {
        let mut head = Headline::new();
        for m in 0..257 {
            for y in ["2024/25", "2025/26", "2026/27"] {
                let vals = BTreeMap::from([(HEADLINE[0].to_string(), Some(0.5))]);
                head.insert((format!("M{m:03}"), y.to_string()), vals);
            }
        }
        let text = metrics_section(&head);
        assert_eq!(text.lines().count(), 2 + 2 + MAX_METRIC_ROWS + 1, "{text}");
        assert!(
            text.lines()
                .any(|l| l.starts_with("  M000 ") && l.contains("2024/25") && l.contains("50.0%")),
            "{text}"
        );
        assert!(
            text.ends_with("… and 759 more municipality-years: every one is in alignment_metrics and the report\n"),
            "{text}"
        );
        head.retain(|(m, _), _| m == "M000");
        assert!(!metrics_section(&head).contains("more municipality-years"));
    }
}

//! Findings in the report, from the exception register: the country's top findings (one line
//! per project, however many findings or years it has) and, per municipality, its open material
//! findings sorted by priority with status, owner and Rand at stake. What each kind of finding
//! asks of its owner is written once, in a key, instead of on every row.

use super::format::{amounts_in_text, count, municipality_label, rand, year_label};
use crate::metrics::register::RegisterRow;
use crate::reconcile::register::Member;
use maud::{html, Markup};
use std::collections::BTreeMap;

/// Lines in the national top list.
const TOP: usize = 20;
/// Most findings listed per municipality.
const PER_MUNICIPALITY: usize = 10;
/// Municipality sections shown open (the rest are one click away).
const OPEN_SECTIONS: usize = 3;

/// Findings still in force (not resolved), highest priority first.
fn in_force(register: &[RegisterRow]) -> Vec<&RegisterRow> {
    let mut rows: Vec<&RegisterRow> = register.iter().filter(|r| r.status != "resolved").collect();
    rows.sort_by(|a, b| {
        b.priority
            .total_cmp(&a.priority)
            .then_with(|| b.amount_at_stake_rand.total_cmp(&a.amount_at_stake_rand))
            .then_with(|| a.exception_id.cmp(&b.exception_id))
    });
    rows
}

/// `BUF Buffalo City (municipal)`: the owner, named when it is a municipality code.
fn owner(r: &RegisterRow) -> String {
    let who = match super::format::municipality_name(&r.owner) {
        Some(_) => municipality_label(&r.owner),
        None => r.owner.clone(),
    };
    format!("{who} ({})", r.owner_sphere)
}

fn years(r: &RegisterRow) -> String {
    r.financial_years.iter().map(|y| year_label(*y)).collect::<Vec<_>>().join(", ")
}

/// Open material findings per municipality (for the municipality table).
pub(super) fn material_open(register: &[RegisterRow]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in register.iter().filter(|r| r.material && r.status == "open") {
        *out.entry(r.demarcation_code.clone()).or_insert(0) += 1;
    }
    out
}

/// One line of the top list: a project (or municipality-year) and every finding about it.
struct TopLine<'a> {
    first: &'a RegisterRow,
    types: Vec<&'a str>,
    findings: usize,
}

/// The national top list: material findings in force by priority, one line per project (the
/// cross-sphere project key of the finding's first record; a BEPP project that is both missing
/// from the IDP and from the budget, in every year, is one line).
pub(super) fn top_list(register: &[RegisterRow], projects: &[Member]) -> Markup {
    let key_of: BTreeMap<&str, &str> = projects
        .iter()
        .map(|m| (m.record_id.as_str(), m.project_key.as_str()))
        .collect();
    let mut lines: Vec<TopLine<'_>> = Vec::new();
    let mut index: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in in_force(register).into_iter().filter(|r| r.material) {
        let project = r
            .record_ids
            .split(';')
            .find_map(|id| key_of.get(id).copied())
            .map_or_else(|| r.record_ids.clone(), str::to_string);
        let key = (r.demarcation_code.clone(), project);
        match index.get(&key) {
            Some(&i) => {
                let line = &mut lines[i];
                line.findings += 1;
                if !line.types.contains(&r.exception_type.as_str()) {
                    line.types.push(&r.exception_type);
                }
            }
            None if lines.len() < TOP => {
                index.insert(key, lines.len());
                lines.push(TopLine {
                    first: r,
                    types: vec![&r.exception_type],
                    findings: 1,
                });
            }
            None => {}
        }
    }
    html! {
        @if lines.is_empty() {
            p.small { "No material findings in force." }
        } @else {
            table #top-findings {
                tr { th { "priority" } th { "municipality" } th { "finding" } th { "status" } th { "years" } th { "at stake" } th { "owner" } th { "detail" } }
                @for l in &lines {
                    tr {
                        td.n { (format!("{:.1}", l.first.priority)) }
                        td { (municipality_label(&l.first.demarcation_code)) }
                        td {
                            (l.types.join(", "))
                            @if l.findings > l.types.len() { span.small { " (" (l.findings) " findings)" } }
                        }
                        td { (l.first.status) }
                        td { (years(l.first)) }
                        td.n { (rand(l.first.amount_at_stake_rand)) }
                        td { (owner(l.first)) }
                        td { (amounts_in_text(&l.first.detail)) }
                    }
                }
            }
        }
    }
}

/// Per municipality: a summary line each, then its material findings in force by priority.
pub(super) fn per_municipality(register: &[RegisterRow]) -> Markup {
    let rows = in_force(register);
    let mut by_muni: BTreeMap<&str, Vec<&RegisterRow>> = BTreeMap::new();
    for r in &rows {
        by_muni.entry(r.demarcation_code.as_str()).or_default().push(r);
    }
    // Municipalities by the priority of their material findings, largest first.
    let mut order: Vec<(&str, f64, f64)> = by_muni
        .iter()
        .map(|(m, rs)| {
            let material = rs.iter().filter(|r| r.material);
            (
                *m,
                material.clone().map(|r| r.priority).sum::<f64>(),
                material.map(|r| r.amount_at_stake_rand).sum::<f64>(),
            )
        })
        .collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let mut actions: BTreeMap<&str, &str> = BTreeMap::new();
    for r in &rows {
        actions.entry(r.exception_type.as_str()).or_insert(r.suggested_action.as_str());
    }
    html! {
        details {
            summary { (order.len()) " municipalities with findings in force: findings, material findings and material Rand at stake" }
            div.scroll {
                table {
                    tr { th { "municipality" } th { "findings" } th { "material" } th { "material Rand at stake" } }
                    @for (m, _, amount) in &order {
                        tr {
                            td { (municipality_label(m)) }
                            td.n { (count(by_muni[m].len())) }
                            td.n { (count(by_muni[m].iter().filter(|r| r.material).count())) }
                            td.n { (rand(*amount)) }
                        }
                    }
                }
            }
        }
        @for (i, (m, _, _)) in order.iter().enumerate() {
            (municipality_findings(m, &by_muni[m], i < OPEN_SECTIONS))
        }
        h3 { "What each finding asks" }
        table {
            tr { th { "finding" } th { "suggested action" } }
            @for (t, a) in &actions { tr { td { (t) } td { (a) } } }
        }
        p.small {
            (count(rows.len())) " findings in force, " (count(rows.iter().filter(|r| r.material).count())) " material; "
            "see the " code { "exception_register" } " table for every finding, its status history and decisions."
        }
    }
}

fn municipality_findings(muni: &str, rows: &[&RegisterRow], open: bool) -> Markup {
    let material: Vec<&&RegisterRow> = rows.iter().filter(|r| r.material).collect();
    if material.is_empty() {
        return html! {};
    }
    html! {
        details.muni open[open] {
            summary {
                b { (municipality_label(muni)) } " — " (material.len()) " material findings, "
                (rand(material.iter().map(|r| r.amount_at_stake_rand).sum::<f64>())) " at stake"
            }
            table {
                tr { th { "priority" } th { "finding" } th { "status" } th { "severity" } th { "years" } th { "at stake" } th { "owner" } th { "detail" } }
                @for r in material.iter().take(PER_MUNICIPALITY) {
                    tr {
                        td.n { (format!("{:.1}", r.priority)) }
                        td { (r.exception_type) }
                        td { (r.status) @if let Some(to) = &r.assigned_to { " to " (to) } }
                        td { (r.severity) }
                        td { (years(r)) }
                        td.n { (rand(r.amount_at_stake_rand)) }
                        td { (owner(r)) }
                        td { (amounts_in_text(&r.detail)) }
                    }
                }
            }
            @if material.len() > PER_MUNICIPALITY {
                p.small { "and " (material.len() - PER_MUNICIPALITY) " more material findings in the exception register." }
            }
        }
    }
}

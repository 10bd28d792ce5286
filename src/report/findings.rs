//! Findings in the report, from the exception register: the country's top findings (one line
//! per project, however many findings or years it has) and, per municipality, its open material
//! findings sorted by priority with status, owner and Rand at stake. What each kind of finding
//! asks of its owner is written once, in a key, instead of on every row.

use super::format::{amounts_in_text, count, municipality_label, rand, year_label};
use crate::metrics::register::RegisterRow;
use crate::metrics::Exception;
use crate::reconcile::register::Member;
use maud::{html, Markup};
use std::collections::{BTreeMap, BTreeSet};

/// Lines in the national top list.
const TOP: usize = 20;
/// Most projects listed per municipality, in the sections shown open.
const PER_MUNICIPALITY: usize = 10;
/// Most projects listed per municipality in the folded sections (keeps the report small at 257
/// municipalities; the rest are in the exception register).
const PER_FOLDED_MUNICIPALITY: usize = 5;
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
    r.financial_years
        .iter()
        .map(|y| year_label(*y))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Open material findings per municipality (for the municipality table).
pub(super) fn material_open(register: &[RegisterRow]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in register.iter().filter(|r| r.material && r.status == "open") {
        *out.entry(r.demarcation_code.clone()).or_insert(0) += 1;
    }
    out
}

/// One line of a findings list: a project (or municipality-year) and every finding about it.
struct ProjectLine<'a> {
    first: &'a RegisterRow,
    types: Vec<&'a str>,
    findings: usize,
    /// Minor findings the line's bundle stands for (0 for a project line).
    bundled: i64,
}

/// What groups findings into lines: each record's cross-sphere project key, and this run's
/// bundles of minor findings (a bundle is a line of its own, never filed under the project of
/// its first record; its members are counted through the bundle, not again).
struct Keys<'a> {
    projects: BTreeMap<&'a str, &'a str>,
    bundles: BTreeMap<&'a str, i64>,
    members: BTreeSet<&'a str>,
}

impl<'a> Keys<'a> {
    fn new(projects: &'a [Member], exceptions: &'a [Exception]) -> Self {
        Keys {
            projects: projects
                .iter()
                .map(|m| (m.record_id.as_str(), m.project_key.as_str()))
                .collect(),
            bundles: exceptions
                .iter()
                .filter_map(|e| Some((e.exception_id.as_str(), e.bundle_size?)))
                .collect(),
            members: exceptions
                .iter()
                .filter(|e| e.bundled_in.is_some())
                .map(|e| e.exception_id.as_str())
                .collect(),
        }
    }

    /// The line a finding belongs on: its bundle, or its first record's project.
    fn line(&self, r: &RegisterRow) -> String {
        if self.bundles.contains_key(r.exception_id.as_str()) {
            return format!("bundle {}", r.exception_id);
        }
        r.record_ids
            .split(';')
            .find_map(|id| self.projects.get(id).copied())
            .map_or_else(|| r.record_ids.clone(), str::to_string)
    }

    /// Whether a finding is counted in its own right (bundle members are counted by the bundle).
    fn counted(&self, r: &RegisterRow) -> bool {
        !self.members.contains(r.exception_id.as_str())
    }
}

/// Findings (already in priority order) grouped one line per project: the cross-sphere project
/// key of the finding's first record, so a BEPP project that is missing both from the IDP and
/// from the budget, in every year, is one line; at most `limit` lines (and how many in all).
fn by_project<'a>(
    rows: impl Iterator<Item = &'a RegisterRow>,
    keys: &Keys<'_>,
    limit: usize,
) -> (Vec<ProjectLine<'a>>, usize) {
    let mut lines: Vec<ProjectLine<'a>> = Vec::new();
    let mut index: BTreeMap<(&str, String), Option<usize>> = BTreeMap::new();
    for r in rows {
        let project = keys.line(r);
        let next = index.len();
        let slot = index.entry((r.demarcation_code.as_str(), project)).or_insert_with(|| {
            (next < limit).then(|| {
                lines.push(ProjectLine {
                    first: r,
                    types: Vec::new(),
                    findings: 0,
                    bundled: 0,
                });
                lines.len() - 1
            })
        });
        if let Some(i) = *slot {
            let line = &mut lines[i];
            line.findings += 1;
            line.bundled += keys.bundles.get(r.exception_id.as_str()).copied().unwrap_or(0);
            if !line.types.contains(&r.exception_type.as_str()) {
                line.types.push(&r.exception_type);
            }
        }
    }
    (lines, index.len())
}

/// Table rows of project lines, with or without the municipality column.
fn project_rows(lines: &[ProjectLine<'_>], with_municipality: bool) -> Markup {
    html! {
        tr {
            th { "priority" } @if with_municipality { th { "municipality" } } th { "findings" } th { "status" }
            th { "severity" } th { "years" } th { "at stake" } th { "owner" } th { "detail" }
        }
        @for l in lines {
            tr {
                td.n { (format!("{:.1}", l.first.priority)) }
                @if with_municipality { td { (municipality_label(&l.first.demarcation_code)) } }
                td {
                    @for (i, t) in l.types.iter().enumerate() { @if i > 0 { br; } (t) }
                    @if l.findings > l.types.len() { span.small { " (" (l.findings) " findings)" } }
                    @if l.bundled > 0 { span.small { " (bundle of " (count(l.bundled as usize)) " minor findings)" } }
                }
                td { (l.first.status) @if let Some(to) = &l.first.assigned_to { " to " (to) } }
                td { (l.first.severity) }
                td { (years(l.first)) }
                td.n { (rand(l.first.amount_at_stake_rand)) }
                td { (owner(l.first)) }
                td { (amounts_in_text(&l.first.detail)) }
            }
        }
    }
}

/// The national top list: material findings in force by priority, one line per project.
pub(super) fn top_list(register: &[RegisterRow], projects: &[Member], exceptions: &[Exception]) -> Markup {
    let keys = Keys::new(projects, exceptions);
    let (lines, _) = by_project(in_force(register).into_iter().filter(|r| r.material), &keys, TOP);
    html! {
        @if lines.is_empty() {
            p.small { "No material findings in force." }
        } @else {
            table #top-findings { (project_rows(&lines, true)) }
        }
    }
}

/// Per municipality: a summary line each, then its material findings in force by priority.
pub(super) fn per_municipality(register: &[RegisterRow], projects: &[Member], exceptions: &[Exception]) -> Markup {
    let keys = Keys::new(projects, exceptions);
    let rows: Vec<&RegisterRow> = in_force(register).into_iter().filter(|r| keys.counted(r)).collect();
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
    let mut rest: Vec<&str> = order.iter().skip(OPEN_SECTIONS).map(|o| o.0).collect();
    rest.sort_unstable();
    let mut actions: BTreeMap<&str, &str> = BTreeMap::new();
    for r in &rows {
        actions
            .entry(r.exception_type.as_str())
            .or_insert(r.suggested_action.as_str());
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
        @for (m, _, _) in order.iter().take(OPEN_SECTIONS) {
            (municipality_findings(m, &by_muni[m], &keys, true))
        }
        @if !rest.is_empty() {
            details #other-municipalities {
                summary { "The other " (rest.len()) " municipalities, by code" }
                @for m in &rest { (municipality_findings(m, &by_muni[m], &keys, false)) }
            }
        }
        h3 { "What each finding asks" }
        table {
            tr { th { "finding" } th { "suggested action" } }
            @for (t, a) in &actions { tr { td { (t) } td { (a) } } }
        }
        p.small {
            (count(rows.len())) " findings in force (a bundle of minor findings counts once), "
            (count(rows.iter().filter(|r| r.material).count())) " material; "
            "see the " code { "exception_register" } " table for every finding, its status history and decisions."
        }
    }
}

fn municipality_findings(muni: &str, rows: &[&RegisterRow], keys: &Keys<'_>, open: bool) -> Markup {
    let material: Vec<&RegisterRow> = rows.iter().copied().filter(|r| r.material).collect();
    if material.is_empty() {
        return html! {};
    }
    let (mut lines, projects) = by_project(material.iter().copied(), keys, usize::MAX);
    // A project's findings share its amount: counted once.
    let at_stake: f64 = lines.iter().map(|l| l.first.amount_at_stake_rand).sum();
    let shown = if open {
        PER_MUNICIPALITY
    } else {
        PER_FOLDED_MUNICIPALITY
    };
    lines.truncate(shown);
    html! {
        details.muni open[open] {
            summary {
                b { (municipality_label(muni)) } " — " (material.len()) " material findings on " (projects) " projects and bundles, "
                (rand(at_stake)) " at stake"
            }
            table { (project_rows(&lines, false)) }
            @if projects > shown {
                p.small { "and " (projects - shown) " more projects with material findings in the exception register." }
            }
        }
    }
}

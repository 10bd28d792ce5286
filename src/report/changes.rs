//! "What changed since the previous run" in the report. The previous run's published tables
//! (its findings, links and project register) and its manifest (budget totals, rows per source)
//! are read back from the publish location; findings are compared by their stable ids, links by
//! the natural keys of the records they join (record ids are row positions and move when a file
//! gains a row), budget totals per municipality and year. A previous table that cannot be read
//! is named in the report, never a reason for the run to fail.

use super::format::{count, municipality_label, rand, rand_change};
use crate::metrics::{Exception, Totals};
use crate::publish::tables::SourceQuality;
use crate::publish::{Manifest, PublishError};
use crate::reconcile::register::Member;
use crate::reconcile::Link;
use crate::storage::Store;
use maud::{html, Markup};
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// A link by what it joins: type, band and both records' natural keys.
type LinkKey = (String, String, String, String);

/// Why part of the previous run could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ChangesError {
    /// A table's files could not be read.
    #[error("the previous run's `{table}` table could not be read: {source}")]
    Read {
        /// The table.
        table: &'static str,
        /// Why.
        source: Box<PublishError>,
    },
    /// A table lacks a column this comparison needs, or has it in another type.
    #[error("the previous run's `{table}` table has no usable `{column}` column: {source}")]
    Column {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// Why.
        source: PolarsError,
    },
}

/// What the report needs of the previous run.
#[derive(Debug)]
pub struct PreviousRun {
    /// Its run id.
    pub run_id: String,
    /// When it started.
    pub started_at: String,
    /// Its capital budget per municipality and year.
    pub budget_totals: Totals,
    /// Its rows per source.
    pub quality: Vec<SourceQuality>,
    /// Its findings' ids (material or not) and whether each was material.
    pub findings: Result<BTreeMap<String, bool>, ChangesError>,
    /// Its links by natural keys.
    pub links: Result<BTreeSet<LinkKey>, ChangesError>,
}

/// Reads what the report compares from the previous run at this location; `None` on a first
/// run.
pub async fn load(store: &Store, previous: Option<&Manifest>) -> Option<PreviousRun> {
    let m = previous?;
    Some(PreviousRun {
        run_id: m.run_id.clone(),
        started_at: m.started_at.clone(),
        budget_totals: m.budget_totals.clone(),
        quality: m.data_quality.clone(),
        findings: previous_findings(store, m).await,
        links: previous_links(store, m).await,
    })
}

/// The named columns of a previous table, all its files stacked (`None` when the run did not
/// publish it). Only these columns are decoded: the links' evidence is most of that table.
async fn table(
    store: &Store,
    m: &Manifest,
    table: &'static str,
    columns: &[&str],
) -> Result<Option<DataFrame>, ChangesError> {
    let Some(entry) = m.tables.get(table) else {
        return Ok(None);
    };
    crate::publish::read_columns(store, &entry.files, Some(columns))
        .await
        .map_err(|source| ChangesError::Read {
            table,
            source: Box::new(source),
        })
}

fn strings(df: &DataFrame, table: &'static str, column: &'static str) -> Result<Vec<String>, ChangesError> {
    let err = |source| ChangesError::Column { table, column, source };
    let ca = df.column(column).and_then(|c| c.str().cloned()).map_err(err)?;
    Ok(ca.iter().map(|v| v.unwrap_or_default().to_string()).collect())
}

async fn previous_findings(store: &Store, m: &Manifest) -> Result<BTreeMap<String, bool>, ChangesError> {
    let Some(df) = table(store, m, "exceptions", &["exception_id", "material"]).await? else {
        return Ok(BTreeMap::new());
    };
    let ids = strings(&df, "exceptions", "exception_id")?;
    let material = df
        .column("material")
        .and_then(|c| c.bool().cloned())
        .map_err(|source| ChangesError::Column {
            table: "exceptions",
            column: "material",
            source,
        })?;
    Ok(ids
        .into_iter()
        .zip(material.iter().map(|v| v.unwrap_or(false)))
        .collect())
}

async fn previous_links(store: &Store, m: &Manifest) -> Result<BTreeSet<LinkKey>, ChangesError> {
    let columns = ["link_type", "band", "left_record_id", "right_record_id"];
    let Some(links) = table(store, m, "links", &columns).await? else {
        return Ok(BTreeSet::new());
    };
    let keys: BTreeMap<String, String> =
        match table(store, m, "project_register", &["record_id", "natural_key"]).await? {
            Some(df) => strings(&df, "project_register", "record_id")?
                .into_iter()
                .zip(strings(&df, "project_register", "natural_key")?)
                .collect(),
            None => BTreeMap::new(),
        };
    let natural = |id: String| keys.get(&id).cloned().unwrap_or(id);
    let (types, bands) = (
        strings(&links, "links", "link_type")?,
        strings(&links, "links", "band")?,
    );
    let (lefts, rights) = (
        strings(&links, "links", "left_record_id")?,
        strings(&links, "links", "right_record_id")?,
    );
    Ok(types
        .into_iter()
        .zip(bands)
        .zip(lefts.into_iter().zip(rights))
        .map(|((t, b), (l, r))| (t, b, natural(l), natural(r)))
        .collect())
}

/// This run's links by natural keys.
fn current_links(links: &[Link], projects: &[Member]) -> BTreeSet<LinkKey> {
    let keys: BTreeMap<&str, &str> = projects
        .iter()
        .map(|m| (m.record_id.as_str(), m.natural_key.as_str()))
        .collect();
    let natural = |id: &str| keys.get(id).map_or_else(|| id.to_string(), |k| (*k).to_string());
    links
        .iter()
        .map(|l| {
            (
                l.link_type.as_str().to_string(),
                l.band.to_string(),
                natural(&l.left_record_id),
                natural(&l.right_record_id),
            )
        })
        .collect()
}

/// This run against the previous one.
pub struct Now<'a> {
    /// This run's findings.
    pub exceptions: &'a [Exception],
    /// This run's links.
    pub links: &'a [Link],
    /// This run's project register (natural keys of records).
    pub projects: &'a [Member],
    /// This run's capital budget per municipality and year.
    pub budget_totals: &'a Totals,
    /// This run's rows per source.
    pub quality: &'a [SourceQuality],
}

/// The section: "first run", or counts of what changed.
pub(super) fn section(previous: Option<&PreviousRun>, now: &Now<'_>) -> Markup {
    let Some(p) = previous else {
        return html! { p #first-run { "First run: there is no previous run at this location to compare with." } };
    };
    html! {
        p { "Compared with run " code { (p.run_id) } " (started " (p.started_at) ")." }
        table #changes {
            tr { th { "what" } th { "added / opened" } th { "removed / resolved" } th { "note" } }
            (findings_rows(p, now.exceptions))
            (links_rows(p, now))
            (totals_rows(&p.budget_totals, now.budget_totals))
            (quality_rows(&p.quality, now.quality))
        }
        (largest_total_changes(&p.budget_totals, now.budget_totals))
    }
}

fn findings_rows(p: &PreviousRun, exceptions: &[Exception]) -> Markup {
    let Ok(before) = &p.findings else {
        return html! { tr { td { "findings" } td colspan="3" { (p.findings.as_ref().err().map(ToString::to_string).unwrap_or_default()) } } };
    };
    let now: BTreeMap<&str, bool> = exceptions
        .iter()
        .map(|e| (e.exception_id.as_str(), e.material))
        .collect();
    let opened: Vec<(&&str, &bool)> = now.iter().filter(|(id, _)| !before.contains_key(**id)).collect();
    let resolved: Vec<(&String, &bool)> = before.iter().filter(|(id, _)| !now.contains_key(id.as_str())).collect();
    html! {
        tr.findings {
            td { "findings" }
            td.n.opened { (count(opened.len())) }
            td.n.resolved { (count(resolved.len())) }
            td { "material: " (count(opened.iter().filter(|x| *x.1).count())) " opened, " (count(resolved.iter().filter(|x| *x.1).count())) " resolved; "
                (count(now.len())) " findings now, " (count(before.len())) " before" }
        }
    }
}

fn links_rows(p: &PreviousRun, now: &Now<'_>) -> Markup {
    let Ok(before) = &p.links else {
        return html! { tr { td { "links" } td colspan="3" { (p.links.as_ref().err().map(ToString::to_string).unwrap_or_default()) } } };
    };
    let current = current_links(now.links, now.projects);
    let added = current.difference(before).count();
    let removed = before.difference(&current).count();
    let band = |set: &BTreeSet<LinkKey>, b: &str| set.iter().filter(|k| k.1 == b).count();
    html! {
        tr.links {
            td { "links" }
            td.n.added { (count(added)) }
            td.n.removed { (count(removed)) }
            td { "by the natural keys of the records they join; accepted " (count(band(before, "accept"))) " → " (count(band(&current, "accept")))
                ", review " (count(band(before, "review"))) " → " (count(band(&current, "review"))) }
        }
    }
}

/// A budget total before and now (absent in a run: `None`).
type BeforeNow = (Option<f64>, Option<f64>);

/// (municipality, year) → (before, now) for every pair in either run.
fn total_pairs<'a>(before: &'a Totals, now: &'a Totals) -> BTreeMap<(&'a str, &'a str), BeforeNow> {
    let mut out: BTreeMap<(&str, &str), BeforeNow> = BTreeMap::new();
    for (m, ys) in before {
        for (y, v) in ys {
            out.entry((m.as_str(), y.as_str())).or_default().0 = Some(*v);
        }
    }
    for (m, ys) in now {
        for (y, v) in ys {
            out.entry((m.as_str(), y.as_str())).or_default().1 = Some(*v);
        }
    }
    out
}

fn totals_rows(before: &Totals, now: &Totals) -> Markup {
    let pairs = total_pairs(before, now);
    let changed = pairs
        .values()
        .filter(|(a, b)| matches!((a, b), (Some(a), Some(b)) if (a - b).abs() >= 0.5))
        .count();
    let added = pairs.values().filter(|(a, b)| a.is_none() && b.is_some()).count();
    let removed = pairs.values().filter(|(a, b)| a.is_some() && b.is_none()).count();
    let sum = |t: &Totals| t.values().flat_map(|ys| ys.values()).sum::<f64>();
    html! {
        tr.totals {
            td { "capital budget totals (municipality × year)" }
            td.n.added { (count(added)) }
            td.n.removed { (count(removed)) }
            td { span.changed { (count(changed)) } " changed; all years together " (rand(sum(before))) " → " (rand(sum(now))) }
        }
    }
}

fn quality_rows(before: &[SourceQuality], now: &[SourceQuality]) -> Markup {
    let prev: BTreeMap<&str, &SourceQuality> = before.iter().map(|q| (q.source.as_str(), q)).collect();
    html! {
        @for q in now {
            @let p = prev.get(q.source.as_str());
            tr {
                td { "source " code { (q.source) } }
                td.n { (count(q.rows_accepted)) " accepted" }
                td.n { (count(q.rows_rejected)) " quarantined" }
                td { @match p {
                    Some(p) => { "before: " (count(p.rows_accepted)) " accepted, " (count(p.rows_rejected)) " quarantined" }
                    None => { "new source" }
                } }
            }
        }
    }
}

/// The largest changes of a municipality's capital budget in a year.
fn largest_total_changes(before: &Totals, now: &Totals) -> Markup {
    let mut changes: Vec<((&str, &str), f64, f64)> = total_pairs(before, now)
        .into_iter()
        .map(|(k, (a, b))| (k, a.unwrap_or(0.0), b.unwrap_or(0.0)))
        .filter(|(_, a, b)| (a - b).abs() >= 0.5)
        .collect();
    changes.sort_by(|x, y| {
        (y.2 - y.1)
            .abs()
            .total_cmp(&(x.2 - x.1).abs())
            .then_with(|| x.0.cmp(&y.0))
    });
    html! {
        @if !changes.is_empty() {
            h3 { "Largest changes of a capital budget" }
            table {
                tr { th { "municipality" } th { "year" } th { "before" } th { "now" } th { "change" } }
                @for ((m, y), a, b) in changes.iter().take(10) {
                    tr { td { (municipality_label(m)) } td { (y) } td.n { (rand(*a)) } td.n { (rand(*b)) } td.n { (rand_change(b - a)) } }
                }
            }
        }
    }
}

//! The links part of the report: how many links of each type and band, the distribution of
//! match weights, a few links explained comparison by comparison (a waterfall of the weights in
//! their `evidence`), and the review band (doubtful links an analyst should confirm or reject,
//! with their match probability).

use super::charts::{self, Stack, Step};
use super::format::{count, municipality_label, ratio};
use crate::domain::{Band, Method};
use crate::reconcile::register::Member;
use crate::reconcile::Link;
use maud::{html, Markup};
use std::collections::BTreeMap;

/// Review-band links listed (the rest are in the `links` table).
const REVIEW_ROWS: usize = 50;

/// One comparison of a link's evidence.
#[derive(serde::Deserialize)]
struct Comparison {
    name: String,
    level: String,
    weight: f64,
    value: Option<f64>,
}

fn evidence(l: &Link) -> Vec<Comparison> {
    serde_json::from_str(&l.evidence).unwrap_or_default()
}

/// The match probability recorded in a link's evidence (probabilistic links only).
fn probability(l: &Link) -> Option<f64> {
    evidence(l)
        .iter()
        .find(|c| c.name == "match_probability")
        .and_then(|c| c.value)
}

/// Counts per link type, band and method.
pub(super) fn summary(links: &[Link]) -> Markup {
    let mut counts: BTreeMap<(&str, &str, &str), (usize, f64)> = BTreeMap::new();
    for l in links {
        let e = counts
            .entry((l.link_type.as_str(), l.band.as_str(), l.method.as_str()))
            .or_insert((0, 0.0));
        e.0 += 1;
        e.1 += l.match_weight;
    }
    html! {
        table {
            tr { th { "link type" } th { "band" } th { "method" } th { "links" } th { "mean match weight" } }
            @for ((t, band, method), (n, w)) in &counts {
                tr { td { (t) } td { (band) } td { (method) } td.n { (count(*n)) } td.n { (ratio(w / *n as f64)) } }
            }
        }
    }
}

/// Match weights of every link as a histogram, accepted links by method and review links
/// stacked, each labelled on the chart.
pub(super) fn weight_histogram(links: &[Link]) -> Markup {
    let weights: Vec<f64> = links.iter().map(|l| l.match_weight).filter(|w| w.is_finite()).collect();
    if weights.is_empty() {
        return html! { p.small { "No links." } };
    }
    let lo = weights.iter().copied().fold(f64::MAX, f64::min).floor();
    let hi = weights.iter().copied().fold(f64::MIN, f64::max).ceil().max(lo + 1.0);
    let width = ((hi - lo) / 30.0).ceil().max(1.0);
    let bins = ((hi - lo) / width).ceil().max(1.0) as usize;
    let edges: Vec<f64> = (0..=bins).map(|i| lo + width * i as f64).collect();
    let kinds: [(&str, Band, &'static str); 3] = [
        ("accepted (exact identifier)", Band::Accept, "#1f77b4"),
        ("accepted (probabilistic)", Band::Accept, "#2ca02c"),
        ("review", Band::Review, "#ff7f0e"),
    ];
    let stacks: Vec<Stack> = kinds
        .iter()
        .enumerate()
        .map(|(k, (label, band, colour))| {
            let mut counts = vec![0; bins];
            for l in links.iter().filter(|l| l.band == *band && l.match_weight.is_finite()) {
                let exact = l.method == Method::ExactIdentifier;
                if (k == 0) != exact && *band == Band::Accept {
                    continue;
                }
                let b = (((l.match_weight - lo) / width) as usize).min(bins - 1);
                counts[b] += 1;
            }
            Stack {
                label: (*label).to_string(),
                colour,
                counts,
            }
        })
        .collect();
    charts::histogram(&edges, &stacks, "match weight (sum of log2 m/u over the comparisons)")
}

/// Links worth explaining: the weakest accepted probabilistic link, a typical one (median
/// weight), and the most likely link left for review.
fn examples(links: &[Link]) -> Vec<(&'static str, &Link)> {
    let by_weight = |band: Band| {
        let mut v: Vec<&Link> = links
            .iter()
            .filter(|l| l.band == band && l.method == Method::Probabilistic)
            .collect();
        v.sort_by(|a, b| {
            a.match_weight
                .total_cmp(&b.match_weight)
                .then_with(|| a.left_record_id.cmp(&b.left_record_id))
                .then_with(|| a.right_record_id.cmp(&b.right_record_id))
        });
        v
    };
    let accepted = by_weight(Band::Accept);
    let review = by_weight(Band::Review);
    let mut out = Vec::new();
    if let Some(l) = accepted.get(accepted.len() / 2) {
        out.push(("a typical accepted link (median weight)", *l));
    }
    if let Some(l) = accepted.first() {
        out.push(("the weakest accepted link", *l));
    }
    if let Some(l) = review.iter().filter(|l| probability(l).is_some()).max_by(|a, b| {
        probability(a)
            .unwrap_or(0.0)
            .total_cmp(&probability(b).unwrap_or(0.0))
            .then_with(|| b.left_record_id.cmp(&a.left_record_id))
    }) {
        out.push(("the most likely link left for review", *l));
    }
    out
}

/// A few links explained: each comparison's weight as a step of a waterfall to the match weight.
pub(super) fn explanations(links: &[Link]) -> Markup {
    let shown = examples(links);
    html! {
        @if shown.is_empty() {
            p.small { "No probabilistic links to explain." }
        }
        @for (why, l) in &shown {
            @let steps: Vec<Step> = evidence(l)
                .iter()
                .filter(|c| c.name != "match_probability")
                .map(|c| Step {
                    label: match c.value {
                        Some(v) => format!("{}: {} ({})", c.name, c.level, ratio(v)),
                        None => format!("{}: {}", c.name, c.level),
                    },
                    value: c.weight,
                })
                .collect();
            div.explain {
                p {
                    b { (why) } " — " (municipality_label(&l.demarcation_code)) ", " (l.link_type.as_str()) ": “"
                    (name_or_record(l.left_name.as_deref(), &l.left_record_id)) "” ↔ “"
                    (name_or_record(l.right_name.as_deref(), &l.right_record_id)) "”"
                    @if let Some(p) = probability(l) { ", match probability " (format!("{p:.3}")) }
                    ", band " (l.band)
                }
                (charts::waterfall(&steps, "match weight"))
            }
        }
    }
}

/// A record's name, or which record it is when it has none (an SA36 line without a description).
fn name_or_record(name: Option<&str>, record_id: &str) -> String {
    match name {
        Some(n) => n.to_string(),
        None => format!("(no name: record {record_id})"),
    }
}

/// Match probabilities of review links by (link type, left record): a record's decision holds
/// for every record of the chosen project, though only the representative's evidence carries it.
fn probabilities(links: &[Link]) -> BTreeMap<(&str, &str), f64> {
    let mut out = BTreeMap::new();
    for l in links.iter().filter(|l| l.band == Band::Review) {
        if let Some(p) = probability(l) {
            out.entry((l.link_type.as_str(), l.left_record_id.as_str()))
                .or_insert(p);
        }
    }
    out
}

/// The review band: doubtful links, most likely first, one line per pair of projects (a budget
/// line in two MTREFs against an IDP project's yearly rows is one decision), with both names
/// and the probability.
pub(super) fn review_band(links: &[Link], projects: &[Member]) -> Markup {
    let key_of: BTreeMap<&str, &str> = projects
        .iter()
        .map(|m| (m.record_id.as_str(), m.project_key.as_str()))
        .collect();
    let project = |id: &str| key_of.get(id).copied().unwrap_or(id).to_string();
    let p_of = probabilities(links);
    let mut pairs: BTreeMap<(&str, String, String), (&Link, f64, usize)> = BTreeMap::new();
    for l in links.iter().filter(|l| l.band == Band::Review) {
        let p = p_of
            .get(&(l.link_type.as_str(), l.left_record_id.as_str()))
            .copied()
            .unwrap_or(f64::NAN);
        let key = (
            l.link_type.as_str(),
            project(&l.left_record_id),
            project(&l.right_record_id),
        );
        let e = pairs.entry(key).or_insert((l, p, 0));
        e.2 += 1;
    }
    let total = links.iter().filter(|l| l.band == Band::Review).count();
    let mut review: Vec<(&Link, f64, usize)> = pairs.into_values().collect();
    let known = |p: f64| if p.is_finite() { p } else { -1.0 };
    review.sort_by(|a, b| {
        known(b.1)
            .total_cmp(&known(a.1))
            .then_with(|| b.0.match_weight.total_cmp(&a.0.match_weight))
            .then_with(|| a.0.left_record_id.cmp(&b.0.left_record_id))
    });
    html! {
        @if review.is_empty() {
            p.small { "No links in the review band." }
        } @else {
            p.small {
                (count(total)) " links, between " (count(review.len())) " pairs of projects, are in the review band: left out of the metrics "
                "and listed as findings until an analyst confirms them (must-link) or rejects them (cannot-link) in the overrides file. "
                "Most likely first"
                @if review.len() > REVIEW_ROWS { "; the first " (REVIEW_ROWS) " shown, all are in the " code { "links" } " table (band = review)" } "."
            }
            table #review-band {
                tr { th { "probability" } th { "match weight" } th { "municipality" } th { "link type" } th { "left" } th { "right" } th { "links" } }
                @for (l, p, n) in review.iter().take(REVIEW_ROWS) {
                    tr {
                        td.n { (if p.is_finite() { format!("{p:.3}") } else { "—".into() }) }
                        td.n { (ratio(l.match_weight)) }
                        td { (municipality_label(&l.demarcation_code)) }
                        td { (l.link_type.as_str()) }
                        td { (name_or_record(l.left_name.as_deref(), &l.left_record_id)) }
                        td { (name_or_record(l.right_name.as_deref(), &l.right_record_id)) }
                        td.n { (n) }
                    }
                }
            }
        }
    }
}

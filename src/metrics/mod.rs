//! Alignment metrics and the exceptions register.
//!
//! Each metric is a share: a numerator and a denominator per municipality and municipal
//! financial year, defined in `docs/metrics.md`. The per-record facts (what counts, what weight,
//! whether it is aligned) are derived from records and links here; the aggregation to municipality
//! × year runs on polars' lazy engine so it scales to national volumes. Exceptions are the
//! individual findings behind the metrics, each with an id that stays the same across runs on
//! the same inputs.

use crate::contracts::fiscal::{Calendar, FinancialYear};
use crate::contracts::Dataset;
use crate::reconcile::{Link, LinkType, Variance};
pub mod alignment;
pub mod register;

pub use alignment::{alignment_metrics, METRICS};

use crate::records::{is_placeholder_objective, Record};
use std::collections::{BTreeMap, BTreeSet};

/// The left records of each link type: "is this record linked to the IDP / budget?".
pub(crate) struct Linked<'a> {
    /// Budget lines linked to an IDP project.
    pub budget_idp: BTreeSet<&'a str>,
    /// BEPP projects linked to an IDP project.
    pub bepp_idp: BTreeSet<&'a str>,
    /// BEPP projects linked to a budget line.
    pub bepp_budget: BTreeSet<&'a str>,
    /// Departmental projects linked to an IDP project.
    pub departmental_idp: BTreeSet<&'a str>,
}

impl<'a> Linked<'a> {
    pub(crate) fn new(links: &[&'a Link]) -> Self {
        let lefts = |lt: LinkType| {
            links
                .iter()
                .filter(|l| l.link_type == lt)
                .map(|l| l.left_record_id.as_str())
                .collect()
        };
        Self {
            budget_idp: lefts(LinkType::BudgetIdp),
            bepp_idp: lefts(LinkType::BeppIdp),
            bepp_budget: lefts(LinkType::BeppBudget),
            departmental_idp: lefts(LinkType::DepartmentalIdp),
        }
    }
}

/// For each municipality, the budget years (BY) of the MTREFs loaded, so each year's budget
/// amounts come from one MTREF only: the latest whose budget year is not after it. Without this
/// a year would be counted once as BY of one budget and again as BY+1 of the previous one.
pub(crate) struct BudgetVintages(BTreeMap<String, BTreeSet<FinancialYear>>);

impl BudgetVintages {
    pub(crate) fn new(records: &[Record]) -> Self {
        let mut m: BTreeMap<String, BTreeSet<FinancialYear>> = BTreeMap::new();
        for r in records.iter().filter(|r| r.dataset == Dataset::Budget) {
            if let (Some(c), Some(by)) = (&r.demarcation_code, r.financial_year) {
                m.entry(c.clone()).or_default().insert(by);
            }
        }
        Self(m)
    }

    /// Whether `r`'s amount for `year` is the one that counts for that year.
    pub(crate) fn counts(&self, r: &Record, year: FinancialYear) -> bool {
        let (Some(c), Some(by)) = (&r.demarcation_code, r.financial_year) else {
            return false;
        };
        self.0
            .get(c)
            .and_then(|bys| bys.range(..=year).next_back())
            .is_some_and(|latest| *latest == by)
    }
}

/// One finding for an analyst to act on.
#[derive(Debug, Clone, PartialEq)]
pub struct Exception {
    /// Stable id: a hash of the type, the records' natural keys and the year.
    pub exception_id: String,
    /// Finding type (DOMAIN.md §5).
    pub exception_type: &'static str,
    /// `high`, `medium` or `low`.
    pub severity: &'static str,
    /// Municipality.
    pub demarcation_code: String,
    /// Municipal financial year, where the finding has one.
    pub financial_year: Option<FinancialYear>,
    /// The sphere that would fix it.
    pub sphere_responsible: &'static str,
    /// Rand at stake.
    pub amount_at_stake: f64,
    /// Records involved, `;`-separated.
    pub record_ids: String,
    /// One-line description for a person.
    pub detail: String,
}

fn exception_id(kind: &str, keys: &[String], year: Option<FinancialYear>) -> String {
    let text = format!("{kind}|{}|{}", keys.join("|"), year.map(|y| y.start_year).unwrap_or(0));
    crate::sources::sha256_hex(text.as_bytes())[..16].to_string()
}

/// Builds the exceptions register, sorted by amount at stake (largest first), then id.
pub fn exceptions(records: &[Record], links: &[&Link], variances: &[Variance], sa36: &Totals) -> Vec<Exception> {
    let by_id: BTreeMap<&str, &Record> = records.iter().map(|r| (r.record_id.as_str(), r)).collect();
    let linked = Linked::new(links);
    let (budget_linked, bepp_linked, dept_linked, bepp_budgeted) = (
        &linked.budget_idp,
        &linked.bepp_idp,
        &linked.departmental_idp,
        &linked.bepp_budget,
    );
    let idp_with_budget: BTreeSet<&str> = links
        .iter()
        .filter(|l| l.link_type == LinkType::BudgetIdp)
        .map(|l| l.right_record_id.as_str())
        .collect();
    let mut out = Vec::new();
    let mut add =
        |kind: &'static str, severity, sphere, r: &Record, year: Option<FinancialYear>, amount: f64, detail: String| {
            out.push(Exception {
                exception_id: exception_id(kind, &[r.natural_key()], year),
                exception_type: kind,
                severity,
                demarcation_code: r.demarcation_code.clone().unwrap_or_default(),
                financial_year: year,
                sphere_responsible: sphere,
                amount_at_stake: amount,
                record_ids: r.record_id.clone(),
                detail,
            });
        };
    let name = |r: &Record| r.match_name().unwrap_or("(no name)").to_string();
    for r in records.iter().filter(|r| r.demarcation_code.is_some()) {
        let id = r.record_id.as_str();
        match r.dataset {
            Dataset::Budget => {
                let amount = r.amount_rand.unwrap_or(0.0);
                if !budget_linked.contains(id) && amount > 0.0 {
                    add(
                        "budget_without_idp_basis",
                        if amount >= 10_000_000.0 { "high" } else { "medium" },
                        "municipal",
                        r,
                        r.financial_year,
                        amount,
                        format!("budget line `{}` has no IDP project", name(r)),
                    );
                }
                if r.strategic_objective.as_deref().is_none_or(is_placeholder_objective) {
                    add(
                        "placeholder_strategic_objective",
                        "low",
                        "municipal",
                        r,
                        r.financial_year,
                        amount,
                        format!(
                            "budget line `{}` has strategic objective `{}`",
                            name(r),
                            r.strategic_objective.as_deref().unwrap_or("")
                        ),
                    );
                }
            }
            Dataset::Idp => {
                if !idp_with_budget.contains(id) {
                    let amount = r.amount_rand.unwrap_or(0.0);
                    add(
                        "unfunded_idp_project",
                        "medium",
                        "municipal",
                        r,
                        r.financial_year,
                        amount,
                        format!("IDP project `{}` has no budget line", name(r)),
                    );
                }
            }
            Dataset::Bepp => {
                if !bepp_linked.contains(id) {
                    add(
                        "bepp_project_missing_from_idp",
                        "high",
                        "municipal",
                        r,
                        r.financial_year,
                        r.amount_rand.unwrap_or(0.0),
                        format!("BEPP project `{}` is not in the IDP", name(r)),
                    );
                }
                if !bepp_budgeted.contains(id) {
                    add(
                        "bepp_project_missing_from_budget",
                        "high",
                        "municipal",
                        r,
                        r.financial_year,
                        r.amount_rand.unwrap_or(0.0),
                        format!("BEPP project `{}` has no budget line", name(r)),
                    );
                }
            }
            Dataset::Departmental => {
                if !dept_linked.contains(id) {
                    add(
                        "sector_project_missing_from_idp",
                        "medium",
                        "provincial",
                        r,
                        r.financial_year.map(|y| y.dominant_in(Calendar::Municipal)),
                        r.amount_rand.unwrap_or(0.0),
                        format!("departmental project `{}` is not in the municipality's IDP", name(r)),
                    );
                }
            }
            Dataset::Reference => {}
        }
    }
    // Treasury's own rule: SA36 project lines must reconcile with the A5 capital total.
    let mut a5: BTreeMap<(String, String), BTreeMap<String, f64>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.dataset == Dataset::Reference) {
        let Some(m) = &r.demarcation_code else { continue };
        for a in r
            .amounts
            .iter()
            .filter(|a| ["orgb", "tabb", "adjb"].contains(&a.phase.as_str()))
        {
            *a5.entry((m.clone(), a.year.label()))
                .or_default()
                .entry(a.phase.clone())
                .or_insert(0.0) += a.rand;
        }
    }
    for ((muni, label), phases) in &a5 {
        let Some((phase, total)) = ["orgb", "tabb", "adjb"]
            .iter()
            .find_map(|p| phases.get(*p).map(|t| (*p, *t)))
        else {
            continue;
        };
        let projects = sa36.get(muni).and_then(|y| y.get(label)).copied().unwrap_or(0.0);
        if total != 0.0 && ((projects / total) - 1.0).abs() > SA36_A5_TOLERANCE {
            let year =
                FinancialYear::parse(label, Calendar::Municipal, crate::contracts::fiscal::YearLabel::Start).ok();
            out.push(Exception {
                exception_id: exception_id("sa36_a5_mismatch", &[format!("{muni}|{phase}")], year),
                exception_type: "sa36_a5_mismatch",
                severity: "high",
                demarcation_code: muni.clone(),
                financial_year: year,
                sphere_responsible: "municipal",
                amount_at_stake: (projects - total).abs(),
                record_ids: String::new(),
                detail: format!(
                    "{muni} {label}: SA36 project lines total R{projects:.0} but the A5 ({}) total is R{total:.0}",
                    phase.to_uppercase()
                ),
            });
        }
    }
    for v in variances.iter().filter(|v| v.over_tolerance) {
        let (Some(a), Some(b)) = (
            by_id.get(v.left_record_id.as_str()),
            by_id.get(v.right_record_id.as_str()),
        ) else {
            continue;
        };
        out.push(Exception {
            exception_id: exception_id(
                "variance_over_tolerance",
                &[a.natural_key(), b.natural_key()],
                Some(v.financial_year),
            ),
            exception_type: "variance_over_tolerance",
            severity: "medium",
            demarcation_code: v.demarcation_code.clone(),
            financial_year: Some(v.financial_year),
            sphere_responsible: "municipal",
            amount_at_stake: v.difference.abs(),
            record_ids: format!("{};{}", v.left_record_id, v.right_record_id),
            detail: format!(
                "{} {}: R{:.0} against R{:.0} in {}",
                v.link_type.as_str(),
                name(a),
                v.left_amount,
                v.right_amount,
                v.financial_year.label()
            ),
        });
    }
    sort_exceptions(&mut out);
    out
}

/// Doubtful links awaiting an analyst's decision, and overrides that no longer match a record.
pub fn review_exceptions(links: &[Link], stale: &[crate::reconcile::overrides::Stale]) -> Vec<Exception> {
    let mut out = Vec::new();
    for l in links.iter().filter(|l| l.band == "review") {
        out.push(Exception {
            exception_id: exception_id(
                "link_review",
                &[l.left_record_id.clone(), l.right_record_id.clone()],
                None,
            ),
            exception_type: "link_review",
            severity: "low",
            demarcation_code: l.demarcation_code.clone(),
            financial_year: None,
            sphere_responsible: "municipal",
            amount_at_stake: 0.0,
            record_ids: format!("{};{}", l.left_record_id, l.right_record_id),
            detail: format!(
                "doubtful {} link (weight {:.1}): `{}` ↔ `{}`; confirm or reject it in the overrides file",
                l.link_type.as_str(),
                l.match_weight,
                l.left_name.as_deref().unwrap_or(""),
                l.right_name.as_deref().unwrap_or("")
            ),
        });
    }
    for s in stale {
        let o = &s.over;
        out.push(Exception {
            exception_id: exception_id(
                "stale_override",
                &[match &o.municipality {
                    None => format!("{}|{}|{}|{}", o.left_label, o.left_key, o.right_label, o.right_key),
                    Some(m) => format!("{m}|{}|{}|{}|{}", o.left_label, o.left_key, o.right_label, o.right_key),
                }],
                None,
            ),
            exception_type: "stale_override",
            severity: "medium",
            demarcation_code: o.municipality.clone().unwrap_or_default(),
            financial_year: None,
            sphere_responsible: "analyst",
            amount_at_stake: 0.0,
            record_ids: String::new(),
            detail: format!(
                "override row {} ({} by {}): {}",
                o.row,
                o.link_type.as_str(),
                o.decided_by,
                s.reason
            ),
        });
    }
    out
}

/// Sorts by amount at stake (largest first), then id, and keeps one row per id (the same
/// finding reached through two long-form rows is one exception).
pub fn sort_exceptions(out: &mut Vec<Exception>) {
    out.sort_by(|a, b| {
        b.amount_at_stake
            .total_cmp(&a.amount_at_stake)
            .then_with(|| a.exception_id.cmp(&b.exception_id))
    });
    let mut seen = BTreeSet::new();
    out.retain(|e| seen.insert(e.exception_id.clone()));
}

/// Rand per municipality and year label.
pub type Totals = BTreeMap<String, BTreeMap<String, f64>>;

/// Capital budget per municipality and year (label), in Rand, one MTREF per year.
pub fn budget_totals(records: &[Record]) -> Totals {
    let vintages = BudgetVintages::new(records);
    let mut out: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.dataset == Dataset::Budget) {
        let Some(muni) = &r.demarcation_code else { continue };
        for a in r
            .amounts
            .iter()
            .filter(|a| a.phase == "budget" && vintages.counts(r, a.year))
        {
            *out.entry(muni.clone())
                .or_default()
                .entry(a.year.label())
                .or_insert(0.0) += a.rand;
        }
    }
    out
}

/// Relative difference between SA36 project lines and the A5 total above which they are
/// reported as not reconciling (1%).
pub const SA36_A5_TOLERANCE: f64 = 0.01;

/// A jump of this factor or more between runs suggests Rand and R thousand were mixed up.
pub const MAGNITUDE_JUMP: f64 = 300.0;
/// A median budget line below this many Rand suggests amounts in R thousand declared as Rand.
pub const MIN_PLAUSIBLE_MEDIAN_LINE_RAND: f64 = 5_000.0;

/// Flags likely unit mix-ups: a municipality's capital budget for a year that moved by
/// [`MAGNITUDE_JUMP`]× or more since the previous run, or whose median budget line is
/// implausibly small for Rand.
pub fn magnitude_exceptions(
    records: &[Record],
    totals: &Totals,
    previous: Option<(&String, &Totals)>,
) -> Vec<Exception> {
    let mut out = Vec::new();
    let mut push = |muni: &str, year: Option<FinancialYear>, key: String, amount: f64, detail: String| {
        out.push(Exception {
            exception_id: exception_id("unit_mixup_suspected", &[key], year),
            exception_type: "unit_mixup_suspected",
            severity: "high",
            demarcation_code: muni.to_string(),
            financial_year: year,
            sphere_responsible: "municipal",
            amount_at_stake: amount,
            record_ids: String::new(),
            detail,
        });
    };
    if let Some((prev_run, prev)) = previous {
        for (muni, years) in totals {
            for (label, now) in years {
                let Some(before) = prev.get(muni).and_then(|y| y.get(label)) else {
                    continue;
                };
                if *before <= 0.0 || *now <= 0.0 {
                    continue;
                }
                let ratio = now / before;
                if !(1.0 / MAGNITUDE_JUMP..MAGNITUDE_JUMP).contains(&ratio) {
                    let year =
                        FinancialYear::parse(label, Calendar::Municipal, crate::contracts::fiscal::YearLabel::Start)
                            .ok();
                    push(muni, year, format!("{muni}|{label}|run"), (now - before).abs(),
                        format!("{muni} capital budget {label} is R{now:.0}, {ratio:.3}× the R{before:.0} of run {prev_run}: check the source's unit (Rand or R thousand)"));
                }
            }
        }
    }
    let mut lines: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.dataset == Dataset::Budget) {
        if let (Some(m), Some(a)) = (r.demarcation_code.as_deref(), r.amount_rand) {
            if a > 0.0 {
                lines.entry((m, r.source.as_str())).or_default().push(a);
            }
        }
    }
    let mut medians: BTreeMap<(&str, &str), f64> = BTreeMap::new();
    for ((muni, source), mut v) in lines {
        if v.len() < 5 {
            continue;
        }
        v.sort_by(f64::total_cmp);
        let median = v[v.len() / 2];
        medians.insert((muni, source), median);
        if median < MIN_PLAUSIBLE_MEDIAN_LINE_RAND {
            push(muni, None, format!("{muni}|{source}|median"), 0.0,
                format!("{muni}'s median budget line in source `{source}` is R{median:.0}: the amounts look like R thousand declared as Rand"));
        }
    }
    // Against peers: municipalities of the same category (metros with metros) in this run.
    let reference = crate::contracts::reference::Reference::bundled();
    let category = |m: &str| reference.get(m).map_or("?", |x| x.category.as_str());
    for (&(muni, source), &median) in &medians {
        let mut peers: Vec<f64> = medians
            .iter()
            .filter(|(&(m, _), _)| m != muni && category(m) == category(muni))
            .map(|(_, v)| *v)
            .collect();
        if peers.len() < 3 {
            continue;
        }
        peers.sort_by(f64::total_cmp);
        let typical = peers[peers.len() / 2];
        let ratio = median / typical;
        if !(1.0 / MAGNITUDE_JUMP..MAGNITUDE_JUMP).contains(&ratio) {
            push(muni, None, format!("{muni}|{source}|peers"), 0.0,
                format!("{muni}'s median budget line in source `{source}` is R{median:.0}, {ratio:.3}× the R{typical:.0} typical of its {} category {} peers: check the unit", peers.len(), category(muni)));
        }
    }
    out
}

#[cfg(test)]
mod magnitude_tests {
    use super::*;
    use crate::contracts::validate::AmountValue;

    fn line(muni: &str, i: usize, rand: f64) -> Record {
        let fy = FinancialYear::new(Calendar::Municipal, 2024);
        Record {
            source_file: "f".into(),
            source_sheet: Some(muni.into()),
            source_row: i as u32,
            project_name: Some(format!("line {i}")),
            financial_year: Some(fy),
            amount_rand: Some(rand),
            amounts: vec![AmountValue {
                year: fy,
                phase: "budget".into(),
                rand,
            }],
            ..Record::bare(&format!("b:{muni}:{i}"), "b", Dataset::Budget, muni)
        }
    }

    #[test]
    fn a_local_a_thousand_times_smaller_than_its_peers_is_flagged() {
        let mut records = Vec::new();
        for (muni, scale) in [("EC121", 1.0), ("EC122", 1.0), ("EC123", 1.0), ("EC124", 0.001)] {
            for i in 0..6 {
                records.push(line(muni, i, 20_000_000.0 * scale * (1.0 + i as f64 / 10.0)));
            }
        }
        let totals = budget_totals(&records);
        let found = magnitude_exceptions(&records, &totals, None);
        let flagged: Vec<&str> = found.iter().map(|e| e.demarcation_code.as_str()).collect();
        assert_eq!(flagged, ["EC124"], "{found:#?}");
        assert!(
            found[0].detail.contains("typical of its 3 category B peers"),
            "{}",
            found[0].detail
        );
        // Run-over-run: the same municipality 1000× larger than last time.
        let mut previous = totals.clone();
        previous
            .get_mut("EC121")
            .unwrap()
            .values_mut()
            .for_each(|v| *v /= 1000.0);
        let found = magnitude_exceptions(&records, &totals, Some((&"r0".to_string(), &previous)));
        assert!(
            found
                .iter()
                .any(|e| e.detail.starts_with("EC121 capital budget 2024/25") && e.detail.contains("1000.000×")),
            "{found:#?}"
        );
    }
}

//! Alignment metrics and the exceptions register.
//!
//! Each metric is a share: a numerator and a denominator per municipality and municipal
//! financial year, defined in `docs/metrics.md`. The per-record facts (what counts, what weight,
//! whether it is aligned) are derived from records and links here; the aggregation to municipality
//! × year runs on polars' lazy engine so it scales to national volumes. Exceptions are the
//! individual findings behind the metrics, each with an id that stays the same across runs on
//! the same inputs.

use crate::contracts::Dataset;
use crate::domain::fiscal::{Calendar, FinancialYear};
use crate::domain::FindingSeverity;
use crate::reconcile::{Link, LinkType, Variance};
pub mod alignment;
mod bundle;
mod dimensions;
pub mod grants;
pub mod history;
pub mod peers;
pub mod register;
pub mod revisions;
mod settings;
pub use settings::ExceptionSettings;
pub mod spatial;
pub mod spending;

pub use bundle::bundle_minor;

pub use alignment::{alignment_metrics, METRICS};

use crate::records::Record;
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

/// For each municipality, the budget years (BY) of the MTREFs loaded (SA36s, not in-year SC36s),
/// so each year's budget
/// amounts come from one MTREF only: the latest whose budget year is not after it. Without this
/// a year would be counted once as BY of one budget and again as BY+1 of the previous one.
pub(crate) struct BudgetVintages(BTreeMap<String, BTreeSet<FinancialYear>>);

impl BudgetVintages {
    pub(crate) fn new(records: &[Record]) -> Self {
        let mut m: BTreeMap<String, BTreeSet<FinancialYear>> = BTreeMap::new();
        // An SC36 is no MTREF: it must not hide the estimates of the latest MTREF before it.
        for r in records
            .iter()
            .filter(|r| r.dataset == Dataset::Budget && !r.is_in_year())
        {
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
    /// Stable id: a hash of the type and the records' natural keys (without source names or
    /// years, so one project is one finding across the years and MTREFs it affects); the year
    /// only for findings about a municipality's year as a whole (SA36 ≠ A5, unit mix-ups).
    pub exception_id: String,
    /// Finding type (DOMAIN.md §5).
    pub exception_type: &'static str,
    /// `high`, `medium` or `low`.
    pub severity: FindingSeverity,
    /// Municipality.
    pub demarcation_code: String,
    /// The earliest municipal financial year the finding affects, where it has one.
    pub financial_year: Option<FinancialYear>,
    /// Every municipal financial year the finding affects, ascending.
    pub financial_years: Vec<FinancialYear>,
    /// The sphere that would act on it: `municipal`, `metro`, `provincial`, `national`,
    /// `entity` or `analyst`.
    pub owner_sphere: String,
    /// Who in that sphere: a municipality code, a department, a BEPP lead entity, an analyst.
    pub owner: String,
    /// What the owner is asked to do, per finding type.
    pub suggested_action: &'static str,
    /// Rand at stake, summed over the years affected.
    pub amount_at_stake: f64,
    /// Rand at stake ÷ the municipality's capital budget in the years affected (null without a
    /// budget).
    pub share_of_capital_budget: Option<f64>,
    /// Whether it passes the materiality settings (`[exceptions]`).
    pub material: bool,
    /// Ranking score: severity weight × (1 + 100 × share of the capital budget, capped at 1).
    pub priority: f64,
    /// Records involved, `;`-separated.
    pub record_ids: String,
    /// One-line description for a person.
    pub detail: String,
    /// For a bundle of minor findings (one per municipality and type): how many it holds.
    pub bundle_size: Option<i64>,
    /// For a finding below the threshold: the bundle it is counted in.
    pub bundled_in: Option<String>,
}

impl Exception {
    #[allow(clippy::too_many_arguments)]
    fn new(
        kind: &'static str,
        severity: FindingSeverity,
        demarcation_code: String,
        year: Option<FinancialYear>,
        owner: (String, String),
        amount: f64,
        record_ids: String,
        detail: String,
    ) -> Self {
        Self {
            exception_id: String::new(),
            exception_type: kind,
            severity,
            demarcation_code,
            financial_year: year,
            financial_years: year.into_iter().collect(),
            owner_sphere: owner.0,
            owner: owner.1,
            suggested_action: suggested_action(kind),
            amount_at_stake: amount,
            share_of_capital_budget: None,
            material: false,
            priority: 0.0,
            record_ids,
            detail,
            bundle_size: None,
            bundled_in: None,
        }
    }

    /// The years affected, as labels (`2024/25;2025/26`).
    pub fn years_label(&self) -> String {
        self.financial_years
            .iter()
            .map(|y| y.label())
            .collect::<Vec<_>>()
            .join(";")
    }
}

/// What the owner of a finding is asked to do (documented in `docs/metrics.md`).
pub fn suggested_action(kind: &str) -> &'static str {
    match kind {
        "budget_without_idp_basis" => {
            "Show the IDP project this budget line delivers (link it), or add it to the IDP at the next review, or explain why it needs none"
        }
        "bepp_project_missing_from_idp" => "Add the BEPP project to the IDP at the next review, or drop it from the BEPP",
        "bepp_project_missing_from_budget" => {
            "Fund the BEPP project in the capital budget (or say which sphere funds it), or move it out of the BEPP's MTREF years"
        }
        "sector_project_missing_from_idp" => {
            "Department: share the project with the municipality; municipality: reflect it in the IDP's sector projects"
        }
        "variance_over_tolerance" => "Reconcile the two amounts: correct one, or record why the plan and budget differ",
        "sa36_a5_mismatch" => "Correct the SA36 project lines or the A5 capital total so that they reconcile",
        "unit_mixup_suspected" => "Check the source's unit (Rand or R thousand) and correct the pipeline or the file",
        "link_review" => "Confirm or reject the link in the overrides file",
        "stale_override" => "Update or remove the override row",
        _ => "Review",
    }
}

/// Who acts on a finding about record `r`: a BEPP row's lead sphere and entity when it states
/// them (else the metro), a department for departmental projects, else the municipality.
fn owner_of(r: &Record) -> (String, String) {
    let muni = r.demarcation_code.clone().unwrap_or_default();
    let given = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    match r.dataset {
        Dataset::Bepp => match given(&r.lead_sphere).map(|s| s.to_lowercase()) {
            Some(sphere) if sphere != "municipal" && sphere != "metro" => {
                (sphere, given(&r.lead_entity).unwrap_or(muni))
            }
            _ => ("metro".into(), muni),
        },
        Dataset::Departmental => {
            let dept = given(&r.department);
            let sphere = match given(&r.lead_sphere).map(|s| s.to_lowercase()) {
                Some(s) => s,
                None if dept.as_deref().is_some_and(|d| d.to_lowercase().contains("national")) => "national".into(),
                None if r.source.to_lowercase().contains("national") => "national".into(),
                None => "provincial".into(),
            };
            // A provincial department is named with its province (`EC Transport`), from the
            // municipality it works in.
            let province = crate::contracts::reference::Reference::bundled()
                .get(&muni)
                .map(|m| m.province.clone())
                .filter(|_| sphere == "provincial");
            let owner = match (dept, province) {
                (Some(d), Some(p)) if !d.starts_with(&p) => format!("{p} {d}"),
                (Some(d), _) => d,
                (None, Some(p)) => format!("{p} provincial department (not named in {})", r.source),
                (None, None) => format!("department not named in {}", r.source),
            };
            (sphere, owner)
        }
        // An IDP project: its implementing sphere and agent.
        _ => match given(&r.lead_sphere)
            .or_else(|| given(&r.implementing_sphere))
            .map(|s| s.to_lowercase())
        {
            Some(s) if s != "municipal" => (
                s,
                given(&r.lead_entity)
                    .or_else(|| given(&r.implementing_agent))
                    .unwrap_or(muni),
            ),
            _ => ("municipal".into(), muni),
        },
    }
}

fn exception_id(kind: &str, keys: &[String], year: Option<FinancialYear>) -> String {
    let text = format!("{kind}|{}|{}", keys.join("|"), year.map(|y| y.start_year).unwrap_or(0));
    crate::domain::sha256_hex(text.as_bytes())[..16].to_string()
}

/// A record's key across sources and years: dataset, municipality and reference (or normalised
/// name), so the 2024/25 and 2025/26 budgets' lines for one project are one project.
fn project_key(r: &Record) -> String {
    format!(
        "{}|{}|{}",
        r.dataset.as_str(),
        r.demarcation_code.as_deref().unwrap_or(""),
        r.override_key()
    )
}

/// Adds `e` under `id`, merging it into an earlier finding with the same id: years united,
/// amounts summed (one per year: a year seen twice keeps the larger), records united, the highest
/// severity, the latest year's detail.
fn merge_into(out: &mut BTreeMap<String, (Exception, BTreeMap<i32, f64>)>, id: String, mut e: Exception) {
    e.exception_id.clone_from(&id);
    let year_key = e.financial_year.map_or(i32::MIN, |y| y.start_year);
    match out.get_mut(&id) {
        None => {
            let amounts = BTreeMap::from([(year_key, e.amount_at_stake)]);
            out.insert(id, (e, amounts));
        }
        Some((prior, amounts)) => {
            let a = amounts.entry(year_key).or_insert(0.0);
            *a = a.max(e.amount_at_stake);
            prior.amount_at_stake = amounts.values().sum();
            for y in e.financial_years {
                if !prior.financial_years.contains(&y) {
                    prior.financial_years.push(y);
                }
            }
            prior.financial_years.sort_by_key(|y| y.start_year);
            let latest = prior.financial_years.last().copied();
            prior.financial_year = prior.financial_years.first().copied();
            if e.financial_year.is_some() && e.financial_year == latest {
                prior.detail = e.detail;
            }
            if e.severity > prior.severity {
                prior.severity = e.severity;
            }
            let mut ids: Vec<&str> = prior.record_ids.split(';').chain(e.record_ids.split(';')).collect();
            ids.retain(|s| !s.is_empty());
            ids.sort_unstable();
            ids.dedup();
            prior.record_ids = ids.join(";");
        }
    }
}

/// Rand as a person reads it: `R 45.0 m`, `R 1.2 bn`, `R 850 000`.
pub fn rand_text(x: f64) -> String {
    let a = x.abs();
    if a >= 1e9 {
        format!("R {:.1} bn", x / 1e9)
    } else if a >= 100_000.0 {
        format!("R {:.1} m", x / 1e6)
    } else {
        format!("R {x:.0}")
    }
}

/// Builds this run's findings, one per project (or pair, or municipality-year) across the years
/// it affects, sorted by amount at stake (largest first), then id. Unfunded IDP projects and
/// placeholder strategic objectives are measures (`alignment_metrics`), not findings.
pub fn exceptions(records: &[Record], links: &[&Link], variances: &[Variance], sa36: &Totals) -> Vec<Exception> {
    let mut grouped: Grouped = BTreeMap::new();
    unlinked_findings(records, links, &mut grouped);
    variance_findings(records, variances, &mut grouped);
    let mut out: Vec<Exception> = grouped.into_values().map(|(e, _)| e).collect();
    for e in out
        .iter_mut()
        .filter(|e| e.exception_type == "budget_without_idp_basis")
    {
        // Severity on the Rand at stake over all the years the line has no IDP basis.
        if e.amount_at_stake >= 10_000_000.0 {
            e.severity = FindingSeverity::High;
        }
    }
    out.extend(sa36_a5_findings(records, sa36));
    sort_exceptions(&mut out);
    out
}

/// Findings by id, each with its amounts by year (one finding per project across years).
type Grouped = BTreeMap<String, (Exception, BTreeMap<i32, f64>)>;

fn name_of(r: &Record) -> String {
    r.match_name().unwrap_or("(no name)").to_string()
}

/// Budget lines without an IDP project, BEPP projects missing from the IDP or the budget,
/// departmental projects missing from the IDP.
fn unlinked_findings(records: &[Record], links: &[&Link], grouped: &mut Grouped) {
    let linked = Linked::new(links);
    let (budget_linked, bepp_linked, dept_linked, bepp_budgeted) = (
        &linked.budget_idp,
        &linked.bepp_idp,
        &linked.departmental_idp,
        &linked.bepp_budget,
    );
    let mut add =
        |kind: &'static str, severity, r: &Record, year: Option<FinancialYear>, amount: f64, detail: String| {
            let e = Exception::new(
                kind,
                severity,
                r.demarcation_code.clone().unwrap_or_default(),
                year,
                owner_of(r),
                amount,
                r.record_id.clone(),
                detail,
            );
            merge_into(grouped, exception_id(kind, &[project_key(r)], None), e);
        };
    let name = name_of;
    for r in records.iter().filter(|r| r.demarcation_code.is_some()) {
        let id = r.record_id.as_str();
        let amount = r.amount_rand.unwrap_or(0.0);
        match r.dataset {
            Dataset::Budget => {
                if !budget_linked.contains(id) && amount > 0.0 {
                    add(
                        "budget_without_idp_basis",
                        if amount >= 10_000_000.0 {
                            FindingSeverity::High
                        } else {
                            FindingSeverity::Medium
                        },
                        r,
                        r.financial_year,
                        amount,
                        format!("budget line `{}` ({}) has no IDP project", name(r), rand_text(amount)),
                    );
                }
            }
            Dataset::Bepp => {
                if !bepp_linked.contains(id) {
                    add(
                        "bepp_project_missing_from_idp",
                        FindingSeverity::High,
                        r,
                        r.financial_year,
                        amount,
                        format!("BEPP project `{}` is not in the IDP", name(r)),
                    );
                }
                if !bepp_budgeted.contains(id) {
                    add(
                        "bepp_project_missing_from_budget",
                        FindingSeverity::High,
                        r,
                        r.financial_year,
                        amount,
                        format!("BEPP project `{}` has no budget line", name(r)),
                    );
                }
            }
            Dataset::Departmental => {
                if !dept_linked.contains(id) {
                    add(
                        "sector_project_missing_from_idp",
                        FindingSeverity::Medium,
                        r,
                        r.financial_year.map(|y| y.dominant_in(Calendar::Municipal)),
                        amount,
                        format!("departmental project `{}` is not in the municipality's IDP", name(r)),
                    );
                }
            }
            Dataset::Idp | Dataset::Reference => {}
        }
    }
}

/// Linked amounts that differ beyond the tolerance in a year.
fn variance_findings(records: &[Record], variances: &[Variance], grouped: &mut Grouped) {
    let by_id: BTreeMap<&str, &Record> = records.iter().map(|r| (r.record_id.as_str(), r)).collect();
    let name = name_of;
    for v in variances.iter().filter(|v| v.over_tolerance) {
        let (Some(a), Some(b)) = (
            by_id.get(v.left_record_id.as_str()),
            by_id.get(v.right_record_id.as_str()),
        ) else {
            continue;
        };
        let e = Exception::new(
            "variance_over_tolerance",
            FindingSeverity::Medium,
            v.demarcation_code.clone(),
            Some(v.financial_year),
            owner_of(a),
            v.difference.abs(),
            format!("{};{}", v.left_record_id, v.right_record_id),
            format!(
                "{} {}: {} against {} in {}",
                v.link_type.as_str(),
                name(a),
                rand_text(v.left_amount),
                rand_text(v.right_amount),
                v.financial_year.label()
            ),
        );
        merge_into(
            grouped,
            exception_id("variance_over_tolerance", &[project_key(a), project_key(b)], None),
            e,
        );
    }
}

/// Treasury's own rule: SA36 project lines must reconcile with the A5 capital total.
fn sa36_a5_findings(records: &[Record], sa36: &Totals) -> Vec<Exception> {
    let mut out = Vec::new();
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
            let year = FinancialYear::parse(label, Calendar::Municipal, crate::domain::fiscal::YearLabel::Start).ok();
            let mut e = Exception::new(
                "sa36_a5_mismatch",
                FindingSeverity::High,
                muni.clone(),
                year,
                ("municipal".into(), muni.clone()),
                (projects - total).abs(),
                String::new(),
                format!(
                    "{muni} {label}: SA36 project lines total {} but the A5 ({}) total is {}",
                    rand_text(projects),
                    phase.to_uppercase(),
                    rand_text(total)
                ),
            );
            e.exception_id = exception_id("sa36_a5_mismatch", &[format!("{muni}|{phase}")], year);
            out.push(e);
        }
    }
    out
}

/// Types that are material whatever the amount: the data itself is wrong or an analyst's
/// decision no longer applies.
pub const ALWAYS_MATERIAL: &[&str] = &["sa36_a5_mismatch", "unit_mixup_suspected", "stale_override"];

/// Sets each finding's share of the capital budget, `material` and `priority`: material when
/// the Rand at stake is at least `min_rand_at_stake` and at least `min_share_of_capital_budget`
/// of the municipality's capital budget over the years affected (Rand alone where the run has
/// no budget for it), or of an [`ALWAYS_MATERIAL`] type; priority = severity weight (high 3,
/// medium 2, low 1) × (1 + 100 × the share, capped at 1), rounded to 0.01.
pub fn assess(out: &mut [Exception], budgets: &Totals, settings: &ExceptionSettings) {
    for e in out {
        let budget: f64 = budgets.get(&e.demarcation_code).map_or(0.0, |years| {
            e.financial_years.iter().filter_map(|y| years.get(&y.label())).sum()
        });
        e.share_of_capital_budget = (budget > 0.0).then(|| e.amount_at_stake / budget);
        let share = e.share_of_capital_budget.unwrap_or(0.0);
        e.material = ALWAYS_MATERIAL.contains(&e.exception_type)
            || (e.amount_at_stake > 0.0
                && e.amount_at_stake >= settings.min_rand_at_stake
                && e.share_of_capital_budget
                    .is_none_or(|s| s >= settings.min_share_of_capital_budget));
        let weight = match e.severity {
            FindingSeverity::High => 3.0,
            FindingSeverity::Medium => 2.0,
            FindingSeverity::Low => 1.0,
        };
        e.priority = (weight * (1.0 + 100.0 * share.clamp(0.0, 1.0)) * 100.0).round() / 100.0;
    }
}

/// Doubtful links awaiting an analyst's decision, and overrides that no longer match a record.
pub fn review_exceptions(links: &[Link], stale: &[crate::reconcile::overrides::Stale]) -> Vec<Exception> {
    let mut out = Vec::new();
    for l in links.iter().filter(|l| l.band == crate::domain::Band::Review) {
        let mut e = Exception::new(
            "link_review",
            FindingSeverity::Low,
            l.demarcation_code.clone(),
            None,
            ("analyst".into(), "link reviewer".into()),
            0.0,
            format!("{};{}", l.left_record_id, l.right_record_id),
            format!(
                "doubtful {} link (weight {:.1}): `{}` ↔ `{}`; confirm or reject it in the overrides file",
                l.link_type.as_str(),
                l.match_weight,
                l.left_name.as_deref().unwrap_or(""),
                l.right_name.as_deref().unwrap_or("")
            ),
        );
        e.exception_id = exception_id(
            "link_review",
            &[l.left_record_id.clone(), l.right_record_id.clone()],
            None,
        );
        out.push(e);
    }
    for s in stale {
        let o = &s.over;
        let mut e = Exception::new(
            "stale_override",
            FindingSeverity::Medium,
            o.municipality.clone().unwrap_or_default(),
            None,
            ("analyst".into(), o.decided_by.clone()),
            0.0,
            String::new(),
            format!(
                "override row {} ({} by {}): {}",
                o.row,
                o.link_type.as_str(),
                o.decided_by,
                s.reason
            ),
        );
        e.exception_id = exception_id(
            "stale_override",
            &[match &o.municipality {
                None => format!("{}|{}|{}|{}", o.left_label, o.left_key, o.right_label, o.right_key),
                Some(m) => format!("{m}|{}|{}|{}|{}", o.left_label, o.left_key, o.right_label, o.right_key),
            }],
            None,
        );
        out.push(e);
    }
    out
}

/// Sorts material findings first, then by priority and amount at stake (largest first), then
/// id, and keeps one row per id.
pub fn sort_exceptions(out: &mut Vec<Exception>) {
    out.sort_by(|a, b| {
        b.material
            .cmp(&a.material)
            .then_with(|| b.priority.total_cmp(&a.priority))
            .then_with(|| b.amount_at_stake.total_cmp(&a.amount_at_stake))
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
        let mut e = Exception::new(
            "unit_mixup_suspected",
            FindingSeverity::High,
            muni.to_string(),
            year,
            ("municipal".into(), muni.to_string()),
            amount,
            String::new(),
            detail,
        );
        e.exception_id = exception_id("unit_mixup_suspected", &[key], year);
        out.push(e);
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
                        FinancialYear::parse(label, Calendar::Municipal, crate::domain::fiscal::YearLabel::Start).ok();
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

#[cfg(test)]
mod finding_tests {
    use super::*;
    use crate::contracts::validate::AmountValue;

    fn fy(y: i32) -> FinancialYear {
        FinancialYear::new(Calendar::Municipal, y)
    }

    fn rec(id: &str, source: &str, dataset: Dataset, muni: &str, year: i32, rand: f64) -> Record {
        Record {
            project_ref: Some(format!("REF-{}", id.split(':').next().unwrap_or(id))),
            project_name: Some(format!("Project {id}")),
            strategic_objective: Some("OWN MUNICIPAL STRATEGIC OBJECTIVE".into()),
            financial_year: Some(fy(year)),
            amount_rand: Some(rand),
            amounts: vec![AmountValue {
                year: fy(year),
                phase: if dataset == Dataset::Budget {
                    "budget"
                } else {
                    "planned"
                }
                .into(),
                rand,
            }],
            ..Record::bare(&format!("{source}:{id}:{year}"), source, dataset, muni)
        }
    }

    #[test]
    fn a_bepp_project_over_three_years_is_one_finding_with_its_years() {
        let mut records: Vec<Record> = (2024..=2026)
            .map(|y| {
                let mut r = rec("p1", "bepp", Dataset::Bepp, "BUF", y, 2_000_000.0);
                r.lead_sphere = Some("provincial".into());
                r.lead_entity = Some("EC Human Settlements".into());
                r
            })
            .collect();
        // The same budget line in two MTREFs (two sources) is one finding too.
        records.push(rec("b1", "budget_2024", Dataset::Budget, "BUF", 2024, 5_000_000.0));
        records.push(rec("b1", "budget_2025", Dataset::Budget, "BUF", 2025, 6_000_000.0));
        let found = exceptions(&records, &[], &[], &Totals::new());
        let bepp: Vec<&Exception> = found
            .iter()
            .filter(|e| e.exception_type == "bepp_project_missing_from_idp")
            .collect();
        assert_eq!(bepp.len(), 1, "{found:#?}");
        let e = bepp[0];
        assert_eq!(e.financial_years, [fy(2024), fy(2025), fy(2026)]);
        assert_eq!(e.financial_year, Some(fy(2024)));
        assert_eq!(e.amount_at_stake, 6_000_000.0);
        assert_eq!(e.record_ids.split(';').count(), 3);
        assert_eq!(
            (e.owner_sphere.as_str(), e.owner.as_str()),
            ("provincial", "EC Human Settlements")
        );
        let budget: Vec<&Exception> = found
            .iter()
            .filter(|e| e.exception_type == "budget_without_idp_basis")
            .collect();
        assert_eq!(budget.len(), 1, "{found:#?}");
        assert_eq!(budget[0].financial_years, [fy(2024), fy(2025)]);
        assert_eq!(budget[0].amount_at_stake, 11_000_000.0);
        assert_eq!(
            budget[0].severity,
            FindingSeverity::High,
            "the highest severity of its years"
        );
        assert_eq!(
            (budget[0].owner_sphere.as_str(), budget[0].owner.as_str()),
            ("municipal", "BUF")
        );
        assert!(budget[0].detail.contains("R 6.0 m"), "{}", budget[0].detail);
        assert!(!budget[0].suggested_action.is_empty());
        // A provincial department named in the IRM owns its project's finding.
        let mut irm = rec("d1", "irm", Dataset::Departmental, "EC121", 2024, 3_000_000.0);
        irm.department = Some("Education".into());
        let found = exceptions(&[irm], &[], &[], &Totals::new());
        assert_eq!(
            (found[0].owner_sphere.as_str(), found[0].owner.as_str()),
            ("provincial", "EC Education")
        );
    }

    #[test]
    fn unfunded_idp_projects_and_placeholder_objectives_are_measures_not_findings() {
        let records = vec![
            rec("i1", "idp", Dataset::Idp, "EC121", 2024, 3_000_000.0),
            rec("i2", "idp", Dataset::Idp, "EC121", 2024, 4_000_000.0),
            rec("b1", "budget", Dataset::Budget, "EC121", 2024, 2_000_000.0),
        ];
        let found = exceptions(&records, &[], &[], &Totals::new());
        let types: BTreeSet<&str> = found.iter().map(|e| e.exception_type).collect();
        assert_eq!(types, BTreeSet::from(["budget_without_idp_basis"]), "{found:#?}");
        let df = alignment_metrics(&records, &[], &[], &[]).unwrap();
        let pick = |metric: &str| {
            let m = df.column("metric").unwrap().str().unwrap().clone();
            let level = df.column("level").unwrap().str().unwrap().clone();
            let num = df.column("numerator").unwrap().f64().unwrap().clone();
            let den = df.column("denominator").unwrap().f64().unwrap().clone();
            (0..df.height())
                .find(|&i| m.get(i) == Some(metric) && level.get(i) == Some("municipality"))
                .map(|i| (num.get(i).unwrap(), den.get(i).unwrap()))
                .unwrap_or_else(|| panic!("{metric} missing: {df}"))
        };
        // Two IDP project-years, none funded: 2 unfunded = denominator − numerator.
        assert_eq!(pick("idp_projects_funded_share"), (0.0, 2.0));
        // One budget line with a placeholder objective.
        assert_eq!(pick("placeholder_objective_share"), (1.0, 1.0));
    }

    #[test]
    fn materiality_needs_the_rand_and_the_share_and_priority_ranks_by_share() {
        let records = vec![
            rec("big", "budget", Dataset::Budget, "EC121", 2024, 30_000_000.0),
            rec("mid", "budget", Dataset::Budget, "EC121", 2024, 2_000_000.0),
            rec("small", "budget", Dataset::Budget, "EC121", 2024, 400_000.0),
            rec("metro", "budget", Dataset::Budget, "BUF", 2024, 2_000_000.0),
        ];
        let mut found = exceptions(&records, &[], &[], &Totals::new());
        let totals: Totals = BTreeMap::from([
            (
                "EC121".to_string(),
                BTreeMap::from([("2024/25".to_string(), 100_000_000.0)]),
            ),
            (
                "BUF".to_string(),
                BTreeMap::from([("2024/25".to_string(), 5_000_000_000.0)]),
            ),
        ]);
        assess(&mut found, &totals, &ExceptionSettings::default());
        sort_exceptions(&mut found);
        let summary: Vec<(&str, bool, f64)> = found
            .iter()
            .map(|e| (e.demarcation_code.as_str(), e.material, e.priority))
            .collect();
        assert_eq!(
            summary,
            [
                ("EC121", true, 93.0), // high: 3 × (1 + 100 × 0.30)
                ("EC121", true, 6.0),  // medium: 2 × (1 + 100 × 0.02)
                ("EC121", false, 2.8), // under R1m
                ("BUF", false, 2.08),  // R2m is 0.04% of a metro's budget
            ]
        );
    }
}

//! Reconciliation v0: linking the same project across datasets, then comparing amounts.
//!
//! Links are made within a municipality (the block), in two stages per link type: first exact
//! links on shared identifiers (the mSCOA project number in the IDP or BEPP, the IDP reference in
//! the BEPP), then, for records still unlinked, the most similar project name above the
//! pipeline's threshold. A long-form source has one record per project per year, so a link goes
//! to every record of the matched project. Each link carries its evidence: the identifier that
//! matched or the name similarity. Variances compare the two sides of each link year by year.

mod claims;
pub mod em;
pub mod facility;
pub use crate::names;
pub mod overrides;
pub mod priorities;
pub mod register;
pub mod score;
mod settings;
pub use settings::ReconcileSettings;
pub mod variance;
pub use variance::{variances, Variance};
#[cfg(test)]
mod tests;

use crate::contracts::Dataset;
use crate::domain::{Band, Method};
use crate::records::Record;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// Which two datasets a link joins (left ↔ right).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LinkType {
    /// Budget line ↔ IDP project.
    BudgetIdp,
    /// BEPP project ↔ IDP project.
    BeppIdp,
    /// BEPP project ↔ budget line.
    BeppBudget,
    /// Departmental project ↔ IDP project.
    DepartmentalIdp,
    /// Departmental project ↔ budget line.
    DepartmentalBudget,
}

impl LinkType {
    /// Every link type, in output order.
    pub const ALL: [LinkType; 5] = [
        LinkType::BudgetIdp,
        LinkType::BeppIdp,
        LinkType::BeppBudget,
        LinkType::DepartmentalIdp,
        LinkType::DepartmentalBudget,
    ];

    /// The name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkType::BudgetIdp => "budget_idp",
            LinkType::BeppIdp => "bepp_idp",
            LinkType::BeppBudget => "bepp_budget",
            LinkType::DepartmentalIdp => "departmental_idp",
            LinkType::DepartmentalBudget => "departmental_budget",
        }
    }

    /// (left dataset, right dataset).
    pub fn datasets(self) -> (Dataset, Dataset) {
        match self {
            LinkType::BudgetIdp => (Dataset::Budget, Dataset::Idp),
            LinkType::BeppIdp => (Dataset::Bepp, Dataset::Idp),
            LinkType::BeppBudget => (Dataset::Bepp, Dataset::Budget),
            LinkType::DepartmentalIdp => (Dataset::Departmental, Dataset::Idp),
            LinkType::DepartmentalBudget => (Dataset::Departmental, Dataset::Budget),
        }
    }

    /// The shared identifier for exact links: (left field, right field), if any.
    fn identifier(self, r: &Record, left: bool) -> Option<&str> {
        match (self, left) {
            (LinkType::BudgetIdp, _) | (LinkType::BeppBudget, _) => r.mscoa_project_number.as_deref(),
            (LinkType::BeppIdp, _) => r.idp_project_ref.as_deref(),
            _ => None,
        }
    }

    /// The share of left records expected to have a counterpart on the right: the prior of
    /// the match probability. Most budget lines are projects of the IDP (it must list what the
    /// budget funds); many BEPP projects are catalytic programmes of their own; a provincial
    /// project is often listed among the IDP's sector projects, but is in the municipal budget
    /// only when the municipality implements it.
    pub fn expected_counterpart_share(self) -> f64 {
        match self {
            LinkType::BudgetIdp => 0.8,
            LinkType::BeppIdp => 0.7,
            LinkType::BeppBudget => 0.6,
            LinkType::DepartmentalIdp => 0.6,
            LinkType::DepartmentalBudget => 0.25,
        }
    }

    /// The weight of "no counterpart here" for this link type: the pipeline's
    /// `no_match_weight` (set for budget ↔ IDP, where 80% of left records have a counterpart),
    /// moved by the log odds of this link type's prior against that one.
    pub fn no_match_weight(self, base: f64) -> f64 {
        let odds = |p: f64| p / (1.0 - p);
        let reference = LinkType::BudgetIdp.expected_counterpart_share();
        base + (odds(reference) / odds(self.expected_counterpart_share())).log2()
    }

    fn identifier_name(self) -> &'static str {
        match self {
            LinkType::BudgetIdp | LinkType::BeppBudget => "mscoa_project_number",
            LinkType::BeppIdp => "idp_project_ref",
            _ => "",
        }
    }
}

/// One link between two records, with its evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// Left record (the first dataset of the link type).
    pub left_record_id: String,
    /// Right record.
    pub right_record_id: String,
    /// Which datasets are joined.
    pub link_type: LinkType,
    /// `exact_identifier`, `probabilistic` or `override`.
    pub method: Method,
    /// Term-weighted name similarity (0–1) of the two records.
    pub score: f64,
    /// The municipality both records are in.
    pub demarcation_code: String,
    /// Which identifier matched (exact links).
    pub matched_on: Option<String>,
    /// The identifier value that matched (exact links).
    pub matched_value: Option<String>,
    /// Name similarity of the two records (always computed when both have names).
    pub name_similarity: Option<f64>,
    /// The names compared.
    pub left_name: Option<String>,
    /// The names compared.
    pub right_name: Option<String>,
    /// `accept` or `review` (doubtful: left out of metrics, listed as an exception).
    pub band: Band,
    /// Fellegi–Sunter match weight (sum of the comparisons' log2(m/u)).
    pub match_weight: f64,
    /// Every comparison with its level and weight, as JSON.
    pub evidence: String,
}

#[cfg(test)]
impl Link {
    /// An accepted link between two records for tests: exact method, weight 10, no evidence;
    /// tests set what they check with struct-update syntax.
    pub(crate) fn bare(left: &str, right: &str, link_type: LinkType, muni: &str) -> Link {
        Link {
            left_record_id: left.into(),
            right_record_id: right.into(),
            link_type,
            method: Method::ExactIdentifier,
            score: 1.0,
            demarcation_code: muni.into(),
            matched_on: None,
            matched_value: None,
            name_similarity: None,
            left_name: None,
            right_name: None,
            band: Band::Accept,
            match_weight: 10.0,
            evidence: "[]".into(),
        }
    }
}

/// How many candidates per record go on to full scoring (the best by weighted Dice).
pub const MAX_CANDIDATES: usize = 12;

/// The model one link type was scored with, as published in the `link_model` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelUsed {
    /// Link type.
    pub link_type: LinkType,
    /// The m and u used.
    pub model: score::Model,
    /// Candidate pairs EM looked at (0 when not estimated).
    pub pairs: u64,
    /// EM's estimated share of matches among them.
    pub lambda: Option<f64>,
    /// EM iterations.
    pub iterations: u32,
    /// Why an estimate was not used, when one was tried.
    pub note: Option<String>,
}

/// Left records per block that EM samples (evenly spaced), to bound its cost in large metros.
const EM_LEFTS_PER_BLOCK: usize = 120;

/// What a caller sees of linking while it runs: how many municipality blocks there are, each
/// one done, and whether to stop (checked per block and every [`CANCEL_EVERY`] records inside
/// one, so a cancel takes effect within a fraction of a second).
pub trait LinkObserver: Sync {
    /// The number of block passes linking will make (EM's sampling pass included).
    fn blocks(&self, _total: u64) {}
    /// One block pass done (called from any thread).
    fn block_done(&self) {}
    /// Whether linking should stop.
    fn cancelled(&self) -> bool {
        false
    }
    /// Pairs compared, comparison by comparison, once linking has ended (for the benchmark's
    /// pairs per second).
    fn pairs_compared(&self, _pairs: u64) {}
}

/// Watches nothing and never cancels.
struct Unobserved;

impl LinkObserver for Unobserved {}

/// Records of a block linked between two looks at the cancel flag.
const CANCEL_EVERY: usize = 32;

/// Links every pair of datasets within each municipality; returns the links and, per link type,
/// the model they were scored with.
pub fn link(records: &[Record], settings: &ReconcileSettings) -> (Vec<Link>, Vec<ModelUsed>) {
    link_observed(records, settings, &Unobserved).unwrap_or_default()
}

/// [`link`], reporting progress to `observer` and giving up (`None`) once it says cancelled.
pub fn link_observed(
    records: &[Record],
    settings: &ReconcileSettings,
    observer: &dyn LinkObserver,
) -> Option<(Vec<Link>, Vec<ModelUsed>)> {
    use rayon::prelude::*;
    // Names, wards and years are prepared once per record, not once per pair.
    let prepared: Vec<score::Prepared> = records.par_iter().map(score::Prepared::new).collect();
    let identities: Vec<String> = records.par_iter().map(project_identity).collect();
    let mut blocks: BTreeMap<(&str, Dataset), Vec<usize>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        if let Some(code) = r.demarcation_code.as_deref() {
            blocks.entry((code, r.dataset)).or_default().push(i);
        }
    }
    let munis: Vec<&str> = {
        let mut m: Vec<&str> = blocks.keys().map(|(c, _)| *c).collect();
        m.dedup();
        m
    };
    // Blocks are independent: link them on every core (the order is restored by the sort).
    let jobs: Vec<(LinkType, &str)> = LinkType::ALL
        .iter()
        .flat_map(|lt| munis.iter().map(move |m| (*lt, *m)))
        .collect();
    let block = Block {
        records,
        prepared: &prepared,
        identities: &identities,
        settings,
        observer,
        pairs: std::sync::atomic::AtomicU64::new(0),
        spread: score::Spread::of(records, &prepared).map(std::sync::Arc::new),
    };
    let passes = if settings.estimate_model { 2 } else { 1 };
    observer.blocks((jobs.len() * passes) as u64);
    fn sides_of<'m, 'b>(
        blocks: &'b BTreeMap<(&'m str, Dataset), Vec<usize>>,
        lt: LinkType,
        muni: &'m str,
    ) -> Option<(&'b Vec<usize>, &'b Vec<usize>)> {
        let (ld, rd) = lt.datasets();
        blocks.get(&(muni, ld)).zip(blocks.get(&(muni, rd)))
    }
    let sides = |lt: LinkType, muni| sides_of(&blocks, lt, muni);
    let start = score::Model::with_levels(&settings.model_levels);
    let models: Vec<ModelUsed> = LinkType::ALL
        .iter()
        .map(|&lt| {
            if !settings.estimate_model {
                return ModelUsed {
                    link_type: lt,
                    model: start.clone(),
                    pairs: 0,
                    lambda: None,
                    iterations: 0,
                    note: None,
                };
            }
            let patterns = jobs
                .par_iter()
                .filter(|(t, _)| *t == lt)
                .map(|(_, muni)| {
                    let found = match sides(lt, muni) {
                        Some((lefts, rights)) if !observer.cancelled() => block.patterns(lt, lefts, rights),
                        _ => FxHashMap::default(),
                    };
                    observer.block_done();
                    found
                })
                .reduce(FxHashMap::default, |mut a, b| {
                    for (p, n) in b {
                        *a.entry(p).or_default() += n;
                    }
                    a
                });
            let est = em::estimate(&patterns, &start, settings.em_max_iterations);
            ModelUsed {
                link_type: lt,
                model: est.model,
                pairs: est.pairs,
                lambda: Some(est.lambda),
                iterations: est.iterations,
                note: est.rejected,
            }
        })
        .collect();
    let model_of = |lt: LinkType| &models[LinkType::ALL.iter().position(|x| *x == lt).unwrap_or(0)].model;
    let mut links: Vec<Link> = jobs
        .par_iter()
        .flat_map_iter(|(lt, muni)| {
            let mut out = Vec::new();
            if let Some((lefts, rights)) = sides(*lt, muni).filter(|_| !observer.cancelled()) {
                block.link(*lt, model_of(*lt), muni, lefts, rights, &mut out);
            }
            observer.block_done();
            out
        })
        .collect();
    observer.pairs_compared(block.pairs.load(std::sync::atomic::Ordering::Relaxed));
    if observer.cancelled() {
        return None;
    }
    links.sort_by(|a, b| {
        (a.link_type, &a.left_record_id, &a.right_record_id).cmp(&(b.link_type, &b.left_record_id, &b.right_record_id))
    });
    Some((links, models))
}

/// Whether a record's prepared name is `name` (the same profile, or equal tokens).
fn same_name(a: Option<&score::NameProfile>, name: &score::NameProfile) -> bool {
    a.is_some_and(|a| std::ptr::eq(a, name) || a.tokens == name.tokens)
}

/// The identity of a project within a dataset: its reference, else its name.
fn project_identity(r: &Record) -> String {
    r.project_ref
        .clone()
        .or_else(|| r.match_name().map(|n| names::tokens(n).join(" ")))
        .unwrap_or_else(|| r.record_id.clone())
}

/// Everything one municipality's blocks are linked with: the records and their prepared forms
/// (both indexed alike) and the settings.
struct Block<'a> {
    records: &'a [Record],
    prepared: &'a [score::Prepared],
    /// Each record's [`project_identity`] (indexed alike).
    identities: &'a [String],
    settings: &'a ReconcileSettings,
    observer: &'a dyn LinkObserver,
    /// Pairs compared so far (all threads).
    pairs: std::sync::atomic::AtomicU64,
    /// How widely each name word is used across the run's municipalities.
    spread: Option<std::sync::Arc<score::Spread>>,
}

/// The right-hand side of one block, indexed for finding candidates.
struct RightIndex<'a> {
    /// Right records by shared identifier.
    by_id: BTreeMap<&'a str, Vec<usize>>,
    /// Projects (a long-form source has one record per year), each its records.
    projects: Vec<Vec<usize>>,
    /// Record → its project (index into `projects`).
    project_of: FxHashMap<usize, usize>,
    /// Each project's name: its first record's that has one.
    names: Vec<Option<&'a score::NameProfile>>,
    /// Term weights over the projects' names.
    tw: score::TermWeights,
    /// Token → projects whose name has it.
    index: FxHashMap<&'a str, Vec<usize>>,
    /// Each project's total token weight.
    weight: Vec<f64>,
    /// Projects above which a token is too common to make candidates alone.
    common_limit: usize,
    /// Ward code → projects in that ward (for records without a name).
    by_ward: FxHashMap<&'a str, Vec<usize>>,
    /// Ward code → projects without a name in that ward (for a named record no named project
    /// was found for).
    nameless_by_ward: FxHashMap<&'a str, Vec<usize>>,
    /// Number in the name → projects whose name has it.
    by_number: FxHashMap<u64, Vec<usize>>,
    /// First four letters of a word → projects whose name has such a word (for a left word
    /// cut short, misspelt after its fourth letter or abbreviated: `Kimberl`, `Keiskammahoek`).
    by_prefix: FxHashMap<&'a str, Vec<usize>>,
    /// A word's letters, sorted → projects whose name has such a word (for a left word with
    /// two letters swapped: `Gelnwood`).
    by_letters: FxHashMap<Vec<u8>, Vec<usize>>,
    /// A word's consonant outline → projects whose name has such a word (for a left word
    /// written without its vowels: `Tngt Vllg`, `Strmwtr`).
    by_outline: FxHashMap<[u8; 4], Vec<usize>>,
}

impl RightIndex<'_> {
    /// The weight of project `k`'s name words that are in `ignore` (a department's own words).
    fn ignored_weight(&self, k: usize, ignore: &std::collections::BTreeSet<String>) -> f64 {
        // Both sorted: the shared words come in the same order either way, and a name has
        // fewer words than a department has ignored ones.
        self.names[k].filter(|_| !ignore.is_empty()).map_or(0.0, |n| {
            n.tokens
                .iter()
                .filter(|t| ignore.contains(*t))
                .map(|t| self.tw.weight(t))
                .sum()
        })
    }
}

/// A word's letters, sorted, for words of five letters or more.
fn letters(t: &str) -> Option<Vec<u8>> {
    (t.len() >= 5).then(|| {
        let mut b = t.as_bytes().to_vec();
        b.sort_unstable();
        b
    })
}

/// The first four letters of a word of four (ASCII) letters or more: a word cut to four letters
/// (`JOHA`, `CENT`) is its own prefix, found from the word it was cut from.
fn prefix4(t: &str) -> Option<&str> {
    (t.len() >= 4 && t.is_ascii()).then(|| &t[..4])
}

impl<'a> Block<'a> {
    fn right_index(&self, lt: LinkType, rights: &[usize]) -> RightIndex<'a> {
        let (records, prepared) = (self.records, self.prepared);
        let mut by_id: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for &r in rights {
            if let Some(id) = lt.identifier(&records[r], false) {
                by_id.entry(id).or_default().push(r);
            }
        }
        let mut by_project: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for &r in rights {
            by_project.entry(&self.identities[r]).or_default().push(r);
        }
        let projects: Vec<Vec<usize>> = by_project.into_values().collect();
        let project_of: FxHashMap<usize, usize> = projects
            .iter()
            .enumerate()
            .flat_map(|(k, rs)| rs.iter().map(move |&r| (r, k)))
            .collect();
        let names: Vec<Option<&score::NameProfile>> = projects
            .iter()
            .map(|rs| rs.iter().find_map(|&r| prepared[r].name.as_ref()))
            .collect();
        let tw = score::TermWeights::from_profiles(names.iter().flatten().copied()).with_spread(self.spread.clone());
        // Blocking within the municipality through an inverted index of name tokens: a candidate
        // shares at least one token that is not common (in more than a fifth of the block's
        // projects, once the block is large). Shared token weights accumulate per candidate,
        // which gives the term-weighted Dice without comparing every pair.
        let mut index: FxHashMap<&str, Vec<usize>> = FxHashMap::default();
        let mut by_prefix: FxHashMap<&str, Vec<usize>> = FxHashMap::default();
        let mut by_letters: FxHashMap<Vec<u8>, Vec<usize>> = FxHashMap::default();
        let mut by_outline: FxHashMap<[u8; 4], Vec<usize>> = FxHashMap::default();
        let mut weight: Vec<f64> = vec![0.0; projects.len()];
        for (k, name) in names.iter().enumerate() {
            if let Some(p) = name {
                weight[k] = p.tokens.iter().map(|t| tw.weight(t)).sum();
                for t in &p.tokens {
                    index.entry(t.as_str()).or_default().push(k);
                    if let Some(pre) = prefix4(t) {
                        let ks = by_prefix.entry(pre).or_default();
                        if ks.last() != Some(&k) {
                            ks.push(k);
                        }
                    }
                    if let Some(l) = letters(t) {
                        let ks = by_letters.entry(l).or_default();
                        if ks.last() != Some(&k) {
                            ks.push(k);
                        }
                    }
                    // Words of five letters or more, and four-letter words without a vowel
                    // (`DMBZ` for Dimbaza).
                    let vowelless = t.len() == 4 && !t.bytes().any(names::is_vowel);
                    if let Some(o) = names::outline(t).filter(|_| t.len() >= 5 || vowelless) {
                        let ks = by_outline.entry(o).or_default();
                        if ks.last() != Some(&k) {
                            ks.push(k);
                        }
                    }
                }
            }
        }
        let mut by_number: FxHashMap<u64, Vec<usize>> = FxHashMap::default();
        for (k, name) in names.iter().enumerate() {
            for n in name.iter().flat_map(|p| p.numbers.iter()) {
                by_number.entry(*n).or_default().push(k);
            }
        }
        let mut by_ward: FxHashMap<&str, Vec<usize>> = FxHashMap::default();
        let mut nameless_by_ward: FxHashMap<&str, Vec<usize>> = FxHashMap::default();
        for (k, rs) in projects.iter().enumerate() {
            if let Some(wards) = rs.iter().find_map(|&r| prepared[r].wards.as_ref()) {
                for w in wards {
                    by_ward.entry(w.as_str()).or_default().push(k);
                    if names[k].is_none() {
                        nameless_by_ward.entry(w.as_str()).or_default().push(k);
                    }
                }
            }
        }
        let common_limit = if projects.len() > 50 {
            projects.len() / 5
        } else {
            usize::MAX
        };
        RightIndex {
            by_id,
            projects,
            project_of,
            names,
            tw,
            index,
            weight,
            common_limit,
            by_ward,
            nameless_by_ward,
            by_number,
            by_prefix,
            by_letters,
            by_outline,
        }
    }

    /// The best candidate projects for a left name by weighted Dice, best first (none when the
    /// name shares only common words and numbers with the block). Words in `ignore` (a
    /// department's own name) count on neither side. `shared` is scratch space, one slot per
    /// project, left zeroed.
    fn candidates(
        &self,
        ri: &RightIndex<'_>,
        lname: &score::NameProfile,
        ignore: &std::collections::BTreeSet<String>,
        shared: &mut [f64],
    ) -> Vec<usize> {
        let n = ri.projects.len() as f64;
        let number_weight = |ks: &[usize]| ((n + 1.0) / (ks.len() as f64 + 0.5)).ln().max(0.1);
        let lweight: f64 = lname
            .tokens
            .iter()
            .filter(|t| !ignore.contains(*t))
            .map(|t| ri.tw.weight(t))
            .sum::<f64>()
            + lname
                .numbers
                .iter()
                .filter_map(|x| ri.by_number.get(x))
                .map(|ks| number_weight(ks))
                .sum::<f64>();
        let mut blocked = false;
        let mut touched: Vec<usize> = Vec::new();
        let mut touch = |k: usize, w: f64, shared: &mut [f64]| {
            if shared[k] == 0.0 {
                touched.push(k);
            }
            shared[k] += w;
        };
        for t in lname.tokens.iter().filter(|t| !ignore.contains(*t)) {
            if let Some(ks) = ri.index.get(t.as_str()) {
                blocked |= ks.len() <= ri.common_limit;
                let wt = ri.tw.weight(t);
                for &k in ks {
                    touch(k, wt, shared);
                }
                // The block has the word, and may also have it shortened or without its vowels
                // in other names (`ALBER`, `MSPHMLL` beside `Alberton`, `Masiphumelele`): those
                // projects are touched too, once, as rare as the word.
                if t.len() >= 5 {
                    let mut short: Vec<usize> = [
                        prefix4(t).and_then(|p| ri.by_prefix.get(p)),
                        names::outline(t).and_then(|o| ri.by_outline.get(&o)),
                    ]
                    .into_iter()
                    .flatten()
                    .flatten()
                    .copied()
                    .filter(|k| ks.binary_search(k).is_err())
                    .collect();
                    short.sort_unstable();
                    short.dedup();
                    if !short.is_empty() {
                        blocked |= short.len() <= ri.common_limit;
                        let wp = 0.8 * wt.min(number_weight(&short));
                        for k in short {
                            touch(k, wp, shared);
                        }
                    }
                }
            } else {
                // A word the block does not have: the block's words that begin alike (a word
                // cut short or misspelt late) or have the same letters (two swapped), weighed
                // as rare as they are.
                let alike = (t.len() >= 4 && t.is_ascii())
                    .then(|| &t[..4])
                    .and_then(|p| ri.by_prefix.get(p));
                let swapped = letters(t).and_then(|l| ri.by_letters.get(&l));
                // Written without vowels: only when nothing begins alike, so a word is not
                // counted twice.
                let unvowelled = match alike {
                    None => names::outline(t).and_then(|o| ri.by_outline.get(&o)),
                    Some(_) => None,
                };
                // Two words written as one whose first part is shortened (`RHBBLOEMFONTEIN`):
                // the longest ending that is a word of the block.
                let joined = (t.len() >= 8 && t.is_ascii())
                    .then(|| (3..=t.len() - 4).find_map(|k| ri.index.get(&t[k..])))
                    .flatten();
                for ks in [alike, swapped, unvowelled, joined].into_iter().flatten() {
                    blocked |= ks.len() <= ri.common_limit;
                    let wp = 0.8 * number_weight(ks);
                    for &k in ks {
                        touch(k, wp, shared);
                    }
                }
            }
        }
        // A shared number (`Ext 8`, `Phase 2`) makes a candidate too, and counts like a word
        // in the ranking, so a typo in the one rare word does not hide the right project.
        for x in &lname.numbers {
            if let Some(ks) = ri.by_number.get(x) {
                blocked |= ks.len() <= ri.common_limit;
                let wn = number_weight(ks);
                for &k in ks {
                    touch(k, wn, shared);
                }
            }
        }
        let mut ranked: Vec<(f64, usize)> = touched
            .into_iter()
            .map(|k| {
                let w = std::mem::take(&mut shared[k]);
                (
                    2.0 * w / (lweight + ri.weight[k] - ri.ignored_weight(k, ignore)).max(1e-9),
                    k,
                )
            })
            .collect();
        if !blocked {
            return Vec::new();
        }
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        ranked.truncate(MAX_CANDIDATES);
        ranked.into_iter().map(|(_, k)| k).collect()
    }

    /// The project's record to compare with: one with a year in common (long-form rows).
    fn representative(&self, ri: &RightIndex<'_>, k: usize, left_years: &[i32]) -> usize {
        let rs = &ri.projects[k];
        rs.iter()
            .copied()
            .find(|&r| score::sorted_overlap(&self.prepared[r].years, left_years))
            .unwrap_or(rs[0])
    }

    /// Budget lines of the same name and kind of work as the identified lines `rs`, in other
    /// projects of the block (one project's lines split over funds), for link types whose right
    /// side is the budget.
    fn fund_split_lines(&self, ri: &RightIndex<'_>, lt: LinkType, rs: &[usize]) -> Vec<usize> {
        if lt.datasets().1 != Dataset::Budget {
            return Vec::new();
        }
        let mut own: Vec<usize> = rs.iter().filter_map(|r| ri.project_of.get(r).copied()).collect();
        own.sort_unstable();
        own.dedup();
        let mut out = Vec::new();
        for &k in &own {
            let Some(name) = ri.names[k] else { continue };
            // The name's rarest word lists every project that could have the same name.
            let Some(ks) = name
                .tokens
                .iter()
                .filter_map(|t| ri.index.get(t.as_str()))
                .min_by_key(|ks| ks.len())
            else {
                continue;
            };
            for &j in ks {
                if own.binary_search(&j).is_err() && self.namesakes(ri, j, k) {
                    out.extend(ri.projects[j].iter().copied());
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Compares records `l` and `r` (`name`: their names' comparison when already known),
    /// counting the pair.
    fn compare(&self, l: usize, r: usize, tw: &score::TermWeights, name: Option<score::NameMatch>) -> score::Outcomes {
        self.pairs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        score::outcomes_given(
            &self.records[l],
            &self.records[r],
            &self.prepared[l],
            &self.prepared[r],
            tw,
            name,
        )
    }

    /// The comparison patterns of a sample of the block's candidate pairs, for EM.
    fn patterns(&self, lt: LinkType, lefts: &[usize], rights: &[usize]) -> FxHashMap<em::Pattern, u64> {
        let ri = self.right_index(lt, rights);
        let mut shared = vec![0.0; ri.projects.len()];
        let mut out: FxHashMap<em::Pattern, u64> = FxHashMap::default();
        let step = lefts.len().div_ceil(EM_LEFTS_PER_BLOCK).max(1);
        for (i, &l) in lefts.iter().step_by(step).enumerate() {
            if i % CANCEL_EVERY == 0 && self.observer.cancelled() {
                break;
            }
            let lp = &self.prepared[l];
            let Some(lname) = lp.name.as_ref() else { continue };
            for k in self.candidates(&ri, lname, &lp.ignore, &mut shared) {
                let rep = self.representative(&ri, k, &lp.years);
                let o = self.compare(l, rep, &ri.tw, None);
                let p: em::Pattern = std::array::from_fn(|c| o[c].level.unwrap_or(em::MISSING));
                *out.entry(p).or_default() += 1;
            }
        }
        out
    }

    fn link(
        &self,
        lt: LinkType,
        model: &score::Model,
        muni: &str,
        lefts: &[usize],
        rights: &[usize],
        out: &mut Vec<Link>,
    ) {
        let ri = self.right_index(lt, rights);
        let site = Site {
            lt,
            model,
            muni,
            ri: &ri,
        };
        let mut shared: Vec<f64> = vec![0.0; ri.projects.len()];
        let mut claims = claims::Claims::default();
        let mut pending: Vec<(usize, Decision)> = Vec::new();
        let mut nameless: Vec<usize> = Vec::new();
        let mut retry: Vec<(usize, Vec<Scored>)> = Vec::new();
        for (i, &l) in lefts.iter().enumerate() {
            if i % CANCEL_EVERY == 0 && self.observer.cancelled() {
                return;
            }
            if let Some((id, rs)) = lt
                .identifier(&self.records[l], true)
                .and_then(|id| Some((id, ri.by_id.get(id)?)))
            {
                self.link_identified(&site, l, id, rs, &mut claims, out);
                continue;
            }
            let Some(lname) = self.prepared[l].name.as_ref() else {
                // Settled once the named records have made their claims.
                nameless.push(l);
                continue;
            };
            let scored = self.score_named(&ri, model, l, lname, &mut shared);
            // Kept in case no named project is accepted and the block has projects without a
            // name in the record's wards.
            let kept = (!ri.nameless_by_ward.is_empty() && self.prepared[l].wards.is_some()).then(|| scored.clone());
            let groups = self.groups(&ri, &scored);
            match (decide(scored, &groups, lt, self.settings), kept) {
                (Some(decision), _) if decision.band == Band::Accept => {
                    let who = self.identities[l].as_str();
                    for c in &decision.chosen {
                        claims.add(c.k, who, claims::name_rank(&c.comparisons));
                    }
                    pending.push((l, decision));
                }
                (_, Some(scored)) => retry.push((l, scored)),
                (Some(decision), None) => pending.push((l, decision)),
                (None, None) => {}
            }
        }
        self.settle(&site, pending, retry, nameless, &claims, out);
    }

    /// Links a record to the right-hand records `rs` that share its identifier `id`, and to
    /// their namesakes: the same project's other budget lines, split over funds (`X (USDG)`
    /// carries the number, `X (CRR)` does not). Each is a claim.
    fn link_identified(
        &self,
        site: &Site<'_, '_>,
        l: usize,
        id: &str,
        rs: &[usize],
        claims: &mut claims::Claims<'a>,
        out: &mut Vec<Link>,
    ) {
        let who = self.identities[l].as_str();
        let evidence = |r: usize| site.model.evidence(&self.compare(l, r, &site.ri.tw, None));
        for &r in rs {
            let scored = evidence(r);
            if let Some(&k) = site.ri.project_of.get(&r) {
                claims.add(k, who, claims::name_rank(&scored.0));
            }
            out.push(self.row(
                site,
                l,
                r,
                (Method::ExactIdentifier, Band::Accept, Some(id)),
                Some(scored),
            ));
        }
        for r in self.fund_split_lines(site.ri, site.lt, rs) {
            let (mut comparisons, weight) = evidence(r);
            if weight < self.settings.accept_weight {
                continue;
            }
            if let Some(&k) = site.ri.project_of.get(&r) {
                claims.add(k, who, claims::name_rank(&comparisons));
            }
            comparisons.push(score::Comparison {
                name: "fund_split_of",
                level: "identified_line",
                weight: 0.0,
                value: None,
            });
            let how = (Method::Probabilistic, Band::Accept, None);
            out.push(self.row(site, l, r, how, Some((comparisons, weight))));
        }
    }

    /// Settles a block's decisions against its claims and publishes them. A project another left
    /// project's name matches better is that one's: a name that only resembles it is kept for
    /// review. A named record no named project was accepted for is scored against the projects
    /// without a name in its wards besides its named candidates, and a record without a name
    /// against the projects in its wards; either may only take a project no other left project
    /// has.
    fn settle(
        &self,
        site: &Site<'_, '_>,
        pending: Vec<(usize, Decision)>,
        retry: Vec<(usize, Vec<Scored>)>,
        nameless: Vec<usize>,
        claims: &claims::Claims<'_>,
        out: &mut Vec<Link>,
    ) {
        let ri = site.ri;
        for (l, mut decision) in pending {
            let who = self.identities[l].as_str();
            if decision.band == Band::Accept
                && decision
                    .chosen
                    .iter()
                    .any(|c| claims.outranked(c.k, who, claims::name_rank(&c.comparisons)))
            {
                decision.demote("better_name_elsewhere");
            }
            self.emit(site, l, decision, out);
        }
        let retries = retry.into_iter().map(|(l, scored)| (l, scored, &ri.nameless_by_ward));
        let nameless = nameless.into_iter().map(|l| (l, Vec::new(), &ri.by_ward));
        for (l, mut scored, by_ward) in retries.chain(nameless) {
            let who = self.identities[l].as_str();
            scored.extend(self.score_in_wards(ri, site.model, l, by_ward, |k| !claims.held_by_other(k, who)));
            let groups = self.groups(ri, &scored);
            if let Some(decision) = decide(scored, &groups, site.lt, self.settings) {
                self.emit(site, l, decision, out);
            }
        }
    }

    /// Publishes a decision: a link from the left record to every record of each chosen project.
    fn emit(&self, site: &Site<'_, '_>, l: usize, Decision { band, chosen }: Decision, out: &mut Vec<Link>) {
        for Scored {
            k,
            rep,
            comparisons,
            weight,
        } in chosen
        {
            let mut scored = Some((comparisons, weight));
            for &r in &site.ri.projects[k] {
                let reuse = if r == rep { scored.take() } else { None };
                out.push(self.row(site, l, r, (Method::Probabilistic, band, None), reuse));
            }
        }
    }

    /// One link row. `scored` is the comparison already made for this pair, if any, so it is
    /// not made twice.
    fn row(
        &self,
        site: &Site<'_, '_>,
        l: usize,
        r: usize,
        (method, band, matched): (Method, Band, Option<&str>),
        scored: Option<(Vec<score::Comparison>, f64)>,
    ) -> Link {
        let (lr, rr) = (&self.records[l], &self.records[r]);
        let (comparisons, weight) =
            scored.unwrap_or_else(|| site.model.evidence(&self.compare(l, r, &site.ri.tw, None)));
        Link {
            left_record_id: lr.record_id.clone(),
            right_record_id: rr.record_id.clone(),
            link_type: site.lt,
            method,
            score: comparisons.first().and_then(|c| c.value).unwrap_or(0.0),
            demarcation_code: site.muni.to_string(),
            matched_on: matched.map(|_| site.lt.identifier_name().to_string()),
            matched_value: matched.map(str::to_string),
            name_similarity: match (&self.prepared[l].name, &self.prepared[r].name) {
                (Some(a), Some(b)) => Some(names::profile_similarity(a, b)),
                _ => None,
            },
            left_name: lr.match_name().map(str::to_string),
            right_name: rr.match_name().map(str::to_string),
            band,
            match_weight: weight,
            evidence: serde_json::to_string(&comparisons).unwrap_or_default(),
        }
    }

    /// Candidates of the same name and kind of work (one project's fund-split lines: `X
    /// (USDG)`, `X (CRR)`) are one alternative: the record links to all of them or none. Each
    /// candidate's group is the first candidate of its group.
    fn groups(&self, ri: &RightIndex<'_>, scored: &[Scored]) -> Vec<usize> {
        // A project without a name is an alternative of its own.
        scored
            .iter()
            .enumerate()
            .map(|(i, c)| scored.iter().position(|d| self.namesakes(ri, d.k, c.k)).unwrap_or(i))
            .collect()
    }

    /// Whether right projects `a` and `b` are one project's lines: the same name (both named)
    /// and the same kind of work. Decisions take such projects together ([`Self::groups`]), and
    /// an identified line brings its namesakes split over other funds
    /// ([`Self::fund_split_lines`]).
    fn namesakes(&self, ri: &RightIndex<'_>, a: usize, b: usize) -> bool {
        let kind = |k: usize| self.prepared[ri.projects[k][0]].kind;
        same_profile(ri.names[a], ri.names[b]) && kind(a) == kind(b)
    }

    /// Scores a named left record against its candidates by name (the blocking's best, above
    /// the name threshold).
    fn score_named(
        &self,
        ri: &RightIndex<'_>,
        model: &score::Model,
        l: usize,
        lname: &score::NameProfile,
        shared: &mut [f64],
    ) -> Vec<Scored> {
        let prepared = self.prepared;
        let lp = &prepared[l];
        let lname_ignoring = lname.without(&lp.ignore);
        let mut out = Vec::new();
        for k in self.candidates(ri, lname, &lp.ignore, shared) {
            let Some(rname) = ri.names[k] else { continue };
            let name = if lp.ignore.is_empty() {
                score::compare_names(lname, rname, &ri.tw)
            } else {
                score::compare_names(&lname_ignoring, &rname.without(&lp.ignore), &ri.tw)
            };
            if name.similarity < self.settings.name_match_threshold {
                continue;
            }
            let rep = self.representative(ri, k, &lp.years);
            // The similarity just measured holds for the representative when it has the
            // project's name (long-form rows may spell it differently from year to year).
            let known = same_name(prepared[rep].name.as_ref(), rname).then_some(name);
            let (comparisons, weight) = model.evidence(&self.compare(l, rep, &ri.tw, known));
            out.push(Scored {
                k,
                rep,
                comparisons,
                weight,
            });
        }
        out
    }

    /// Scores a left record against the projects of `by_ward` in its wards that `keep` keeps,
    /// on the evidence besides the name one of the two lacks (an SA36 line with an empty
    /// description).
    fn score_in_wards(
        &self,
        ri: &RightIndex<'_>,
        model: &score::Model,
        l: usize,
        by_ward: &FxHashMap<&str, Vec<usize>>,
        keep: impl Fn(usize) -> bool,
    ) -> Vec<Scored> {
        let prepared = self.prepared;
        let lp = &prepared[l];
        let Some(wards) = lp.wards.as_ref() else {
            return Vec::new();
        };
        let mut ks: Vec<usize> = wards
            .iter()
            .filter_map(|w| by_ward.get(w.as_str()))
            .flatten()
            .copied()
            .filter(|&k| keep(k))
            .collect();
        ks.sort_unstable();
        ks.dedup();
        if ks.len() > MAX_NAMELESS_CANDIDATES {
            return Vec::new();
        }
        ks.into_iter()
            .map(|k| {
                let rep = self.representative(ri, k, &lp.years);
                let (comparisons, weight) = model.evidence(&self.compare(l, rep, &ri.tw, None));
                Scored {
                    k,
                    rep,
                    comparisons,
                    weight,
                }
            })
            .collect()
    }
}

/// Right-hand projects sharing a ward with a nameless left record beyond which its evidence
/// cannot single one out (no candidates are scored).
const MAX_NAMELESS_CANDIDATES: usize = 400;

/// The block a link is made in: its link type, model, municipality and right-hand index.
struct Site<'s, 'a> {
    lt: LinkType,
    model: &'s score::Model,
    muni: &'s str,
    ri: &'s RightIndex<'a>,
}

/// A candidate project scored against one left record.
#[derive(Clone)]
struct Scored {
    /// The project (index into the right index's projects).
    k: usize,
    /// The project's record the left one was compared with.
    rep: usize,
    /// The comparisons made.
    comparisons: Vec<score::Comparison>,
    /// Their total weight.
    weight: f64,
}

/// The candidates chosen for a left record (one, or every line of a split project), with their
/// band.
struct Decision {
    band: Band,
    chosen: Vec<Scored>,
}

impl Decision {
    /// Keeps an accepted decision for review instead, saying why in each candidate's evidence
    /// (`{"name": "claimed", "level": why}`), its `match_probability` entry's level now `review`.
    fn demote(&mut self, why: &'static str) {
        self.band = Band::Review;
        for c in &mut self.chosen {
            for e in c.comparisons.iter_mut().filter(|e| e.name == "match_probability") {
                e.level = Band::Review.as_str();
            }
            c.comparisons.push(score::Comparison {
                name: "claimed",
                level: why,
                weight: 0.0,
                value: None,
            });
        }
    }
}

/// Whether two projects have the same name (words and numbers), so that, with the same kind of
/// work, they are one alternative: a project split over several lines.
fn same_profile(a: Option<&score::NameProfile>, b: Option<&score::NameProfile>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => std::ptr::eq(a, b) || (a.tokens == b.tokens && a.numbers == b.numbers),
        _ => false,
    }
}

/// The chance that each candidate is the left record's counterpart, given every candidate's
/// match weight: each candidate's odds are 2^weight, set against 2^`no_match_weight` for the
/// chance that the record has no counterpart at all (a lone candidate of exactly that weight is
/// as likely a match as not). Candidates that explain the record about equally well share the
/// probability, so a generic name with several look-alikes, or a record whose best candidate is
/// weak, is not accepted.
pub fn match_probabilities(weights: &[f64], no_match_weight: f64) -> Vec<f64> {
    // Relative to the largest term, so large weights do not overflow.
    let top = weights.iter().copied().fold(no_match_weight, f64::max);
    let total: f64 = (no_match_weight - top).exp2() + weights.iter().map(|w| (w - top).exp2()).sum::<f64>();
    weights.iter().map(|w| (w - top).exp2() / total).collect()
}

/// Picks the best candidate and its band, or none: accepted when its probability and weight
/// reach the accept thresholds, kept for review when they reach the review ones. A pair without
/// names to compare (a record or its candidate without a name) needs more to be accepted: its
/// doubt (1 − probability) must be at most half the accept doubt (0.2 → 0.1).
fn decide(scored: Vec<Scored>, groups: &[usize], lt: LinkType, settings: &ReconcileSettings) -> Option<Decision> {
    let weights: Vec<f64> = scored.iter().map(|s| s.weight).collect();
    let probabilities = match_probabilities(&weights, lt.no_match_weight(settings.no_match_weight));
    // A group's probability is its members' together; its weight its best member's.
    let mut by_group: BTreeMap<usize, (f64, f64)> = BTreeMap::new();
    for (i, g) in groups.iter().enumerate() {
        let e = by_group.entry(*g).or_insert((0.0, f64::MIN));
        e.0 += probabilities[i];
        e.1 = e.1.max(weights[i]);
    }
    let (&group, &(p, weight)) = by_group
        .iter()
        .max_by(|a, b| a.1 .0.total_cmp(&b.1 .0).then(b.0.cmp(a.0)))?;
    // The chosen group's first member: whether its pair has names to compare.
    let named = groups
        .iter()
        .position(|g| *g == group)
        .is_some_and(|i| claims::name_rank(&scored[i].comparisons) < 4);
    let accept_p = if named {
        settings.accept_probability
    } else {
        1.0 - (1.0 - settings.accept_probability) / 2.0
    };
    let band = if p >= accept_p && weight >= settings.accept_weight {
        Band::Accept
    } else if p >= settings.review_probability && weight >= settings.review_weight {
        Band::Review
    } else {
        return None;
    };
    let chosen = scored
        .into_iter()
        .zip(groups)
        .filter(|(_, g)| **g == group)
        .map(|(mut c, _)| {
            c.comparisons.push(score::Comparison {
                name: "match_probability",
                level: band.as_str(),
                weight: 0.0,
                value: Some(p),
            });
            c
        })
        .collect();
    Some(Decision { band, chosen })
}

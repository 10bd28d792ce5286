//! Fellegi–Sunter scoring of a candidate pair: each comparison falls into a level, each level
//! carries a weight log2(m/u), and the pair's match weight is their sum.
//!
//! `m` is the chance of the level among true matches, `u` among non-matches. The defaults below
//! are set from the sample and the real files (documented in `docs/linking.md`); a comparison
//! with a value missing on either side contributes 0. Name similarity is weighted by term
//! frequency within the block, so "upgrade", "road" and "phase" count less than a place name.

use crate::records::Record;
use rustc_hash::FxHashMap;
use std::collections::BTreeSet;

/// One comparison's outcome, kept as evidence on the link.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Comparison {
    /// Comparison name (`name`, `wards`, `years`, `amount`, `asset_class`, `gps`).
    pub name: &'static str,
    /// Level reached (`exact`, `high`, `agree`, `disagree`, `missing`, ...).
    pub level: &'static str,
    /// log2(m/u) of the level.
    pub weight: f64,
    /// The measured value, where there is one (similarity, ratio, km).
    pub value: Option<f64>,
}

/// Term weights of one block's right-hand records: rare words weigh more.
#[derive(Debug, Clone, Default)]
pub struct TermWeights {
    idf: FxHashMap<String, f64>,
    max: f64,
}

impl TermWeights {
    /// Builds inverse document frequencies from the names of `records`.
    pub fn new<'a>(names: impl Iterator<Item = &'a str>) -> Self {
        Self::from_profiles(names.map(NameProfile::new).collect::<Vec<_>>().iter())
    }

    /// Builds inverse document frequencies from prepared names.
    pub fn from_profiles<'a>(profiles: impl Iterator<Item = &'a NameProfile>) -> Self {
        let mut df: FxHashMap<&str, usize> = FxHashMap::default();
        let mut n = 0usize;
        for p in profiles {
            n += 1;
            for t in &p.tokens {
                *df.entry(t.as_str()).or_default() += 1;
            }
        }
        let max = ((n as f64 + 1.0) / 1.0).ln() + 1.0;
        let idf = df
            .into_iter()
            .map(|(t, d)| (t.to_string(), ((n as f64 + 1.0) / (d as f64 + 0.5)).ln().max(0.1) + 0.1))
            .collect();
        Self { idf, max }
    }

    /// The weight of a token (unseen tokens weigh as the rarest).
    pub fn weight(&self, token: &str) -> f64 {
        self.idf.get(token).copied().unwrap_or(self.max)
    }
}

/// A name prepared once for many comparisons: its canonical tokens, sorted and without
/// repeats, and their join (what Jaro-Winkler compares, so word order does not matter).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NameProfile {
    /// Canonical tokens, sorted, distinct.
    pub tokens: Vec<String>,
    /// The tokens joined by spaces.
    pub joined: String,
}

impl NameProfile {
    /// Prepares a name.
    pub fn new(name: &str) -> Self {
        Self::from_tokens(super::names::tokens(name))
    }

    fn from_tokens(mut tokens: Vec<String>) -> Self {
        tokens.sort_unstable();
        tokens.dedup();
        let joined = tokens.join(" ");
        Self { tokens, joined }
    }

    /// The same name without some tokens.
    pub fn without(&self, ignore: &BTreeSet<String>) -> Self {
        if ignore.is_empty() {
            return self.clone();
        }
        Self::from_tokens(self.tokens.iter().filter(|t| !ignore.contains(*t)).cloned().collect())
    }
}

/// Term-weighted name similarity in 0–1: weighted Dice over canonical tokens (a token that
/// differs by a typo, Jaro-Winkler ≥ 0.9, counts at 90%), blended with Jaro-Winkler over the
/// sorted tokens.
pub fn weighted_similarity(a: &str, b: &str, tw: &TermWeights) -> f64 {
    profile_similarity(&NameProfile::new(a), &NameProfile::new(b), tw)
}

/// [`weighted_similarity`] ignoring some tokens (a department's own name in an IDP's
/// "(Dept of Health)" suffix says nothing about which project it is).
pub fn similarity_without(a: &str, b: &str, tw: &TermWeights, ignore: &BTreeSet<String>) -> f64 {
    profile_similarity(
        &NameProfile::new(a).without(ignore),
        &NameProfile::new(b).without(ignore),
        tw,
    )
}

/// [`weighted_similarity`] of two prepared names (no allocation but the typo search's list).
pub fn profile_similarity(a: &NameProfile, b: &NameProfile, tw: &TermWeights) -> f64 {
    let (ta, tb) = (&a.tokens, &b.tokens);
    if ta.is_empty() || tb.is_empty() {
        return 0.0;
    }
    // Merge the two sorted lists: shared tokens, and the long ones found on one side only.
    let (mut i, mut j) = (0, 0);
    let mut common = 0.0;
    let mut only_a: Vec<&str> = Vec::new();
    let mut only_b: Vec<&str> = Vec::new();
    while i < ta.len() || j < tb.len() {
        match (ta.get(i), tb.get(j)) {
            (Some(x), Some(y)) if x == y => {
                common += tw.weight(x);
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                if x.len() > 3 {
                    only_a.push(x);
                }
                i += 1;
            }
            (Some(x), None) => {
                if x.len() > 3 {
                    only_a.push(x);
                }
                i += 1;
            }
            (_, Some(y)) => {
                if y.len() > 3 {
                    only_b.push(y);
                }
                j += 1;
            }
            (None, None) => break,
        }
    }
    for t in only_a {
        let best = only_b
            .iter()
            .enumerate()
            .map(|(i, u)| (strsim::jaro_winkler(t, u), i))
            .max_by(|x, y| x.0.total_cmp(&y.0));
        if let Some((sim, i)) = best.filter(|(sim, _)| *sim >= 0.9) {
            common += 0.9 * sim * (tw.weight(t) + tw.weight(only_b[i])) / 2.0;
            only_b.remove(i);
        }
    }
    let w = |s: &[String]| s.iter().map(|t| tw.weight(t)).sum::<f64>();
    let dice = (2.0 * common / (w(ta) + w(tb))).min(1.0);
    0.75 * dice + 0.25 * strsim::jaro_winkler(&a.joined, &b.joined)
}

/// What a record brings to a comparison, prepared once per record rather than once per pair.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// The name (project name, else description), prepared.
    pub name: Option<NameProfile>,
    /// Ward codes, sorted, when the record names wards.
    pub wards: Option<Vec<String>>,
    /// Municipal years (start years) with amounts, sorted.
    pub years: Vec<i32>,
    /// Tokens that are no evidence when this record is the left side ([`ignored_tokens`]).
    pub ignore: BTreeSet<String>,
}

impl Prepared {
    /// Prepares one record.
    pub fn new(r: &Record) -> Self {
        let mut wards: Option<Vec<String>> = ward_numbers(r).map(|w| w.into_iter().collect());
        if let Some(w) = wards.as_mut() {
            w.sort_unstable();
        }
        Self {
            name: r.match_name().map(NameProfile::new),
            wards,
            years: municipal_years(r).into_iter().collect(),
            ignore: ignored_tokens(r),
        }
    }
}

/// Whether two sorted year lists share a year.
pub fn years_overlap(a: &[i32], b: &[i32]) -> bool {
    sorted_overlap(a, b)
}

fn sorted_overlap<T: Ord>(a: &[T], b: &[T]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
        }
    }
    false
}

fn w(m: f64, u: f64) -> f64 {
    (m / u).log2()
}

/// The name comparison's levels: (lowest similarity, level, m, u).
pub const NAME_LEVELS: &[(f64, &str, f64, f64)] = &[
    (0.92, "exact", 0.55, 0.0005),
    (0.78, "high", 0.30, 0.004),
    (0.6, "medium", 0.10, 0.03),
    (0.0, "low", 0.05, 0.9655),
];

fn level_of(value: f64) -> (&'static str, f64) {
    for (min, name, m, u) in NAME_LEVELS {
        if value >= *min {
            return (name, w(*m, *u));
        }
    }
    ("low", w(0.05, 0.9655))
}

fn ward_numbers(r: &Record) -> Option<BTreeSet<String>> {
    let codes = r.ward_codes.as_deref().filter(|c| !c.is_empty())?;
    Some(codes.split(';').map(str::to_string).collect())
}

/// The municipal years (start years) in which a record has amounts.
pub fn municipal_years(r: &Record) -> BTreeSet<i32> {
    r.amounts
        .iter()
        .map(|a| {
            a.year
                .dominant_in(crate::contracts::fiscal::Calendar::Municipal)
                .start_year
        })
        .collect()
}

fn haversine_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (a.0.to_radians(), a.1.to_radians(), b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2) + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

/// Pairs compared since the process started (for the benchmark's pairs per second).
pub static PAIRS_COMPARED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Tokens that are no evidence when `l` is compared: a departmental record's own department
/// and sector names (an IDP lists it as "Xapho Clinic (Dept of Health)").
pub fn ignored_tokens(l: &Record) -> BTreeSet<String> {
    if l.dataset != crate::contracts::Dataset::Departmental {
        return BTreeSet::new();
    }
    [l.department.as_deref(), l.function.as_deref()]
        .into_iter()
        .flatten()
        .flat_map(super::names::tokens)
        .collect()
}

/// Compares two records; returns every comparison (the evidence) and the total match weight.
pub fn compare(l: &Record, r: &Record, tw: &TermWeights) -> (Vec<Comparison>, f64) {
    compare_prepared(l, r, &Prepared::new(l), &Prepared::new(r), tw)
}

/// [`compare`] with both records prepared.
pub fn compare_prepared(
    l: &Record,
    r: &Record,
    lp: &Prepared,
    rp: &Prepared,
    tw: &TermWeights,
) -> (Vec<Comparison>, f64) {
    PAIRS_COMPARED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut out = Vec::with_capacity(6);
    match (&lp.name, &rp.name) {
        (Some(a), Some(b)) => {
            let s = if lp.ignore.is_empty() {
                profile_similarity(a, b, tw)
            } else {
                profile_similarity(&a.without(&lp.ignore), &b.without(&lp.ignore), tw)
            };
            let (level, weight) = level_of(s);
            out.push(Comparison {
                name: "name",
                level,
                weight,
                value: Some(s),
            });
        }
        _ => out.push(Comparison {
            name: "name",
            level: "missing",
            weight: 0.0,
            value: None,
        }),
    }
    match (&lp.wards, &rp.wards) {
        (Some(a), Some(b)) if sorted_overlap(a, b) => out.push(Comparison {
            name: "wards",
            level: "overlap",
            weight: w(0.8, 0.05),
            value: None,
        }),
        (Some(_), Some(_)) => out.push(Comparison {
            name: "wards",
            level: "disjoint",
            weight: w(0.2, 0.95),
            value: None,
        }),
        _ => out.push(Comparison {
            name: "wards",
            level: "missing",
            weight: 0.0,
            value: None,
        }),
    }
    let (ya, yb) = (&lp.years, &rp.years);
    if ya.is_empty() || yb.is_empty() {
        out.push(Comparison {
            name: "years",
            level: "missing",
            weight: 0.0,
            value: None,
        });
    } else if sorted_overlap(ya, yb) {
        out.push(Comparison {
            name: "years",
            level: "overlap",
            weight: w(0.95, 0.6),
            value: None,
        });
    } else {
        out.push(Comparison {
            name: "years",
            level: "disjoint",
            weight: w(0.05, 0.4),
            value: None,
        });
    }
    // Amounts of similar size in a shared year.
    let shared: Option<f64> = ya.iter().filter(|y| yb.binary_search(y).is_ok()).find_map(|y| {
        let fy = |rec: &Record| {
            rec.amounts
                .iter()
                .find(|a| {
                    a.year
                        .dominant_in(crate::contracts::fiscal::Calendar::Municipal)
                        .start_year
                        == *y
                })
                .map(|a| rec.amount_in(a.year).unwrap_or(a.rand))
        };
        let (a, b) = (fy(l)?, fy(r)?);
        (a > 0.0 && b > 0.0).then(|| a.min(b) / a.max(b))
    });
    match shared {
        Some(ratio) if ratio >= 0.5 => out.push(Comparison {
            name: "amount",
            level: "similar",
            weight: w(0.8, 0.2),
            value: Some(ratio),
        }),
        Some(ratio) if ratio >= 0.2 => out.push(Comparison {
            name: "amount",
            level: "same_order",
            weight: w(0.15, 0.3),
            value: Some(ratio),
        }),
        Some(ratio) => out.push(Comparison {
            name: "amount",
            level: "different",
            weight: w(0.05, 0.5),
            value: Some(ratio),
        }),
        None => out.push(Comparison {
            name: "amount",
            level: "missing",
            weight: 0.0,
            value: None,
        }),
    }
    match (l.asset_class.as_deref(), r.asset_class.as_deref()) {
        (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => out.push(Comparison {
            name: "asset_class",
            level: "agree",
            weight: w(0.85, 0.15),
            value: None,
        }),
        (Some(_), Some(_)) => out.push(Comparison {
            name: "asset_class",
            level: "disagree",
            weight: w(0.15, 0.85),
            value: None,
        }),
        _ => out.push(Comparison {
            name: "asset_class",
            level: "missing",
            weight: 0.0,
            value: None,
        }),
    }
    match (l.latitude.zip(l.longitude), r.latitude.zip(r.longitude)) {
        (Some(a), Some(b)) => {
            let km = haversine_km(a, b);
            let (level, weight) = if km <= 2.0 {
                ("near", w(0.7, 0.01))
            } else if km <= 20.0 {
                ("same_area", w(0.25, 0.2))
            } else {
                ("far", w(0.05, 0.79))
            };
            out.push(Comparison {
                name: "gps",
                level,
                weight,
                value: Some(km),
            });
        }
        _ => out.push(Comparison {
            name: "gps",
            level: "missing",
            weight: 0.0,
            value: None,
        }),
    }
    let total = out.iter().map(|c| c.weight).sum();
    (out, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_words_weigh_more_than_common_ones() {
        let names = [
            "Upgrading of Mdantsane Road",
            "Upgrading of Zwelitsha Road",
            "Upgrading of Gonubie Road",
            "Dimbaza Hall",
        ];
        let tw = TermWeights::new(names.iter().copied());
        assert!(
            tw.weight("mdantsane") > 2.0 * tw.weight("road"),
            "{} vs {}",
            tw.weight("mdantsane"),
            tw.weight("road")
        );
        // Sharing only the common words is weak; sharing the place name is strong.
        let common_only = weighted_similarity("Upgrading of Mdantsane Road", "Upgrading of Zwelitsha Road", &tw);
        let same_place = weighted_similarity("UPGR MDANTSANE RD", "Upgrading of Mdantsane Road", &tw);
        assert!(same_place > 0.95 && common_only < 0.6, "{same_place} {common_only}");
    }

    #[test]
    fn a_typo_in_a_rare_word_still_matches() {
        let names = [
            "Mdantsane Clinic",
            "Zwelitsha Clinic",
            "Gonubie Clinic",
            "Dimbaza School",
        ];
        let tw = TermWeights::new(names.iter().copied());
        let typo = weighted_similarity("Mdnatsane Clinic", "Mdantsane Clinic", &tw);
        let other = weighted_similarity("Zwelitsha Clinic", "Mdantsane Clinic", &tw);
        assert!(typo > 0.85 && other < 0.5, "{typo} {other}");
    }

    #[test]
    fn name_levels_and_weights() {
        assert_eq!(level_of(0.99).0, "exact");
        assert_eq!(level_of(0.8).0, "high");
        assert_eq!(level_of(0.65).0, "medium");
        assert_eq!(level_of(0.1).0, "low");
        assert!(level_of(0.99).1 > 9.0 && level_of(0.1).1 < -4.0);
    }

    #[test]
    fn distances() {
        let cpt = (-33.9249, 18.4241);
        let stellenbosch = (-33.9321, 18.8602);
        let km = haversine_km(cpt, stellenbosch);
        assert!((km - 40.4).abs() < 1.0, "{km}");
    }
}

//! Fellegi–Sunter scoring of a candidate pair: each comparison falls into a level, each level
//! carries a weight log2(m/u), and the pair's match weight is their sum.
//!
//! `m` is the chance of the level among true matches, `u` among non-matches. The defaults below
//! are set from the sample and the real files (documented in `docs/linking.md`); a comparison
//! with a value missing on either side contributes 0. Name similarity is weighted by term
//! frequency within the block, so "upgrade", "road" and "phase" count less than a place name.

pub use crate::names::{NameProfile, WorkKind};
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
    /// In how many municipalities' names each word is, when the run has enough of them to tell
    /// a local word (a place) from a national one (an asset, a verb).
    spread: Option<std::sync::Arc<Spread>>,
    /// The weight of a word in one name in fifty (one at least): a rarer word is a rare one
    /// (a place name, as a rule).
    rare: f64,
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
        let mut numbers: FxHashMap<u64, usize> = FxHashMap::default();
        for p in profiles {
            n += 1;
            for t in &p.tokens {
                *df.entry(t.as_str()).or_default() += 1;
            }
            for x in &p.numbers {
                *numbers.entry(*x).or_default() += 1;
            }
        }
        let numbers: Vec<(String, usize)> = numbers.into_iter().map(|(x, d)| (x.to_string(), d)).collect();
        for (x, d) in &numbers {
            df.insert(x.as_str(), *d);
        }
        let max = ((n as f64 + 1.0) / 1.0).ln() + 1.0;
        let idf_of = |d: usize| ((n as f64 + 1.0) / (d as f64 + 0.5)).ln().max(0.1) + 0.1;
        let rare = idf_of((n / 50).max(1));
        let idf = df.into_iter().map(|(t, d)| (t.to_string(), idf_of(d))).collect();
        Self {
            idf,
            max,
            rare,
            spread: None,
        }
    }

    /// The weight of a token (unseen tokens weigh as the rarest).
    pub fn weight(&self, token: &str) -> f64 {
        self.idf.get(token).copied().unwrap_or(self.max)
    }

    /// The same weights, telling local words by `spread`.
    pub fn with_spread(mut self, spread: Option<std::sync::Arc<Spread>>) -> Self {
        self.spread = spread;
        self
    }

    /// Whether a word names something particular: local to few municipalities (a place: a word
    /// of a tenth of the municipalities or fewer) when the run has ten or more, else rare in
    /// the block.
    fn particular(&self, token: &str) -> bool {
        match &self.spread {
            Some(s) => s.munis.get(token).is_none_or(|w| s.local(w)),
            None => self.weight(token) >= self.rare,
        }
    }

    /// Whether any of the block's names has the token.
    pub fn knows(&self, token: &str) -> bool {
        self.idf.contains_key(token)
    }
}

/// In how many municipalities' names, and in how many provinces, each word appears, over every
/// record of a run.
#[derive(Debug, Default)]
pub struct Spread {
    munis: FxHashMap<String, WordSpread>,
    /// The most municipalities a local word is in.
    local_max: u32,
    /// Provinces the run's municipalities are in.
    provinces: u32,
}

/// Where one word is used.
#[derive(Debug, Default, Clone, Copy)]
struct WordSpread {
    /// Municipalities whose names have it.
    munis: u32,
    /// Their provinces, one bit each.
    provinces: u16,
}

impl Spread {
    /// Counts, from each record's municipality and name words; `None` below ten municipalities,
    /// too few to tell a place from a national word.
    pub fn of(records: &[Record], prepared: &[Prepared]) -> Option<Self> {
        let mut seen: FxHashMap<&str, BTreeSet<&str>> = FxHashMap::default();
        let mut all: BTreeSet<&str> = BTreeSet::new();
        for (r, p) in records.iter().zip(prepared) {
            let (Some(m), Some(name)) = (r.demarcation_code.as_deref(), p.name.as_ref()) else {
                continue;
            };
            all.insert(m);
            for t in &name.tokens {
                seen.entry(t.as_str()).or_default().insert(m);
            }
        }
        if all.len() < 10 {
            return None;
        }
        let province_bit: FxHashMap<&str, u16> = all.iter().map(|m| (*m, province_bit(m))).collect();
        Some(Spread {
            munis: seen
                .into_iter()
                .map(|(t, ms)| {
                    let provinces = ms
                        .iter()
                        .fold(0u16, |b, m| b | province_bit.get(m).copied().unwrap_or(0));
                    (
                        t.to_string(),
                        WordSpread {
                            munis: ms.len() as u32,
                            provinces,
                        },
                    )
                })
                .collect(),
            local_max: (all.len() / 10) as u32,
            provinces: province_bit.values().fold(0u16, |b, p| b | p).count_ones(),
        })
    }

    /// Whether a word is local: in a tenth of the run's municipalities or fewer, or, in a run
    /// over three provinces or more, in one province's municipalities only (a place name recurs
    /// across its province's projects; an asset or a verb is used in every province).
    fn local(&self, w: &WordSpread) -> bool {
        w.munis <= self.local_max || (self.provinces >= 3 && w.provinces.count_ones() <= 1)
    }
}

/// A municipality's province as one bit (0 when the code is not in the bundled reference).
fn province_bit(code: &str) -> u16 {
    use crate::contracts::reference::{province_index, Reference};
    Reference::bundled()
        .get(code)
        .and_then(|m| province_index(&m.province))
        .map_or(0, |i| 1 << i)
}

/// Term-weighted name similarity in 0–1: weighted Dice over canonical tokens (a token that
/// differs by a typo, Jaro-Winkler ≥ 0.9, counts at 90%), blended with Jaro-Winkler over the
/// sorted tokens.
pub fn weighted_similarity(a: &str, b: &str, tw: &TermWeights) -> f64 {
    profile_similarity(&NameProfile::new(a), &NameProfile::new(b), tw)
}

/// Whether `short` is an abbreviation of `long` written the usual ways: a prefix (`Retic` →
/// Reticulation, a truncated `Kimberl`) or the same first letter and the rest of its letters in
/// order (`Strmwtr` → Stormwater, `Ctr` → Centre). At least three letters.
fn abbreviates(short: &str, long: &str) -> bool {
    if short.len() < 3 || short.len() >= long.len() || short.as_bytes()[0] != long.as_bytes()[0] {
        return false;
    }
    if long.starts_with(short) {
        return true;
    }
    let mut rest = long.chars();
    short.chars().all(|c| rest.by_ref().any(|d| d == c))
}

/// How much two different words count as the same word (0–1), if at all: a typo (Jaro-Winkler
/// ≥ 0.9 within two letters of length, doubled letters included) or an abbreviation either way.
/// Numbers never match fuzzily: `2` and `3` are different phases.
pub fn word_match(a: &str, b: &str) -> Option<f64> {
    let alphabetic = |w: &str| w.len() >= 3 && w.bytes().all(|c| c.is_ascii_alphabetic());
    if !alphabetic(a) || !alphabetic(b) {
        return None;
    }
    // A typo keeps the first letter, or swaps the first two (`Glenwood`, `Gelnwood`): names
    // that start differently are different places (`Molweni`, `Folweni`). An abbreviation keeps
    // the first letter too.
    if !begins_alike(a, b) {
        return None;
    }
    if a.len() > 3 && b.len() > 3 && a.len().abs_diff(b.len()) <= 2 {
        let sim = strsim::jaro_winkler(a, b);
        if sim >= 0.9 {
            return Some(0.9 * sim);
        }
    }
    let (short, long) = if a.len() < b.len() { (a, b) } else { (b, a) };
    // A plural written short (`OFFCS` for Offices, whose name reads `office`).
    let singular = short
        .strip_suffix('s')
        .filter(|s| s.len() >= 3 && !long.ends_with('s'))
        .unwrap_or(short);
    if abbreviates(short, long) || (singular.len() < short.len() && abbreviates(singular, long)) {
        return Some(if long.starts_with(short) {
            0.85
        } else if consonants_of(singular, long) {
            // The word without its vowels (`ZWLTSH`, `MNCPL`): as sure as a typo.
            0.9
        } else {
            0.8
        });
    }
    None
}

/// Whether `short` is `long` with its vowels dropped (doubled letters written once): every
/// consonant of `long`, in order, and nothing else.
fn consonants_of(short: &str, long: &str) -> bool {
    // The first letter is kept, vowel or not (`OFFC`, Office).
    short.len() >= 4 && crate::names::skeleton(short, false).eq(crate::names::skeleton(long, true))
}

/// Where `joined` is two of `words` written as one (`accessroad` = `access` + `road`): their
/// indices, first part first. Failing two whole words, one part may be shortened (`rhb` +
/// `bloemfontein`) when the other is whole, and in a longer join (eight letters or more) both
/// parts may be shortened or misspelt (`instal` + `bathrust` for `Installation`, `Bathurst`);
/// each part has three letters at least.
fn split_as_two(joined: &str, words: &[&str]) -> Option<(usize, usize)> {
    if joined.len() < 6 || !joined.is_ascii() {
        return None;
    }
    let exact = |part: &str| words.iter().position(|w| *w == part);
    let shortened = |part: &str| words.iter().position(|w| abbreviates(part, w));
    let loose = |part: &str| exact(part).or_else(|| words.iter().position(|w| word_match(part, w).is_some()));
    let distinct = |(i, j): (usize, usize)| (i != j).then_some((i, j));
    // Where one part is a whole word: the only splits a whole or one-shortened reading can use.
    let mut at_words: Vec<usize> = words
        .iter()
        .flat_map(|w| {
            let head = joined.starts_with(w).then_some(w.len());
            let tail = joined.ends_with(w).then(|| joined.len() - w.len());
            [head, tail]
        })
        .flatten()
        .filter(|k| (3..=joined.len() - 3).contains(k))
        .collect();
    at_words.sort_unstable();
    at_words.dedup();
    let whole = at_words.iter().find_map(|&k| {
        let (head, tail) = joined.split_at(k);
        distinct((exact(head)?, exact(tail)?))
    });
    let one_shortened = || {
        at_words.iter().find_map(|&k| {
            let (head, tail) = joined.split_at(k);
            match (exact(head), exact(tail)) {
                (Some(i), None) => distinct((i, shortened(tail)?)),
                (None, Some(j)) => distinct((shortened(head)?, j)),
                _ => None,
            }
        })
    };
    let both_loose = || {
        (joined.len() >= 8 && words.iter().any(|w| begins_alike(joined, w)))
            .then(|| {
                (3..=joined.len() - 3)
                    .map(|k| joined.split_at(k))
                    .find_map(|(head, tail)| distinct((loose(head)?, loose(tail)?)))
            })
            .flatten()
    };
    whole.or_else(one_shortened).or_else(both_loose)
}

/// Whether two words begin alike as a typo or an abbreviation of one another must: the same
/// first letter, or the first two swapped (`Gelnwood`).
fn begins_alike(a: &str, b: &str) -> bool {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    x.len() >= 2 && y.len() >= 2 && (x[0] == y[0] || (x[0] == y[1] && x[1] == y[0]))
}

/// Where `short` is the initials of some of `words` (`ecd` = early childhood development,
/// `wwtw` = waste water treatment works): their indices, one word per letter in the letters'
/// order. Three to five letters; a word for a kind of work (`Construction`) is taken only when
/// no other word fits.
fn initials_of(short: &str, words: &[&str]) -> Option<Vec<usize>> {
    if !(3..=5).contains(&short.len()) || !short.bytes().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let mut used: Vec<usize> = Vec::with_capacity(short.len());
    for c in short.bytes() {
        let fits = |i: &usize, work: bool| {
            !used.contains(i)
                && words[*i].len() >= 3
                && words[*i].as_bytes()[0] == c
                && words[*i] != short
                && WorkKind::is_work_word(words[*i]) == work
        };
        let i = (0..words.len())
            .find(|i| fits(i, false))
            .or_else(|| (0..words.len()).find(|i| fits(i, true)))?;
        used.push(i);
    }
    Some(used)
}

/// The words of two names that are not the same word, and what matching them as typos,
/// abbreviations, joins and initialisms has credited so far.
struct Unshared<'a> {
    /// Words of the left name not matched yet.
    a: Vec<&'a str>,
    /// Words of the right name not matched yet.
    b: Vec<&'a str>,
    /// Weight the names share (shared words, and matched words by their credit).
    common: f64,
    /// Left weight that counts for nothing (a matched word the block does not know weighs what
    /// its counterpart weighs; a dropped tag).
    unused: f64,
}

impl<'a> Unshared<'a> {
    /// Merges the two sorted word lists: shared words count in full, the rest is left to match.
    fn merge(ta: &'a [String], tb: &'a [String], tw: &TermWeights) -> Self {
        let (mut i, mut j) = (0, 0);
        let mut out = Unshared {
            a: Vec::new(),
            b: Vec::new(),
            common: 0.0,
            unused: 0.0,
        };
        while i < ta.len() || j < tb.len() {
            match (ta.get(i), tb.get(j)) {
                (Some(x), Some(y)) if x == y => {
                    out.common += tw.weight(x);
                    i += 1;
                    j += 1;
                }
                (Some(x), Some(y)) if x < y => {
                    out.a.push(x);
                    i += 1;
                }
                (Some(x), None) => {
                    out.a.push(x);
                    i += 1;
                }
                (_, Some(y)) => {
                    out.b.push(y);
                    j += 1;
                }
                (None, None) => break,
            }
        }
        out
    }

    /// A left word that stands for several right words (`credit` of their weight), or a right
    /// word for several left words, as `parts_of` finds them: joins (`AccessRoad`, at 0.9),
    /// initialisms (`ECD`, at 0.85) or a word joined to its verb (`REFURBHILLCREST`, at 0.9).
    fn compounds(&mut self, tw: &TermWeights, credit: f64, parts_of: fn(&str, &[&str]) -> Option<Vec<usize>>) {
        let mut k = 0;
        while k < self.a.len() {
            let t = self.a[k];
            let Some(parts) = parts_of(t, &self.b) else {
                k += 1;
                continue;
            };
            let words: Vec<&str> = parts.iter().map(|&i| self.b[i]).collect();
            let wp: f64 = words.iter().map(|w| tw.weight(w)).sum();
            let wt = if tw.knows(t) { tw.weight(t) } else { wp };
            self.unused += tw.weight(t) - wt;
            self.common += credit * (wt + wp) / 2.0;
            self.b.retain(|u| !words.contains(u));
            self.a.remove(k);
        }
        let mut k = 0;
        while k < self.b.len() {
            let u = self.b[k];
            let Some(parts) = parts_of(u, &self.a) else {
                k += 1;
                continue;
            };
            let words: Vec<&str> = parts.iter().map(|&i| self.a[i]).collect();
            self.common += credit * (words.iter().map(|w| tw.weight(w)).sum::<f64>() + tw.weight(u)) / 2.0;
            self.a.retain(|t| !words.contains(t));
            self.b.remove(k);
        }
    }

    /// Typos and abbreviations: the best counterpart for each left word.
    fn typos(&mut self, tw: &TermWeights) {
        let b = &mut self.b;
        let (common, unused) = (&mut self.common, &mut self.unused);
        self.a.retain(|t| {
            let best = b
                .iter()
                .enumerate()
                .filter_map(|(i, u)| word_match(t, u).map(|c| (c, i)))
                .max_by(|x, y| x.0.total_cmp(&y.0).then(y.1.cmp(&x.1)));
            let Some((credit, i)) = best else { return true };
            let wu = tw.weight(b[i]);
            let wt = if tw.knows(t) { tw.weight(t) } else { wu };
            *unused += tw.weight(t) - wt;
            *common += credit * (wt + wu) / 2.0;
            b.remove(i);
            false
        });
    }

    /// Words left over that are no evidence the names differ, counted as unused: a word the block
    /// does not know short enough to be a tag (`IZ`, `CRR`, `USDG`; a place name no right-hand
    /// project uses, `Fordsburg`, is evidence), and a verb on one side only (`Construction of
    /// Qonce Primary School` against `Qonce Primary School` says what kind of work it is, which
    /// the `kind` comparison weighs).
    fn drop_non_evidence(&mut self, ta: &[String], tb: &[String], tw: &TermWeights) -> Vec<&'a str> {
        let has_work_word = |ts: &[String]| ts.iter().any(|t| WorkKind::is_work_word(t));
        let (a_work, b_work) = (has_work_word(ta), has_work_word(tb));
        let mut dropped: Vec<&str> = Vec::new();
        for &t in &self.a {
            if (!tw.knows(t) && t.len() <= 4) || (!b_work && WorkKind::is_work_word(t)) {
                self.unused += tw.weight(t);
                dropped.push(t);
            }
        }
        for &u in &self.b {
            if !a_work && WorkKind::is_work_word(u) {
                self.unused += tw.weight(u);
                dropped.push(u);
            }
        }
        dropped
    }
}

/// Where `joined` is a word of `words` (four letters or more) written after a verb without a
/// space (`refurbhillcrest` = `refurb` + `hillcrest`): that word's index.
fn verb_joined(joined: &str, words: &[&str]) -> Option<usize> {
    if joined.len() < 7 || !joined.is_ascii() {
        return None;
    }
    words.iter().position(|w| {
        w.len() >= 4
            && joined.len() >= w.len() + 3
            && joined.ends_with(w)
            && WorkKind::is_work_word(&joined[..joined.len() - w.len()])
    })
}

/// [`verb_joined`] as a list of parts (one).
fn verb_join_parts(joined: &str, words: &[&str]) -> Option<Vec<usize>> {
    verb_joined(joined, words).map(|i| vec![i])
}

/// [`split_as_two`] as a list of parts.
fn join_parts(joined: &str, words: &[&str]) -> Option<Vec<usize>> {
    split_as_two(joined, words).map(|(i, j)| vec![i, j])
}

/// Two names compared: their similarity, and whether each names something rare the other does
/// not (a place).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NameMatch {
    /// [`profile_similarity`].
    pub similarity: f64,
    /// Each name has a particular word (a place: a word of a tenth of the run's municipalities
    /// or fewer; in a run of fewer than ten, a word in one name in fifty of the block or fewer,
    /// or unknown to it) that matches nothing in the other and is neither a tag nor a verb, and
    /// no two of those words look alike (same first three letters, or Jaro-Winkler ≥ 0.8):
    /// `REFURB HUMEWOOD SWR PUMP STN` and `Refurbishment of KwaDwesi Sewer Pump Station` name
    /// different places, however many other words they share.
    pub conflict: bool,
}

/// [`weighted_similarity`] of two prepared names (no allocation but the small word lists):
/// 0.75 × term-weighted Dice over the words that count + 0.25 × Jaro-Winkler of their spelling.
pub fn profile_similarity(a: &NameProfile, b: &NameProfile, tw: &TermWeights) -> f64 {
    compare_names(a, b, tw).similarity
}

/// [`profile_similarity`] with whether the names conflict.
pub fn compare_names<'a>(a: &'a NameProfile, b: &'a NameProfile, tw: &TermWeights) -> NameMatch {
    let (ta, tb) = (&a.tokens, &b.tokens);
    if ta.is_empty() || tb.is_empty() {
        return NameMatch {
            similarity: 0.0,
            conflict: false,
        };
    }
    // Words of one side that are joins, initialisms, typos or abbreviations of the other
    // side's words. Joins first (`ACCESSROAD` would otherwise pass for an abbreviation of
    // `access`), then initialisms (`ECD Centre`, `Early Childhood Development Centre`).
    let mut rest = Unshared::merge(ta, tb, tw);
    rest.compounds(tw, 0.9, join_parts);
    rest.compounds(tw, 0.85, initials_of);
    rest.typos(tw);
    // A word written joined to the verb before it (`REFURBHILLCREST`, `UPGRBOTSHABELO`), on
    // either side: matched at 0.9 to the other name's word it ends with.
    rest.compounds(tw, 0.9, verb_join_parts);
    let dropped = rest.drop_non_evidence(ta, tb, tw);
    let rare = |ws: &[&'a str]| -> Vec<&'a str> {
        ws.iter()
            .copied()
            .filter(|w| !dropped.contains(w) && !WorkKind::is_work_word(w) && tw.particular(w))
            .collect()
    };
    // Two rare words that look alike are one word garbled twice (`Doornfontein` cut short and
    // misspelt as `DOORFNON`), not two places.
    let alike = |x: &str, y: &str| x.get(..3) == y.get(..3) || strsim::jaro_winkler(x, y) >= 0.8;
    let (rare_a, rare_b) = (rare(&rest.a), rare(&rest.b));
    let conflict =
        !rare_a.is_empty() && !rare_b.is_empty() && !rare_a.iter().any(|x| rare_b.iter().any(|y| alike(x, y)));
    // A number both names carry (`Ext 12`) counts like a shared word; numbers on one side only
    // are the `numbers` comparison's business, not the name's.
    let shared_numbers: f64 = a
        .numbers
        .iter()
        .filter(|x| b.numbers.binary_search(x).is_ok())
        .map(|x| tw.weight(&x.to_string()))
        .sum();
    let w = |s: &[String]| s.iter().map(|t| tw.weight(t)).sum::<f64>();
    let dice = (2.0 * (rest.common + shared_numbers) / (w(ta) - rest.unused + w(tb) + 2.0 * shared_numbers).max(1e-9))
        .min(1.0);
    // The spelling is compared over the words that count: a verb or tag on one side only is
    // left out of it as it is of the words.
    let jw = if dropped.is_empty() {
        strsim::jaro_winkler(&a.joined, &b.joined)
    } else {
        let keep = |ts: &[String]| {
            ts.iter()
                .filter(|t| !dropped.contains(&t.as_str()))
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        };
        strsim::jaro_winkler(&keep(ta), &keep(tb))
    };
    NameMatch {
        similarity: 0.75 * dice + 0.25 * jw,
        conflict,
    }
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
    /// The numbers in the name (phase, sequence, extension), sorted.
    pub numbers: Vec<u64>,
    /// The kind of work: SA36's `Type`, else the name's verb.
    pub kind: Option<WorkKind>,
    /// What is built (school, clinic, road, …): from the name, else the sector or asset class.
    pub facility: Option<super::facility::Facilities>,
}

impl Prepared {
    /// Prepares one record.
    pub fn new(r: &Record) -> Self {
        let mut wards: Option<Vec<String>> = ward_numbers(r).map(|w| w.into_iter().collect());
        if let Some(w) = wards.as_mut() {
            w.sort_unstable();
        }
        // A name of numbers or punctuation only says nothing a name comparison could use.
        let name = r
            .match_name()
            .map(|n| NameProfile::new(&without_tags(n)))
            .filter(|n| !n.tokens.is_empty());
        Self {
            numbers: name.as_ref().map(|n| n.numbers.clone()).unwrap_or_default(),
            // A provincial department's verb (`Upgrading of …`) is its own account of the
            // work, written apart from the municipality's SA36 `Type` and IDP wording: it is not
            // compared.
            kind: (r.dataset != crate::contracts::Dataset::Departmental)
                .then(|| {
                    r.project_type
                        .as_deref()
                        .and_then(WorkKind::from_type)
                        .or_else(|| r.match_name().and_then(WorkKind::from_name))
                })
                .flatten(),
            facility: super::facility::facilities(r),
            name,
            wards,
            years: municipal_years(r).into_iter().collect(),
            ignore: ignored_tokens(r),
        }
    }
}

/// A name without its one-word bracketed tags (`(IZ5)`, `(USDG)`, `(CRR)`): how a project is
/// funded or which integration zone it serves, not which project it is — and an integration
/// zone's number is not the project's. Bracketed phrases (`(Ward 12)`, `(Dept of Health)`) stay.
pub fn without_tags(name: &str) -> std::borrow::Cow<'_, str> {
    if !name.contains('(') {
        return std::borrow::Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(open) = rest.find('(') {
        let Some(close) = rest[open..].find(')') else { break };
        let inner = &rest[open + 1..open + close];
        out.push_str(&rest[..open]);
        if inner.trim().contains(char::is_whitespace) {
            out.push_str(&rest[open..=open + close]);
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Whether two sorted lists (years, ward codes) share an element.
pub fn sorted_overlap<T: Ord>(a: &[T], b: &[T]) -> bool {
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
                .dominant_in(crate::domain::fiscal::Calendar::Municipal)
                .start_year
        })
        .collect()
}

fn haversine_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (a.0.to_radians(), a.1.to_radians(), b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2) + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

/// Tokens that are no evidence when `l` is compared: a departmental record's own department
/// and sector names (an IDP lists it as "Xapho Clinic (Dept of Health)").
pub fn ignored_tokens(l: &Record) -> BTreeSet<String> {
    if l.dataset != crate::contracts::Dataset::Departmental {
        return BTreeSet::new();
    }
    // Words of its own name stay (`Development` of `Early Childhood Development Centre`, built
    // by Social Development).
    let own: BTreeSet<String> = l
        .match_name()
        .map(crate::names::tokens)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let mut out: BTreeSet<String> = [l.department.as_deref(), l.function.as_deref()]
        .into_iter()
        .flatten()
        .flat_map(crate::names::tokens)
        .filter(|t| !own.contains(t))
        .collect();
    // Nor is its verb: a department's `Upgrading of …` or `… - Replacement` is its own account
    // of the work, not the municipality's (the `kind` comparison leaves it out too).
    out.extend(DEPARTMENTAL_VERBS.iter().map(|v| v.to_string()));
    // The department's initialism as IDPs write it: `(DoH)` for Health, `(DRPW)` for Roads and
    // Public Works.
    if let Some(dept) = l.department.as_deref() {
        let initials: String = crate::names::tokens(dept)
            .iter()
            .filter_map(|w| w.chars().next())
            .filter(|c| c.is_alphabetic())
            .collect();
        if !initials.is_empty() {
            out.insert(format!("d{initials}"));
            out.insert(format!("do{initials}"));
            if initials.len() >= 2 {
                out.insert(initials);
            }
        }
    }
    out
}

/// Verbs (canonical) that say how a department describes its work, not which project it is.
/// `development` and `extension` are left out: they also name things (`Early Childhood
/// Development Centre`, `Extension 18`).
const DEPARTMENTAL_VERBS: &[&str] = &[
    "upgrade",
    "expansion",
    "construction",
    "installation",
    "provision",
    "establishment",
    "rehabilitation",
    "refurbishment",
    "replacement",
    "renewal",
    "repair",
    "repairs",
    "reconstruction",
];

/// The comparisons and their levels, in evidence order. The model gives each level an m and a u.
pub const COMPARISONS: [(&str, &[&str]); N_COMPARISONS] = [
    ("name", &["exact", "high", "medium", "low"]),
    ("wards", &["overlap", "disjoint"]),
    ("years", &["overlap", "disjoint"]),
    ("amount", &["close", "similar", "same_order", "different"]),
    ("asset_class", &["agree", "disagree"]),
    ("gps", &["near", "same_area", "far"]),
    ("numbers", &["agree", "partial", "disagree"]),
    ("kind", &["agree", "disagree"]),
    ("facility", &["agree", "disagree"]),
];

/// How many comparisons a pair goes through.
pub const N_COMPARISONS: usize = 9;

/// Lowest name similarity of each name level (`exact`, `high`, `medium`, `low`).
pub const NAME_THRESHOLDS: [f64; 4] = [0.92, 0.78, 0.6, 0.0];

/// The default (m, u) of every level of [`COMPARISONS`], set from the sample and the real files.
const DEFAULT_M_U: [&[(f64, f64)]; N_COMPARISONS] = [
    &[(0.55, 0.0005), (0.30, 0.004), (0.10, 0.03), (0.05, 0.9655)],
    &[(0.8, 0.05), (0.2, 0.95)],
    &[(0.95, 0.6), (0.05, 0.4)],
    // Amounts within 10% of each other in a shared year are rare between different projects.
    &[(0.5, 0.05), (0.3, 0.15), (0.15, 0.3), (0.05, 0.5)],
    &[(0.85, 0.15), (0.15, 0.85)],
    &[(0.7, 0.01), (0.25, 0.2), (0.05, 0.79)],
    // Numbers in names (phase 2, item 9, Ext 4): the same numbers are evidence for, one side
    // without them weakly against, different numbers strongly against.
    &[(0.92, 0.25), (0.05, 0.35), (0.03, 0.4)],
    // The kind of work (new, upgrading, renewal).
    &[(0.9, 0.5), (0.1, 0.5)],
    // What is built (a school, a library, a road): different things are rarely one project,
    // however alike the places in their names.
    &[(0.92, 0.3), (0.08, 0.7)],
];

/// Where a model's parameters came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSource {
    /// Built-in defaults.
    Default,
    /// Set in the pipeline (`reconcile.model.levels`).
    Pipeline,
    /// Estimated by EM from this run's candidate pairs.
    Estimated,
}

impl ModelSource {
    /// The name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelSource::Default => "default",
            ModelSource::Pipeline => "pipeline",
            ModelSource::Estimated => "em",
        }
    }
}

/// The Fellegi–Sunter parameters: for every comparison and level, m = P(level | match) and
/// u = P(level | non-match). A level's weight is log2(m/u).
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// m per comparison, per level (indexed like [`COMPARISONS`]).
    pub m: Vec<Vec<f64>>,
    /// u per comparison, per level.
    pub u: Vec<Vec<f64>>,
    /// Where each comparison's values came from (indexed like [`COMPARISONS`]).
    pub sources: Vec<ModelSource>,
}

impl Default for Model {
    fn default() -> Self {
        Self {
            m: DEFAULT_M_U.iter().map(|ls| ls.iter().map(|x| x.0).collect()).collect(),
            u: DEFAULT_M_U.iter().map(|ls| ls.iter().map(|x| x.1).collect()).collect(),
            sources: vec![ModelSource::Default; N_COMPARISONS],
        }
    }
}

/// Finds a level by its `comparison.level` name (as in the pipeline): (comparison, level).
pub fn level_index(key: &str) -> Option<(usize, usize)> {
    let (c, l) = key.split_once('.')?;
    let ci = COMPARISONS.iter().position(|(name, _)| *name == c)?;
    let li = COMPARISONS[ci].1.iter().position(|x| *x == l)?;
    Some((ci, li))
}

/// Every `comparison.level` name, for messages.
pub fn level_names() -> Vec<String> {
    COMPARISONS
        .iter()
        .flat_map(|(c, ls)| ls.iter().map(move |l| format!("{c}.{l}")))
        .collect()
}

impl Model {
    /// The defaults with the pipeline's `comparison.level` → (m, u) values applied (names are
    /// checked when the pipeline is loaded; unknown ones are ignored here).
    pub fn with_levels(levels: &std::collections::BTreeMap<String, (f64, f64)>) -> Self {
        let mut model = Self::default();
        for (key, (m, u)) in levels {
            if let Some((c, l)) = level_index(key) {
                model.m[c][l] = *m;
                model.u[c][l] = *u;
                model.sources[c] = ModelSource::Pipeline;
            }
        }
        model
    }

    /// log2(m/u) of a level.
    pub fn weight(&self, comparison: usize, level: usize) -> f64 {
        (self.m[comparison][level] / self.u[comparison][level]).log2()
    }

    /// The evidence of a pair's outcomes: one entry per comparison, and the total weight.
    pub fn evidence(&self, outcomes: &Outcomes) -> (Vec<Comparison>, f64) {
        let mut total = 0.0;
        let out = outcomes
            .iter()
            .enumerate()
            .map(|(c, o)| {
                let (level, weight) = match o.level {
                    Some(l) => (COMPARISONS[c].1[l as usize], self.weight(c, l as usize)),
                    None => ("missing", 0.0),
                };
                total += weight;
                Comparison {
                    name: COMPARISONS[c].0,
                    level,
                    weight,
                    value: o.value,
                }
            })
            .collect();
        (out, total)
    }
}

/// One comparison's outcome before weighting: the level reached (`None` when a value is missing
/// on either side) and the measured value.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Outcome {
    /// Index into the comparison's levels.
    pub level: Option<u8>,
    /// Similarity, ratio or km, where measured.
    pub value: Option<f64>,
}

/// The outcomes of all comparisons of one pair, indexed like [`COMPARISONS`].
pub type Outcomes = [Outcome; N_COMPARISONS];

fn level(l: usize, value: Option<f64>) -> Outcome {
    Outcome {
        level: Some(l as u8),
        value,
    }
}

/// Where two prepared records agree and differ, comparison by comparison.
pub fn outcomes(l: &Record, r: &Record, lp: &Prepared, rp: &Prepared, tw: &TermWeights) -> Outcomes {
    outcomes_given(l, r, lp, rp, tw, None)
}

/// [`outcomes`], with the pair's name comparison when it is already known.
pub fn outcomes_given(
    l: &Record,
    r: &Record,
    lp: &Prepared,
    rp: &Prepared,
    tw: &TermWeights,
    name: Option<NameMatch>,
) -> Outcomes {
    let mut out = Outcomes::default();
    if let (Some(a), Some(b)) = (&lp.name, &rp.name) {
        let m = name.unwrap_or_else(|| {
            if lp.ignore.is_empty() {
                compare_names(a, b, tw)
            } else {
                compare_names(&a.without(&lp.ignore), &b.without(&lp.ignore), tw)
            }
        });
        let l = NAME_THRESHOLDS.iter().position(|t| m.similarity >= *t).unwrap_or(3);
        // Names of different places name different things, however alike the rest of their
        // words (as names whose numbers differ do): `low`.
        let l = if m.conflict { 3 } else { l };
        out[0] = level(l, Some(m.similarity));
    }
    if let (Some(a), Some(b)) = (&lp.wards, &rp.wards) {
        out[1] = level(if sorted_overlap(a, b) { 0 } else { 1 }, None);
    }
    let (ya, yb) = (&lp.years, &rp.years);
    if !ya.is_empty() && !yb.is_empty() {
        out[2] = level(if sorted_overlap(ya, yb) { 0 } else { 1 }, None);
    }
    // Amounts of similar size over the shared years: the totals of the years both records
    // have a positive amount in, so that one year's revision weighs less than three years that
    // agree.
    let fy = |rec: &Record, y: i32| {
        rec.amounts
            .iter()
            .find(|a| {
                a.year
                    .dominant_in(crate::domain::fiscal::Calendar::Municipal)
                    .start_year
                    == y
            })
            .map(|a| rec.amount_in(a.year).unwrap_or(a.rand))
    };
    let (mut sum_a, mut sum_b) = (0.0, 0.0);
    for y in ya.iter().filter(|y| yb.binary_search(y).is_ok()) {
        if let (Some(a), Some(b)) = (fy(l, *y), fy(r, *y)) {
            if a > 0.0 && b > 0.0 {
                sum_a += a;
                sum_b += b;
            }
        }
    }
    let shared: Option<f64> = (sum_a > 0.0 && sum_b > 0.0).then(|| sum_a.min(sum_b) / sum_a.max(sum_b));
    if let Some(ratio) = shared {
        out[3] = level(
            if ratio >= 0.9 {
                0
            } else if ratio >= 0.5 {
                1
            } else if ratio >= 0.2 {
                2
            } else {
                3
            },
            Some(ratio),
        );
    }
    if let (Some(a), Some(b)) = (l.asset_class.as_deref(), r.asset_class.as_deref()) {
        out[4] = level(if a.eq_ignore_ascii_case(b) { 0 } else { 1 }, None);
    }
    if let (Some(a), Some(b)) = (l.latitude.zip(l.longitude), r.latitude.zip(r.longitude)) {
        let km = haversine_km(a, b);
        out[5] = level(
            if km <= 2.0 {
                0
            } else if km <= 20.0 {
                1
            } else {
                2
            },
            Some(km),
        );
    }
    // Numbers are those of the names: a record without a name has none to compare.
    if lp.name.is_some() && rp.name.is_some() {
        out[6] = numbers_outcome(&lp.numbers, &rp.numbers);
    }
    // Names whose numbers differ name different things (phase 2 and phase 3, item 2 and item
    // 9, Ext 4 and Ext 5), however alike their words: the name does not agree. Names of which
    // only one has a number (`Rabie Ridge Library`, `Rabie Ridge Extension 18 Library`) are not
    // the same name: at most `high`.
    match out[6].level {
        Some(2) => {
            if let Some(name) = out[0].level.as_mut() {
                *name = 3;
            }
        }
        Some(1) => {
            if let Some(name) = out[0].level.as_mut() {
                *name = (*name).max(1);
            }
        }
        _ => {}
    }
    if let (Some(a), Some(b)) = (lp.kind, rp.kind) {
        out[7] = level(if a == b { 0 } else { 1 }, None);
    }
    if let (Some(a), Some(b)) = (lp.facility, rp.facility) {
        out[8] = level(if a & b != 0 { 0 } else { 1 }, None);
    }
    out
}

/// Numbers in two names: the same (agree), one side's within the other's or only one side with
/// numbers (partial), or different (disagree); missing when neither name has a number.
fn numbers_outcome(a: &[u64], b: &[u64]) -> Outcome {
    if a.is_empty() && b.is_empty() {
        return Outcome::default();
    }
    let within = |x: &[u64], y: &[u64]| x.iter().all(|n| y.binary_search(n).is_ok());
    let l = if a == b {
        0
    } else if within(a, b) || within(b, a) {
        1
    } else {
        2
    };
    level(l, None)
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
    fn a_word_used_in_one_provinces_municipalities_only_is_a_place() {
        // Twelve municipalities in four provinces. `Gelvandale` and `Ibhayi` are in the names
        // of every Eastern Cape one (eight of twelve: far more than a tenth), the interchange
        // everywhere.
        let codes = [
            "EC101", "EC102", "EC104", "EC105", "EC106", "EC108", "BUF", "NMA", "CPT", "JHB", "ETH", "TSH",
        ];
        let mut records = Vec::new();
        for (i, code) in codes.iter().enumerate() {
            let place = if code.starts_with("EC") || *code == "BUF" || *code == "NMA" {
                if i % 2 == 0 {
                    "Gelvandale"
                } else {
                    "Ibhayi"
                }
            } else {
                "Soweto"
            };
            for (j, p) in [place, if place == "Gelvandale" { "Ibhayi" } else { place }]
                .iter()
                .enumerate()
            {
                records.push(Record {
                    project_name: Some(format!("{p} Public Transport Interchange")),
                    ..Record::bare(&format!("{code}-{j}"), "s", crate::contracts::Dataset::Idp, code)
                });
            }
        }
        let prepared: Vec<Prepared> = records.iter().map(Prepared::new).collect();
        let spread = Spread::of(&records, &prepared).map(std::sync::Arc::new);
        let (a, b) = (
            NameProfile::new("Construction of Gelvandale Public Transport Interchange"),
            NameProfile::new("CONSTR IBHAYI PUBLIC TRANSPORT INTERCHANGE"),
        );
        let s = spread.as_ref().expect("twelve municipalities");
        let local = |w: &str| s.local(&s.munis[w]);
        assert_eq!(
            (
                s.munis["gelvandale"].munis,
                s.munis["ibhayi"].munis,
                s.local_max,
                s.provinces
            ),
            (4, 8, 1, 4)
        );
        assert!(local("gelvandale") && local("ibhayi") && !local("interchange") && !local("public"));
        let tw = TermWeights::from_profiles([&b].into_iter()).with_spread(spread);
        assert!(compare_names(&a, &b, &tw).conflict);
    }

    #[test]
    fn name_levels_and_weights() {
        let level_of = |s: f64| NAME_THRESHOLDS.iter().position(|t| s >= *t).unwrap_or(3);
        let names = COMPARISONS[0].1;
        assert_eq!(names[level_of(0.99)], "exact");
        assert_eq!(names[level_of(0.8)], "high");
        assert_eq!(names[level_of(0.65)], "medium");
        assert_eq!(names[level_of(0.1)], "low");
        let m = Model::default();
        assert!(m.weight(0, 0) > 9.0 && m.weight(0, 3) < -4.0);
    }

    #[test]
    fn pipeline_levels_replace_defaults() {
        let mut levels = std::collections::BTreeMap::new();
        levels.insert("wards.overlap".to_string(), (0.9, 0.1));
        let m = Model::with_levels(&levels);
        assert_eq!(m.sources[1], ModelSource::Pipeline);
        assert_eq!(m.sources[0], ModelSource::Default, "names keep the defaults");
        assert!((m.weight(1, 0) - 9f64.log2()).abs() < 1e-12);
        assert_eq!(m.weight(0, 0), Model::default().weight(0, 0));
        assert_eq!(level_index("gps.far"), Some((5, 2)));
        assert_eq!(level_index("gps.closeby"), None);
    }

    #[test]
    fn shortened_joined_and_doubled_words_match_and_numbers_do_not() {
        assert_eq!(word_match("retic", "reticulation"), Some(0.85));
        assert!(word_match("kimberley", "kimberl").is_some_and(|c| c >= 0.85));
        // Without its vowels a word is as sure as a typo; some consonants dropped too, less so.
        assert_eq!(word_match("strmwtr", "stormwater"), Some(0.9));
        assert_eq!(word_match("zwelitsha", "zwltsh"), Some(0.9));
        assert_eq!(word_match("ctr", "centre"), Some(0.8));
        // A plural written short against the name's singular (`OFFCS`, `office`).
        assert_eq!(word_match("offcs", "office"), Some(0.9));
        assert!(word_match("eempangeni", "empangeni").is_some_and(|c| c > 0.85));
        assert_eq!(word_match("hall", "clinic"), None);
        assert_eq!(word_match("2", "3"), None);
        assert_eq!(split_as_two("accessroad", &["road", "access", "x"]), Some((1, 0)));
        // One part shortened, the other whole; both shortened only in a longer join.
        assert_eq!(split_as_two("accssroad", &["road", "access"]), Some((1, 0)));
        assert_eq!(split_as_two("accessrds", &["roads", "access"]), Some((1, 0)));
        assert_eq!(split_as_two("accsrds", &["roads", "access"]), None);
        // A longer join may have both parts shortened or misspelt.
        assert_eq!(
            split_as_two("instalbathrust", &["bathurst", "installation"]),
            Some((1, 0))
        );
        assert_eq!(
            split_as_two("rhbbloemfontein", &["bloemfontein", "rehabilitation"]),
            Some((1, 0))
        );
        let tw = TermWeights::new(["Access Road Kimberley", "Hall Kimberley"].into_iter());
        let joined = weighted_similarity("ACCESSROAD KIMBERL", "Access Road Kimberley", &tw);
        assert!(joined > NAME_THRESHOLDS[1], "{joined}");
        // A place joined to the verb before it, the other name without the verb.
        assert_eq!(verb_joined("refurbhillcrest", &["station", "hillcrest"]), Some(1));
        assert_eq!(verb_joined("upgrbotshabelo", &["botshabelo"]), Some(0));
        assert_eq!(verb_joined("kwamashu", &["mashu"]), None);
        let tw = TermWeights::new(["REFURBHILLCREST WASTE TRANSFER STN", "Hillcrest Hall", "Waste Depot"].into_iter());
        let m = compare_names(
            &NameProfile::new("Hillcrest Waste Transfer Station"),
            &NameProfile::new("REFURBHILLCREST WASTE TRANSFER STN"),
            &tw,
        );
        assert!(!m.conflict && m.similarity > 0.85, "{m:?}");
    }

    #[test]
    fn one_word_tags_are_dropped_and_phrases_kept() {
        assert_eq!(
            without_tags("Rocklands Lights Refurbishment (IZ1)"),
            "Rocklands Lights Refurbishment "
        );
        assert_eq!(without_tags("X Road (Ward 12) (USDG)"), "X Road (Ward 12) ");
        assert_eq!(
            without_tags("Xhora Clinic (Dept of Health)"),
            "Xhora Clinic (Dept of Health)"
        );
        assert_eq!(without_tags("Unclosed (tag"), "Unclosed (tag");
        let rec = Record {
            project_name: Some("Jabavu Hawker Stalls Upgrade Phase 4 (IZ2)".into()),
            ..Record::bare("b", "s", crate::contracts::Dataset::Bepp, "JHB")
        };
        assert_eq!(Prepared::new(&rec).numbers, vec![4]);
    }

    #[test]
    fn initialisms_match_the_words_they_stand_for() {
        assert_eq!(
            initials_of("ecd", &["construction", "early", "childhood", "development"]),
            Some(vec![1, 2, 3])
        );
        assert_eq!(initials_of("ecd", &["early", "childhood"]), None);
        assert_eq!(
            initials_of("cd", &["childhood", "development"]),
            None,
            "two letters say too little"
        );
        let tw = TermWeights::new(["Nseleni Early Childhood Development Centre", "Nseleni Hall"].into_iter());
        let s = weighted_similarity("NSELENI ECD CENTRE", "Nseleni Early Childhood Development Centre", &tw);
        assert!(s > NAME_THRESHOLDS[1], "{s}");
        let s = weighted_similarity("Nseleni Early Childhood Development Centre", "NSELENI ECD CENTRE", &tw);
        assert!(s > NAME_THRESHOLDS[1], "{s}");
    }

    #[test]
    fn what_is_built_agrees_or_disagrees() {
        let rec = |name: &str, dataset| Record {
            project_name: Some(name.into()),
            ..Record::bare(name, "s", dataset, "BUF")
        };
        let school = Record {
            department: Some("Education".into()),
            ..rec(
                "Bethelsdorp Section B Primary School",
                crate::contracts::Dataset::Departmental,
            )
        };
        let library = rec(
            "CONSTR BETHELSDORP SECTION B LIBRARY",
            crate::contracts::Dataset::Budget,
        );
        let clinic = Record {
            asset_sub_class: Some("Clinics/Care Centres".into()),
            ..Record::bare("b", "s", crate::contracts::Dataset::Budget, "BUF")
        };
        let idp_clinic = rec("Construction of Nseleni Clinic", crate::contracts::Dataset::Idp);
        let tw = TermWeights::new(["CONSTR BETHELSDORP SECTION B LIBRARY"].into_iter());
        let facility = |a: &Record, b: &Record| outcomes(a, b, &Prepared::new(a), &Prepared::new(b), &tw)[8].level;
        assert_eq!(facility(&school, &library), Some(1));
        assert_eq!(facility(&clinic, &idp_clinic), Some(0));
        assert!(Model::default().weight(8, 1) < -3.0);
    }

    #[test]
    fn numbers_agree_partly_agree_or_disagree_and_different_numbers_sink_the_name() {
        let level = |a: &[u64], b: &[u64]| numbers_outcome(a, b).level;
        assert_eq!(level(&[2], &[2]), Some(0));
        assert_eq!(level(&[2], &[]), Some(1));
        assert_eq!(level(&[3], &[3, 4]), Some(1));
        assert_eq!(level(&[2], &[9]), Some(2));
        assert_eq!(level(&[], &[]), None);
        let rec = |name: &str| Record {
            project_name: Some(name.into()),
            ..Record::bare(name, "s", crate::contracts::Dataset::Idp, "BUF")
        };
        let (a, b) = (rec("Office Furniture - Finance 2"), rec("Office Furniture - Finance 9"));
        let (pa, pb) = (Prepared::new(&a), Prepared::new(&b));
        let tw = TermWeights::new(["Office Furniture - Finance 9"].into_iter());
        let o = outcomes(&a, &b, &pa, &pb, &tw);
        assert_eq!((o[0].level, o[6].level), (Some(3), Some(2)));
    }

    #[test]
    fn the_kind_of_work_comes_from_the_type_column_or_the_verb() {
        use crate::names::WorkKind;
        assert_eq!(WorkKind::from_type("Upgrading"), Some(WorkKind::Upgrading));
        assert_eq!(WorkKind::from_type("New"), Some(WorkKind::New));
        assert_eq!(WorkKind::from_type("Renewal"), Some(WorkKind::Renewal));
        assert_eq!(
            WorkKind::from_name("Development of High Mast Lights"),
            Some(WorkKind::New)
        );
        assert_eq!(
            WorkKind::from_name("Extension of High Mast Lights Phase 3"),
            Some(WorkKind::Upgrading)
        );
        assert_eq!(
            WorkKind::from_name("Mdantsane Hall Refurbishment"),
            Some(WorkKind::Renewal)
        );
        assert_eq!(WorkKind::from_name("Mdantsane Ext 4 Hall"), None);
        assert_eq!(WorkKind::from_name("Early Childhood Development Centre"), None);
    }

    #[test]
    fn distances() {
        let cpt = (-33.9249, 18.4241);
        let stellenbosch = (-33.9321, 18.8602);
        let km = haversine_km(cpt, stellenbosch);
        assert!((km - 40.4).abs() < 1.0, "{km}");
    }
}

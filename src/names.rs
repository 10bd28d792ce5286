//! Project-name similarity that survives Treasury abbreviations and reordered words.
//!
//! Budget lines say `UPGR MDANTSANE ACCESS RD PH2` where the IDP says `Upgrading of Mdantsane
//! Access Road Phase 2`. Names are tokenised (letters and digits split: `PH2` → `ph 2`),
//! abbreviations expanded to one canonical word, filler words dropped, and two names compared by
//! token overlap (Dice) blended with Jaro-Winkler over the sorted tokens, so word order does not
//! matter and small typos cost little.

use std::collections::BTreeSet;

/// Abbreviation or variant → canonical token.
const CANONICAL: &[(&str, &str)] = &[
    ("upgr", "upgrade"),
    ("upg", "upgrade"),
    ("upgrading", "upgrade"),
    ("upgrades", "upgrade"),
    ("upgraded", "upgrade"),
    ("rd", "road"),
    ("rds", "road"),
    ("roads", "road"),
    ("ph", "phase"),
    ("phs", "phase"),
    ("st", "street"),
    ("str", "street"),
    ("ave", "avenue"),
    ("fac", "facility"),
    ("facilities", "facility"),
    ("com", "community"),
    ("comm", "community"),
    ("furn", "furniture"),
    ("equip", "equipment"),
    ("eqp", "equipment"),
    ("off", "office"),
    ("offices", "office"),
    ("elec", "electrical"),
    ("electricity", "electrical"),
    ("electrification", "electrical"),
    ("wtr", "water"),
    ("san", "sanitation"),
    ("swr", "sewer"),
    ("sewerage", "sewer"),
    ("constr", "construction"),
    ("const", "construction"),
    ("construct", "construction"),
    ("refurb", "refurbishment"),
    ("rehab", "rehabilitation"),
    ("maint", "maintenance"),
    ("infra", "infrastructure"),
    ("dev", "development"),
    ("hsg", "housing"),
    ("bldg", "building"),
    ("bldgs", "building"),
    ("buildings", "building"),
    ("stn", "station"),
    ("ext", "extension"),
    ("sch", "school"),
    ("schools", "school"),
    ("clin", "clinic"),
    ("hosp", "hospital"),
    ("recon", "reconstruction"),
    ("resurf", "resurfacing"),
    ("install", "installation"),
    ("instal", "installation"),
    ("repl", "replacement"),
    ("replace", "replacement"),
    ("bridges", "bridge"),
    ("halls", "hall"),
    ("mdantsane", "mdantsane"),
];

/// Words that say nothing about which project it is.
const FILLER: &[&str] = &[
    "of", "the", "and", "to", "for", "in", "at", "a", "an", "on", "with", "new", "p", "cnin", "cnieu",
];

/// The canonical tokens of a name.
pub fn tokens(name: &str) -> Vec<String> {
    let lower = name.to_lowercase();
    let mut out = Vec::new();
    for word in lower.split(|c: char| !c.is_alphanumeric()) {
        // Split letters from digits: `ph2` → `ph`, `2`.
        let mut current = String::new();
        let mut last_digit: Option<bool> = None;
        for c in word.chars() {
            let d = c.is_ascii_digit();
            if last_digit.is_some_and(|l| l != d) && !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            current.push(c);
            last_digit = Some(d);
        }
        if !current.is_empty() {
            out.push(current);
        }
    }
    out.into_iter()
        .map(|t| {
            CANONICAL
                .iter()
                .find(|(k, _)| *k == t)
                .map_or(t, |(_, v)| (*v).to_string())
        })
        .filter(|t| !FILLER.contains(&t.as_str()))
        .collect()
}

/// Similarity of two names in 0–1 (1 = the same canonical tokens).
pub fn similarity(a: &str, b: &str) -> f64 {
    let ta: BTreeSet<String> = tokens(a).into_iter().collect();
    let tb: BTreeSet<String> = tokens(b).into_iter().collect();
    if ta.is_empty() || tb.is_empty() {
        return 0.0;
    }
    let common = ta.intersection(&tb).count() as f64;
    let dice = 2.0 * common / (ta.len() + tb.len()) as f64;
    let sa = ta.iter().cloned().collect::<Vec<_>>().join(" ");
    let sb = tb.iter().cloned().collect::<Vec<_>>().join(" ");
    let jw = strsim::jaro_winkler(&sa, &sb);
    0.7 * dice + 0.3 * jw
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
        Self::from_tokens(tokens(name))
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

/// [`similarity`] of two prepared names.
pub fn profile_similarity(a: &NameProfile, b: &NameProfile) -> f64 {
    let (ta, tb) = (&a.tokens, &b.tokens);
    if ta.is_empty() || tb.is_empty() {
        return 0.0;
    }
    let common = ta.iter().filter(|t| tb.binary_search(t).is_ok()).count() as f64;
    let dice = 2.0 * common / (ta.len() + tb.len()) as f64;
    0.7 * dice + 0.3 * strsim::jaro_winkler(&a.joined, &b.joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviations_expand() {
        assert_eq!(
            tokens("UPGR MDANTSANE ACCESS RD PH2"),
            ["upgrade", "mdantsane", "access", "road", "phase", "2"]
        );
        assert_eq!(
            tokens("Upgrading of Mdantsane Access Road Phase 2"),
            ["upgrade", "mdantsane", "access", "road", "phase", "2"]
        );
    }

    #[test]
    fn same_project_scores_high_and_different_low() {
        let same = similarity(
            "UPGR MDANTSANE ACCESS RD PH2",
            "Upgrading of Mdantsane Access Road Phase 2",
        );
        assert!((same - 1.0).abs() < 1e-9, "{same}");
        let reordered = similarity("Road Mdantsane Access upgrade", "Upgrading of Mdantsane Access Road");
        assert!(reordered > 0.99, "{reordered}");
        let other_phase = similarity("Mdantsane Access Road Phase 2", "Mdantsane Access Road Phase 3");
        assert!(other_phase < 0.9 && other_phase > 0.6, "{other_phase}");
        let different = similarity("Zwelitsha Sports Field", "Mdantsane Access Road");
        assert!(different < 0.3, "{different}");
        assert_eq!(similarity("", "Road"), 0.0);
    }
}

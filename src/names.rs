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
    // `Soshanguve X2`: the number is split off, leaving `x`.
    ("x", "extension"),
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
    "of",
    "the",
    "and",
    "to",
    "for",
    "in",
    "at",
    "a",
    "an",
    "on",
    "with",
    "new",
    "p",
    "cnin",
    "cnieu",
    "dept",
    "department",
    // Funding tags (`(PROV GRANT)`, `(USDG)`): how a line is funded, not which project it is.
    "usdg",
    "icdg",
    "ndpg",
    "mig",
    "wsig",
    "inep",
    "ptng",
    "hsdg",
    "crr",
    "grant",
    "prov",
];

/// The canonical tokens of a name.
pub fn tokens(name: &str) -> Vec<String> {
    let lower = split_camel_case(name).to_lowercase();
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
        .map(|t| shortened_verb(&t).map_or(t, str::to_string))
        .collect()
}

/// The verbs of capital work as they are written in full, with their canonical word, and
/// whether a shortening may drop letters inside (`UPGRDNG`, `CNSTR`, `RHBLTTN`) or only cut
/// the end (`PROV` is a funding tag, `EST` an estate).
const WORK_VERBS: &[(&str, &str, bool)] = &[
    ("upgrading", "upgrade", true),
    ("construction", "construction", true),
    ("rehabilitation", "rehabilitation", true),
    ("refurbishment", "refurbishment", true),
    ("replacement", "replacement", true),
    ("installation", "installation", true),
    ("reconstruction", "reconstruction", true),
    ("resurfacing", "resurfacing", false),
    ("provision", "provision", false),
    ("establishment", "establishment", false),
];

/// The canonical verb a word shortens, however it is shortened: cut (`CONS`, four letters at
/// least) or written with letters left out (`UPGRDNG`, `RHB`: its first letter and consonants
/// begin the verb's, three at least).
fn shortened_verb(t: &str) -> Option<&'static str> {
    if t.len() < 3 || !t.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    let first = t.as_bytes()[0];
    let mut verbs = WORK_VERBS
        .iter()
        .filter(|(full, ..)| full.as_bytes()[0] == first)
        .peekable();
    verbs.peek()?;
    let short = skeleton(t, true).count();
    // The verb's skeleton begins with the word's.
    let begins = |full: &str| skeleton(full, true).take(short).eq(skeleton(t, true));
    verbs
        .find(|(full, _, inside)| {
            (t.len() >= 4 && full.starts_with(t)) || (*inside && short >= 3 && t.len() <= full.len() && begins(full))
        })
        .map(|(_, canonical, _)| *canonical)
}

/// A word's first letter and, with `drop_vowels`, only the consonants after it (else every
/// letter), doubled letters once: `zwelitsha` → `zwltsh`, `office` → `ofc`.
pub fn skeleton(w: &str, drop_vowels: bool) -> impl Iterator<Item = u8> + '_ {
    let mut last = None;
    w.bytes()
        .enumerate()
        .filter(move |(i, c)| *i == 0 || !drop_vowels || !is_vowel(*c))
        .map(|(_, c)| c)
        .filter(move |c| {
            let new = last != Some(*c);
            last = Some(*c);
            new
        })
}

/// Words written together with a capital where the second begins (`CentralDepot`, `FrSttn`,
/// `YvClnc`) written apart. A capital after one letter (`eThekwini`, `uMhlathuze`) or after a
/// place-name prefix (`KwaZakhele`, `KaNyamazane`, `GaRankuwa`, `McCarthy`) is part of the word.
fn split_camel_case(name: &str) -> std::borrow::Cow<'_, str> {
    const PREFIXES: [&str; 5] = ["kwa", "ka", "ga", "mc", "mac"];
    let b = name.as_bytes();
    if !b
        .windows(2)
        .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
        && b.is_ascii()
    {
        return std::borrow::Cow::Borrowed(name);
    }
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    let mut start = 0;
    let mut split = false;
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphabetic() {
            start = i + 1;
        } else if i > start && c.is_uppercase() && chars[i - 1].is_lowercase() {
            let part: String = chars[start..i].iter().collect::<String>().to_lowercase();
            if part.chars().count() >= 2 && !PREFIXES.contains(&part.as_str()) {
                out.push(' ');
                start = i;
                split = true;
            }
        }
        out.push(c);
    }
    if split {
        std::borrow::Cow::Owned(out)
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

/// A word's first letter and the next three consonants after it, doubled letters once
/// (`tongaat` and `tngt` → `tngt`, `village` and `vllg` → `vlg`): how a word written without
/// its vowels is found. At least three letters of outline, from ASCII letters only.
pub fn outline(t: &str) -> Option<[u8; 4]> {
    let b = t.as_bytes();
    if b.len() < 3 || !b.iter().all(u8::is_ascii_lowercase) {
        return None;
    }
    let mut out = [0u8; 4];
    let mut n = 0;
    for (slot, c) in out.iter_mut().zip(skeleton(t, true)) {
        *slot = c;
        n += 1;
    }
    (n >= 3).then_some(out)
}

/// Whether a lower-case ASCII letter is a vowel (`y` is not).
pub fn is_vowel(c: u8) -> bool {
    matches!(c, b'a' | b'e' | b'i' | b'o' | b'u')
}

/// The numbers a name carries (phase, sequence, extension, ward numbers), as values without
/// leading zeros, sorted and distinct: `Ext 04 Phase 2` → `[2, 4]`.
pub fn numbers(tokens: &[String]) -> Vec<u64> {
    let mut out: Vec<u64> = tokens
        .iter()
        .filter(|t| t.len() <= 12 && t.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|t| t.parse().ok())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The kind of capital work, as SA36's `Type` column says it and as project names' verbs
/// imply it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkKind {
    /// New assets: construction, installation, provision, development.
    New,
    /// Upgrading and extending existing assets.
    Upgrading,
    /// Renewal: rehabilitation, refurbishment, replacement, resurfacing, repair.
    Renewal,
}

impl WorkKind {
    /// Whether a canonical token is a word for a kind of work (`upgrade`, `construction`, …).
    pub fn is_work_word(token: &str) -> bool {
        // One lower-case word (a token) is read without [`Self::from_name`]'s allocations: it
        // is first and has no number after it.
        if !token.is_empty() && token.bytes().all(|b| b.is_ascii_lowercase()) {
            return Self::of_word(token, true, false).is_some();
        }
        Self::from_name(token).is_some()
    }

    /// Reads SA36's `Type` value (`New`, `Renewal`, `Upgrading`, and their variants).
    pub fn from_type(text: &str) -> Option<WorkKind> {
        let t = text.trim().to_lowercase();
        if t.starts_with("new") {
            Some(WorkKind::New)
        } else if t.starts_with("upgr") {
            Some(WorkKind::Upgrading)
        } else if t.starts_with("renew") || t.starts_with("rehab") || t.starts_with("replac") {
            Some(WorkKind::Renewal)
        } else {
            None
        }
    }

    /// The kind a name's verb implies (`Upgrading of …`, `… Hall Refurbishment`), if any. A
    /// place's `Ext 4` / `Extension 4` is a place, not an extension of an asset.
    pub fn from_name(name: &str) -> Option<WorkKind> {
        let lower = name.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        words.iter().enumerate().find_map(|(i, w)| {
            let numbered = words.get(i + 1).is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
            Self::of_word(w, i == 0, numbered)
        })
    }

    /// The kind one lower-case word names, `first` in its name and `numbered` when a number
    /// follows it (`Extension 4` is a place).
    fn of_word(w: &str, first: bool, numbered: bool) -> Option<WorkKind> {
        let w = CANONICAL.iter().find(|(k, _)| *k == w).map_or(w, |(_, v)| v);
        match w {
            "extension" if numbered => None,
            "upgrade" | "extension" | "expansion" | "widening" => Some(WorkKind::Upgrading),
            // `Development of …` is a verb; `Early Childhood Development Centre` is not.
            "development" | "new" if first => Some(WorkKind::New),
            "construction" | "installation" | "provision" | "establishment" | "erection" => Some(WorkKind::New),
            "rehabilitation" | "refurbishment" | "replacement" | "resurfacing" | "renewal" | "repair" | "repairs"
            | "reconstruction" | "reseal" | "resealing" => Some(WorkKind::Renewal),
            _ => None,
        }
    }
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

/// A name prepared once for many comparisons: its canonical words, sorted and without
/// repeats, their join (what Jaro-Winkler compares, so word order does not matter), and its
/// numbers apart: `Phase 2` and `Phase 3` are the same words with different numbers, and the
/// linker compares numbers as numbers ([`numbers`]), not as rare words.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NameProfile {
    /// Canonical words, sorted, distinct (no numbers).
    pub tokens: Vec<String>,
    /// The words joined by spaces.
    pub joined: String,
    /// The numbers, sorted, distinct.
    pub numbers: Vec<u64>,
}

impl NameProfile {
    /// Prepares a name.
    pub fn new(name: &str) -> Self {
        Self::from_tokens(tokens(name))
    }

    fn from_tokens(all: Vec<String>) -> Self {
        let numbers = numbers(&all);
        let mut tokens: Vec<String> = all
            .into_iter()
            .filter(|t| !t.bytes().all(|b| b.is_ascii_digit()))
            .collect();
        tokens.sort_unstable();
        tokens.dedup();
        let joined = tokens.join(" ");
        Self {
            tokens,
            joined,
            numbers,
        }
    }

    /// The same name without some words.
    pub fn without(&self, ignore: &BTreeSet<String>) -> Self {
        if ignore.is_empty() {
            return self.clone();
        }
        let tokens: Vec<String> = self.tokens.iter().filter(|t| !ignore.contains(*t)).cloned().collect();
        Self {
            joined: tokens.join(" "),
            tokens,
            numbers: self.numbers.clone(),
        }
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
    fn words_written_together_are_split_at_their_capitals_but_place_names_are_not() {
        assert_eq!(
            tokens("Refu of Lenasia CentralDepot"),
            ["refurbishment", "lenasia", "central", "depot"]
        );
        assert_eq!(tokens("Upgrdng of YvClnc"), ["upgrade", "yv", "clnc"]);
        assert_eq!(
            tokens("KwaZakhele eThekwini McCarthy"),
            ["kwazakhele", "ethekwini", "mccarthy"]
        );
        assert_eq!(tokens("REPL DVYTN X2"), ["replacement", "dvytn", "extension", "2"]);
    }

    #[test]
    fn verbs_written_short_are_the_verbs() {
        assert_eq!(
            tokens("Upgrdng CNSTR Rhblttn RFRBSHMNT Cons RHB"),
            [
                "upgrade",
                "construction",
                "rehabilitation",
                "refurbishment",
                "construction",
                "rehabilitation"
            ]
        );
        // Not a verb: a place that begins like one, an estate, a funding tag, a reservoir.
        assert_eq!(tokens("Constantia Est PROV RESR"), ["constantia", "est", "resr"]);
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
        // Phases are told apart by their numbers, which are compared as numbers, not words.
        let (p2, p3) = (
            NameProfile::new("Mdantsane Access Road Phase 2"),
            NameProfile::new("Mdantsane Access Road PH3"),
        );
        assert_eq!(
            (p2.tokens.clone(), p2.numbers.clone(), p3.numbers.clone()),
            (p3.tokens.clone(), vec![2], vec![3])
        );
        let different = similarity("Zwelitsha Sports Field", "Mdantsane Access Road");
        assert!(different < 0.3, "{different}");
        assert_eq!(similarity("", "Road"), 0.0);
    }
}

//! What is built: the kind of infrastructure a record is about (a school, a clinic, a library,
//! a road, a bridge, housing, water, …), read from the words of its name, else from what the
//! record's source says about it — an IRM row's department and sector, an SA36 line's mSCOA
//! asset class and sub-class.
//!
//! IRM rows carry no wards and no asset class, and a provincial project is often named after the
//! same place as a municipal one (`Bethelsdorp Section B Primary School` and `CONSTR BETHELSDORP
//! SECTION B LIBRARY`): the rare place name then dominates a term-weighted name comparison. The
//! `facility` comparison weighs the thing built on its own, so that a school is not a library
//! however alike the places. It also gives a budget line without a description (only its asset
//! class) something to compare with the other side's name.

use crate::contracts::Dataset;
use crate::records::Record;

/// Kinds of infrastructure, one bit each.
pub type Facilities = u32;

/// (kind, word stems that name it). A word names the kind when it starts with a stem (a stem
/// written `=bus` only when it is that word), or when it is a cut-short stem of six letters or
/// more, four letters at least (`Libr`, `Schoo`).
const KINDS: &[(&str, &[&str])] = &[
    ("school", &["school", "educat", "classroom", "learner"]),
    ("health", &["clinic", "hospital", "health", "chc"]),
    ("library", &["librar"]),
    ("hall", &["hall", "thusong", "purpose"]),
    ("early_childhood", &["ecd", "creche", "crèche", "childhood"]),
    ("social_care", &["youth", "elderly", "disabilit", "shelter"]),
    (
        "road",
        &[
            "road", "street", "avenue", "paving", "pavement", "sidewalk", "walkway", "gravel",
        ],
    ),
    ("bridge", &["bridge", "culvert"]),
    (
        "public_transport",
        &["taxi", "=bus", "buses", "interchange", "terminal"],
    ),
    ("stormwater", &["stormwater", "storm", "drainage"]),
    ("housing", &["housing", "houses", "settlement", "hostel", "rdp"]),
    ("water", &["water", "reservoir", "borehole", "mains"]),
    ("sanitation", &["sewer", "sanitation", "toilet", "wwtw", "latrine"]),
    (
        "electricity",
        &[
            "electric",
            "substation",
            "light",
            "=mast",
            "=masts",
            "transformer",
            "energy",
        ],
    ),
    ("solid_waste", &["landfill", "waste", "refuse", "recycl"]),
    (
        "sport",
        &["sport", "stadium", "pool", "swimming", "recreation", "gymnasium"],
    ),
    ("cemetery", &["cemeter", "crematori", "graveyard"]),
    ("fire", &["fire", "ambulance"]),
    ("park", &["park", "garden", "nurser"]),
    ("market", &["market", "hawker", "stall"]),
    ("office", &["office"]),
    ("testing_station", &["testing"]),
    ("depot", &["depot"]),
    ("vehicle", &["vehicle", "fleet", "truck", "bakkie"]),
    ("furniture", &["furniture"]),
    ("computer", &["computer", "laptop", "server"]),
];

/// Departments and sectors of IRM rows: what they build when the name does not say.
const SECTORS: &[(&str, &[&str])] = &[
    ("educat", &["school"]),
    ("health", &["health"]),
    ("transport", &["road", "bridge", "public_transport"]),
    ("roads", &["road", "bridge"]),
    ("settlement", &["housing"]),
    ("housing", &["housing"]),
    ("sport", &["sport"]),
    ("recreation", &["sport"]),
    ("culture", &["library", "hall"]),
    ("social", &["early_childhood", "social_care"]),
];

fn bit(kind: &str) -> Facilities {
    KINDS.iter().position(|(k, _)| *k == kind).map_or(0, |i| 1 << i)
}

/// The kinds a word names.
fn word_kinds(word: &str) -> Facilities {
    let mut out = 0;
    for (i, (_, stems)) in KINDS.iter().enumerate() {
        let names = stems.iter().any(|s| match s.strip_prefix('=') {
            Some(exact) => word == exact,
            None => {
                word.starts_with(s) || (word.len() >= 4 && s.len() >= 6 && s.len() > word.len() && s.starts_with(word))
            }
        });
        if names {
            out |= 1 << i;
        }
    }
    out
}

/// Whether `word` is `full` with two letters swapped or one letter doubled or dropped (the
/// usual typos: `Shcool`, `Lirbary`), for words of five letters or more.
fn typo_of(word: &str, full: &str) -> bool {
    if word.len() < 5
        || full.len() < 5
        || word.len().abs_diff(full.len()) > 1
        || word.as_bytes()[0] != full.as_bytes()[0]
    {
        return false;
    }
    if word.len() == full.len() {
        let diff: Vec<usize> = (0..word.len())
            .filter(|&i| word.as_bytes()[i] != full.as_bytes()[i])
            .collect();
        return diff.len() == 2
            && diff[1] == diff[0] + 1
            && word.as_bytes()[diff[0]] == full.as_bytes()[diff[1]]
            && word.as_bytes()[diff[1]] == full.as_bytes()[diff[0]];
    }
    let (short, long) = if word.len() < full.len() {
        (word, full)
    } else {
        (full, word)
    };
    (0..long.len()).any(|i| long[..i] == short[..i] && long[i + 1..] == short[i..])
}

/// The kinds a word written without its vowels names (`LBRRY`, `CLNC`, `BRHLS`): its consonant
/// outline begins with a stem's (of five letters or more).
fn word_kinds_unvowelled(word: &str) -> Facilities {
    let Some(o) = crate::names::outline(word) else {
        return 0;
    };
    let mut out = 0;
    for (i, (_, stems)) in KINDS.iter().enumerate() {
        let fits = |s: &&&str| {
            s.len() >= 5
                && !s.starts_with('=')
                && crate::names::outline(s).is_some_and(|so| {
                    let n = so.iter().take_while(|c| **c != 0).count();
                    o[..n] == so[..n]
                })
        };
        if stems.iter().any(|s| fits(&s)) {
            out |= 1 << i;
        }
    }
    out
}

thread_local! {
    /// [`word_kinds_typo`] of the words read so far on this thread: a run reads a few thousand
    /// distinct words in hundreds of thousands of names.
    static KNOWN: std::cell::RefCell<rustc_hash::FxHashMap<String, Facilities>> = std::cell::RefCell::default();
}

/// [`word_kinds_typo`], remembered per word (at most 65,536 words a thread, then forgotten).
fn word_kinds_known(word: &str) -> Facilities {
    KNOWN.with(|known| {
        if let Some(k) = known.borrow().get(word) {
            return *k;
        }
        let k = word_kinds_typo(word);
        let mut known = known.borrow_mut();
        if known.len() >= 1 << 16 {
            known.clear();
        }
        known.insert(word.to_string(), k);
        k
    })
}

/// The kinds a word names, allowing a typo in a word written in full, or a word written
/// without its vowels.
fn word_kinds_typo(word: &str) -> Facilities {
    let exact = word_kinds(word);
    if exact != 0 || word.len() < 4 || !word.is_ascii() {
        return exact;
    }
    let vowelless = !word.bytes().skip(1).any(crate::names::is_vowel);
    if vowelless {
        return word_kinds_unvowelled(word);
    }
    if word.len() < 5 {
        return 0;
    }
    let mut out = 0;
    for (i, (_, stems)) in KINDS.iter().enumerate() {
        let typo = |s: &&&str| {
            s.len() >= 5
                && s.is_ascii()
                && !s.starts_with('=')
                && (typo_of(word, s) || (word.len() > s.len() && typo_of(&word[..s.len()], s)))
        };
        if stems.iter().any(|s| typo(&s)) {
            out |= 1 << i;
        }
    }
    out
}

/// The kinds the words of a text name (abbreviations expanded: `RD` is a road, `HSG` housing).
/// What is built is the last such word, as English puts the head noun last: `Booysen Park
/// Boreholes` are boreholes in a place called Park, `Mdantsane Community Health Centre` is a
/// health facility. `Waste Water` is sanitation, not water or solid waste.
pub fn text_kinds(text: &str) -> Facilities {
    // What is in brackets is about the project, not what it is: `(Dept of Roads and Public
    // Works)`, `(USDG)`.
    let mut plain = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    let tokens = crate::names::tokens(&plain);
    let words: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let mut last = 0;
    let mut i = 0;
    while i < words.len() {
        let (w, next) = (words[i], words.get(i + 1).copied().unwrap_or(""));
        if w == "wastewater" || (w == "waste" && next.starts_with("water")) {
            last = bit("sanitation");
            i += if w == "waste" { 2 } else { 1 };
            continue;
        }
        let k = word_kinds_known(w);
        if k != 0 {
            last = k;
        }
        i += 1;
    }
    last
}

/// What a record is about: the kinds its name names, else those of its IRM department and
/// sector, else those of its mSCOA asset sub-class and class. `None` when nothing says.
pub fn facilities(r: &Record) -> Option<Facilities> {
    if let Some(k) = r.match_name().map(text_kinds).filter(|k| *k != 0) {
        return Some(k);
    }
    if r.dataset == Dataset::Departmental {
        let text = [r.function.as_deref(), r.department.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        let mut out = 0;
        for (stem, kinds) in SECTORS {
            if text.contains(stem) {
                out |= kinds.iter().map(|k| bit(k)).fold(0, |a, b| a | b);
            }
        }
        return (out != 0).then_some(out);
    }
    [r.asset_sub_class.as_deref(), r.asset_class.as_deref()]
        .into_iter()
        .flatten()
        .map(text_kinds)
        .find(|k| *k != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_without_vowels_say_what_is_built() {
        assert_eq!(text_kinds("CNSTR KMPTN PARK LBRRY"), bit("library"));
        assert_eq!(text_kinds("RHB WSTBRY CLNC"), bit("health"));
        assert_eq!(text_kinds("Rhblttn of Mmr Vllg Brhls"), bit("water"));
        assert_eq!(text_kinds("Rfrbsmhnt of Nrdgsg Swmmng Pool"), bit("sport"));
        // A vowelless word that is no stem's says nothing.
        assert_eq!(text_kinds("RHB BDFRDVW"), 0);
    }

    #[test]
    fn names_say_what_is_built() {
        assert_eq!(text_kinds("Bethelsdorp Section B Primary School"), bit("school"));
        assert_eq!(text_kinds("CONSTR BETHELSDORP SECTION B LIBRARY"), bit("library"));
        assert_eq!(text_kinds("Kwanobuhle Libr"), bit("library"));
        assert_eq!(text_kinds("UPGR MDANTSANE ACCESS RD"), bit("road"));
        assert_eq!(text_kinds("Business Plan for the Master Plan"), 0);
        assert_eq!(text_kinds("Upgrading of Mdantsane Access Road"), bit("road"));
        assert_eq!(text_kinds("Waste Water Treatment Works"), bit("sanitation"));
        assert_eq!(text_kinds("Bulk Water Supply"), bit("water"));
        assert_eq!(text_kinds("Community Health Centre"), bit("health"));
        assert_eq!(text_kinds("Early Childhood Development Centre"), bit("early_childhood"));
        assert_eq!(text_kinds("Mdantsane Ext 4"), 0);
        assert_eq!(
            text_kinds("Laudium Village Bridge (Dept of Roads and Public Works)"),
            bit("bridge")
        );
        // The head noun is the last: a place called Park, a school with a typo.
        assert_eq!(text_kinds("Upgrading of Booysen Park Boreholes"), bit("water"));
        assert_eq!(text_kinds("Booysen Park Informal Settlement Upgrading"), bit("housing"));
        assert_eq!(text_kinds("Missionvale Ext 24 Combined Shcool"), bit("school"));
        assert_eq!(text_kinds("Rocklands Lirbary"), bit("library"));
        assert_eq!(text_kinds("Berea Child and Youth Care Centre"), bit("social_care"));
    }

    #[test]
    fn sectors_and_asset_classes_say_it_when_the_name_does_not() {
        let irm = Record {
            project_name: Some("Nompumelelo Project".into()),
            department: Some("Education".into()),
            function: Some("Education".into()),
            ..Record::bare("d", "s", Dataset::Departmental, "BUF")
        };
        assert_eq!(facilities(&irm), Some(bit("school")));
        let nameless = Record {
            asset_class: Some("Community Facilities".into()),
            asset_sub_class: Some("Clinics/Care Centres".into()),
            ..Record::bare("b", "s", Dataset::Budget, "BUF")
        };
        assert_eq!(facilities(&nameless), Some(bit("health")));
        let class_only = Record {
            asset_class: Some("Roads Infrastructure".into()),
            asset_sub_class: Some("Roads".into()),
            ..Record::bare("b", "s", Dataset::Budget, "BUF")
        };
        assert_eq!(facilities(&class_only), Some(bit("road")));
        assert_eq!(facilities(&Record::bare("b", "s", Dataset::Budget, "BUF")), None);
    }
}

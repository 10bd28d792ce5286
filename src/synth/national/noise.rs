//! Noise: how far the generated names stray from the clean ones, per profile.
//!
//! [`Noise`] holds a profile's rates (the default the linker was tuned on and four it was not,
//! run by `harvester bench`); the functions below are what the rates do to a name: a typo, an
//! abbreviation the linker does not know, a word cut short, two words joined, terse
//! spelling. [`Noise::budget_name`] applies them to an SA36 description in a fixed order.

use crate::synth::Rng;

/// How noisy the budget lines are, in percent of lines (or a count per municipality), so that
/// the benchmark can run the linker on worlds it was not tuned on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Noise {
    /// The profile's name, as `bench` prints it.
    pub name: &'static str,
    /// Projects in the budget and not in the IDP.
    pub budget_only_pct: u64,
    /// Lines whose description is empty.
    pub empty_description_pct: u64,
    /// Lines with an abbreviation the linker's list does not know.
    pub unknown_abbreviation_pct: u64,
    /// Lines with a typo.
    pub typo_pct: u64,
    /// Lines with a word cut short (`Kimberl`).
    pub truncation_pct: u64,
    /// Lines with two words written as one (`ACCESSRD`).
    pub joined_words_pct: u64,
    /// Generic items per municipality (office furniture, computers, vehicles per department and
    /// number), half of them budget-only with a number the IDP does not use.
    pub generic_items: u32,
    /// Lines whose words are shortened by dropping vowels (`CMMNTY HLL`, `RSRVR`) or cut to
    /// their first letters (`COMMUN`), as terse capture does.
    pub terse_pct: u64,
    /// Provincial projects located in each district municipality (IRM `Local Municipality`
    /// `Various` or empty, `District Municipality` the district), listed in the district's IDP.
    pub district_departmental: u64,
}

impl Noise {
    /// The noise the defaults were set on.
    pub const DEFAULT: Noise = Noise {
        name: "default",
        budget_only_pct: 10,
        empty_description_pct: 2,
        unknown_abbreviation_pct: 4,
        typo_pct: 12,
        truncation_pct: 0,
        joined_words_pct: 0,
        generic_items: 0,
        terse_pct: 0,
        district_departmental: 0,
    };

    /// Every profile `bench` runs: the default and four the defaults were not set on (`terse`
    /// was added after the linker was tuned on the other four, and not tuned on).
    pub const PROFILES: [Noise; 5] = [
        Noise::DEFAULT,
        Noise {
            name: "sparse",
            budget_only_pct: 20,
            empty_description_pct: 10,
            ..Noise::DEFAULT
        },
        Noise {
            name: "abbreviated",
            unknown_abbreviation_pct: 30,
            typo_pct: 20,
            truncation_pct: 15,
            joined_words_pct: 10,
            ..Noise::DEFAULT
        },
        Noise {
            name: "generic",
            budget_only_pct: 15,
            generic_items: 40,
            ..Noise::DEFAULT
        },
        Noise {
            name: "terse",
            budget_only_pct: 15,
            empty_description_pct: 4,
            unknown_abbreviation_pct: 15,
            truncation_pct: 30,
            joined_words_pct: 15,
            terse_pct: 25,
            district_departmental: 40,
            ..Noise::DEFAULT
        },
    ];

    /// The profile of that name.
    pub fn named(name: &str) -> Option<Noise> {
        Self::PROFILES.iter().copied().find(|p| p.name == name)
    }

    /// The budget line's description as this profile's noise leaves it: an unknown
    /// abbreviation, a typo, a word cut short, words joined, terse words, words reordered or
    /// the description left empty, each drawn in that order.
    pub(super) fn budget_name(&self, mut budget_name: String, rng: &mut Rng) -> String {
        if rng.chance(self.unknown_abbreviation_pct) {
            budget_name = unknown_abbreviation(&budget_name);
        }
        if rng.chance(self.typo_pct) {
            budget_name = typo(&budget_name, rng);
        }
        // Drawn only when asked for, so the default world stays the one documented.
        if self.truncation_pct > 0 && rng.chance(self.truncation_pct) {
            budget_name = truncate_word(&budget_name, rng);
        }
        if self.joined_words_pct > 0 && rng.chance(self.joined_words_pct) {
            budget_name = join_words(&budget_name, rng);
        }
        if self.terse_pct > 0 && rng.chance(self.terse_pct) {
            budget_name = terse_words(&budget_name, rng);
        }
        if rng.chance(8) {
            // Reordered words.
            let mut words: Vec<&str> = budget_name.split(' ').collect();
            words.rotate_left(1);
            budget_name = words.join(" ");
        }
        if rng.chance(self.empty_description_pct) {
            // An empty description: only the project number says what it is.
            budget_name.clear();
        }
        budget_name
    }
}

impl Default for Noise {
    fn default() -> Self {
        Noise::DEFAULT
    }
}

/// Abbreviations the linker does not know (used at a low rate): (word, abbreviation).
const UNKNOWN_ABBREVIATIONS: &[(&str, &str)] = &[
    ("RETICULATION", "RETIC"),
    ("STORMWATER", "STRMWTR"),
    ("UPGR", "UPGRD"),
    ("LIGHTING", "LGHT"),
    ("CENTRE", "CTR"),
    ("CONSTR", "CNSTR"),
    ("SPORTS", "SPRTS"),
    ("CEMETERY", "CEM"),
    ("TREATMENT", "TRTMNT"),
    ("REHAB", "RHB"),
];

/// Introduces one typo (a swapped pair of letters) in a word longer than four letters.
pub(super) fn typo(name: &str, rng: &mut Rng) -> String {
    let mut words: Vec<String> = name.split(' ').map(str::to_string).collect();
    let long: Vec<usize> = (0..words.len())
        .filter(|&i| words[i].len() > 4 && words[i].chars().all(|c| c.is_ascii_alphabetic()))
        .collect();
    if long.is_empty() {
        return name.to_string();
    }
    let i = long[rng.below(long.len() as u64) as usize];
    let mut chars: Vec<char> = words[i].chars().collect();
    let j = 1 + rng.below(chars.len() as u64 - 2) as usize;
    chars.swap(j, j + 1);
    words[i] = chars.into_iter().collect();
    words.join(" ")
}

/// Replaces the first word that has an abbreviation the linker does not know.
fn unknown_abbreviation(name: &str) -> String {
    let mut words: Vec<&str> = name.split(' ').collect();
    for w in words.iter_mut() {
        if let Some((_, abbr)) = UNKNOWN_ABBREVIATIONS.iter().find(|(word, _)| word == w) {
            *w = abbr;
            return words.join(" ");
        }
    }
    name.to_string()
}

/// Cuts one long word short, as a full cell does (`KIMBERLEY` → `KIMBERL`).
fn truncate_word(name: &str, rng: &mut Rng) -> String {
    let mut words: Vec<String> = name.split(' ').map(str::to_string).collect();
    let long: Vec<usize> = (0..words.len())
        .filter(|&i| words[i].len() > 7 && words[i].chars().all(|c| c.is_ascii_alphabetic()))
        .collect();
    if long.is_empty() {
        return name.to_string();
    }
    let i = long[rng.below(long.len() as u64) as usize];
    let keep = 4 + rng.below(3) as usize;
    words[i].truncate(keep);
    words.join(" ")
}

/// Shortens the name's long words the terse way: the vowels after the first letter dropped
/// (`COMMUNITY` → `CMMNTY`), or cut after the first syllables (`COMMUNITY` → `COMMUN`).
fn terse_words(name: &str, rng: &mut Rng) -> String {
    let vowels = rng.chance(50);
    name.split(' ')
        .map(|w| {
            if w.len() < 5 || !w.chars().all(|c| c.is_ascii_alphabetic()) {
                return w.to_string();
            }
            if vowels {
                let mut out: String = w[..1].to_string();
                out.extend(w[1..].chars().filter(|c| !"AEIOUaeiou".contains(*c)));
                out
            } else {
                w[..(w.len() * 2 / 3).max(4)].to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes two neighbouring words as one (`ACCESS RD` → `ACCESSRD`).
fn join_words(name: &str, rng: &mut Rng) -> String {
    let words: Vec<&str> = name.split(' ').collect();
    let pairs: Vec<usize> = (0..words.len().saturating_sub(1))
        .filter(|&i| {
            [words[i], words[i + 1]]
                .iter()
                .all(|w| w.len() >= 3 && w.chars().all(|c| c.is_ascii_alphabetic()))
        })
        .collect();
    if pairs.is_empty() {
        return name.to_string();
    }
    let i = pairs[rng.below(pairs.len() as u64) as usize];
    let mut out: Vec<String> = words[..i].iter().map(|w| w.to_string()).collect();
    out.push(format!("{}{}", words[i], words[i + 1]));
    out.extend(words[i + 2..].iter().map(|w| w.to_string()));
    out.join(" ")
}

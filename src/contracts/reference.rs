//! Bundled reference data: every municipality of the 2011 and 2016 demarcations and the 2016
//! changes, so codes and names can be resolved to the current demarcation without a network.
//!
//! The CSVs under `data/reference/` are compiled into the binary. Retiring the 35 codes that
//! were disestablished in 2016 leaves the current 257 (8 metros, 44 districts, 205 locals).
//! Names resolve through a normalised form (`The Msunduzi` → `msunduzi`, `City of Cape Town` →
//! `cape town`) plus an alias list for names the reference gets wrong or that sources spell
//! differently.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

const MUNICIPALITIES_CSV: &str = include_str!("../../data/reference/municipalities.csv");
const CHANGES_CSV: &str = include_str!("../../data/reference/demarcation_changes.csv");

/// Names the reference data lacks or gets wrong, mapped to codes.
const ALIASES: &[(&str, &str)] = &[
    ("Collins Chabane", "LIM345"),
    ("Msunduzi", "KZN225"),
    ("Buffalo City Metropolitan", "BUF"),
    ("Nelson Mandela Bay", "NMA"),
    ("Ekurhuleni", "EKU"),
    ("eThekwini", "ETH"),
    ("Tshwane", "TSH"),
    ("Johannesburg", "JHB"),
    ("Cape Town", "CPT"),
    ("Mangaung", "MAN"),
];

/// One municipality or district of the reference data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Municipality {
    /// Demarcation code (`BUF`, `EC122`, `DC12`).
    pub code: String,
    /// Official name.
    pub name: String,
    /// Category: `A` metro, `B` local, `C` district.
    pub category: String,
    /// Province code (`EC`, `KZN`).
    pub province: String,
    /// Parent district code for locals; the province code for metros and districts.
    pub parent_code: String,
    /// Whether the code is still in use after the 2016 changes.
    pub current: bool,
}

/// How a code or name resolved to a current demarcation code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The current code.
    pub code: String,
    /// The retired code it replaced, when the input used one.
    pub retired_from: Option<String>,
}

/// Why a code or name did not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// Neither a known code nor a known name.
    #[error("`{0}` is not a known demarcation code or municipality name")]
    Unknown(String),
    /// A retired code that was split between several successors.
    #[error("`{code}` was split in 2016 between {successors}; name the successor instead")]
    Split {
        /// The retired code.
        code: String,
        /// Its successors, comma-separated.
        successors: String,
    },
}

/// The reference tables, indexed.
#[derive(Debug)]
pub struct Reference {
    by_code: BTreeMap<String, Municipality>,
    successors: BTreeMap<String, BTreeSet<String>>,
    by_name: BTreeMap<String, String>,
}

static BUNDLED: LazyLock<Reference> = LazyLock::new(Reference::load_bundled);

impl Reference {
    /// The reference data compiled into the binary.
    pub fn bundled() -> &'static Reference {
        &BUNDLED
    }

    fn load_bundled() -> Reference {
        let mut successors: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut retired = BTreeSet::new();
        let mut rdr = csv::Reader::from_reader(CHANGES_CSV.as_bytes());
        for rec in rdr.records().flatten() {
            let (old, new, transition) = (&rec[2], &rec[3], &rec[4]);
            if transition == "disestablished" {
                retired.insert(old.to_string());
            }
            if old != new {
                successors.entry(old.to_string()).or_default().insert(new.to_string());
            }
        }
        let mut by_code = BTreeMap::new();
        let mut rdr = csv::Reader::from_reader(MUNICIPALITIES_CSV.as_bytes());
        for rec in rdr.records().flatten() {
            let code = rec[1].to_string();
            let m = Municipality {
                current: !retired.contains(&code),
                name: rec[2].to_string(),
                parent_code: rec[7].to_string(),
                province: rec[9].to_string(),
                category: rec[10].to_string(),
                code: code.clone(),
            };
            by_code.insert(code, m);
        }
        // Only codes that actually retired have successors worth following.
        successors.retain(|old, _| retired.contains(old));
        let mut by_name = BTreeMap::new();
        for m in by_code.values().filter(|m| m.current) {
            by_name.insert(normalise_name(&m.name), m.code.clone());
        }
        for (alias, code) in ALIASES {
            by_name.insert(normalise_name(alias), (*code).to_string());
        }
        Reference {
            by_code,
            successors,
            by_name,
        }
    }

    /// The municipality with this exact code, current or retired.
    pub fn get(&self, code: &str) -> Option<&Municipality> {
        self.by_code.get(code)
    }

    /// Every current municipality and district, by code.
    pub fn current(&self) -> impl Iterator<Item = &Municipality> {
        self.by_code.values().filter(|m| m.current)
    }

    /// Resolves a code (current or retired) to the current code.
    pub fn resolve_code(&self, raw: &str) -> Result<Resolved, ReferenceError> {
        let code = raw.trim().to_ascii_uppercase();
        match self.by_code.get(&code) {
            Some(m) if m.current => Ok(Resolved {
                code,
                retired_from: None,
            }),
            _ => match self.successors.get(&code) {
                Some(s) if s.len() == 1 => Ok(Resolved {
                    code: s.iter().next().cloned().unwrap_or_default(),
                    retired_from: Some(code),
                }),
                Some(s) => Err(ReferenceError::Split {
                    code,
                    successors: s.iter().cloned().collect::<Vec<_>>().join(", "),
                }),
                None => Err(ReferenceError::Unknown(raw.trim().to_string())),
            },
        }
    }

    /// Resolves a municipality name (or alias) to its current code.
    pub fn resolve_name(&self, raw: &str) -> Result<Resolved, ReferenceError> {
        self.by_name
            .get(&normalise_name(raw))
            .map(|code| Resolved {
                code: code.clone(),
                retired_from: None,
            })
            .ok_or_else(|| ReferenceError::Unknown(raw.trim().to_string()))
    }

    /// Resolves a code first, then a name.
    pub fn resolve(&self, raw: &str) -> Result<Resolved, ReferenceError> {
        match self.resolve_code(raw) {
            Ok(r) => Ok(r),
            Err(e @ ReferenceError::Split { .. }) => Err(e),
            Err(_) => self.resolve_name(raw),
        }
    }
}

/// Lowercases, drops `The`, `City of` and `... Municipality` and keeps letters and digits.
pub fn normalise_name(raw: &str) -> String {
    let lower = raw.to_lowercase();
    let mut words: Vec<String> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.chars()
                .map(|c| match c {
                    'â' | 'á' | 'à' => 'a',
                    'ê' | 'é' | 'è' | 'ë' => 'e',
                    'ô' | 'ó' => 'o',
                    'î' | 'í' | 'ï' => 'i',
                    other => other,
                })
                .collect()
        })
        .collect();
    if words.first().map(String::as_str) == Some("the") {
        words.remove(0);
    }
    if words.len() > 2 && words[0] == "city" && words[1] == "of" {
        words.drain(0..2);
    }
    while matches!(
        words.last().map(String::as_str),
        Some("municipality" | "metropolitan" | "local" | "district" | "metro")
    ) && words.len() > 1
    {
        words.pop();
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_demarcation_has_257() {
        let r = Reference::bundled();
        let current: Vec<_> = r.current().collect();
        assert_eq!(current.len(), 257);
        assert_eq!(current.iter().filter(|m| m.category == "A").count(), 8);
        assert_eq!(current.iter().filter(|m| m.category == "C").count(), 44);
        assert_eq!(current.iter().filter(|m| m.category == "B").count(), 205);
    }

    #[test]
    fn codes_resolve_including_retired_ones() {
        let r = Reference::bundled();
        assert_eq!(r.resolve_code("buf").unwrap().code, "BUF");
        let retired = r.resolve_code("EC107").unwrap();
        assert_eq!(retired.code, "EC101");
        assert_eq!(retired.retired_from.as_deref(), Some("EC107"));
        let split = r.resolve_code("KZN283").unwrap_err();
        assert!(split.to_string().contains("KZN283"), "{split}");
        let unknown = r.resolve_code("BYU").unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "`BYU` is not a known demarcation code or municipality name"
        );
    }

    #[test]
    fn names_resolve() {
        let r = Reference::bundled();
        for (name, code) in [
            ("The Msunduzi", "KZN225"),
            ("Msunduzi Local Municipality", "KZN225"),
            ("Dr Nkosazana Dlamini Zuma", "KZN436"),
            ("City of Cape Town", "CPT"),
            ("Buffalo City", "BUF"),
            ("Collins Chabane", "LIM345"),
            ("Mnquma", "EC122"),
            ("Khâi-Ma", "NC067"),
        ] {
            assert_eq!(r.resolve_name(name).unwrap().code, code, "{name}");
        }
        assert!(r.resolve_name("Atlantis").is_err());
    }
}

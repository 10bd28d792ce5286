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

/// Provinces: (code as in the reference data, name, another spelling exports use).
const PROVINCES: &[(&str, &str, &str)] = &[
    ("EC", "Eastern Cape", "E Cape"),
    ("FS", "Free State", "Freestate"),
    ("GT", "Gauteng", "GP"),
    ("KZN", "KwaZulu-Natal", "KwaZulu Natal"),
    ("LIM", "Limpopo", "LP"),
    ("MP", "Mpumalanga", "MPU"),
    ("NC", "Northern Cape", "N Cape"),
    ("NW", "North West", "North-West"),
    ("WC", "Western Cape", "W Cape"),
];

/// A province's place (0–8) among the nine, from its code (`EC` → 0, `WC` → 8).
pub fn province_index(code: &str) -> Option<usize> {
    PROVINCES.iter().position(|(c, ..)| *c == code)
}

/// One municipality or district of the reference data.
#[derive(Debug, Clone, PartialEq)]
pub struct Municipality {
    /// Demarcation code (`BUF`, `EC122`, `DC12`).
    pub code: String,
    /// Official name.
    pub name: String,
    /// Category: `A` metro, `B` local, `C` district.
    pub category: String,
    /// MIIF class (Municipal Infrastructure Investment Framework): `A` metros, `B1` secondary
    /// cities, `B2` large towns, `B3` small towns, `B4` mainly rural, `C1`/`C2` districts;
    /// empty where the reference data has none.
    pub miif_category: String,
    /// Area in km² (the reference's `square_kms`; reliable for metros and locals, about 10×
    /// too small for most districts).
    pub square_kms: Option<f64>,
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
    by_name: BTreeMap<String, Vec<String>>,
}

/// What a location cell covers, as the `location_scope` column says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocationScope {
    /// One metro or local municipality.
    Local,
    /// A district municipality's area.
    District,
    /// Several named municipalities (`Mnquma; Mbhashe`).
    Multi,
    /// The whole province or unnamed places (`Various`): no municipality.
    Provincial,
}

impl LocationScope {
    /// The name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            LocationScope::Local => "local",
            LocationScope::District => "district",
            LocationScope::Multi => "multi",
            LocationScope::Provincial => "provincial",
        }
    }
}

/// A location cell resolved: the municipalities it names (the first is the one the record is
/// linked in) and what it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Current codes named, in the order written; empty for a provincial location.
    pub codes: Vec<String>,
    /// What the cell covers.
    pub scope: LocationScope,
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
                miif_category: rec.get(11).unwrap_or_default().to_string(),
                square_kms: rec[5].parse().ok().filter(|a: &f64| a.is_finite() && *a > 0.0),
                code: code.clone(),
            };
            by_code.insert(code, m);
        }
        // Only codes that actually retired have successors worth following.
        successors.retain(|old, _| retired.contains(old));
        // A name may belong to municipalities in two provinces (Emalahleni: EC136 and MP312);
        // all are kept, and the province decides ([`Reference::resolve_in`]).
        let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for m in by_code.values().filter(|m| m.current) {
            by_name.entry(normalise_name(&m.name)).or_default().push(m.code.clone());
        }
        for (alias, code) in ALIASES {
            let codes = by_name.entry(normalise_name(alias)).or_default();
            if !codes.iter().any(|c| c == code) {
                codes.push((*code).to_string());
            }
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

    /// Resolves a municipality name (or alias) to its current code (where two provinces have
    /// the name, the last by code; [`Reference::resolve_in`] uses the province).
    pub fn resolve_name(&self, raw: &str) -> Result<Resolved, ReferenceError> {
        self.resolve_name_in(raw, None)
    }

    fn resolve_name_in(&self, raw: &str, province: Option<&str>) -> Result<Resolved, ReferenceError> {
        let codes = self
            .by_name
            .get(&normalise_name(raw))
            .ok_or_else(|| ReferenceError::Unknown(raw.trim().to_string()))?;
        let in_province = province.and_then(|p| {
            codes
                .iter()
                .find(|c| self.by_code.get(*c).is_some_and(|m| m.province == p))
        });
        let code = in_province.or(codes.last()).cloned().unwrap_or_default();
        Ok(Resolved {
            code,
            retired_from: None,
        })
    }

    /// The province code (`EC`) of a province's name or code as exports write it (`Eastern
    /// Cape`, `EC`, `KwaZulu-Natal`, `KZN`).
    pub fn province_code(&self, raw: &str) -> Option<String> {
        let wanted = normalise_name(raw);
        PROVINCES
            .iter()
            .find(|(code, name, other)| {
                normalise_name(code) == wanted || normalise_name(name) == wanted || normalise_name(other) == wanted
            })
            .map(|(code, ..)| (*code).to_string())
    }

    /// Resolves a code or name, using the row's province (name or code) where a name exists in
    /// two provinces.
    pub fn resolve_in(&self, raw: &str, province: Option<&str>) -> Result<Resolved, ReferenceError> {
        let province = province.and_then(|p| self.province_code(p));
        match self.resolve_code(raw) {
            Ok(r) => Ok(r),
            Err(e @ ReferenceError::Split { .. }) => Err(e),
            Err(_) => self.resolve_name_in(raw, province.as_deref()),
        }
    }

    /// Resolves a location cell as departmental exports write it: one municipality, a district
    /// (`Amathole`), several (`Mnquma; Mbhashe`, `Mnquma and Mbhashe`), or `Various` / empty
    /// (then the row's district column, if it names one, else the province).
    pub fn resolve_location(
        &self,
        raw: &str,
        province: Option<&str>,
        district: Option<&str>,
    ) -> Result<Located, ReferenceError> {
        let text = raw.trim();
        let unnamed = matches!(
            normalise_name(text).as_str(),
            "" | "various" | "all" | "multiple" | "province wide" | "provincial" | "all municipalities" | "n a"
        );
        if unnamed {
            return Ok(match district.and_then(|d| self.resolve_in(d, province).ok()) {
                Some(d) => Located {
                    scope: self.scope_of(&d.code),
                    codes: vec![d.code],
                },
                None => Located {
                    codes: Vec::new(),
                    scope: LocationScope::Provincial,
                },
            });
        }
        if let Ok(one) = self.resolve_in(text, province) {
            return Ok(Located {
                scope: self.scope_of(&one.code),
                codes: vec![one.code],
            });
        }
        let parts: Vec<&str> = text
            .split([';', ',', '/', '&'])
            .flat_map(|p| p.split(" and "))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if parts.len() < 2 {
            return Err(ReferenceError::Unknown(text.to_string()));
        }
        let mut codes: Vec<String> = Vec::new();
        for p in parts {
            let code = self.resolve_in(p, province)?.code;
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
        let scope = if codes.len() == 1 {
            self.scope_of(&codes[0])
        } else {
            LocationScope::Multi
        };
        Ok(Located { codes, scope })
    }

    fn scope_of(&self, code: &str) -> LocationScope {
        match self.by_code.get(code).map(|m| m.category.as_str()) {
            Some("C") => LocationScope::District,
            _ => LocationScope::Local,
        }
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

    #[test]
    fn the_province_tells_apart_names_used_in_two_provinces() {
        let r = Reference::bundled();
        assert_eq!(r.resolve_in("Emalahleni", Some("Eastern Cape")).unwrap().code, "EC136");
        assert_eq!(r.resolve_in("Emalahleni", Some("MP")).unwrap().code, "MP312");
        assert_eq!(r.province_code("KwaZulu Natal").as_deref(), Some("KZN"));
    }

    #[test]
    fn departmental_locations_resolve_to_districts_several_municipalities_or_the_province() {
        let r = Reference::bundled();
        let at = |raw: &str, district: Option<&str>| {
            let l = r.resolve_location(raw, Some("Eastern Cape"), district).unwrap();
            (l.codes.join(";"), l.scope.as_str())
        };
        assert_eq!(at("Mnquma", None), ("EC122".into(), "local"));
        assert_eq!(at("Amathole", None), ("DC12".into(), "district"));
        assert_eq!(at("Mnquma; Mbhashe", None), ("EC122;EC121".into(), "multi"));
        assert_eq!(at("Mnquma and Mbhashe", None), ("EC122;EC121".into(), "multi"));
        assert_eq!(at("Various", Some("Amathole")), ("DC12".into(), "district"));
        assert_eq!(at("Various", None), (String::new(), "provincial"));
        assert!(r.resolve_location("Mnquma; Atlantis", None, None).is_err());
    }
}

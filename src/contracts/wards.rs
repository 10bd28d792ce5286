//! Ward locations: free text in, ward codes plus a scope out.
//!
//! SA36's `Ward Location` is free text: `Ward 12`, `12,14,17,...` (a list cut short by Treasury's
//! export), `Whole of the Metro`, `Region 3 B: Central Region`, `Administrative or Head Office`;
//! IDPs and BEPPs add 8-digit ward codes (`29200012`). [`parse`] turns any of these into the
//! 8-digit codes it names (when the municipality's ward-code prefix is known) and a
//! [`WardScope`], so spatial metrics can tell a ward-level project from a metro-wide one.

use std::collections::BTreeMap;
use std::sync::LazyLock;

const PREFIXES_CSV: &str = include_str!("../../data/reference/ward_prefixes_2011.csv");

/// municipality code → (5-digit ward-code prefix, number of wards in 2011).
static PREFIXES: LazyLock<BTreeMap<String, (String, u32)>> = LazyLock::new(|| {
    let mut m = BTreeMap::new();
    let mut rdr = csv::Reader::from_reader(PREFIXES_CSV.as_bytes());
    for rec in rdr.records().flatten() {
        m.insert(rec[0].to_string(), (rec[1].to_string(), rec[2].parse().unwrap_or(0)));
    }
    m
});

/// A municipality's 5-digit ward-code prefix and its number of wards (2011), when known.
pub fn prefix(muni: &str) -> Option<(&'static str, u32)> {
    PREFIXES.get(muni).map(|(p, n)| (p.as_str(), *n))
}

/// How much of a municipality a location covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WardScope {
    /// Nothing usable was given.
    Unknown,
    /// One or more named wards.
    Ward,
    /// A region, sub-council or zone made of several wards.
    Region,
    /// Not located in a ward (head office, administration).
    NonWard,
    /// The whole municipality.
    WholeMunicipality,
}

impl WardScope {
    /// The name written to outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            WardScope::Unknown => "unknown",
            WardScope::Ward => "ward",
            WardScope::Region => "region",
            WardScope::NonWard => "non_ward",
            WardScope::WholeMunicipality => "whole_municipality",
        }
    }
}

/// The parsed location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wards {
    /// Ward numbers named, ascending.
    pub numbers: Vec<u32>,
    /// 8-digit ward codes, when the municipality's prefix is known.
    pub codes: Vec<String>,
    /// The broadest scope the text names.
    pub scope: WardScope,
    /// Whether the list was cut short (`,...`).
    pub truncated: bool,
}

/// A ward reference that cannot be right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WardError {
    /// A ward number the municipality does not have.
    #[error("ward {number} in `{raw}` is outside {muni}'s wards 1–{count}")]
    OutOfRange {
        /// The text.
        raw: String,
        /// The number.
        number: u32,
        /// Municipality.
        muni: String,
        /// Its ward count (2011).
        count: u32,
    },
    /// An 8-digit code of another municipality.
    #[error("ward code {code} in `{raw}` does not belong to {muni} (its codes start {prefix})")]
    OtherMunicipality {
        /// The text.
        raw: String,
        /// The code.
        code: String,
        /// Municipality.
        muni: String,
        /// Its prefix.
        prefix: String,
    },
}

const WHOLE: &[&str] = &[
    "whole of the metro",
    "whole metro",
    "whole municipality",
    "whole of municipality",
    "whole of the municipality",
    "all wards",
    "metro wide",
    "municipal wide",
    "municipality wide",
    "citywide",
    "city wide",
    "various",
];
const NON_WARD: &[&str] = &[
    "administrative or head office",
    "head office",
    "administration",
    "non-ward",
    "non ward",
];
const REGION_WORDS: &[&str] = &[
    "region",
    "sub-council",
    "subcouncil",
    "zone",
    "cluster",
    "coastal",
    "inland",
    "midland",
    "district",
];

/// Parses a ward location for municipality `muni` (its current demarcation code, if known).
pub fn parse(raw: &str, muni: Option<&str>) -> Result<Wards, WardError> {
    let prefix = muni.and_then(|m| PREFIXES.get(m));
    let mut out = Wards {
        numbers: vec![],
        codes: vec![],
        scope: WardScope::Unknown,
        truncated: false,
    };
    let lower = raw.trim().to_lowercase();
    if lower.is_empty() {
        return Ok(out);
    }
    let mut broadest = WardScope::Unknown;
    for part in lower.split([',', ';', '/', '&', '|']).flat_map(|p| p.split(" and ")) {
        let p = part.trim();
        if p.is_empty() {
            continue;
        }
        if p.trim_matches('.').is_empty() || p.ends_with("...") {
            out.truncated = true;
            if p.trim_matches('.').is_empty() {
                continue;
            }
        }
        let p = p.trim_end_matches('.').trim();
        let scope = if WHOLE.iter().any(|w| p.contains(w)) {
            WardScope::WholeMunicipality
        } else if NON_WARD.iter().any(|w| p.contains(w)) {
            WardScope::NonWard
        } else if let Some(n) = ward_number(p) {
            if n >= 10_000_000 {
                let code = n.to_string();
                if let (Some((pre, _)), Some(m)) = (prefix, muni) {
                    if !code.starts_with(pre.as_str()) {
                        return Err(WardError::OtherMunicipality {
                            raw: raw.to_string(),
                            code,
                            muni: m.to_string(),
                            prefix: pre.clone(),
                        });
                    }
                }
                out.numbers.push(n % 1000);
                out.codes.push(code);
            } else {
                let count = prefix.map_or(0, |(_, c)| *c);
                if n > count.max(199) {
                    // Ledgers code non-ward items as 200/201 and sub-councils as 901–924 (Cape Town).
                    broadest = broadest.max(if n >= 900 {
                        WardScope::Region
                    } else {
                        WardScope::NonWard
                    });
                    continue;
                }
                if let (Some((pre, count)), Some(m)) = (prefix, muni) {
                    if n == 0 || n > *count {
                        return Err(WardError::OutOfRange {
                            raw: raw.to_string(),
                            number: n,
                            muni: m.to_string(),
                            count: *count,
                        });
                    }
                    out.codes.push(format!("{pre}{n:03}"));
                }
                out.numbers.push(n);
            }
            WardScope::Ward
        } else if REGION_WORDS.iter().any(|w| p.contains(w)) {
            WardScope::Region
        } else {
            WardScope::Unknown
        };
        broadest = broadest.max(scope);
    }
    out.numbers.sort_unstable();
    out.numbers.dedup();
    out.codes.sort();
    out.codes.dedup();
    out.scope = broadest;
    Ok(out)
}

/// `12`, `ward 12`, `w12`, `ward no. 12`, `19100001` → the number.
fn ward_number(p: &str) -> Option<u32> {
    let rest = p
        .strip_prefix("ward no.")
        .or_else(|| p.strip_prefix("ward no"))
        .or_else(|| p.strip_prefix("ward"))
        .or_else(|| p.strip_prefix('w'))
        .unwrap_or(p)
        .trim();
    if !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()) && rest.len() <= 8 {
        rest.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_of_real_ward_texts() {
        type Case<'a> = (&'a str, Option<&'a str>, WardScope, &'a [&'a str], bool);
        let cases: &[Case] = &[
            ("Ward 12", Some("BUF"), WardScope::Ward, &["29200012"], false),
            (
                "12,14,17,...",
                Some("BUF"),
                WardScope::Ward,
                &["29200012", "29200014", "29200017"],
                true,
            ),
            (
                "Whole of the Metro",
                Some("BUF"),
                WardScope::WholeMunicipality,
                &[],
                false,
            ),
            (
                "Coastal,Whole of the Metro,...",
                Some("BUF"),
                WardScope::WholeMunicipality,
                &[],
                true,
            ),
            ("Region 3 B: Central Region", Some("TSH"), WardScope::Region, &[], false),
            (
                "Administrative or Head Office",
                Some("BUF"),
                WardScope::NonWard,
                &[],
                false,
            ),
            (
                "19100001; 19100111",
                Some("CPT"),
                WardScope::Ward,
                &["19100001", "19100111"],
                false,
            ),
            (
                "W3 and W4",
                Some("EC122"),
                WardScope::Ward,
                &["21202003", "21202004"],
                false,
            ),
            ("", Some("BUF"), WardScope::Unknown, &[], false),
            ("7", Some("EC129"), WardScope::Ward, &[], false), // 2016 municipality: no 2011 prefix
            ("201", Some("CPT"), WardScope::NonWard, &[], false),
            ("915", Some("CPT"), WardScope::Region, &[], false),
        ];
        for (raw, muni, scope, codes, truncated) in cases {
            let w = parse(raw, *muni).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(w.scope, *scope, "{raw}");
            assert_eq!(
                w.codes,
                codes.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
                "{raw}"
            );
            assert_eq!(w.truncated, *truncated, "{raw}");
        }
    }

    #[test]
    fn impossible_wards_name_the_value() {
        let e = parse("Ward 57", Some("BUF")).unwrap_err();
        assert_eq!(e.to_string(), "ward 57 in `Ward 57` is outside BUF's wards 1–50");
        let e = parse("19100001", Some("BUF")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ward code 19100001 in `19100001` does not belong to BUF (its codes start 29200)"
        );
    }
}

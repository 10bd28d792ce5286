//! Real South African place names as vocabulary for synthetic project names.
//!
//! `data/reference/places.csv` (`province_code,municipality_code,place`) was compiled by hand
//! from general knowledge: towns, townships, suburbs and villages, with the municipality where
//! it is known (empty otherwise). It is vocabulary for synthetic data, not a gazetteer.

use std::collections::BTreeMap;
use std::sync::LazyLock;

const PLACES_CSV: &str = include_str!("../../data/reference/places.csv");

/// The bundled place names, indexed by municipality and by province.
#[derive(Debug, Default)]
pub struct Places {
    by_municipality: BTreeMap<String, Vec<String>>,
    by_province: BTreeMap<String, Vec<String>>,
}

static PLACES: LazyLock<Places> = LazyLock::new(|| Places::parse(PLACES_CSV));

impl Places {
    /// The place names compiled into the binary.
    pub fn bundled() -> &'static Places {
        &PLACES
    }

    fn parse(text: &str) -> Places {
        let mut out = Places::default();
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        for rec in rdr.records().flatten() {
            let (province, municipality, place) = (&rec[0], &rec[1], &rec[2]);
            if !municipality.is_empty() {
                out.by_municipality
                    .entry(municipality.to_string())
                    .or_default()
                    .push(place.to_string());
            }
            let in_province = out.by_province.entry(province.to_string()).or_default();
            if !in_province.iter().any(|p| p == place) {
                in_province.push(place.to_string());
            }
        }
        out
    }

    /// Places known to lie in the municipality (empty when none is known).
    pub fn of_municipality(&self, code: &str) -> &[String] {
        self.by_municipality.get(code).map_or(&[], Vec::as_slice)
    }

    /// Every place of the province, whether or not its municipality is known.
    pub fn of_province(&self, province: &str) -> &[String] {
        self.by_province.get(province).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::reference::Reference;

    #[test]
    fn places_name_current_municipalities_of_their_province() {
        let places = Places::bundled();
        let reference = Reference::bundled();
        let total: usize = places.by_province.values().map(Vec::len).sum();
        assert!(total >= 300, "{total}");
        for (code, names) in &places.by_municipality {
            let m = reference
                .get(code)
                .unwrap_or_else(|| panic!("{code} is not a known code"));
            assert!(m.current, "{code} is retired");
            for n in names {
                assert!(places.of_province(&m.province).contains(n), "{n} ({code})");
            }
        }
        for metro in ["BUF", "NMA", "MAN", "EKU", "JHB", "TSH", "ETH", "CPT"] {
            assert!(places.of_municipality(metro).len() >= 15, "{metro}");
        }
        assert!(places.of_municipality("BUF").iter().any(|p| p == "Mdantsane"));
        assert!(places.of_municipality("WC999").is_empty());
    }
}

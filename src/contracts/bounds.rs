//! Is a project's point inside the municipality it is stated to be in?
//!
//! harvester bundles no municipal boundaries (the reference data has codes, names, provinces,
//! MIIF classes and areas, not shapes), so a point is checked with what is available, in order:
//!
//! 1. **Province box** — `data/reference/province_bbox.csv`: an approximate bounding box per
//!    province, compiled by hand (see `data/reference/SOURCES.md`), widened by
//!    [`PROVINCE_MARGIN_DEG`]. A point outside its municipality's province box is certainly
//!    outside the municipality (`outside_province_box`).
//! 2. **Distance from the municipality's other projects** — for a metro or local municipality
//!    with at least [`MIN_POINTS`] geo-coded records in the run: the point's great-circle
//!    distance from the component-wise median of those points, against a limit of
//!    [`RADIUS_FACTOR`] × the radius of a circle with the municipality's area (`square_kms`),
//!    at least [`MIN_LIMIT_KM`] (`far_from_municipality_projects`). District areas in the
//!    reference are unreliable, so districts get the province box only.
//!
//! A point that passes is `consistent` — that is, not shown to be outside, which is weaker than
//! inside: a point in the neighbouring municipality can pass both rules.

use crate::contracts::reference::Reference;
use std::collections::BTreeMap;
use std::sync::LazyLock;

const PROVINCE_BBOX_CSV: &str = include_str!("../../data/reference/province_bbox.csv");

/// Degrees added on every side of a province box.
pub const PROVINCE_MARGIN_DEG: f64 = 0.3;
/// Geo-coded records a municipality needs before the distance rule applies.
pub const MIN_POINTS: usize = 3;
/// Limit = this × the radius of a circle of the municipality's area.
pub const RADIUS_FACTOR: f64 = 2.0;
/// The distance limit is never below this, in km.
pub const MIN_LIMIT_KM: f64 = 10.0;

/// (min lat, max lat, min lon, max lon) per province code.
static PROVINCE_BOXES: LazyLock<BTreeMap<String, [f64; 4]>> = LazyLock::new(|| {
    let mut m = BTreeMap::new();
    let mut rdr = csv::Reader::from_reader(PROVINCE_BBOX_CSV.as_bytes());
    for rec in rdr.records().flatten() {
        let n: Vec<f64> = (1..5).filter_map(|i| rec.get(i)?.parse().ok()).collect();
        if let [a, b, c, d] = n[..] {
            m.insert(rec[0].to_string(), [a, b, c, d]);
        }
    }
    m
});

/// The outcome of the check, as published in `coordinate_check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoordinateCheck {
    /// Passed every rule that could be applied.
    Consistent,
    /// Outside the (widened) box of the municipality's province.
    OutsideProvinceBox,
    /// Further from the municipality's other projects than its size allows.
    FarFromMunicipalityProjects,
    /// No rule could be applied (no municipality, or one the reference does not know).
    NotChecked,
}

impl CoordinateCheck {
    /// The name written to outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            CoordinateCheck::Consistent => "consistent",
            CoordinateCheck::OutsideProvinceBox => "outside_province_box",
            CoordinateCheck::FarFromMunicipalityProjects => "far_from_municipality_projects",
            CoordinateCheck::NotChecked => "not_checked",
        }
    }
}

/// Great-circle distance in km (haversine, mean Earth radius 6,371 km).
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The check of every point: `points` are (municipality code, (lat, lon)); the result is
/// (check, detail in words) for each, in order. Every municipality's points are the run's
/// records with coordinates in it.
pub fn check_points(reference: &Reference, points: &[(Option<&str>, (f64, f64))]) -> Vec<(CoordinateCheck, String)> {
    let mut by_muni: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for (m, p) in points {
        if let Some(m) = m {
            by_muni.entry(m).or_default().push(*p);
        }
    }
    let centres: BTreeMap<&str, ((f64, f64), usize)> = by_muni
        .iter()
        .filter(|(_, ps)| ps.len() >= MIN_POINTS)
        .map(|(m, ps)| {
            let c = (
                median(ps.iter().map(|p| p.0).collect()),
                median(ps.iter().map(|p| p.1).collect()),
            );
            (*m, (c, ps.len()))
        })
        .collect();
    points
        .iter()
        .map(|(m, p)| check_one(reference, *m, *p, m.and_then(|m| centres.get(m))))
        .collect()
}

fn check_one(
    reference: &Reference,
    muni: Option<&str>,
    (lat, lon): (f64, f64),
    centre: Option<&((f64, f64), usize)>,
) -> (CoordinateCheck, String) {
    let Some(m) = muni.and_then(|c| reference.get(c)) else {
        return (
            CoordinateCheck::NotChecked,
            "no municipality the reference knows".to_string(),
        );
    };
    let Some([a, b, c, d]) = PROVINCE_BOXES.get(&m.province).copied() else {
        return (
            CoordinateCheck::NotChecked,
            format!("no box for province {}", m.province),
        );
    };
    let e = PROVINCE_MARGIN_DEG;
    if !((a - e..=b + e).contains(&lat) && (c - e..=d + e).contains(&lon)) {
        return (
            CoordinateCheck::OutsideProvinceBox,
            format!(
                "outside {}'s province box ({}: latitude {a}…{b}, longitude {c}…{d}, ±{e}°)",
                m.code, m.province
            ),
        );
    }
    let area = m.square_kms.filter(|_| m.category != "C");
    let (Some(area), Some(((clat, clon), n))) = (area, centre) else {
        return (
            CoordinateCheck::Consistent,
            format!(
                "inside {}'s province box ({}); distance rule not applied (a district, or fewer than {MIN_POINTS} geo-coded projects)",
                m.code, m.province
            ),
        );
    };
    let limit = (RADIUS_FACTOR * (area / std::f64::consts::PI).sqrt()).max(MIN_LIMIT_KM);
    let dist = distance_km((lat, lon), (*clat, *clon));
    let detail = format!(
        "{dist:.1} km from the median point of {n} geo-coded projects in {}; limit {limit:.1} km ({RADIUS_FACTOR} × the radius of a circle of {area:.0} km²)",
        m.code
    );
    if dist > limit {
        (CoordinateCheck::FarFromMunicipalityProjects, detail)
    } else {
        (CoordinateCheck::Consistent, detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_in_another_province_or_far_from_its_neighbours_is_flagged() {
        let r = Reference::bundled();
        // Mbhashe (EC121, 3,305 km²: limit 2 × 32.4 = 64.9 km) around Dutywa (-32.10, 28.31).
        let pts = [
            (Some("EC121"), (-32.10, 28.31)),
            (Some("EC121"), (-32.12, 28.35)),
            (Some("EC121"), (-32.05, 28.30)),
            (Some("EC121"), (-33.92, 18.42)), // Cape Town: outside the EC box
            (Some("EC121"), (-33.02, 27.91)), // East London: in EC, ~130 km away
            (Some("DC12"), (-32.10, 28.31)),
            (None, (-32.10, 28.31)),
        ];
        let got = check_points(r, &pts);
        let checks: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(
            checks,
            [
                "consistent",
                "consistent",
                "consistent",
                "outside_province_box",
                "far_from_municipality_projects",
                "consistent",
                "not_checked"
            ]
        );
        assert!(got[4].1.contains("limit 64.9 km"), "{}", got[4].1);
        assert!(got[5].1.contains("distance rule not applied"), "{}", got[5].1);
    }

    #[test]
    fn haversine_by_hand() {
        // One degree of latitude ≈ 111.19 km.
        assert!((distance_km((-33.0, 18.0), (-34.0, 18.0)) - 111.19).abs() < 0.01);
    }
}

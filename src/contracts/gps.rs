//! GPS coordinates as they come: 0/0, swapped pairs, a dropped minus sign, free text
//! (`-31.45019, 29.45397`), several points joined with `and`, `Various`, places abroad.
//!
//! South Africa lies within latitude −35…−22 and longitude 16…33. A point outside that box is not
//! a location; a pair that fits only when swapped (or with the latitude's sign restored) is
//! repaired and the repair reported, so the quarantine shows what was changed.

/// The bounding box of South Africa (with Marion Island excluded).
pub const LAT_RANGE: (f64, f64) = (-35.0, -22.0);
/// Longitude bounds.
pub const LON_RANGE: (f64, f64) = (16.0, 33.0);

/// A point inside South Africa.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Latitude (negative: southern hemisphere).
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
}

/// A repair made to a coordinate pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    /// Latitude and longitude were swapped.
    Swapped,
    /// The latitude had lost its minus sign.
    LatitudeSign,
}

impl Repair {
    /// Rule name used in the quarantine.
    pub fn rule(self) -> &'static str {
        match self {
            Repair::Swapped => "gps_swapped",
            Repair::LatitudeSign => "gps_latitude_sign",
        }
    }
}

/// Why a pair is not a location.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GpsError {
    /// 0/0 (or one zero): a placeholder, not a place.
    #[error("({lat}, {lon}) is a placeholder, not a location")]
    Zero {
        /// Latitude.
        lat: f64,
        /// Longitude.
        lon: f64,
    },
    /// Outside South Africa even when swapped.
    #[error("({lat}, {lon}) is outside South Africa (latitude -35…-22, longitude 16…33)")]
    Outside {
        /// Latitude.
        lat: f64,
        /// Longitude.
        lon: f64,
    },
    /// Text that holds no coordinates.
    #[error("`{0}` holds no coordinates (expected `lat, lon`)")]
    Unparseable(String),
}

impl GpsError {
    /// Rule name used in the quarantine.
    pub fn rule(&self) -> &'static str {
        match self {
            GpsError::Zero { .. } => "gps_zero",
            GpsError::Outside { .. } => "gps_outside",
            GpsError::Unparseable(_) => "gps_text",
        }
    }
}

fn inside(lat: f64, lon: f64) -> bool {
    (LAT_RANGE.0..=LAT_RANGE.1).contains(&lat) && (LON_RANGE.0..=LON_RANGE.1).contains(&lon)
}

/// Checks and, where unambiguous, repairs one pair.
pub fn normalise(lat: f64, lon: f64) -> Result<(Point, Option<Repair>), GpsError> {
    if lat == 0.0 || lon == 0.0 {
        return Err(GpsError::Zero { lat, lon });
    }
    if inside(lat, lon) {
        return Ok((Point { lat, lon }, None));
    }
    if inside(lon, lat) {
        return Ok((Point { lat: lon, lon: lat }, Some(Repair::Swapped)));
    }
    if inside(-lat, lon) {
        return Ok((Point { lat: -lat, lon }, Some(Repair::LatitudeSign)));
    }
    Err(GpsError::Outside { lat, lon })
}

/// Parses free text holding zero or more `lat, lon` points. `Various` and `Not specified` give
/// no points; every pair is checked with [`normalise`].
pub fn parse_points(raw: &str) -> Result<Vec<(Point, Option<Repair>)>, GpsError> {
    let t = raw.trim();
    let lower = t.to_lowercase();
    if t.is_empty() || matches!(lower.as_str(), "various" | "not specified" | "n/a" | "none" | "-") {
        return Ok(vec![]);
    }
    let mut out = Vec::new();
    for part in lower.split(" and ").flat_map(|p| p.split(';')) {
        let nums: Vec<f64> = part
            .split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| GpsError::Unparseable(raw.to_string()))?;
        if nums.len() != 2 {
            return Err(GpsError::Unparseable(raw.to_string()));
        }
        out.push(normalise(nums[0], nums[1])?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_in_the_wild() {
        assert_eq!(normalise(-33.9, 18.4).unwrap(), (Point { lat: -33.9, lon: 18.4 }, None));
        assert_eq!(
            normalise(18.4, -33.9).unwrap(),
            (Point { lat: -33.9, lon: 18.4 }, Some(Repair::Swapped))
        );
        assert_eq!(
            normalise(33.9, 18.4).unwrap(),
            (Point { lat: -33.9, lon: 18.4 }, Some(Repair::LatitudeSign))
        );
        let e = normalise(0.0, 0.0).unwrap_err();
        assert_eq!(
            (e.rule(), e.to_string().as_str()),
            ("gps_zero", "(0, 0) is a placeholder, not a location")
        );
        let e = normalise(51.5, -0.12).unwrap_err();
        assert_eq!(e.rule(), "gps_outside");
        assert!(e.to_string().contains("(51.5, -0.12)"), "{e}");
    }

    #[test]
    fn free_text() {
        let p = parse_points("-31.45019, 29.45397").unwrap();
        assert_eq!(
            p,
            vec![(
                Point {
                    lat: -31.45019,
                    lon: 29.45397
                },
                None
            )]
        );
        assert_eq!(parse_points("-31.1, 29.1 and -31.2, 29.2").unwrap().len(), 2);
        assert!(parse_points("Various").unwrap().is_empty());
        let e = parse_points("near the river").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`near the river` holds no coordinates (expected `lat, lon`)"
        );
    }
}

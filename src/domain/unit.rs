//! The unit a source's amounts are written in (`unit` in pipelines and contracts). A shared
//! value type: `sources` (a source's own unit), `contracts` and `config` all name it.

/// The unit a source's amounts are written in; every amount is stored in Rand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Plain Rand.
    Rand,
    /// R thousand (provincial budget books, EPRE).
    Thousand,
    /// R million.
    Million,
}

impl Unit {
    /// The factor that turns a value in this unit into Rand.
    pub fn to_rand_factor(self) -> f64 {
        match self {
            Unit::Rand => 1.0,
            Unit::Thousand => 1_000.0,
            Unit::Million => 1_000_000.0,
        }
    }

    /// Reads a unit name as written in a pipeline or contract.
    pub fn parse(s: &str) -> Option<Unit> {
        match s.trim().to_ascii_lowercase().replace(['_', '-'], " ").as_str() {
            "rand" | "r" | "zar" => Some(Unit::Rand),
            "thousand" | "r thousand" | "r thousands" | "thousands" | "r000" | "r'000" => Some(Unit::Thousand),
            "million" | "r million" | "r millions" | "millions" | "rm" => Some(Unit::Million),
            _ => None,
        }
    }

    /// The name used in configuration and outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Rand => "rand",
            Unit::Thousand => "thousand",
            Unit::Million => "million",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_scale_to_rand() {
        assert_eq!(Unit::parse("R thousands"), Some(Unit::Thousand));
        assert_eq!(Unit::parse("rand"), Some(Unit::Rand));
        assert_eq!(Unit::parse("million"), Some(Unit::Million));
        assert_eq!(Unit::parse("pounds"), None);
        assert_eq!(Unit::Thousand.to_rand_factor() * 1_234.0, 1_234_000.0);
    }
}

//! Closed enums for domain values that published tables write as text (issue #11). Each
//! variant's `as_str` (and serde name) is exactly the string the tables carried before, so the
//! published tables do not change; `parse` is its inverse and refuses anything else, so an
//! unknown value is an error rather than a silent default.
//!
//! `Band` and `Method` are the types of `reconcile::Link`'s fields, `FindingSeverity` of
//! `metrics::Exception`'s; tables write their `as_str`. Two values stay text because their sets
//! are open: a sphere of government (`owner_sphere` carries what the source wrote: `metro`,
//! `municipal`, a lead sphere in the BEPP), and an amount's phase (named by each contract's
//! amount columns, `budget`, `audited`, `adjusted_appropriation`, …, and read from the data in
//! long-form sources: the mSCOA cube's `orgb`/`tabb`/`adjb`, a national register's
//! `budget_phase`).

/// Defines `as_str`, `parse`, `ALL` and `Display` for a closed enum from its variant names.
macro_rules! names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &[$ty] = &[$($ty::$variant),+];

            /// The name written to outputs.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }

            /// The value with this exact name, or `None`.
            pub fn parse(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == name)
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// How serious a quarantine entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The row was rejected.
    Error,
    /// The cell was nulled; the row was kept.
    Warning,
    /// The value was kept as it is but deserves a look (a negative amount).
    Notice,
}

names!(Severity { Error => "error", Warning => "warning", Notice => "notice" });

/// Which direction of a metric is better, declared once per metric in the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// A higher value is better.
    Higher,
    /// A lower value is better.
    Lower,
    /// Closest to 1 is best (a ratio that should reconcile).
    #[serde(rename = "target_1")]
    TargetOne,
    /// No direction: a profile (pure share) that describes, not judges. Never ranked.
    None,
}

impl Better {
    /// A score where larger is better, or `None` when the metric is not ranked.
    pub(crate) fn score(self, v: f64) -> Option<f64> {
        match self {
            Better::Higher => Some(v),
            Better::Lower => Some(-v),
            Better::TargetOne => Some(-(v - 1.0).abs()),
            Better::None => None,
        }
    }
}

names!(Better { Higher => "higher", Lower => "lower", TargetOne => "target_1", None => "none" });

/// How a link was made (`links.method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// A shared identifier (project number, mSCOA reference).
    ExactIdentifier,
    /// Fellegi–Sunter scoring.
    Probabilistic,
    /// An analyst's must-link decision.
    Override,
}

names!(Method { ExactIdentifier => "exact_identifier", Probabilistic => "probabilistic", Override => "override" });

/// How sure a link is (`links.band`): accepted links count in metrics; review links are listed
/// for an analyst and left out of metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// Accepted.
    Accept,
    /// Doubtful: kept for review.
    Review,
}

names!(Band { Accept => "accept", Review => "review" });

/// How serious a finding is (`exceptions.severity`); the priority weights high 3, medium 2,
/// low 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingSeverity {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
}

names!(FindingSeverity { Low => "low", Medium => "medium", High => "high" });

#[cfg(test)]
mod tests {
    use super::*;

    /// The names are the strings the published tables carried before the enums, through serde
    /// as well as `as_str`.
    #[test]
    fn names_are_the_published_strings_and_round_trip() {
        fn check<T: Copy + PartialEq + std::fmt::Debug + serde::Serialize>(
            all: &[T],
            name: fn(T) -> &'static str,
            parse: fn(&str) -> Option<T>,
            want: &[&str],
        ) {
            assert_eq!(all.iter().map(|v| name(*v)).collect::<Vec<_>>(), want);
            for v in all {
                assert_eq!(parse(name(*v)), Some(*v));
                assert_eq!(serde_json::to_string(v).unwrap(), format!("\"{}\"", name(*v)));
            }
        }
        check(
            Severity::ALL,
            Severity::as_str,
            Severity::parse,
            &["error", "warning", "notice"],
        );
        check(
            Better::ALL,
            Better::as_str,
            Better::parse,
            &["higher", "lower", "target_1", "none"],
        );
        check(
            Method::ALL,
            Method::as_str,
            Method::parse,
            &["exact_identifier", "probabilistic", "override"],
        );
        check(Band::ALL, Band::as_str, Band::parse, &["accept", "review"]);
        check(
            FindingSeverity::ALL,
            FindingSeverity::as_str,
            FindingSeverity::parse,
            &["low", "medium", "high"],
        );
        assert_eq!(
            Better::parse("Higher"),
            None,
            "an unknown direction is not silently `higher`"
        );
    }
}

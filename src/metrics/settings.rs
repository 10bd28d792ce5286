//! Materiality of findings and analysts' decisions (`[exceptions]`), compiled by `config`
//! (issue #11: each stage owns its settings, so `metrics` never reaches up into `config`).

use crate::domain::Location;

/// What makes a finding material, and the analysts' decisions about findings (`[exceptions]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ExceptionSettings {
    /// Rand at stake from which a finding is material. Default R1,000,000.
    pub min_rand_at_stake: f64,
    /// Share of the municipality's capital budget (over the years the finding affects) from
    /// which a finding is material; it needs both. Default 0.005 (0.5%).
    pub min_share_of_capital_budget: f64,
    /// Analysts' decisions about findings (CSV: exception_id, status, reason, until,
    /// assigned_to, decided_by), read on every run.
    pub decisions: Option<Location>,
}

impl Default for ExceptionSettings {
    fn default() -> Self {
        Self {
            min_rand_at_stake: 1_000_000.0,
            min_share_of_capital_budget: 0.005,
            decisions: None,
        }
    }
}

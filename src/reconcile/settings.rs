//! Linking and variance settings (`[reconcile]`), compiled by `config` (issue #11: each stage
//! owns its settings, so `reconcile` never reaches up into `config`).

use crate::domain::{FinancialYear, Location};

/// Reconciliation settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconcileSettings {
    /// Municipal financial years to report on; empty means every year found.
    pub financial_years: Vec<FinancialYear>,
    /// Term-weighted name similarity (0–1) a pair needs before it is scored at all. Default 0.75.
    pub name_match_threshold: f64,
    /// Absolute variance tolerance in Rand. Default R1,000,000.
    pub variance_abs_tolerance_rand: f64,
    /// Relative variance tolerance (0.10 = 10%). Default 0.10.
    pub variance_rel_tolerance: f64,
    /// Match weight from which a probabilistic link is accepted. Default 6.
    pub accept_weight: f64,
    /// Match weight from which a probabilistic link is kept for review. Default 2.
    pub review_weight: f64,
    /// Match probability from which a probabilistic link is accepted (it also needs
    /// `accept_weight`). Default 0.8.
    pub accept_probability: f64,
    /// Match probability from which a probabilistic link is kept for review. Default 0.3.
    pub review_probability: f64,
    /// The match weight at which a lone candidate is as likely a match as not: the odds of "no
    /// counterpart at all" that every candidate's 2^weight is set against. Default 6.
    pub no_match_weight: f64,
    /// Analysts' must-link / cannot-link decisions (CSV or Parquet), applied on every run.
    pub overrides: Option<Location>,
    /// Per link type (`budget_idp`, ...): (absolute Rand, relative) tolerances overriding the two
    /// above.
    pub tolerances: std::collections::BTreeMap<String, (f64, f64)>,
    /// `comparison.level` → (m, u) replacing the built-in defaults (`reconcile.model.levels`).
    pub model_levels: std::collections::BTreeMap<String, (f64, f64)>,
    /// Whether m and u are estimated from each run's candidate pairs by EM, per link type,
    /// starting from the defaults and `model_levels` (`reconcile.model.estimate`). Default false.
    pub estimate_model: bool,
    /// EM's iteration limit (`reconcile.model.max_iterations`). Default 1000.
    pub em_max_iterations: u32,
}

impl ReconcileSettings {
    /// The (absolute, relative) tolerance for a link type.
    pub fn tolerance(&self, link_type: &str) -> (f64, f64) {
        self.tolerances
            .get(link_type)
            .copied()
            .unwrap_or((self.variance_abs_tolerance_rand, self.variance_rel_tolerance))
    }
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        Self {
            financial_years: Vec::new(),
            name_match_threshold: default_name_match_threshold(),
            variance_abs_tolerance_rand: 1_000_000.0,
            variance_rel_tolerance: 0.10,
            tolerances: std::collections::BTreeMap::new(),
            accept_weight: 6.0,
            review_weight: 2.0,
            accept_probability: 0.8,
            review_probability: 0.3,
            no_match_weight: 6.0,
            overrides: None,
            model_levels: std::collections::BTreeMap::new(),
            estimate_model: false,
            em_max_iterations: 1000,
        }
    }
}

fn default_name_match_threshold() -> f64 {
    0.75
}

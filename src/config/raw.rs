//! Phase one of reading a pipeline: the TOML as loose serde structs, every field optional and
//! every struct `deny_unknown_fields`, so the structs themselves are the list of known keys (a
//! typo is reported with the keys expected, never ignored). Phase two, the compile functions
//! beside this file, turns them into each stage's settings.

use serde::Deserialize;
use std::collections::BTreeMap;

/// The top level of a pipeline file. The four sections are kept as TOML values here (so they
/// count as known keys) and read section by section.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPipeline {
    pub name: Option<String>,
    pub description: Option<String>,
    pub schedule: Option<String>,
    pub timezone: Option<String>,
    pub catch_up: Option<bool>,
    pub contracts_dir: Option<String>,
    pub publish: Option<toml::Value>,
    pub reconcile: Option<toml::Value>,
    pub exceptions: Option<toml::Value>,
    pub sources: Option<toml::Value>,
}

/// `[publish]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPublish {
    pub location: Option<String>,
    pub retention_days: Option<i64>,
    pub lock_wait_secs: Option<i64>,
}

/// `[reconcile]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReconcile {
    pub accept_probability: Option<f64>,
    pub review_probability: Option<f64>,
    pub no_match_weight: Option<f64>,
    pub accept_weight: Option<f64>,
    pub review_weight: Option<f64>,
    pub overrides: Option<String>,
    pub tolerances: Option<BTreeMap<String, RawTolerance>>,
    pub financial_years: Option<Vec<String>>,
    pub name_match_threshold: Option<f64>,
    pub model: Option<RawModel>,
    pub variance_abs_tolerance_rand: Option<f64>,
    pub variance_rel_tolerance: Option<f64>,
}

/// `[exceptions]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExceptions {
    pub min_rand_at_stake: Option<f64>,
    pub min_share_of_capital_budget: Option<f64>,
    pub decisions: Option<String>,
}

/// `[reconcile.model]`.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawModel {
    pub estimate: Option<bool>,
    pub max_iterations: Option<u32>,
    pub levels: Option<BTreeMap<String, RawMU>>,
}

/// One level of `[reconcile.model.levels]`.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMU {
    pub m: f64,
    pub u: f64,
}

/// One link type of `[reconcile.tolerances]`.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTolerance {
    pub abs_rand: Option<f64>,
    pub rel: Option<f64>,
}

/// One `[[sources]]` table.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    /// `name`.
    pub name: Option<String>,
    /// `location`.
    pub location: Option<String>,
    /// `format`.
    pub format: Option<String>,
    /// `contract`.
    pub contract: Option<String>,
    /// `unit`.
    pub unit: Option<String>,
    /// `sheets`.
    pub sheets: Option<String>,
    /// `financial_year`.
    pub financial_year: Option<String>,
    /// `max_reject_ratio`.
    pub max_reject_ratio: Option<f64>,
    /// `min_rows`.
    pub min_rows: Option<i64>,
    /// `max_row_drop`.
    pub max_row_drop: Option<f64>,
    /// `timeout_secs`.
    pub timeout_secs: Option<i64>,
    /// `retries`.
    pub retries: Option<i64>,
    /// `retry_base_ms`.
    pub retry_base_ms: Option<i64>,
    /// `max_bytes`.
    pub max_bytes: Option<i64>,
    /// `max_uncompressed_bytes`.
    pub max_uncompressed_bytes: Option<i64>,
    /// `max_cells`.
    pub max_cells: Option<i64>,
    /// `headers_from_env`.
    pub headers_from_env: Option<BTreeMap<String, String>>,
}

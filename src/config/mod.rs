//! Pipeline definitions: the TOML files in `pipelines/`, parsed and validated in two phases.
//!
//! Phase one reads the TOML into loose raw structs (every field optional) and checks every key
//! against the keys harvester knows, so a typo is reported instead of silently ignored. Phase
//! two compiles the raw structs into a [`Pipeline`]: locations parsed, cron expression checked,
//! contracts looked up, numbers range-checked. Every problem from both phases is collected and
//! reported at once, each with the file and the key (`sources[2].contract`). The keys are
//! documented in `pipelines/README.md`.

use crate::contracts::{span_hint, Catalog};
use crate::domain::{Calendar, FinancialYear, Location, Unit, YearLabel};
use crate::sources::readers::Format;
use regex::Regex;
use serde::Deserialize;
use std::path::{Path, PathBuf};

mod inputs;
mod schedule;

/// One problem in a pipeline file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The pipeline file.
    pub file: String,
    /// The key, e.g. `sources[1].contract`.
    pub key: String,
    /// What was expected and what was found.
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.key, self.message)
    }
}

/// Every problem found in one or more pipeline files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError(pub Vec<Diagnostic>);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "{n} problem{} in pipeline configuration:",
            if n == 1 { "" } else { "s" }
        )?;
        for d in &self.0 {
            writeln!(f, "  - {d}")?;
        }
        Ok(())
    }
}

pub use crate::domain::valid_name;
pub use crate::metrics::ExceptionSettings;
pub use crate::reconcile::ReconcileSettings;
pub use crate::sources::{HttpSettings, SourceSpec, DEFAULT_MAX_REJECT_RATIO, DEFAULT_MIN_ROWS};

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "schedule",
    "timezone",
    "catch_up",
    "contracts_dir",
    "publish",
    "reconcile",
    "exceptions",
    "sources",
];
const EXCEPTIONS_KEYS: &[&str] = &["min_rand_at_stake", "min_share_of_capital_budget", "decisions"];
const PUBLISH_KEYS: &[&str] = &["location", "retention_days", "lock_wait_secs"];
const RECONCILE_KEYS: &[&str] = &[
    "accept_probability",
    "review_probability",
    "no_match_weight",
    "accept_weight",
    "review_weight",
    "overrides",
    "tolerances",
    "financial_years",
    "name_match_threshold",
    "model",
    "variance_abs_tolerance_rand",
    "variance_rel_tolerance",
];
const SOURCE_KEYS: &[&str] = &[
    "name",
    "location",
    "format",
    "contract",
    "unit",
    "sheets",
    "financial_year",
    "max_reject_ratio",
    "min_rows",
    "max_row_drop",
    "timeout_secs",
    "retries",
    "retry_base_ms",
    "max_bytes",
    "max_uncompressed_bytes",
    "max_cells",
    "headers_from_env",
];

#[derive(Debug, Deserialize, Default)]
struct RawPipeline {
    name: Option<String>,
    description: Option<String>,
    schedule: Option<String>,
    timezone: Option<String>,
    catch_up: Option<bool>,
    contracts_dir: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
struct RawPublish {
    location: Option<String>,
    retention_days: Option<i64>,
    lock_wait_secs: Option<i64>,
}

#[derive(Debug, Deserialize, Default)]
struct RawReconcile {
    accept_probability: Option<f64>,
    review_probability: Option<f64>,
    no_match_weight: Option<f64>,
    accept_weight: Option<f64>,
    review_weight: Option<f64>,
    overrides: Option<String>,
    tolerances: Option<std::collections::BTreeMap<String, RawTolerance>>,
    financial_years: Option<Vec<String>>,
    name_match_threshold: Option<f64>,
    variance_abs_tolerance_rand: Option<f64>,
    variance_rel_tolerance: Option<f64>,
    model: Option<RawModel>,
}

#[derive(Debug, Deserialize, Default)]
struct RawExceptions {
    min_rand_at_stake: Option<f64>,
    min_share_of_capital_budget: Option<f64>,
    decisions: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawModel {
    estimate: Option<bool>,
    max_iterations: Option<u32>,
    levels: Option<std::collections::BTreeMap<String, RawMU>>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawMU {
    m: f64,
    u: f64,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawTolerance {
    abs_rand: Option<f64>,
    rel: Option<f64>,
}

#[derive(Debug, Deserialize, Default)]
struct RawSource {
    name: Option<String>,
    location: Option<String>,
    format: Option<String>,
    contract: Option<String>,
    unit: Option<String>,
    sheets: Option<String>,
    financial_year: Option<String>,
    max_reject_ratio: Option<f64>,
    min_rows: Option<i64>,
    max_row_drop: Option<f64>,
    timeout_secs: Option<i64>,
    retries: Option<i64>,
    retry_base_ms: Option<i64>,
    max_bytes: Option<i64>,
    max_uncompressed_bytes: Option<i64>,
    max_cells: Option<i64>,
    headers_from_env: Option<std::collections::BTreeMap<String, String>>,
}

/// Default number of days earlier runs are kept.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;

/// Default number of seconds a run waits for the publish lock.
pub const DEFAULT_LOCK_WAIT_SECS: u64 = 600;

/// A validated pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// Pipeline name (lowercase letters, digits, `-`, `_`).
    pub name: String,
    /// What it is for.
    pub description: String,
    /// The file it was read from.
    pub file: PathBuf,
    /// Cron schedule (seconds field first), if scheduled.
    pub schedule: Option<cron::Schedule>,
    /// Time zone of the schedule. Default Africa/Johannesburg.
    pub timezone: chrono_tz::Tz,
    /// Whether a schedule missed while the service was down runs once at start-up.
    pub catch_up: bool,
    /// The contracts available to this pipeline.
    pub catalog: Catalog,
    /// Where outputs are published. Default `./out`.
    pub publish: Location,
    /// Days earlier runs' files are kept for as-of comparison. Default 30.
    pub retention_days: u32,
    /// Seconds a run waits for another run publishing to the same location to finish before it
    /// fails (naming the holder). Default [`DEFAULT_LOCK_WAIT_SECS`].
    pub lock_wait_secs: u64,
    /// Reconciliation settings.
    pub reconcile: ReconcileSettings,
    /// Materiality of findings and analysts' decisions (`[exceptions]`).
    pub exceptions: ExceptionSettings,
    /// Sources, in file order.
    pub sources: Vec<SourceSpec>,
}

pub use schedule::parse_schedule;

/// Whether loading a pipeline also checks that its local input files exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inputs {
    /// Files may appear later (a nightly drop): `run` and `serve` find out when they fetch.
    Later,
    /// `harvester validate`: a missing file or a glob that matches nothing is a problem now.
    Now,
}

impl Pipeline {
    /// Reads and validates a pipeline file. `cwd` resolves the default publish location.
    pub fn load(path: &Path, cwd: &Path) -> Result<Pipeline, ConfigError> {
        Self::load_with(path, cwd, Inputs::Later)
    }

    /// [`Pipeline::load`], and also checks that every local input (sources, overrides,
    /// exception decisions) exists and every local glob matches a file, reporting those problems
    /// with all the others (`harvester validate`).
    pub fn load_checked(path: &Path, cwd: &Path) -> Result<Pipeline, ConfigError> {
        Self::load_with(path, cwd, Inputs::Now)
    }

    fn load_with(path: &Path, cwd: &Path, inputs: Inputs) -> Result<Pipeline, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(vec![Diagnostic {
                file: file.clone(),
                key: "(file)".into(),
                message: format!("cannot read the pipeline file: {e}"),
            }])
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let base = if base.as_os_str().is_empty() {
            cwd.to_path_buf()
        } else {
            cwd.join(base)
        };
        Self::parse_with(&text, &file, &base, cwd, inputs)
    }

    /// Parses pipeline text; `base` resolves relative source paths, `cwd` the default output.
    pub fn parse(text: &str, file: &str, base: &Path, cwd: &Path) -> Result<Pipeline, ConfigError> {
        Self::parse_with(text, file, base, cwd, Inputs::Later)
    }

    fn parse_with(text: &str, file: &str, base: &Path, cwd: &Path, inputs: Inputs) -> Result<Pipeline, ConfigError> {
        // Local inputs by key, checked at the end when `inputs` is `Now`.
        let mut local_inputs: Vec<(String, Location)> = Vec::new();
        let mut diags = Vec::new();
        let mut diag = |key: &str, message: String| {
            diags.push(Diagnostic {
                file: file.to_string(),
                key: key.to_string(),
                message,
            });
        };
        let table: toml::Table = match toml::from_str(text) {
            Ok(t) => t,
            Err(e) => {
                diag(
                    "(syntax)",
                    format!("not valid TOML: {}{}", e.message(), span_hint(text, e.span())),
                );
                return Err(ConfigError(diags));
            }
        };
        // Phase one: unknown keys and types, section by section.
        check_keys(&table, TOP_KEYS, "", &mut diag);
        let raw: RawPipeline = section(&toml::Value::Table(top_scalars(&table)), "", &mut diag);
        let publish: RawPublish = match table.get("publish") {
            Some(v) => {
                if let Some(t) = v.as_table() {
                    check_keys(t, PUBLISH_KEYS, "publish.", &mut diag);
                }
                section(v, "publish", &mut diag)
            }
            None => RawPublish::default(),
        };
        let reconcile: RawReconcile = match table.get("reconcile") {
            Some(v) => {
                if let Some(t) = v.as_table() {
                    check_keys(t, RECONCILE_KEYS, "reconcile.", &mut diag);
                }
                section(v, "reconcile", &mut diag)
            }
            None => RawReconcile::default(),
        };
        let raw_exceptions: RawExceptions = match table.get("exceptions") {
            Some(v) => {
                if let Some(t) = v.as_table() {
                    check_keys(t, EXCEPTIONS_KEYS, "exceptions.", &mut diag);
                }
                section(v, "exceptions", &mut diag)
            }
            None => RawExceptions::default(),
        };
        let mut raw_sources = Vec::new();
        match table.get("sources") {
            Some(toml::Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(t) = item.as_table() {
                        check_keys(t, SOURCE_KEYS, &format!("sources[{i}]."), &mut diag);
                    }
                    raw_sources.push(section::<RawSource>(item, &format!("sources[{i}]"), &mut diag));
                }
            }
            Some(_) => diag("sources", "expected an array of tables ([[sources]])".into()),
            None => diag(
                "sources",
                "missing: a pipeline needs at least one [[sources]] entry".into(),
            ),
        }

        // Phase two: compile.
        let name = raw.name.clone().unwrap_or_default();
        if raw.name.is_none() {
            diag("name", "missing: expected a pipeline name such as `sample`".into());
        } else if !valid_name(&name) {
            diag(
                "name",
                format!("expected lowercase letters, digits, `-` or `_` (at most 64), found `{name}`"),
            );
        }
        let schedule = match raw.schedule.as_deref() {
            Some(s) => match parse_schedule(s) {
                Ok(sch) => Some(sch),
                Err(e) => {
                    diag("schedule", e);
                    None
                }
            },
            None => None,
        };
        let timezone = match raw.timezone.as_deref() {
            None => chrono_tz::Africa::Johannesburg,
            Some(tz) => tz.parse().unwrap_or_else(|_| {
                diag(
                    "timezone",
                    format!("expected an IANA time zone such as `Africa/Johannesburg`, found `{tz}`"),
                );
                chrono_tz::Africa::Johannesburg
            }),
        };
        let contracts_dir = raw.contracts_dir.as_ref().map(|d| base.join(d));
        let catalog = match Catalog::load(contracts_dir.as_deref()) {
            Ok(c) => c,
            Err(errs) => {
                for e in errs {
                    diag("contracts_dir", e.to_string());
                }
                Catalog::load(None).unwrap_or_default()
            }
        };
        let publish_location = match publish.location.as_deref() {
            None => Location::Local(cwd.join("out")),
            Some(l) => Location::parse(l, cwd).unwrap_or_else(|e| {
                diag("publish.location", e.to_string());
                Location::Local(cwd.join("out"))
            }),
        };
        let retention_days = match publish.retention_days {
            None => DEFAULT_RETENTION_DAYS,
            Some(d) if (1..=36_500).contains(&d) => d as u32,
            Some(d) => {
                diag(
                    "publish.retention_days",
                    format!("expected a number of days from 1 to 36500, found {d}"),
                );
                DEFAULT_RETENTION_DAYS
            }
        };
        let lock_wait_secs = match publish.lock_wait_secs {
            None => DEFAULT_LOCK_WAIT_SECS,
            Some(d) if (0..=86_400).contains(&d) => d as u64,
            Some(d) => {
                diag(
                    "publish.lock_wait_secs",
                    format!("expected a number of seconds from 0 to 86400, found {d}"),
                );
                DEFAULT_LOCK_WAIT_SECS
            }
        };
        let mut years = Vec::new();
        for (i, y) in reconcile.financial_years.clone().unwrap_or_default().iter().enumerate() {
            match FinancialYear::parse(y, Calendar::Municipal, YearLabel::Start) {
                Ok(fy) => years.push(fy),
                Err(e) => diag(&format!("reconcile.financial_years[{i}]"), e.to_string()),
            }
        }
        let mut settings = ReconcileSettings {
            financial_years: years,
            ..ReconcileSettings::default()
        };
        if let Some(t) = reconcile.name_match_threshold {
            if (0.0..=1.0).contains(&t) {
                settings.name_match_threshold = t;
            } else {
                diag(
                    "reconcile.name_match_threshold",
                    format!("expected a number between 0 and 1, found {t}"),
                );
            }
        }
        if let Some(t) = reconcile.variance_abs_tolerance_rand {
            if t >= 0.0 {
                settings.variance_abs_tolerance_rand = t;
            } else {
                diag(
                    "reconcile.variance_abs_tolerance_rand",
                    format!("expected an amount in Rand of 0 or more, found {t}"),
                );
            }
        }
        if let Some(t) = reconcile.variance_rel_tolerance {
            if t >= 0.0 {
                settings.variance_rel_tolerance = t;
            } else {
                diag(
                    "reconcile.variance_rel_tolerance",
                    format!("expected a ratio of 0 or more, found {t}"),
                );
            }
        }
        if let Some(a) = reconcile.accept_weight {
            settings.accept_weight = a;
        }
        if let Some(w) = reconcile.no_match_weight {
            settings.no_match_weight = w;
        }
        let probabilities = [
            (
                "reconcile.accept_probability",
                reconcile.accept_probability,
                &mut settings.accept_probability,
            ),
            (
                "reconcile.review_probability",
                reconcile.review_probability,
                &mut settings.review_probability,
            ),
        ];
        for (key, value, slot) in probabilities {
            match value {
                Some(p) if p > 0.0 && p < 1.0 => *slot = p,
                Some(p) => diag(
                    key,
                    format!("expected a probability between 0 and 1 (exclusive), found {p}"),
                ),
                None => {}
            }
        }
        if settings.review_probability > settings.accept_probability {
            diag(
                "reconcile.review_probability",
                format!(
                    "expected at most accept_probability ({}), found {}",
                    settings.accept_probability, settings.review_probability
                ),
            );
        }
        if let Some(r) = reconcile.review_weight {
            settings.review_weight = r;
        }
        if settings.review_weight > settings.accept_weight {
            diag(
                "reconcile.review_weight",
                format!(
                    "expected at most accept_weight ({}), found {}",
                    settings.accept_weight, settings.review_weight
                ),
            );
        }
        let mut exceptions = ExceptionSettings::default();
        match raw_exceptions.min_rand_at_stake {
            Some(v) if v.is_finite() && v >= 0.0 => exceptions.min_rand_at_stake = v,
            Some(v) => diag(
                "exceptions.min_rand_at_stake",
                format!("expected a Rand amount of 0 or more, found {v}"),
            ),
            None => {}
        }
        match raw_exceptions.min_share_of_capital_budget {
            Some(v) if (0.0..=1.0).contains(&v) => exceptions.min_share_of_capital_budget = v,
            Some(v) => diag(
                "exceptions.min_share_of_capital_budget",
                format!("expected a share from 0 to 1, found {v}"),
            ),
            None => {}
        }
        if let Some(d) = raw_exceptions.decisions.as_deref() {
            match Location::parse(d, base) {
                Ok(l) => {
                    local_inputs.push(("exceptions.decisions".into(), l.clone()));
                    exceptions.decisions = Some(l);
                }
                Err(e) => diag("exceptions.decisions", e.to_string()),
            }
        }
        if let Some(o) = reconcile.overrides.as_deref() {
            match Location::parse(o, base) {
                Ok(l) => {
                    local_inputs.push(("reconcile.overrides".into(), l.clone()));
                    settings.overrides = Some(l);
                }
                Err(e) => diag("reconcile.overrides", e.to_string()),
            }
        }
        for (link_type, t) in reconcile.tolerances.clone().unwrap_or_default() {
            const TYPES: &[&str] = &[
                "budget_idp",
                "bepp_idp",
                "bepp_budget",
                "departmental_idp",
                "departmental_budget",
            ];
            let key = format!("reconcile.tolerances.{link_type}");
            if !TYPES.contains(&link_type.as_str()) {
                diag(&key, format!("unknown link type; expected one of {}", TYPES.join(", ")));
                continue;
            }
            let abs = t.abs_rand.unwrap_or(settings.variance_abs_tolerance_rand);
            let rel = t.rel.unwrap_or(settings.variance_rel_tolerance);
            if abs < 0.0 || rel < 0.0 {
                diag(
                    &key,
                    format!("expected tolerances of 0 or more, found abs_rand = {abs}, rel = {rel}"),
                );
                continue;
            }
            settings.tolerances.insert(link_type, (abs, rel));
        }
        if let Some(model) = reconcile.model.clone() {
            settings.estimate_model = model.estimate.unwrap_or(false);
            if let Some(n) = model.max_iterations {
                if n == 0 {
                    diag("reconcile.model.max_iterations", "expected 1 or more, found 0".into());
                }
                settings.em_max_iterations = n;
            }
            for (name, mu) in model.levels.unwrap_or_default() {
                let key = format!("reconcile.model.levels.\"{name}\"");
                if crate::reconcile::score::level_index(&name).is_none() {
                    diag(
                        &key,
                        format!(
                            "unknown comparison level; expected one of {}",
                            crate::reconcile::score::level_names().join(", ")
                        ),
                    );
                    continue;
                }
                let ok = |p: f64| p > 0.0 && p < 1.0;
                if !ok(mu.m) || !ok(mu.u) {
                    diag(
                        &key,
                        format!(
                            "expected m and u strictly between 0 and 1, found m = {}, u = {}",
                            mu.m, mu.u
                        ),
                    );
                    continue;
                }
                settings.model_levels.insert(name, (mu.m, mu.u));
            }
        }
        let mut sources: Vec<SourceSpec> = Vec::new();
        // Every valid name seen, whether or not its source has other problems.
        let mut seen_names: Vec<(String, usize)> = Vec::new();
        for (i, s) in raw_sources.into_iter().enumerate() {
            let key = |k: &str| format!("sources[{i}].{k}");
            let sname = s.name.clone().unwrap_or_default();
            if s.name.is_none() {
                diag(&key("name"), "missing: every source needs a name".into());
            } else if !valid_name(&sname) {
                diag(
                    &key("name"),
                    format!("expected lowercase letters, digits, `-` or `_`, found `{sname}`"),
                );
            } else if let Some((_, first)) = seen_names.iter().find(|(o, _)| *o == sname) {
                diag(
                    &key("name"),
                    format!("`{sname}` is used by another source (sources[{first}]); source names must be unique"),
                );
            } else {
                seen_names.push((sname.clone(), i));
            }
            let location = match s.location.as_deref() {
                None => {
                    diag(&key("location"), "missing: expected a path or URL".into());
                    None
                }
                Some(l) => match Location::parse(l, base) {
                    Ok(loc) => {
                        local_inputs.push((key("location"), loc.clone()));
                        Some(loc)
                    }
                    Err(e) => {
                        diag(&key("location"), e.to_string());
                        None
                    }
                },
            };
            let format = match s.format.as_deref() {
                None => None,
                Some(f) => match Format::parse(f) {
                    Some(f) => Some(f),
                    None => {
                        diag(
                            &key("format"),
                            format!("expected `csv`, `tsv`, `xlsx`, `xls`, `json` or `parquet`, found `{f}`"),
                        );
                        None
                    }
                },
            };
            let contract = match s.contract.as_deref() {
                None => {
                    diag(
                        &key("contract"),
                        format!("missing: expected one of {}", catalog.names().join(", ")),
                    );
                    None
                }
                Some(c) => match catalog.get(c) {
                    Some(ct) => Some(ct.clone()),
                    None => {
                        diag(
                            &key("contract"),
                            format!("unknown contract `{c}`; expected one of {}", catalog.names().join(", ")),
                        );
                        None
                    }
                },
            };
            let unit = match s.unit.as_deref() {
                None => contract.as_ref().map_or(Unit::Rand, |c| c.unit),
                Some(u) => Unit::parse(u).unwrap_or_else(|| {
                    diag(
                        &key("unit"),
                        format!("expected `rand`, `thousand` or `million`, found `{u}`"),
                    );
                    Unit::Rand
                }),
            };
            let sheets = match s.sheets.as_deref() {
                None | Some("*") => None,
                Some(p) => match Regex::new(p) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        diag(&key("sheets"), format!("invalid regular expression `{p}`: {e}"));
                        None
                    }
                },
            };
            let calendar = contract.as_ref().map_or(Calendar::Municipal, |c| c.calendar);
            let financial_year = match s.financial_year.as_deref() {
                None => None,
                Some(y) => match FinancialYear::parse(y, calendar, YearLabel::Start) {
                    Ok(fy) => Some(fy),
                    Err(e) => {
                        diag(&key("financial_year"), e.to_string());
                        None
                    }
                },
            };
            let max_reject_ratio = s.max_reject_ratio.unwrap_or(DEFAULT_MAX_REJECT_RATIO);
            if !(0.0..=1.0).contains(&max_reject_ratio) {
                diag(
                    &key("max_reject_ratio"),
                    format!("expected a share between 0 and 1, found {max_reject_ratio}"),
                );
            }
            let max_row_drop = s.max_row_drop;
            if let Some(d) = max_row_drop.filter(|d| !(0.0..=1.0).contains(d)) {
                diag(
                    &key("max_row_drop"),
                    format!("expected a share between 0 and 1, found {d}"),
                );
            }
            let mut http = HttpSettings::default();
            let mut positive = |k: &str, v: Option<i64>, max: i64| -> Option<u64> {
                match v {
                    None => None,
                    Some(n) if (0..=max).contains(&n) => Some(n as u64),
                    Some(n) => {
                        diag(&key(k), format!("expected a whole number from 0 to {max}, found {n}"));
                        None
                    }
                }
            };
            if let Some(t) = positive("timeout_secs", s.timeout_secs, 86_400) {
                http.timeout_secs = t.max(1);
            }
            if let Some(r) = positive("retries", s.retries, 20) {
                http.retries = r as u32;
            }
            if let Some(b) = positive("retry_base_ms", s.retry_base_ms, 600_000) {
                http.retry_base_ms = b;
            }
            if let Some(m) = positive("max_bytes", s.max_bytes, i64::MAX) {
                http.max_bytes = m;
            }
            let mut read_limits = crate::sources::readers::ReadLimits::default();
            if let Some(m) = positive("max_uncompressed_bytes", s.max_uncompressed_bytes, i64::MAX) {
                read_limits.max_uncompressed_bytes = m;
            }
            if let Some(m) = positive("max_cells", s.max_cells, i64::MAX) {
                read_limits.max_cells = m;
            }
            let min_rows =
                positive("min_rows", s.min_rows, i64::from(u32::MAX)).map_or(DEFAULT_MIN_ROWS, |n| n as usize);
            for (header, var) in s.headers_from_env.clone().unwrap_or_default() {
                if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err() {
                    diag(
                        &key("headers_from_env"),
                        format!("`{header}` is not a valid HTTP header name"),
                    );
                } else if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    diag(
                        &key("headers_from_env"),
                        format!("`{var}` (for header `{header}`) is not an environment variable name"),
                    );
                } else {
                    http.headers_from_env.push((header, var));
                }
            }
            if let (Some(location), Some(contract)) = (location, contract) {
                sources.push(SourceSpec {
                    name: sname,
                    location,
                    format,
                    contract: contract.name,
                    unit,
                    sheets,
                    financial_year,
                    max_reject_ratio,
                    min_rows,
                    max_row_drop,
                    http,
                    read_limits,
                });
            }
        }
        if inputs == Inputs::Now {
            for (key, location) in &local_inputs {
                if let Some(problem) = inputs::missing(location) {
                    diag(key, problem);
                }
            }
        }
        if !diags.is_empty() {
            return Err(ConfigError(diags));
        }
        Ok(Pipeline {
            name,
            description: raw.description.unwrap_or_default(),
            file: PathBuf::from(file),
            schedule,
            timezone,
            catch_up: raw.catch_up.unwrap_or(false),
            catalog,
            publish: publish_location,
            retention_days,
            lock_wait_secs,
            reconcile: settings,
            exceptions,
            sources,
        })
    }

    /// Replaces one source's location (`--source NAME=URL`), relative to `cwd`.
    pub fn override_source(&mut self, spec: &str, cwd: &Path) -> Result<(), String> {
        let shown = crate::domain::location::redact_text(spec);
        let (name, url) = spec
            .split_once('=')
            .ok_or_else(|| format!("--source `{shown}`: expected NAME=URL"))?;
        let names: Vec<String> = self.sources.iter().map(|s| s.name.clone()).collect();
        let src = self.sources.iter_mut().find(|s| s.name == name).ok_or_else(|| {
            format!(
                "--source `{shown}`: pipeline `{}` has no source `{name}`; its sources are {}",
                self.name,
                names.join(", ")
            )
        })?;
        src.location = Location::parse(url, cwd).map_err(|e| format!("--source `{shown}`: {e}"))?;
        Ok(())
    }

    /// Replaces the publish location (`--out URL`), relative to `cwd`.
    pub fn override_publish(&mut self, url: &str, cwd: &Path) -> Result<(), String> {
        self.publish = Location::parse(url, cwd)
            .map_err(|e| format!("--out `{}`: {e}", crate::domain::location::redact_text(url)))?;
        Ok(())
    }
}

fn top_scalars(table: &toml::Table) -> toml::Table {
    table
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "publish" | "reconcile" | "exceptions" | "sources"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn check_keys(table: &toml::Table, known: &[&str], prefix: &str, diag: &mut impl FnMut(&str, String)) {
    for k in table.keys() {
        if !known.contains(&k.as_str()) {
            let hint = known
                .iter()
                .map(|c| (strsim::jaro_winkler(c, k), c))
                .filter(|(s, _)| *s > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, c)| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            diag(
                &format!("{prefix}{k}"),
                format!("unknown key{hint}; expected one of {}", known.join(", ")),
            );
        }
    }
}

fn section<T: for<'de> Deserialize<'de> + Default>(
    value: &toml::Value,
    key: &str,
    diag: &mut impl FnMut(&str, String),
) -> T {
    // Deserialise field by field so one wrong type does not hide the others.
    let Some(table) = value.as_table() else {
        diag(key, "expected a table".into());
        return T::default();
    };
    let mut good = toml::Table::new();
    for (k, v) in table {
        let mut single = toml::Table::new();
        single.insert(k.clone(), v.clone());
        match T::deserialize(toml::Value::Table(single)) {
            Ok(_) => {
                good.insert(k.clone(), v.clone());
            }
            Err(e) => {
                let full = if key.is_empty() {
                    k.clone()
                } else {
                    format!("{key}.{k}")
                };
                let found = match v {
                    toml::Value::String(s) => format!("the string \"{s}\""),
                    toml::Value::Integer(i) => format!("the integer {i}"),
                    toml::Value::Float(f) => format!("the number {f}"),
                    toml::Value::Boolean(b) => format!("{b}"),
                    toml::Value::Array(_) => "an array".into(),
                    toml::Value::Table(_) => "a table".into(),
                    toml::Value::Datetime(d) => format!("the date {d}"),
                };
                let expected = e
                    .message()
                    .split(", expected ")
                    .nth(1)
                    .unwrap_or("another type")
                    .to_string();
                diag(&full, format!("expected {expected}, found {found}"));
            }
        }
    }
    T::deserialize(toml::Value::Table(good)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
schedule = "0 2 * * *"
[[sources]]
name = "budget"
location = "sample/budget.xlsx"
contract = "sa36_capital_budget"
"#;

    #[test]
    fn a_good_pipeline_compiles_with_defaults() {
        let p = Pipeline::parse(GOOD, "t.toml", Path::new("/repo/pipelines"), Path::new("/work")).unwrap();
        assert_eq!(p.name, "t");
        assert_eq!(p.publish, Location::Local(PathBuf::from("/work/out")));
        assert_eq!(
            p.sources[0].location,
            Location::Local(PathBuf::from("/repo/pipelines/sample/budget.xlsx"))
        );
        assert_eq!(p.timezone, chrono_tz::Africa::Johannesburg);
        assert!(p.schedule.is_some());
        assert_eq!(p.sources[0].max_reject_ratio, DEFAULT_MAX_REJECT_RATIO);
        assert_eq!(p.sources[0].min_rows, DEFAULT_MIN_ROWS);
    }

    #[test]
    fn min_rows_is_a_known_key_and_checked() {
        let with = |v: &str| GOOD.replacen("contract = ", &format!("min_rows = {v}\ncontract = "), 1);
        let p = Pipeline::parse(&with("0"), "t.toml", Path::new("/r"), Path::new("/w")).unwrap();
        assert_eq!(p.sources[0].min_rows, 0);
        let p = Pipeline::parse(&with("25"), "t.toml", Path::new("/r"), Path::new("/w")).unwrap();
        assert_eq!(p.sources[0].min_rows, 25);
        let e = Pipeline::parse(&with("-1"), "t.toml", Path::new("/r"), Path::new("/w")).unwrap_err();
        assert_eq!(e.0.len(), 1, "{e}");
        assert_eq!(e.0[0].key, "sources[0].min_rows", "{e}");
        assert!(e.to_string().contains("found -1"), "{e}");
        let drop = |v: &str| GOOD.replacen("contract = ", &format!("max_row_drop = {v}\ncontract = "), 1);
        let p = Pipeline::parse(&drop("0.5"), "t.toml", Path::new("/r"), Path::new("/w")).unwrap();
        assert_eq!(p.sources[0].max_row_drop, Some(0.5));
        let e = Pipeline::parse(&drop("1.5"), "t.toml", Path::new("/r"), Path::new("/w")).unwrap_err();
        assert_eq!(e.0[0].key, "sources[0].max_row_drop", "{e}");
    }

    #[test]
    fn exception_settings_are_read_checked_and_defaulted() {
        let p = Pipeline::parse(GOOD, "t.toml", Path::new("/r"), Path::new("/w")).unwrap();
        assert_eq!(p.exceptions, ExceptionSettings::default());
        let good = format!(
            "{GOOD}\n[exceptions]\nmin_rand_at_stake = 5000000\nmin_share_of_capital_budget = 0.02\ndecisions = \"decisions.csv\"\n"
        );
        let p = Pipeline::parse(&good, "t.toml", Path::new("/r"), Path::new("/w")).unwrap();
        assert_eq!(p.exceptions.min_rand_at_stake, 5_000_000.0);
        assert_eq!(p.exceptions.min_share_of_capital_budget, 0.02);
        assert_eq!(
            p.exceptions.decisions,
            Some(Location::Local(PathBuf::from("/r/decisions.csv")))
        );
        let bad = format!("{GOOD}\n[exceptions]\nmin_share_of_capital_budget = 2\nmin_rand = 1\n");
        let e = Pipeline::parse(&bad, "t.toml", Path::new("/r"), Path::new("/w")).unwrap_err();
        let keys: Vec<&str> = e.0.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(
            keys,
            ["exceptions.min_rand", "exceptions.min_share_of_capital_budget"],
            "{e}"
        );
    }

    #[test]
    fn every_mistake_is_named_with_its_key() {
        let text = r#"
name = "Bad Name"
schedule = "every night"
[reconcile]
name_match_treshold = 0.5
[[sources]]
name = "budget"
location = "x.xlsx"
contract = "sa36"
max_reject_ratio = "lots"
"#;
        let e = Pipeline::parse(text, "bad.toml", Path::new("/"), Path::new("/")).unwrap_err();
        let keys: Vec<&str> = e.0.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "reconcile.name_match_treshold",
                "sources[0].max_reject_ratio",
                "name",
                "schedule",
                "sources[0].contract"
            ],
            "{e}"
        );
        let text = e.to_string();
        assert!(text.starts_with("5 problems in pipeline configuration:"), "{text}");
        assert!(text.contains("did you mean `name_match_threshold`?"), "{text}");
        assert!(text.contains("unknown contract `sa36`"), "{text}");
        assert!(text.contains("found the string \"lots\""), "{text}");
    }

    #[test]
    fn linking_model_levels_are_checked_and_applied() {
        let good = format!(
            "{GOOD}\n[reconcile.model]\nestimate = true\nmax_iterations = 50\n[reconcile.model.levels]\n\"wards.overlap\" = {{ m = 0.9, u = 0.1 }}\n"
        );
        let p = Pipeline::parse(&good, "t.toml", Path::new("/r"), Path::new("/w")).unwrap();
        assert!(p.reconcile.estimate_model);
        assert_eq!(p.reconcile.em_max_iterations, 50);
        assert_eq!(p.reconcile.model_levels.get("wards.overlap"), Some(&(0.9, 0.1)));
        let bad = format!(
            "{GOOD}\n[reconcile.model]\nmax_iterations = 0\n[reconcile.model.levels]\n\"wards.near\" = {{ m = 0.9, u = 0.1 }}\n\"gps.near\" = {{ m = 1.5, u = 0.0 }}\n"
        );
        let e = Pipeline::parse(&bad, "bad.toml", Path::new("/r"), Path::new("/w")).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("3 problems"), "{text}");
        assert!(
            text.contains("reconcile.model.max_iterations: expected 1 or more, found 0"),
            "{text}"
        );
        assert!(
            text.contains(
                "reconcile.model.levels.\"wards.near\": unknown comparison level; expected one of name.exact"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "reconcile.model.levels.\"gps.near\": expected m and u strictly between 0 and 1, found m = 1.5, u = 0"
            ),
            "{text}"
        );
    }

    #[test]
    fn names_cannot_traverse_paths() {
        assert!(valid_name("sample"));
        assert!(!valid_name("../etc"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(""));
    }

    #[test]
    fn overrides_name_unknown_sources() {
        let mut p = Pipeline::parse(GOOD, "t.toml", Path::new("/r"), Path::new("/w")).unwrap();
        p.override_source("budget=/data/b.xlsx", Path::new("/w")).unwrap();
        assert_eq!(p.sources[0].location, Location::Local(PathBuf::from("/data/b.xlsx")));
        let e = p.override_source("idp=x.csv", Path::new("/w")).unwrap_err();
        assert!(e.contains("has no source `idp`"), "{e}");
    }
}

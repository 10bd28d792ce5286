//! Compiles `[[sources]]` into the sources stage's [`SourceSpec`]s: names unique and safe as path
//! segments, locations parsed, contracts looked up, units, sheets, years and limits checked.
//! `harvester check` compiles its one file through [`compile_source`] too, so a flag means what
//! the same key means in a pipeline.

use super::compiler::Compiler;
use super::raw::RawSource;
use crate::contracts::{Catalog, Contract};
use crate::domain::{valid_name, Calendar, FinancialYear, Unit, YearLabel};
use crate::sources::readers::{Format, ReadLimits};
use crate::sources::{HttpSettings, SourceSpec, DEFAULT_MAX_REJECT_RATIO, DEFAULT_MIN_ROWS};
use regex::Regex;

/// Compiles the `[[sources]]` read by [`read_all`].
pub(super) fn compile_all(raw: Vec<RawSource>, catalog: &Catalog, c: &mut Compiler) -> Vec<SourceSpec> {
    let mut sources = Vec::new();
    // Every valid name seen, whether or not its source has other problems.
    let mut seen_names: Vec<(String, usize)> = Vec::new();
    for (i, s) in raw.into_iter().enumerate() {
        let key = format!("sources[{i}].name");
        match s.name.as_deref() {
            None => c.diag(&key, "missing: every source needs a name".into()),
            Some(n) if !valid_name(n) => c.diag(
                &key,
                format!("expected lowercase letters, digits, `-` or `_`, found `{n}`"),
            ),
            Some(n) => match seen_names.iter().find(|(o, _)| o == n) {
                Some((_, first)) => c.diag(
                    &key,
                    format!("`{n}` is used by another source (sources[{first}]); source names must be unique"),
                ),
                None => seen_names.push((n.to_string(), i)),
            },
        }
        if let Some(spec) = compile_source(s, &format!("sources[{i}]"), catalog, c) {
            sources.push(spec);
        }
    }
    sources
}

/// Phase one for `[[sources]]`: each table read into a [`RawSource`].
pub(super) fn read_all(value: Option<&toml::Value>, c: &mut Compiler) -> Vec<RawSource> {
    match value {
        Some(toml::Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| c.section::<RawSource>(item, &format!("sources[{i}]")))
            .collect(),
        Some(_) => {
            c.diag("sources", "expected an array of tables ([[sources]])".into());
            Vec::new()
        }
        None => {
            c.diag(
                "sources",
                "missing: a pipeline needs at least one [[sources]] entry".into(),
            );
            Vec::new()
        }
    }
}

/// Compiles one source whose keys are named `{prefix}.{key}` in diagnostics. The name is taken
/// as given (the pipeline checks names across sources); `None` when the location or contract is
/// unusable (each problem is recorded in `c`).
pub fn compile_source(s: RawSource, prefix: &str, catalog: &Catalog, c: &mut Compiler) -> Option<SourceSpec> {
    let key = |k: &str| format!("{prefix}.{k}");
    let location = match s.location.as_deref() {
        None => {
            c.diag(&key("location"), "missing: expected a path or URL".into());
            None
        }
        Some(l) => c.location(&key("location"), l),
    };
    let format = match s.format.as_deref() {
        None => None,
        Some(f) => Format::parse(f).or_else(|| {
            c.diag(
                &key("format"),
                format!("expected `csv`, `tsv`, `xlsx`, `xls`, `json` or `parquet`, found `{f}`"),
            );
            None
        }),
    };
    let contract = contract(s.contract.as_deref(), &key("contract"), catalog, c);
    let unit = match s.unit.as_deref() {
        None => contract.as_ref().map_or(Unit::Rand, |c| c.unit),
        Some(u) => Unit::parse(u).unwrap_or_else(|| {
            c.diag(
                &key("unit"),
                format!("expected `rand`, `thousand` or `million`, found `{u}`"),
            );
            Unit::Rand
        }),
    };
    let sheets = match s.sheets.as_deref() {
        None | Some("*") => None,
        Some(p) => Regex::new(p)
            .map_err(|e| c.diag(&key("sheets"), format!("invalid regular expression `{p}`: {e}")))
            .ok(),
    };
    let calendar = contract.as_ref().map_or(Calendar::Municipal, |c| c.calendar);
    let financial_year = match s.financial_year.as_deref() {
        None => None,
        Some(y) => FinancialYear::parse(y, calendar, YearLabel::Start)
            .map_err(|e| c.diag(&key("financial_year"), e.to_string()))
            .ok(),
    };
    let max_reject_ratio = s.max_reject_ratio.unwrap_or(DEFAULT_MAX_REJECT_RATIO);
    if !(0.0..=1.0).contains(&max_reject_ratio) {
        c.diag(
            &key("max_reject_ratio"),
            format!("expected a share between 0 and 1, found {max_reject_ratio}"),
        );
    }
    let max_row_drop = s.max_row_drop;
    if let Some(d) = max_row_drop.filter(|d| !(0.0..=1.0).contains(d)) {
        c.diag(
            &key("max_row_drop"),
            format!("expected a share between 0 and 1, found {d}"),
        );
    }
    let (http, read_limits, min_rows) = limits(&s, prefix, c);
    let (location, contract) = (location?, contract?);
    Some(SourceSpec {
        name: s.name.unwrap_or_default(),
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
    })
}

/// The contract named at `key`, looked up in the catalog.
fn contract(name: Option<&str>, key: &str, catalog: &Catalog, c: &mut Compiler) -> Option<Contract> {
    match name {
        None => {
            c.diag(key, format!("missing: expected one of {}", catalog.names().join(", ")));
            None
        }
        Some(n) => catalog.get(n).cloned().or_else(|| {
            c.diag(
                key,
                format!("unknown contract `{n}`; expected one of {}", catalog.names().join(", ")),
            );
            None
        }),
    }
}

/// HTTP settings, read limits and the fewest rows, range-checked.
fn limits(s: &RawSource, prefix: &str, c: &mut Compiler) -> (HttpSettings, ReadLimits, usize) {
    let mut positive = |k: &str, v: Option<i64>, max: i64| -> Option<u64> {
        match v {
            None => None,
            Some(n) if (0..=max).contains(&n) => Some(n as u64),
            Some(n) => {
                c.diag(
                    &format!("{prefix}.{k}"),
                    format!("expected a whole number from 0 to {max}, found {n}"),
                );
                None
            }
        }
    };
    let mut http = HttpSettings::default();
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
    let mut read_limits = ReadLimits::default();
    if let Some(m) = positive("max_uncompressed_bytes", s.max_uncompressed_bytes, i64::MAX) {
        read_limits.max_uncompressed_bytes = m;
    }
    if let Some(m) = positive("max_cells", s.max_cells, i64::MAX) {
        read_limits.max_cells = m;
    }
    let min_rows = positive("min_rows", s.min_rows, i64::from(u32::MAX)).map_or(DEFAULT_MIN_ROWS, |n| n as usize);
    let key = format!("{prefix}.headers_from_env");
    for (header, var) in s.headers_from_env.clone().unwrap_or_default() {
        if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err() {
            c.diag(&key, format!("`{header}` is not a valid HTTP header name"));
        } else if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            c.diag(
                &key,
                format!("`{var}` (for header `{header}`) is not an environment variable name"),
            );
        } else {
            http.headers_from_env.push((header, var));
        }
    }
    (http, read_limits, min_rows)
}

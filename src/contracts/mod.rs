//! Dataset contracts: what a valid row of each dataset looks like, as data in `schemas/*.toml`.
//!
//! A contract names canonical columns with the header aliases real files use, their kinds,
//! whether they are required, and the patterns, allowed values and ranges they must meet. It also
//! says where a row's municipality comes from (a column, a name, or the sheet name, as in SA36
//! workbooks), how amounts are laid out (a column per year, or one amount per row), their unit
//! and calendar. Contracts are parsed into raw structs, then compiled into [`Contract`], with
//! every problem reported at once. The contracts in `schemas/` are compiled into the binary;
//! a pipeline may add its own directory of contracts.

pub mod bounds;
pub mod gps;
pub mod numbers;
pub mod reference;
pub mod validate;
pub mod wards;

use crate::domain::fiscal::{Calendar, YearLabel};
use crate::domain::Unit;
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The contracts shipped in `schemas/`, compiled in so the binary needs no files beside it.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "sa36_capital_budget",
        include_str!("../../schemas/sa36_capital_budget.toml"),
    ),
    ("idp_register", include_str!("../../schemas/idp_register.toml")),
    ("bepp_pipeline", include_str!("../../schemas/bepp_pipeline.toml")),
    ("irm_departmental", include_str!("../../schemas/irm_departmental.toml")),
    ("municipalities", include_str!("../../schemas/municipalities.toml")),
    (
        "cct_capital_ledger",
        include_str!("../../schemas/cct_capital_ledger.toml"),
    ),
    (
        "epre_subprogramme",
        include_str!("../../schemas/epre_subprogramme.toml"),
    ),
    (
        "national_infrastructure",
        include_str!("../../schemas/national_infrastructure.toml"),
    ),
    (
        "mscoa_capital_cube",
        include_str!("../../schemas/mscoa_capital_cube.toml"),
    ),
    ("sa36_extract", include_str!("../../schemas/sa36_extract.toml")),
];

/// A problem with a contract file, with the file and key it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {key}: {message}")]
pub struct ContractError {
    /// The contract file (or `builtin:<name>`).
    pub file: String,
    /// The key, e.g. `columns[3].pattern`.
    pub key: String,
    /// What was expected and what was found.
    pub message: String,
}

/// The four dataset kinds of the domain, plus reference tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dataset {
    /// Municipal capital budget (SA36 / SC36).
    Budget,
    /// Municipal IDP project register.
    Idp,
    /// Metro BEPP project pipeline.
    Bepp,
    /// National or provincial departmental infrastructure (IRM).
    Departmental,
    /// Reference data (municipalities); validated but not reconciled.
    Reference,
}

impl Dataset {
    /// The name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Dataset::Budget => "budget",
            Dataset::Idp => "idp",
            Dataset::Bepp => "bepp",
            Dataset::Departmental => "departmental",
            Dataset::Reference => "reference",
        }
    }
}

/// What a column holds, which decides how its cells are parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Free text, trimmed.
    Text,
    /// A money amount, scaled to Rand by the source's unit.
    Amount,
    /// Any other number (coordinates, counts).
    Number,
    /// A financial year in any form.
    FinancialYear,
    /// A demarcation code, current or retired, or a municipality name.
    Demarcation,
    /// Where a departmental project is, as exports write it: one municipality, a district,
    /// several (`Mnquma; Mbhashe`) or `Various`; names used in two provinces are told apart by
    /// the row's `province` column, and `Various` falls back to its `district_municipality`.
    Location,
}

/// What happens to a row whose cell breaks a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnInvalid {
    /// The row is rejected and quarantined.
    #[default]
    Reject,
    /// The cell is quarantined as a warning and set to null; the row is kept.
    Warn,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContract {
    /// Resolved before parsing (see [`Catalog::load`]); kept here so the key is known.
    #[serde(default)]
    #[allow(dead_code)]
    extends: Option<String>,
    name: String,
    dataset: Dataset,
    #[serde(default)]
    description: String,
    #[serde(default = "default_calendar")]
    calendar: Calendar,
    #[serde(default = "default_unit")]
    unit: String,
    #[serde(default)]
    year_label: YearLabel,
    #[serde(default)]
    demarcation_from_sheet: bool,
    #[serde(default = "default_header_search_rows")]
    header_search_rows: usize,
    #[serde(default = "default_min_header_matches")]
    min_header_matches: usize,
    #[serde(default = "default_true")]
    stop_at_blank_row: bool,
    #[serde(default = "default_header_rows")]
    header_rows: usize,
    #[serde(default)]
    default_phase: Option<String>,
    #[serde(default)]
    require_any: Vec<Vec<String>>,
    #[serde(default)]
    demarcation_code: Option<String>,
    #[serde(default = "default_true")]
    municipal: bool,
    #[serde(default)]
    subtotal_when_blank: Vec<String>,
    #[serde(default)]
    max_abs: Option<f64>,
    #[serde(default)]
    columns: Vec<RawColumn>,
    #[serde(default)]
    amounts: Vec<RawAmounts>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    name: String,
    #[serde(default = "default_kind")]
    kind: ColumnKind,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default)]
    allowed: Vec<String>,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
    #[serde(default)]
    on_invalid: OnInvalid,
    #[serde(default)]
    null_values: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    max_abs: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAmounts {
    header_pattern: String,
    phase: String,
}

fn default_calendar() -> Calendar {
    Calendar::Municipal
}
fn default_unit() -> String {
    "rand".into()
}
fn default_header_search_rows() -> usize {
    30
}
fn default_min_header_matches() -> usize {
    3
}
fn default_header_rows() -> usize {
    1
}
fn default_true() -> bool {
    true
}
fn default_kind() -> ColumnKind {
    ColumnKind::Text
}

/// One canonical column of a contract.
#[derive(Debug, Clone)]
pub struct Column {
    /// Canonical name, as published.
    pub name: String,
    /// How cells are parsed.
    pub kind: ColumnKind,
    /// Normalised header texts that map to this column (the name itself included).
    pub aliases: Vec<String>,
    /// Whether an empty cell rejects the row.
    pub required: bool,
    /// A pattern the trimmed text must match.
    pub pattern: Option<Regex>,
    /// Allowed values, compared case-insensitively; empty means any.
    pub allowed: Vec<String>,
    /// Inclusive lower bound for numbers.
    pub min: Option<f64>,
    /// Inclusive upper bound for numbers.
    pub max: Option<f64>,
    /// What a broken rule does.
    pub on_invalid: OnInvalid,
    /// Cell texts that mean "no value" for this column (GPS `0`, `Various`), lowercased.
    pub null_values: Vec<String>,
    /// For demarcation columns: the municipal categories allowed (`A`, `B`, `C`); empty = any.
    pub categories: Vec<String>,
    /// Largest plausible magnitude of a value (after scaling to Rand); larger ones are
    /// quarantined with rule `max_abs`. Amount columns default to the contract's `max_abs`.
    pub max_abs: Option<f64>,
}

/// Amount columns laid out one per year: headers matching `header_pattern`, whose first capture
/// group (if any) is the financial year; without one, the source's `financial_year` applies.
#[derive(Debug, Clone)]
pub struct AmountColumns {
    /// Pattern over the normalised header text.
    pub header_pattern: Regex,
    /// Budget phase the amounts belong to (`budget`, `audited`, `planned`, ...).
    pub phase: String,
}

/// A compiled, validated contract.
#[derive(Debug, Clone)]
pub struct Contract {
    /// Contract name, as pipelines refer to it.
    pub name: String,
    /// Which dataset kind its rows are.
    pub dataset: Dataset,
    /// One-line description.
    pub description: String,
    /// Calendar of its financial years.
    pub calendar: Calendar,
    /// Unit amounts are written in, unless the source declares another.
    pub unit: Unit,
    /// How bare integer years are read.
    pub year_label: YearLabel,
    /// Whether each sheet's name is the demarcation code of its rows (SA36 layout).
    pub demarcation_from_sheet: bool,
    /// How many leading rows are searched for the header row.
    pub header_search_rows: usize,
    /// How many known headers a row needs to count as the header row.
    pub min_header_matches: usize,
    /// Whether the first blank row after the header ends the data (footnotes follow).
    pub stop_at_blank_row: bool,
    /// How many rows the header spans (1–5); upper rows carry across merged cells.
    pub header_rows: usize,
    /// Phase of long-form amounts when the row has no `budget_phase` column.
    pub default_phase: String,
    /// Groups of columns of which each row must fill at least one (e.g. a name or a number).
    pub require_any: Vec<Vec<String>>,
    /// A fixed municipality for every row (a municipality's own ledger export).
    pub demarcation_code: Option<String>,
    /// Rows with any of these columns blank are subtotals (budget books): quarantined with rule
    /// `subtotal`, never counted as records.
    pub subtotal_when_blank: Vec<String>,
    /// Canonical columns.
    pub columns: Vec<Column>,
    /// Wide amount columns.
    pub amounts: Vec<AmountColumns>,
    /// Largest plausible magnitude of an amount in Rand ([`DEFAULT_MAX_ABS`] unless set):
    /// larger amounts are quarantined (rule `max_abs`), never published.
    pub max_abs: f64,
}

/// The default plausibility bound for amounts: R10 trillion, several times South Africa's
/// entire annual GDP, so no real budget line comes near it.
pub const DEFAULT_MAX_ABS: f64 = 1e13;

fn check_bound(
    v: Option<f64>,
    key: &str,
    errors: &mut Vec<ContractError>,
    err: &impl Fn(&str, String) -> ContractError,
) {
    if let Some(v) = v {
        if !(v.is_finite() && v > 0.0) {
            errors.push(err(key, format!("expected a positive finite number, found {v}")));
        }
    }
}

/// Normalises a header cell: lowercase, whitespace (newlines included) collapsed, trimmed.
pub fn normalise_header(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Compiles a contract's columns (aliases normalised, patterns compiled); also every column name
/// with its position, for the keys that name columns.
fn compile_columns(
    raw: Vec<RawColumn>,
    errors: &mut Vec<ContractError>,
    err: &impl Fn(&str, String) -> ContractError,
) -> (Vec<Column>, BTreeMap<String, usize>) {
    let mut columns = Vec::new();
    let mut seen = BTreeMap::new();
    for (i, c) in raw.into_iter().enumerate() {
        if let Some(prev) = seen.insert(c.name.clone(), i) {
            errors.push(err(
                &format!("columns[{i}].name"),
                format!("`{}` is already defined at columns[{prev}]", c.name),
            ));
        }
        let pattern = match c.pattern.as_deref().map(Regex::new) {
            Some(Ok(r)) => Some(r),
            Some(Err(e)) => {
                errors.push(err(
                    &format!("columns[{i}].pattern"),
                    format!("invalid regular expression: {e}"),
                ));
                None
            }
            None => None,
        };
        check_bound(c.max_abs, &format!("columns[{i}].max_abs"), errors, err);
        let mut aliases: Vec<String> = c.aliases.iter().map(|a| normalise_header(a)).collect();
        aliases.push(normalise_header(&c.name));
        columns.push(Column {
            name: c.name,
            kind: c.kind,
            aliases,
            required: c.required,
            pattern,
            allowed: c.allowed.iter().map(|a| a.to_lowercase()).collect(),
            min: c.min,
            max: c.max,
            on_invalid: c.on_invalid,
            null_values: c.null_values.iter().map(|v| v.trim().to_lowercase()).collect(),
            categories: c.categories,
            max_abs: c.max_abs,
        });
    }
    (columns, seen)
}

impl Contract {
    /// Parses and compiles one contract, collecting every problem.
    pub fn parse(text: &str, file: &str) -> Result<Contract, Vec<ContractError>> {
        let err = |key: &str, message: String| ContractError {
            file: file.to_string(),
            key: key.to_string(),
            message,
        };
        let raw: RawContract = toml::from_str(text)
            .map_err(|e| vec![err("(syntax)", e.message().to_string() + &span_hint(text, e.span()))])?;
        let mut errors = Vec::new();
        let unit = Unit::parse(&raw.unit).unwrap_or_else(|| {
            errors.push(err(
                "unit",
                format!("expected `rand`, `thousand` or `million`, found `{}`", raw.unit),
            ));
            Unit::Rand
        });
        let (columns, seen) = compile_columns(raw.columns, &mut errors, &err);
        let mut amounts = Vec::new();
        for (i, a) in raw.amounts.into_iter().enumerate() {
            match Regex::new(&a.header_pattern) {
                Ok(header_pattern) => amounts.push(AmountColumns {
                    header_pattern,
                    phase: a.phase,
                }),
                Err(e) => errors.push(err(
                    &format!("amounts[{i}].header_pattern"),
                    format!("invalid regular expression: {e}"),
                )),
            }
        }
        for (i, group) in raw.require_any.iter().enumerate() {
            for name in group {
                if !seen.contains_key(name) {
                    errors.push(err(
                        &format!("require_any[{i}]"),
                        format!("`{name}` is not a column of this contract"),
                    ));
                }
            }
        }
        for (i, name) in raw.subtotal_when_blank.iter().enumerate() {
            if !seen.contains_key(name) {
                errors.push(err(
                    &format!("subtotal_when_blank[{i}]"),
                    format!("`{name}` is not a column of this contract"),
                ));
            }
        }
        let fixed_code = match raw.demarcation_code.as_deref() {
            None => None,
            Some(c) => match reference::Reference::bundled().resolve_code(c) {
                Ok(r) => Some(r.code),
                Err(e) => {
                    errors.push(err("demarcation_code", e.to_string()));
                    None
                }
            },
        };
        if raw.dataset != Dataset::Reference && raw.municipal {
            let has_muni = raw.demarcation_from_sheet
                || fixed_code.is_some()
                || columns
                    .iter()
                    .any(|c| matches!(c.kind, ColumnKind::Demarcation | ColumnKind::Location));
            if !has_muni {
                errors.push(err(
                    "columns",
                    "a contract needs a `demarcation` column, `demarcation_from_sheet = true`, a fixed `demarcation_code`, or `municipal = false`".into(),
                ));
            }
        }
        check_bound(raw.max_abs, "max_abs", &mut errors, &err);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Contract {
            name: raw.name,
            dataset: raw.dataset,
            description: raw.description,
            calendar: raw.calendar,
            unit,
            year_label: raw.year_label,
            demarcation_from_sheet: raw.demarcation_from_sheet,
            header_search_rows: raw.header_search_rows,
            min_header_matches: raw.min_header_matches,
            stop_at_blank_row: raw.stop_at_blank_row,
            header_rows: raw.header_rows.clamp(1, 5),
            default_phase: raw.default_phase.unwrap_or_else(|| "planned".into()),
            require_any: raw.require_any,
            demarcation_code: fixed_code,
            subtotal_when_blank: raw.subtotal_when_blank,
            columns,
            amounts,
            max_abs: raw.max_abs.unwrap_or(DEFAULT_MAX_ABS),
        })
    }

    /// The column with this canonical name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Line and column of a TOML error span, for messages.
pub fn span_hint(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(s) => {
            let before = &text[..s.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!(" (line {line}, column {col})")
        }
        None => String::new(),
    }
}

/// All contracts a pipeline can name: the built-in ones plus any in `extra_dir`.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    contracts: BTreeMap<String, Contract>,
}

/// Resolves `extends` in a contract's TOML text into the full text (unchanged without it).
fn resolve_extends(text: &str, tables: &BTreeMap<String, toml::Table>) -> Result<String, String> {
    let Ok(mut table) = text.parse::<toml::Table>() else {
        return Ok(text.to_string()); // the parser reports syntax errors with their place
    };
    let mut chain = Vec::new();
    while let Some(base_name) = table.get("extends").and_then(|v| v.as_str()).map(str::to_string) {
        if chain.contains(&base_name) || chain.len() > 8 {
            chain.push(base_name);
            return Err(format!("`extends` goes round in a circle: {}", chain.join(" → ")));
        }
        let Some(base) = tables.get(&base_name) else {
            return Err(format!(
                "extends `{base_name}`, which is not a known contract; known: {}",
                tables.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        };
        chain.push(base_name);
        let mut merged = base.clone();
        merged.remove("extends");
        for (k, v) in table {
            if k == "columns" {
                let mut cols = merged
                    .remove("columns")
                    .and_then(|c| c.as_array().cloned())
                    .unwrap_or_default();
                for c in v.as_array().cloned().unwrap_or_default() {
                    let name = c.get("name").cloned();
                    match cols
                        .iter_mut()
                        .find(|x| name.is_some() && x.get("name") == name.as_ref())
                    {
                        Some(slot) => *slot = c,
                        None => cols.push(c),
                    }
                }
                merged.insert(k, toml::Value::Array(cols));
            } else {
                merged.insert(k, v);
            }
        }
        // The base's own `extends`, if any, is resolved on the next turn.
        if let Some(e) = base.get("extends") {
            merged.insert("extends".into(), e.clone());
        } else {
            merged.remove("extends");
        }
        table = merged;
    }
    toml::to_string(&table).map_err(|e| format!("cannot combine with the base contract: {e}"))
}

impl Catalog {
    /// Loads the built-in contracts and then `*.toml` in `extra_dir` (which may override them).
    /// A contract may say `extends = "other"`: it is the other contract's TOML with its own keys
    /// on top, its columns replacing the other's columns of the same name and the rest added.
    pub fn load(extra_dir: Option<&Path>) -> Result<Catalog, Vec<ContractError>> {
        let mut errors = Vec::new();
        // (file, text), built-ins first: a file in `extra_dir` with the same name wins.
        let mut texts: Vec<(String, String)> = BUILTIN
            .iter()
            .map(|(name, text)| (format!("builtin:schemas/{name}.toml"), (*text).to_string()))
            .collect();
        if let Some(dir) = extra_dir {
            let entries = std::fs::read_dir(dir).map_err(|e| {
                vec![ContractError {
                    file: dir.display().to_string(),
                    key: "contracts_dir".into(),
                    message: format!("cannot read the directory: {e}"),
                }]
            })?;
            let mut paths: Vec<_> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            paths.sort();
            for p in paths {
                let file = p.display().to_string();
                match std::fs::read_to_string(&p) {
                    Ok(text) => texts.push((file, text)),
                    Err(e) => errors.push(ContractError {
                        file,
                        key: "(file)".into(),
                        message: format!("cannot read: {e}"),
                    }),
                }
            }
        }
        // The TOML of each contract by name (the last file with a name wins), for `extends`.
        let mut tables: BTreeMap<String, toml::Table> = BTreeMap::new();
        for (_, text) in &texts {
            if let Ok(t) = text.parse::<toml::Table>() {
                if let Some(name) = t.get("name").and_then(|n| n.as_str()) {
                    tables.insert(name.to_string(), t);
                }
            }
        }
        let mut contracts = BTreeMap::new();
        for (file, text) in &texts {
            let text = match resolve_extends(text, &tables) {
                Ok(t) => t,
                Err(message) => {
                    errors.push(ContractError {
                        file: file.clone(),
                        key: "extends".into(),
                        message,
                    });
                    continue;
                }
            };
            match Contract::parse(&text, file) {
                Ok(c) => {
                    contracts.insert(c.name.clone(), c);
                }
                Err(e) => errors.extend(e),
            }
        }
        if errors.is_empty() {
            Ok(Catalog { contracts })
        } else {
            Err(errors)
        }
    }

    /// The contract with this name.
    pub fn get(&self, name: &str) -> Option<&Contract> {
        self.contracts.get(name)
    }

    /// Every contract name, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.contracts.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_contracts_compile() {
        let cat = Catalog::load(None).unwrap();
        assert_eq!(
            cat.names(),
            [
                "bepp_pipeline",
                "cct_capital_ledger",
                "epre_subprogramme",
                "idp_register",
                "irm_departmental",
                "mscoa_capital_cube",
                "municipalities",
                "national_infrastructure",
                "sa36_capital_budget",
                "sa36_extract"
            ]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
name = "x"
dataset = "budget"
unit = "pounds"
[[columns]]
name = "a"
pattern = "(["
[[columns]]
name = "a"
"#;
        let errs = Contract::parse(text, "x.toml").unwrap_err();
        let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(msgs.len(), 4, "{msgs:#?}");
        assert!(msgs[0].starts_with("x.toml: unit: expected `rand`"));
        assert!(msgs[1].starts_with("x.toml: columns[0].pattern: invalid regular expression"));
        assert!(msgs[2].starts_with("x.toml: columns[1].name: `a` is already defined"));
        assert!(msgs[3].contains("demarcation"));
    }

    #[test]
    fn a_contract_extends_another() {
        let cat = Catalog::load(None).unwrap();
        let (base, ext) = (
            cat.get("sa36_capital_budget").unwrap(),
            cat.get("sa36_extract").unwrap(),
        );
        // The extract has every SA36 column and a demarcation column, and its own layout keys.
        for c in &base.columns {
            assert!(ext.column(&c.name).is_some(), "{}", c.name);
        }
        assert!(ext.column("demarcation_code").is_some());
        assert_eq!(ext.columns.len(), base.columns.len() + 1);
        assert!(base.demarcation_from_sheet && !ext.demarcation_from_sheet);
        assert!(!ext.stop_at_blank_row);
        assert_eq!(ext.dataset, base.dataset);
    }

    #[test]
    fn unknown_and_circular_bases_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.toml"),
            "extends = \"b\"\nname = \"a\"\ndataset = \"idp\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("b.toml"),
            "extends = \"a\"\nname = \"b\"\ndataset = \"idp\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("c.toml"),
            "extends = \"nope\"\nname = \"c\"\ndataset = \"idp\"\n",
        )
        .unwrap();
        let errs = Catalog::load(Some(dir.path())).unwrap_err();
        let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(msgs.len(), 3, "{msgs:#?}");
        assert!(
            msgs[0].ends_with("a.toml: extends: `extends` goes round in a circle: b → a → b"),
            "{msgs:#?}"
        );
        assert!(
            msgs[2].contains("c.toml: extends: extends `nope`, which is not a known contract"),
            "{msgs:#?}"
        );
    }

    #[test]
    fn headers_normalise_across_newlines() {
        assert_eq!(normalise_header("\nProject Decription"), "project decription");
        assert_eq!(normalise_header("Budget year\n2019/20"), "budget year 2019/20");
    }
}

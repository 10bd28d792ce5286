//! Applying a contract to the rows a reader produced.
//!
//! For each sheet: find the header row by content (the row with the most known headers among
//! the first few), map header cells to canonical columns and per-year amount columns, read data
//! rows until the first blank row (SA36 footnotes follow it), and check every cell against its
//! column's rules. A row with any rejected cell goes to the quarantine with one entry per broken
//! rule (all of them, not only the first); warnings null the cell and keep the row. Problems
//! that make a whole sheet unreadable (no header row, missing required columns) are returned
//! separately, naming the file, the sheet and what was expected and found.

use crate::contracts::numbers::parse_amount;
use crate::contracts::reference::Reference;
use crate::contracts::{gps, wards};
use crate::contracts::{normalise_header, ColumnKind, Contract, OnInvalid};
use crate::domain::fiscal::FinancialYear;
use crate::domain::Severity;
use crate::domain::Unit;
use crate::sources::readers::{format_number, Cell, RawRow, RawSheet};
use std::collections::BTreeMap;

/// Per-source settings the contract needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The unit the source's amounts are in.
    pub unit: Unit,
    /// The financial year of sources whose files do not say it (IRM exports).
    pub financial_year: Option<FinancialYear>,
    /// The file name, for messages.
    pub file: String,
}

/// A parsed cell value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Trimmed text.
    Text(String),
    /// A number (amounts already in Rand).
    Number(f64),
    /// A financial year.
    Year(FinancialYear),
}

impl Value {
    /// The value as text, if it is text.
    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The value as a number, if it is one.
    pub fn number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }
}

/// One amount of a row: a year, a budget phase and Rand.
#[derive(Debug, Clone, PartialEq)]
pub struct AmountValue {
    /// The financial year the amount belongs to.
    pub year: FinancialYear,
    /// Budget phase (`budget`, `audited`, `forecast`, `planned`, ...).
    pub phase: String,
    /// Amount in Rand.
    pub rand: f64,
}

/// A row that met its contract.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidRow {
    /// Sheet name, for workbooks.
    pub sheet: Option<String>,
    /// Row number as a person would quote it.
    pub row: u32,
    /// Canonical column → value; empty cells are absent.
    pub values: BTreeMap<String, Value>,
    /// Amounts by year and phase.
    pub amounts: Vec<AmountValue>,
    /// The row's current demarcation code, when the contract has one.
    pub demarcation_code: Option<String>,
    /// The first `budget` year among the sheet's amount columns (an SA36 sheet's budget year),
    /// whether or not this row has an amount there.
    pub budget_year: Option<FinancialYear>,
}

impl ValidRow {
    /// The text in a canonical column, if present.
    pub fn text(&self, column: &str) -> Option<&str> {
        self.values.get(column).and_then(Value::text)
    }

    /// The number in a canonical column, if present.
    pub fn number(&self, column: &str) -> Option<f64> {
        self.values.get(column).and_then(Value::number)
    }
}

/// One broken rule in one cell (or row).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// Sheet name, for workbooks.
    pub sheet: Option<String>,
    /// Row number as a person would quote it.
    pub row: u32,
    /// Canonical column (or the header as found, or `(sheet name)`).
    pub column: String,
    /// Rule name: `required`, `number`, `pattern`, `allowed_values`, `range`,
    /// `financial_year`, `demarcation_code`, `require_any`, `max_abs` (an implausibly large
    /// amount), `non_finite`, `duplicate_header` (two columns for one field disagree),
    /// `control_characters` (removed from the cell; a warning), `negative_amount` (kept; a
    /// notice).
    pub rule: String,
    /// The raw cell text.
    pub raw: String,
    /// Error (row rejected), warning (cell nulled) or notice (value kept, worth a look).
    pub severity: Severity,
    /// What was expected and what was found.
    pub message: String,
}

/// A problem that makes a whole sheet unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SheetError {
    /// No row looked like the header.
    #[error("{file}{sheet}: no header row found in the first {searched} rows: expected at least {min} of the headers {expected}; the best row ({best_row}) had {best}")]
    NoHeader {
        /// File name.
        file: String,
        /// ` sheet `X`` or empty.
        sheet: String,
        /// Rows searched.
        searched: usize,
        /// Headers needed.
        min: usize,
        /// A few expected headers.
        expected: String,
        /// Best candidate row number.
        best_row: u32,
        /// How many it matched.
        best: usize,
    },
    /// The header row lacks required columns.
    #[error("{file}{sheet}: header row {row} lacks required column(s) {missing}; found headers {found}")]
    MissingColumns {
        /// File name.
        file: String,
        /// ` sheet `X`` or empty.
        sheet: String,
        /// Header row number.
        row: u32,
        /// The missing canonical columns with their aliases.
        missing: String,
        /// The headers that were there.
        found: String,
    },
    /// Amount columns without a year in their header, and no year set for the source.
    #[error("{file}{sheet}: amount column `{header}` names no financial year; set `financial_year` on the source")]
    NoYear {
        /// File name.
        file: String,
        /// ` sheet `X`` or empty.
        sheet: String,
        /// The header.
        header: String,
    },
}

/// Everything validation found in one file.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Data rows read (blank and header rows excluded).
    pub rows_read: usize,
    /// Rows that met the contract.
    pub rows: Vec<ValidRow>,
    /// Data rows rejected (rows with at least one error).
    pub rows_rejected: usize,
    /// Every quarantine entry, errors and warnings.
    pub rejections: Vec<Rejection>,
    /// Sheets that could not be read at all.
    pub problems: Vec<SheetError>,
}

enum Target {
    Column(usize),
    Amount { phase: String, year: Option<FinancialYear> },
}

/// Applies `contract` to every sheet of a file.
pub fn validate(contract: &Contract, sheets: &[RawSheet], opts: &Options) -> Outcome {
    let mut out = Outcome::default();
    let reference = Reference::bundled();
    for sheet in sheets {
        validate_sheet(contract, sheet, opts, reference, &mut out);
    }
    out
}

fn sheet_label(sheet: &RawSheet) -> String {
    sheet.name.as_ref().map(|n| format!(" sheet `{n}`")).unwrap_or_default()
}

fn header_target(contract: &Contract, header: &str, opts: &Options) -> Option<Target> {
    if header.is_empty() {
        return None;
    }
    if let Some(i) = contract
        .columns
        .iter()
        .position(|c| c.aliases.iter().any(|a| a == header))
    {
        return Some(Target::Column(i));
    }
    for a in &contract.amounts {
        if let Some(c) = a.header_pattern.captures(header) {
            let year = match c.get(1) {
                Some(m) => FinancialYear::parse(m.as_str(), contract.calendar, contract.year_label).ok(),
                None => opts.financial_year,
            };
            return Some(Target::Amount {
                phase: a.phase.clone(),
                year,
            });
        }
    }
    None
}

/// What the header row says about a sheet: where it is and which column each cell feeds.
struct Layout {
    /// Rows the header spans.
    span: usize,
    /// Index of the header's first row.
    header_idx: usize,
    /// The header, combined over `span` rows.
    header_row: RawRow,
    /// Per header cell: the contract column or amount it feeds.
    targets: Vec<Option<Target>>,
    /// Per contract column: whether the header has it.
    found_cols: Vec<bool>,
    /// (column, position of its first header, position of a repeat): the first is read, and a
    /// row whose repeat holds another value is quarantined (rule `duplicate_header`).
    duplicates: Vec<(usize, usize, usize)>,
}

/// Everything a data row of one sheet is checked against.
struct SheetContext<'a> {
    contract: &'a Contract,
    sheet: &'a RawSheet,
    opts: &'a Options,
    reference: &'a Reference,
    layout: &'a Layout,
    /// The municipality named by the sheet (SA36), or why the name names none.
    sheet_code: Option<Result<String, (String, String)>>,
    /// The document's own year.
    budget_year: Option<FinancialYear>,
}

/// One data row as it is checked: its values, amounts and broken rules so far.
struct RowState {
    errs: Vec<Rejection>,
    warns: Vec<Rejection>,
    values: BTreeMap<String, Value>,
    amounts: Vec<AmountValue>,
    demarcation_code: Option<String>,
    /// Per contract column: whether the row fills it.
    present: Vec<bool>,
}

fn validate_sheet(contract: &Contract, sheet: &RawSheet, opts: &Options, reference: &Reference, out: &mut Outcome) {
    if sheet.rows.iter().all(|r| r.is_blank()) {
        return;
    }
    let layout = match layout(contract, sheet, opts) {
        Ok(l) => l,
        Err(e) => {
            out.problems.push(e);
            return;
        }
    };
    // 2. The sheet name may carry the municipality (SA36).
    let sheet_code = contract.demarcation_from_sheet.then(|| {
        let name = sheet.name.clone().unwrap_or_default();
        reference
            .resolve_code(&name)
            .map(|r| r.code)
            .map_err(|e| (name, e.to_string()))
    });
    let ctx = SheetContext {
        contract,
        sheet,
        opts,
        reference,
        budget_year: document_year(&layout.targets),
        layout: &layout,
        sheet_code,
    };
    // 3. Data rows.
    for row in &sheet.rows[(layout.header_idx + layout.span).min(sheet.rows.len())..] {
        if row.is_blank() {
            if contract.stop_at_blank_row {
                break;
            }
            continue;
        }
        out.rows_read += 1;
        validate_row(&ctx, row, out);
    }
}

/// Step 1: the header row is the one with the most known headers. A header spread over several
/// rows (a merged "Budget year" over one year per column) is read as one row.
fn layout(contract: &Contract, sheet: &RawSheet, opts: &Options) -> Result<Layout, SheetError> {
    let span = contract.header_rows.max(1);
    let headers_at = |i: usize| -> RawRow { combined_header(&sheet.rows[i..(i + span).min(sheet.rows.len())]) };
    let mut best: Option<(usize, usize)> = None;
    for i in 0..sheet.rows.len().min(contract.header_search_rows) {
        let row = headers_at(i);
        let n = row
            .cells
            .iter()
            .filter(|c| header_target(contract, &normalise_header(&c.raw()), opts).is_some())
            .count();
        if best.is_none_or(|(_, b)| n > b) {
            best = Some((i, n));
        }
    }
    let (header_idx, matched) = best.unwrap_or((0, 0));
    if matched < contract.min_header_matches {
        let expected: Vec<String> = contract
            .columns
            .iter()
            .take(6)
            .map(|c| format!("`{}`", c.aliases.first().cloned().unwrap_or_default()))
            .collect();
        return Err(SheetError::NoHeader {
            file: opts.file.clone(),
            sheet: sheet_label(sheet),
            searched: contract.header_search_rows.min(sheet.rows.len()),
            min: contract.min_header_matches,
            expected: expected.join(", "),
            best_row: sheet.rows.get(header_idx).map_or(0, |r| r.number),
            best: matched,
        });
    }
    let header_row = headers_at(header_idx);
    let (targets, found_cols, duplicates) = map_headers(contract, sheet, opts, &header_row)?;
    let missing: Vec<String> = contract
        .columns
        .iter()
        .zip(&found_cols)
        .filter(|(c, found)| c.required && !**found)
        .map(|(c, _)| format!("`{}` (headers: {})", c.name, c.aliases.join(" | ")))
        .collect();
    if !missing.is_empty() {
        let found: Vec<String> = header_row
            .cells
            .iter()
            .map(|c| normalise_header(&c.raw()))
            .filter(|h| !h.is_empty())
            .map(|h| format!("`{h}`"))
            .collect();
        return Err(SheetError::MissingColumns {
            file: opts.file.clone(),
            sheet: sheet_label(sheet),
            row: header_row.number,
            missing: missing.join(", "),
            found: found.join(", "),
        });
    }
    Ok(Layout {
        span,
        header_idx,
        header_row,
        targets,
        found_cols,
        duplicates,
    })
}

/// Header cells → (targets, columns found, repeated columns).
type HeaderMap = (Vec<Option<Target>>, Vec<bool>, Vec<(usize, usize, usize)>);

/// Maps each header cell to the contract column or amount it feeds.
fn map_headers(
    contract: &Contract,
    sheet: &RawSheet,
    opts: &Options,
    header_row: &RawRow,
) -> Result<HeaderMap, SheetError> {
    let mut targets: Vec<Option<Target>> = Vec::new();
    let mut found_cols = vec![false; contract.columns.len()];
    let mut first_at = vec![0usize; contract.columns.len()];
    let mut duplicates: Vec<(usize, usize, usize)> = Vec::new();
    for (j, cell) in header_row.cells.iter().enumerate() {
        let h = normalise_header(&cell.raw());
        let t = match header_target(contract, &h, opts) {
            Some(Target::Column(i)) if found_cols[i] => {
                // A header that also names another column not yet found goes there (the Cape
                // Town ledger's `Department` is one column's name and another's alias).
                let other = contract
                    .columns
                    .iter()
                    .enumerate()
                    .position(|(k, c)| k != i && !found_cols[k] && c.aliases.contains(&h));
                match other {
                    Some(k) => {
                        found_cols[k] = true;
                        first_at[k] = j;
                        Some(Target::Column(k))
                    }
                    None => {
                        duplicates.push((i, first_at[i], j));
                        None
                    }
                }
            }
            Some(Target::Column(i)) => {
                found_cols[i] = true;
                first_at[i] = j;
                Some(Target::Column(i))
            }
            Some(Target::Amount { year: None, .. }) => {
                return Err(SheetError::NoYear {
                    file: opts.file.clone(),
                    sheet: sheet_label(sheet),
                    header: cell.raw().replace('\n', " "),
                });
            }
            other => other,
        };
        targets.push(t);
    }
    Ok((targets, found_cols, duplicates))
}

/// The document's own year: an SA36's budget year (the first `Budget year` column); an SC36
/// has none, and its year is its original/adjusted budget's and actuals' year, never the
/// audited columns' (which restate earlier years).
fn document_year(targets: &[Option<Target>]) -> Option<FinancialYear> {
    let year_of = |phases: &[&str]| {
        targets
            .iter()
            .filter_map(|t| match t {
                Some(Target::Amount { phase, year }) if phases.contains(&phase.as_str()) => *year,
                _ => None,
            })
            .min()
    };
    year_of(&["budget"]).or_else(|| year_of(&["original_budget", "adjusted_budget", "actual_ytd"]))
}

impl SheetContext<'_> {
    /// A broken rule in `row` (an error: the row is rejected).
    fn reject(&self, row: &RawRow, column: &str, rule: &str, raw: String, message: String) -> Rejection {
        Rejection {
            sheet: self.sheet.name.clone(),
            row: row.number,
            column: column.to_string(),
            rule: rule.to_string(),
            raw: escape_controls(raw),
            severity: Severity::Error,
            message,
        }
    }

    /// A warning about `row` (the row is kept).
    fn warn(&self, row: &RawRow, column: &str, rule: &str, raw: String, message: String) -> Rejection {
        Rejection {
            severity: Severity::Warning,
            ..self.reject(row, column, rule, raw, message)
        }
    }

    /// The normalised header of column `j`.
    fn header(&self, j: usize) -> String {
        normalise_header(&self.layout.header_row.cells[j].raw())
    }
}

/// Checks one data row and adds it to the accepted rows or the quarantine.
fn validate_row(ctx: &SheetContext, row: &RawRow, out: &mut Outcome) {
    let contract = ctx.contract;
    let mut st = RowState {
        errs: Vec::new(),
        warns: Vec::new(),
        values: BTreeMap::new(),
        amounts: Vec::new(),
        demarcation_code: contract.demarcation_code.clone(),
        present: vec![false; contract.columns.len()],
    };
    match &ctx.sheet_code {
        Some(Ok(code)) => st.demarcation_code = Some(code.clone()),
        Some(Err((name, e))) => st.errs.push(ctx.reject(
            row,
            "(sheet name)",
            "demarcation_code",
            name.clone(),
            format!(
                "sheet `{name}` of {} should be named by the municipality's demarcation code: {e}",
                ctx.opts.file
            ),
        )),
        None => {}
    }
    for (j, target) in ctx.layout.targets.iter().enumerate() {
        let cell = row.cells.get(j).unwrap_or(&Cell::Empty);
        match target {
            None => {}
            Some(Target::Amount { phase, year }) => read_amount(ctx, row, j, phase, *year, cell, &mut st),
            Some(Target::Column(ci)) => read_column(ctx, row, *ci, cell, &mut st),
        }
    }
    check_duplicates(ctx, row, &mut st);
    check_row_rules(ctx, row, &mut st);
    derive_values(ctx, row, &mut st);
    long_form_amount(ctx, row, &mut st);
    name_negative_amounts(ctx, row, &mut st);
    let rejected = !st.errs.is_empty();
    out.rejections.append(&mut st.errs);
    out.rejections.append(&mut st.warns);
    if rejected {
        out.rows_rejected += 1;
    } else {
        out.rows.push(ValidRow {
            sheet: ctx.sheet.name.clone(),
            row: row.number,
            values: st.values,
            amounts: st.amounts,
            demarcation_code: st.demarcation_code,
            budget_year: ctx.budget_year,
        });
    }
}

/// A wide-form amount cell (one column per year and phase).
fn read_amount(
    ctx: &SheetContext,
    row: &RawRow,
    j: usize,
    phase: &str,
    year: Option<FinancialYear>,
    cell: &Cell,
    st: &mut RowState,
) {
    if cell.is_empty() {
        return;
    }
    let header = ctx.header(j);
    match cell_number(cell) {
        Ok(Some(v)) => match plausible(v * ctx.opts.unit.to_rand_factor(), Some(ctx.contract.max_abs), &header) {
            Ok(rand) => st.amounts.push(AmountValue {
                year: year.unwrap_or(FinancialYear::new(ctx.contract.calendar, 0)),
                phase: phase.to_string(),
                rand,
            }),
            Err((rule, message)) => st.errs.push(ctx.reject(row, &header, &rule, cell.raw(), message)),
        },
        Ok(None) => {}
        Err(raw) => st.errs.push(ctx.reject(
            row,
            &header,
            "number",
            raw.clone(),
            format!("`{raw}` in `{header}` is not an amount"),
        )),
    }
}

/// A contract column's cell: cleaned, parsed by the column's kind, kept or quarantined.
fn read_column(ctx: &SheetContext, row: &RawRow, ci: usize, cell: &Cell, st: &mut RowState) {
    let col = &ctx.contract.columns[ci];
    if cell.is_empty() || col.null_values.contains(&cell.raw().trim().to_lowercase()) {
        return;
    }
    let raw = cell.raw();
    // NUL bytes and terminal escape codes are never data: removed, with a warning.
    let cleaned = strip_controls(&raw);
    if cleaned.is_some() {
        st.warns.push(ctx.warn(
            row,
            &col.name,
            "control_characters",
            raw.clone(),
            format!(
                "control characters (NUL bytes, terminal escape codes) removed from `{}`",
                col.name
            ),
        ));
    }
    let text = cleaned.as_deref().unwrap_or(&raw).trim().to_string();
    if text.is_empty() {
        return;
    }
    let owned;
    let cell = if cleaned.is_some() {
        owned = Cell::Text(text.clone());
        &owned
    } else {
        cell
    };
    st.present[ci] = true;
    let Some(checked) = column_value(ctx, row, col, &text, cell, st) else {
        return;
    };
    match checked {
        Ok(v) => {
            st.values.insert(col.name.clone(), v);
        }
        Err((rule, message)) => {
            let r = ctx.reject(row, &col.name, &rule, raw, message);
            push_by_column(col, r, st);
        }
    }
}

/// An error, or a warning for an optional column that only warns.
fn push_by_column(col: &crate::contracts::Column, mut r: Rejection, st: &mut RowState) {
    if col.on_invalid == OnInvalid::Warn && !col.required {
        r.severity = Severity::Warning;
        st.warns.push(r);
    } else {
        st.errs.push(r);
    }
}

/// The value of a non-empty cell by its column's kind: `None` when it holds nothing after all
/// (a number cell that reads as empty), else the value or the broken (rule, message).
fn column_value(
    ctx: &SheetContext,
    row: &RawRow,
    col: &crate::contracts::Column,
    text: &str,
    cell: &Cell,
    st: &mut RowState,
) -> Option<Result<Value, (String, String)>> {
    let contract = ctx.contract;
    Some(match col.kind {
        ColumnKind::Text => check_text(col, text).map(|()| Value::Text(text.to_string())),
        ColumnKind::Amount | ColumnKind::Number => match cell_number(cell) {
            Ok(Some(v)) => {
                let (v, bound) = if col.kind == ColumnKind::Amount {
                    (
                        v * ctx.opts.unit.to_rand_factor(),
                        col.max_abs.or(Some(contract.max_abs)),
                    )
                } else {
                    (v, col.max_abs)
                };
                plausible(v, bound, &col.name).and_then(|v| check_range(col, v).map(|()| Value::Number(v)))
            }
            Ok(None) => return None,
            Err(raw) => Err((
                "number".to_string(),
                format!("`{raw}` in `{}` is not a number", col.name),
            )),
        },
        ColumnKind::FinancialYear => {
            // Keep the text too: a Treasury period code's suffix is the amount's phase.
            st.values
                .insert(format!("{}_text", col.name), Value::Text(text.to_string()));
            FinancialYear::parse(text, contract.calendar, contract.year_label)
                .map(Value::Year)
                .map_err(|e| ("financial_year".to_string(), e.to_string()))
        }
        ColumnKind::Location => location_value(ctx, row, text, st),
        ColumnKind::Demarcation => demarcation_value(ctx, col, text, st),
    })
}

/// Free-text location → demarcation codes and scope, read with the row's province and district.
fn location_value(ctx: &SheetContext, row: &RawRow, text: &str, st: &mut RowState) -> Result<Value, (String, String)> {
    let context = |name: &str| -> Option<String> {
        ctx.layout.targets.iter().enumerate().find_map(|(k, t)| match t {
            Some(Target::Column(c)) if ctx.contract.columns[*c].name == name => row
                .cells
                .get(k)
                .map(|c| c.raw().trim().to_string())
                .filter(|t| !t.is_empty()),
            _ => None,
        })
    };
    let (province, district) = (context("province"), context("district_municipality"));
    match ctx
        .reference
        .resolve_location(text, province.as_deref(), district.as_deref())
    {
        Ok(located) => {
            st.demarcation_code = located.codes.first().cloned();
            st.values
                .insert("location_scope".into(), Value::Text(located.scope.as_str().into()));
            st.values
                .insert("location_codes".into(), Value::Text(located.codes.join(";")));
            Ok(Value::Text(located.codes.join(";")))
        }
        Err(e) => Err(("demarcation_code".to_string(), e.to_string())),
    }
}

/// A municipality by code or name, of one of the column's categories.
fn demarcation_value(
    ctx: &SheetContext,
    col: &crate::contracts::Column,
    text: &str,
    st: &mut RowState,
) -> Result<Value, (String, String)> {
    let reference = ctx.reference;
    match reference.resolve(text) {
        Ok(r)
            if !col.categories.is_empty()
                && !reference
                    .get(&r.code)
                    .is_some_and(|m| col.categories.contains(&m.category)) =>
        {
            let category = reference.get(&r.code).map_or("?", |m| m.category.as_str());
            Err((
                "demarcation_code".to_string(),
                format!(
                    "`{text}` resolves to {} (category {category}); expected a municipality of category {}",
                    r.code,
                    col.categories.join(" or ")
                ),
            ))
        }
        Ok(r) => {
            st.demarcation_code = Some(r.code.clone());
            Ok(Value::Text(r.code))
        }
        Err(e) => Err(("demarcation_code".to_string(), e.to_string())),
    }
}

/// Repeated headers: the first column is read; a repeat that says something else would be lost
/// silently, so it is quarantined.
fn check_duplicates(ctx: &SheetContext, row: &RawRow, st: &mut RowState) {
    for &(ci, a, b) in &ctx.layout.duplicates {
        let col = &ctx.contract.columns[ci];
        let value = |k: usize| row.cells.get(k).map(Cell::raw).unwrap_or_default().trim().to_string();
        let (first, repeat) = (value(a), value(b));
        if !repeat.is_empty() && first != repeat {
            let r = ctx.reject(
                row,
                &col.name,
                "duplicate_header",
                format!("{first} | {repeat}"),
                format!(
                    "columns {} (`{}`) and {} (`{}`) both map to `{}` and disagree: `{first}` vs `{repeat}`; rename or remove one of them",
                    a + 1,
                    ctx.header(a),
                    b + 1,
                    ctx.header(b),
                    col.name
                ),
            );
            push_by_column(col, r, st);
        }
    }
}

/// Whole-row rules: required columns filled, subtotal rows, one of a group filled.
fn check_row_rules(ctx: &SheetContext, row: &RawRow, st: &mut RowState) {
    let contract = ctx.contract;
    for (ci, col) in contract.columns.iter().enumerate() {
        if col.required && !st.present[ci] && ctx.layout.found_cols[ci] {
            st.errs.push(ctx.reject(
                row,
                &col.name,
                "required",
                String::new(),
                format!("`{}` is required but empty", col.name),
            ));
        }
    }
    let blank: Vec<&str> = contract
        .subtotal_when_blank
        .iter()
        .filter(|c| !st.values.contains_key(c.as_str()))
        .map(String::as_str)
        .collect();
    if !blank.is_empty() {
        st.errs.push(ctx.reject(
            row,
            &blank.join("|"),
            "subtotal",
            String::new(),
            format!("a subtotal row ({} blank): totals are not records", blank.join(", ")),
        ));
    }
    for group in &contract.require_any {
        if !group.iter().any(|c| st.values.contains_key(c)) {
            st.errs.push(ctx.reject(
                row,
                &group.join("|"),
                "require_any",
                String::new(),
                format!("at least one of {} must be filled", group.join(", ")),
            ));
        }
    }
}

/// Derived values: GPS checked and repaired, ward text turned into codes and a scope.
fn derive_values(ctx: &SheetContext, row: &RawRow, st: &mut RowState) {
    let warns = &mut st.warns;
    derive_gps(&mut st.values, |c, r, raw, m| warns.push(ctx.warn(row, c, r, raw, m)));
    if let Some(text) = st.values.get("wards").and_then(Value::text).map(str::to_string) {
        match wards::parse(&text, st.demarcation_code.as_deref()) {
            Ok(w) => {
                st.values
                    .insert("ward_scope".into(), Value::Text(w.scope.as_str().into()));
                if !w.codes.is_empty() {
                    st.values.insert("ward_codes".into(), Value::Text(w.codes.join(";")));
                }
            }
            Err(e) => {
                st.values.insert(
                    "ward_scope".into(),
                    Value::Text(wards::WardScope::Unknown.as_str().into()),
                );
                st.warns.push(ctx.warn(row, "wards", "ward", text, e.to_string()));
            }
        }
    }
}

/// Long form: one amount per row with its own year.
fn long_form_amount(ctx: &SheetContext, row: &RawRow, st: &mut RowState) {
    let Some(Value::Number(v)) = st.values.get("amount") else {
        return;
    };
    let year = match st.values.get("financial_year") {
        Some(Value::Year(y)) => Some(*y),
        _ => ctx.opts.financial_year,
    };
    match year {
        Some(year) => st.amounts.push(AmountValue {
            year,
            phase: st
                .values
                .get("budget_phase")
                .and_then(Value::text)
                .map(|p| p.to_lowercase())
                .or_else(|| {
                    st.values
                        .get("financial_year_text")
                        .and_then(Value::text)
                        .and_then(crate::domain::fiscal::period_type)
                })
                .unwrap_or_else(|| ctx.contract.default_phase.clone()),
            rand: *v,
        }),
        None => st.errs.push(ctx.reject(
            row,
            "financial_year",
            "required",
            String::new(),
            "an amount needs a financial year: fill `financial_year` or set it on the source".into(),
        )),
    }
}

/// Negative amounts are kept (corrections exist) but named: Tshwane's audited −R18.57 bn line
/// passed without a word.
fn name_negative_amounts(ctx: &SheetContext, row: &RawRow, st: &mut RowState) {
    for a in st.amounts.iter().filter(|a| a.rand < 0.0) {
        st.warns.push(Rejection {
            severity: Severity::Notice,
            ..ctx.warn(
                row,
                &format!("{} {}", a.phase, a.year.label()),
                "negative_amount",
                format!("{}", a.rand),
                format!(
                    "a negative amount (R {:.0}) is kept: a correction, or a sign error to check in the source",
                    a.rand
                ),
            )
        });
    }
}

/// Checks `latitude`/`longitude` (or free-text `gps`) and keeps only real South African points,
/// repairing swapped pairs and lost minus signs; every change or drop is reported as a warning.
fn derive_gps(values: &mut BTreeMap<String, Value>, mut warn: impl FnMut(&str, &str, String, String)) {
    if let Some(text) = values.remove("gps").and_then(|v| v.text().map(str::to_string)) {
        match gps::parse_points(&text) {
            Ok(points) => {
                if let Some((p, repair)) = points.first() {
                    values.insert("latitude".into(), Value::Number(p.lat));
                    values.insert("longitude".into(), Value::Number(p.lon));
                    if let Some(r) = repair {
                        warn(
                            "gps",
                            r.rule(),
                            text.clone(),
                            format!("`{text}` repaired to ({}, {})", p.lat, p.lon),
                        );
                    }
                }
                if points.len() > 1 {
                    warn(
                        "gps",
                        "gps_several",
                        text.clone(),
                        format!("`{text}` names {} points; the first is kept", points.len()),
                    );
                }
            }
            Err(e) => warn("gps", e.rule(), text, e.to_string()),
        }
        return;
    }
    let (Some(lat), Some(lon)) = (
        values.get("latitude").and_then(Value::number),
        values.get("longitude").and_then(Value::number),
    ) else {
        return;
    };
    let raw = format!("{}, {}", format_number(lat), format_number(lon));
    match gps::normalise(lat, lon) {
        Ok((p, repair)) => {
            values.insert("latitude".into(), Value::Number(p.lat));
            values.insert("longitude".into(), Value::Number(p.lon));
            if let Some(r) = repair {
                warn(
                    "latitude|longitude",
                    r.rule(),
                    raw.clone(),
                    format!("({raw}) repaired to ({}, {})", p.lat, p.lon),
                );
            }
        }
        Err(e) => {
            values.remove("latitude");
            values.remove("longitude");
            warn("latitude|longitude", e.rule(), raw, e.to_string());
        }
    }
}

/// Joins header rows cell by cell; a top cell spanning several columns (merged, so empty to its
/// right) is carried across: `Budget year` over `2024/25`, `2025/26` → `Budget year 2024/25`, ...
fn combined_header(rows: &[RawRow]) -> RawRow {
    if rows.len() == 1 {
        return rows[0].clone();
    }
    let width = rows.iter().map(|r| r.cells.len()).max().unwrap_or(0);
    let mut cells = Vec::with_capacity(width);
    let mut carried: Vec<String> = vec![String::new(); rows.len()];
    for j in 0..width {
        let mut parts = Vec::new();
        for (k, r) in rows.iter().enumerate() {
            let text = r.cells.get(j).map(Cell::raw).unwrap_or_default();
            let text = text.trim().to_string();
            // Only upper rows carry across merged cells; the last row names each column.
            if k + 1 < rows.len() {
                if !text.is_empty() {
                    carried[k] = text;
                } else if rows.last().and_then(|l| l.cells.get(j)).is_none_or(Cell::is_empty) {
                    carried[k].clear();
                }
                if !carried[k].is_empty() {
                    parts.push(carried[k].clone());
                }
            } else if !text.is_empty() {
                parts.push(text);
            }
        }
        cells.push(if parts.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(parts.join(" "))
        });
    }
    RawRow {
        number: rows[0].number,
        cells,
    }
}

fn cell_number(cell: &Cell) -> Result<Option<f64>, String> {
    match cell {
        Cell::Empty => Ok(None),
        Cell::Number(n) => Ok(Some(*n)),
        Cell::Text(t) => parse_amount(t).map_err(|e| e.raw),
    }
}

/// The text without control characters (NUL, escape and other C0/C1 codes, with whole ANSI
/// escape sequences such as `ESC[31m`), or `None` when it had none. Tabs and line breaks are
/// kept: multi-line cells are ordinary in workbooks.
fn strip_controls(text: &str) -> Option<String> {
    let is_bad = |c: char| c.is_control() && !matches!(c, '\t' | '\n' | '\r');
    if !text.chars().any(is_bad) {
        return None;
    }
    static ANSI: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let ansi = ANSI.get_or_init(|| {
        regex::Regex::new(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-_])")
            .expect("valid regular expression")
    });
    Some(ansi.replace_all(text, "").chars().filter(|c| !is_bad(*c)).collect())
}

/// Raw text for the quarantine: as found, except that control characters are shown escaped
/// (`\u{1b}`), so reading the quarantine in a terminal is safe.
fn escape_controls(raw: String) -> String {
    if raw.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        raw.escape_debug().to_string()
    } else {
        raw
    }
}

/// A number that may be published: finite (a cell of `1e308` times a unit factor, or a NaN
/// from a Parquet or JSON file, is not) and, when `max_abs` is set, no larger in magnitude.
fn plausible(v: f64, max_abs: Option<f64>, column: &str) -> Result<f64, (String, String)> {
    if !v.is_finite() {
        return Err((
            "non_finite".into(),
            format!("the value in `{column}` is not a finite number ({v})"),
        ));
    }
    if let Some(max) = max_abs.filter(|m| v.abs() > *m) {
        return Err((
            "max_abs".into(),
            format!(
                "{} in `{column}` is implausibly large (magnitude above max_abs {})",
                format_number(v),
                format_number(max)
            ),
        ));
    }
    Ok(v)
}

fn check_text(col: &crate::contracts::Column, text: &str) -> Result<(), (String, String)> {
    if let Some(p) = &col.pattern {
        if !p.is_match(text) {
            return Err((
                "pattern".into(),
                format!("`{text}` in `{}` does not match `{}`", col.name, p.as_str()),
            ));
        }
    }
    if !col.allowed.is_empty() && !col.allowed.contains(&text.to_lowercase()) {
        return Err((
            "allowed_values".into(),
            format!("`{text}` in `{}` is not one of {}", col.name, col.allowed.join(", ")),
        ));
    }
    Ok(())
}

fn check_range(col: &crate::contracts::Column, v: f64) -> Result<(), (String, String)> {
    let low = col.min.is_some_and(|m| v < m);
    let high = col.max.is_some_and(|m| v > m);
    if low || high {
        return Err((
            "range".into(),
            format!(
                "{} in `{}` is outside {}..{}",
                format_number(v),
                col.name,
                col.min.map_or("".into(), format_number),
                col.max.map_or("".into(), format_number)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::Catalog;

    fn text_row(number: u32, cells: &[&str]) -> RawRow {
        RawRow {
            number,
            cells: cells
                .iter()
                .map(|c| {
                    if c.is_empty() {
                        Cell::Empty
                    } else {
                        Cell::Text((*c).to_string())
                    }
                })
                .collect(),
        }
    }

    #[test]
    fn two_row_headers_with_merged_cells() {
        let mut contract = Catalog::load(None).unwrap().get("idp_register").unwrap().clone();
        contract.header_rows = 2;
        let sheet = RawSheet {
            name: None,
            rows: vec![
                text_row(
                    1,
                    &["demarcation_code", "idp_project_ref", "project_name", "amount", ""],
                ),
                text_row(2, &["", "", "", "2024/25", "2025/26"]),
                text_row(3, &["BUF", "IDP-1", "Hall", "100", "200"]),
            ],
        };
        let opts = Options {
            unit: crate::domain::Unit::Rand,
            financial_year: None,
            file: "x.csv".into(),
        };
        let out = validate(&contract, &[sheet], &opts);
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        assert_eq!(out.rows.len(), 1);
        let years: Vec<(i32, f64)> = out.rows[0]
            .amounts
            .iter()
            .map(|a| (a.year.start_year, a.rand))
            .collect();
        assert_eq!(years, [(2024, 100.0), (2025, 200.0)]);
        assert_eq!(out.rows[0].row, 3);
    }

    fn idp_opts() -> Options {
        Options {
            unit: crate::domain::Unit::Rand,
            financial_year: None,
            file: "idp.csv".into(),
        }
    }

    #[test]
    fn non_finite_and_implausible_amounts_are_quarantined() {
        let contract = Catalog::load(None).unwrap().get("idp_register").unwrap().clone();
        assert_eq!(contract.max_abs, crate::contracts::DEFAULT_MAX_ABS);
        let header = text_row(
            1,
            &[
                "demarcation_code",
                "idp_project_ref",
                "project_name",
                "2024/25",
                "2025/26",
            ],
        );
        let mut huge = text_row(3, &["BUF", "IDP-2", "Road", "", "5"]);
        huge.cells[3] = Cell::Number(1.797_693_134_862_315_7e308);
        let mut nan = text_row(4, &["BUF", "IDP-3", "Clinic", "7", ""]);
        nan.cells[4] = Cell::Number(f64::NAN);
        let sheet = RawSheet {
            name: None,
            rows: vec![
                header,
                text_row(2, &["BUF", "IDP-1", "Hall", "100", "9999999999999"]),
                huge,
                nan,
                text_row(5, &["BUF", "IDP-4", "Pool", "1e308", "1"]),
                text_row(6, &["BUF", "IDP-5", "Park", "20000000000000", "1"]),
            ],
        };
        let out = validate(&contract, &[sheet], &idp_opts());
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        assert_eq!(out.rows_read, 5);
        assert_eq!(out.rows.len(), 1, "only the plausible row is accepted");
        assert_eq!(out.rows[0].row, 2);
        assert_eq!(out.rows_rejected, 4);
        let got: Vec<(u32, &str, &str, &str)> = out
            .rejections
            .iter()
            .map(|r| (r.row, r.column.as_str(), r.rule.as_str(), r.raw.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (3, "2024/25", "max_abs", "1.7976931348623157e308"),
                (4, "2025/26", "non_finite", "NaN"),
                (5, "2024/25", "max_abs", "1e308"),
                (6, "2024/25", "max_abs", "20000000000000"),
            ]
        );
        assert!(out.rejections.iter().all(|r| r.severity == Severity::Error));
        assert!(
            out.rejections[0].message.contains("implausibly large"),
            "{}",
            out.rejections[0].message
        );
    }

    #[test]
    fn max_abs_is_set_per_contract_and_per_column() {
        let base = crate::contracts::BUILTIN
            .iter()
            .find(|(n, _)| *n == "idp_register")
            .unwrap()
            .1;
        // A contract-level bound applies to wide amounts; a column-level one to its column.
        let text = base
            .replacen("unit = \"rand\"", "unit = \"rand\"\nmax_abs = 1000.0", 1)
            .replacen("kind = \"amount\"", "kind = \"amount\"\nmax_abs = 50.0", 1);
        let contract = crate::contracts::Contract::parse(&text, "test").unwrap();
        assert_eq!(contract.max_abs, 1000.0);
        assert_eq!(contract.column("amount").unwrap().max_abs, Some(50.0));
        let sheet = RawSheet {
            name: None,
            rows: vec![
                text_row(
                    1,
                    &[
                        "demarcation_code",
                        "idp_project_ref",
                        "project_name",
                        "financial_year",
                        "amount",
                        "2024/25",
                    ],
                ),
                text_row(2, &["BUF", "IDP-1", "Hall", "2024/25", "50", "1000"]),
                text_row(3, &["BUF", "IDP-2", "Road", "2024/25", "51", ""]),
                text_row(4, &["BUF", "IDP-3", "Pool", "2024/25", "", "1001"]),
            ],
        };
        let out = validate(&contract, &[sheet], &idp_opts());
        assert_eq!(out.rows.iter().map(|r| r.row).collect::<Vec<_>>(), [2]);
        let got: Vec<(u32, &str, &str)> = out
            .rejections
            .iter()
            .map(|r| (r.row, r.column.as_str(), r.rule.as_str()))
            .collect();
        assert_eq!(got, [(3, "amount", "max_abs"), (4, "2024/25", "max_abs")]);
        let bad = base.replacen("unit = \"rand\"", "unit = \"rand\"\nmax_abs = -1.0", 1);
        let e = crate::contracts::Contract::parse(&bad, "test").unwrap_err();
        assert_eq!(e[0].key, "max_abs", "{e:?}");
    }

    #[test]
    fn a_repeated_header_that_disagrees_is_quarantined_naming_both_columns() {
        let contract = Catalog::load(None).unwrap().get("idp_register").unwrap().clone();
        let sheet = RawSheet {
            name: None,
            rows: vec![
                // `project` is an alias of `project_name`: two columns map to it.
                text_row(
                    1,
                    &[
                        "demarcation_code",
                        "idp_project_ref",
                        "project_name",
                        "2024/25",
                        "project",
                    ],
                ),
                text_row(2, &["BUF", "IDP-1", "Hall", "100", "Hall"]),
                text_row(3, &["BUF", "IDP-2", "Road", "200", "Bridge"]),
                text_row(4, &["BUF", "IDP-3", "Pool", "300", ""]),
                text_row(5, &["BUF", "IDP-4", "", "400", "Clinic"]),
            ],
        };
        let out = validate(&contract, &[sheet], &idp_opts());
        assert_eq!(out.rows.iter().map(|r| r.row).collect::<Vec<_>>(), [2, 4]);
        assert_eq!(out.rows[0].text("project_name"), Some("Hall"));
        let dups: Vec<(u32, &str, &str)> = out
            .rejections
            .iter()
            .filter(|r| r.rule == "duplicate_header")
            .map(|r| (r.row, r.raw.as_str(), r.message.as_str()))
            .collect();
        assert_eq!(dups.len(), 2, "{:?}", out.rejections);
        assert_eq!(dups[0].0, 3);
        assert_eq!(dups[0].1, "Road | Bridge");
        assert!(
            dups[0]
                .2
                .contains("columns 3 (`project_name`) and 5 (`project`) both map to `project_name`"),
            "{}",
            dups[0].2
        );
        // A value only in the repeat would be lost: quarantined too (with `required`).
        assert_eq!(dups[1].0, 5);
        assert!(out.rejections.iter().all(|r| r.severity == Severity::Error));
    }

    #[test]
    fn nul_bytes_and_terminal_escapes_are_stripped_with_a_warning() {
        let contract = Catalog::load(None).unwrap().get("idp_register").unwrap().clone();
        let sheet = RawSheet {
            name: None,
            rows: vec![
                text_row(1, &["demarcation_code", "idp_project_ref", "project_name", "2024/25"]),
                text_row(2, &["BUF", "IDP-1", "Com\u{0}munity \u{1b}[31mHall\u{1b}[0m", "100"]),
                text_row(3, &["BUF", "IDP-2", "\u{0}\u{7}", "100"]),
                text_row(4, &["BUF", "IDP-3", "Line one\nline two", "100"]),
            ],
        };
        let out = validate(&contract, &[sheet], &idp_opts());
        assert_eq!(out.rows.iter().map(|r| r.row).collect::<Vec<_>>(), [2, 4]);
        assert_eq!(out.rows[0].text("project_name"), Some("Community Hall"));
        assert_eq!(out.rows[1].text("project_name"), Some("Line one\nline two"));
        let got: Vec<(u32, &str, &str, Severity)> = out
            .rejections
            .iter()
            .map(|r| (r.row, r.column.as_str(), r.rule.as_str(), r.severity))
            .collect();
        assert_eq!(
            got,
            [
                (2, "project_name", "control_characters", Severity::Warning),
                (3, "project_name", "required", Severity::Error),
                (3, "project_name", "control_characters", Severity::Warning),
            ]
        );
        // The quarantine shows what was there, escaped, never the raw escape codes.
        assert_eq!(out.rejections[0].raw, "Com\\0munity \\u{1b}[31mHall\\u{1b}[0m");
        assert!(out
            .rejections
            .iter()
            .all(|r| !r.raw.contains('\u{1b}') && !r.raw.contains('\0')));
    }

    #[test]
    fn a_header_naming_two_columns_fills_the_one_not_yet_found() {
        // `Department` is the `department` column's own name and `sub_department`'s alias; the
        // ledger's `Directorate` already filled `department`.
        let contract = Catalog::load(None).unwrap().get("cct_capital_ledger").unwrap().clone();
        let sheet = RawSheet {
            name: None,
            rows: vec![
                text_row(
                    1,
                    &[
                        "IM_Dir",
                        "Directorate",
                        "IM_Dep",
                        "Department",
                        "Project Definition",
                        "Project Definition Description",
                    ],
                ),
                text_row(
                    2,
                    &[
                        "A01",
                        "City Manager",
                        "A0101",
                        "Office of the CM",
                        "C14.21001",
                        "Office Equipment",
                    ],
                ),
            ],
        };
        let out = validate(&contract, &[sheet], &idp_opts());
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        assert!(out.rejections.is_empty(), "{:?}", out.rejections);
        assert_eq!(out.rows[0].text("department"), Some("City Manager"));
        assert_eq!(out.rows[0].text("sub_department"), Some("Office of the CM"));
    }
}

//! The published tables as polars DataFrames, one builder per table.
//!
//! Column names, types and order here are the public contract with analysts' BI tools and are
//! documented in docs/tables.md (a test checks it against a sample run): amounts are Float64 in
//! Rand, financial years Int32 (the calendar year the financial year starts in) with the
//! calendar in its own column and the start and end dates as Date, codes are strings. Publishing
//! adds `run_id` as the first column and stores unsigned counts as signed integers
//! (`publish::write_table`). Every builder sorts its rows so reruns on the same inputs give
//! byte-identical files but for `run_id`.

use crate::domain::fiscal::FinancialYear;
use crate::metrics::Exception;
use crate::reconcile::{Link, Variance};
use crate::records::{is_placeholder_objective, Record};
use chrono::NaiveDate;
use polars::prelude::*;
use std::collections::BTreeMap;

/// Days since 1970-01-01, the physical value of a polars Date.
fn days(d: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    i32::try_from((d - epoch).num_days()).unwrap_or(0)
}

fn date_column(name: &str, values: Vec<Option<i32>>) -> PolarsResult<Column> {
    Column::new(name.into(), values).cast(&DataType::Date)
}

/// Year, calendar, start and end columns for optional financial years.
fn year_columns(years: &[Option<FinancialYear>]) -> PolarsResult<Vec<Column>> {
    Ok(vec![
        Column::new(
            "financial_year".into(),
            years.iter().map(|y| y.map(|y| y.start_year)).collect::<Vec<_>>(),
        ),
        Column::new(
            "financial_year_label".into(),
            years.iter().map(|y| y.map(FinancialYear::label)).collect::<Vec<_>>(),
        ),
        Column::new(
            "calendar".into(),
            years.iter().map(|y| y.map(|y| y.calendar.as_str())).collect::<Vec<_>>(),
        ),
        date_column(
            "period_start",
            years.iter().map(|y| y.map(|y| days(y.start_date()))).collect(),
        )?,
        date_column(
            "period_end",
            years.iter().map(|y| y.map(|y| days(y.end_date()))).collect(),
        )?,
    ])
}

/// Borrows text for a column without copying it (`String` → `&str`, `Option<String>` →
/// `Option<&str>`): the tables are large and polars copies the bytes once anyway.
pub(crate) trait Text {
    /// The borrowed form.
    type Out<'a>
    where
        Self: 'a;
    /// Borrows.
    fn text(&self) -> Self::Out<'_>;
}

impl Text for String {
    type Out<'a> = &'a str;
    fn text(&self) -> &str {
        self
    }
}

impl Text for Option<String> {
    type Out<'a> = Option<&'a str>;
    fn text(&self) -> Option<&str> {
        self.as_deref()
    }
}

fn frame(columns: Vec<Column>) -> PolarsResult<DataFrame> {
    let height = columns.first().map_or(0, Column::len);
    DataFrame::new(height, columns)
}

/// `projects`: one row per accepted source record, with lineage.
pub fn projects(records: &[Record]) -> PolarsResult<DataFrame> {
    let s =
        |f: for<'a> fn(&'a Record) -> &'a Option<String>| records.iter().map(|r| f(r).as_deref()).collect::<Vec<_>>();
    let mut cols = vec![
        Column::new(
            "record_id".into(),
            records.iter().map(|r| r.record_id.text()).collect::<Vec<_>>(),
        ),
        Column::new(
            "source".into(),
            records.iter().map(|r| r.source.text()).collect::<Vec<_>>(),
        ),
        Column::new(
            "dataset".into(),
            records.iter().map(|r| r.dataset.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "source_file".into(),
            records.iter().map(|r| r.source_file.text()).collect::<Vec<_>>(),
        ),
        Column::new("source_sheet".into(), s(|r| &r.source_sheet)),
        Column::new(
            "source_row".into(),
            records.iter().map(|r| r.source_row).collect::<Vec<_>>(),
        ),
        Column::new("demarcation_code".into(), s(|r| &r.demarcation_code)),
        Column::new("project_ref".into(), s(|r| &r.project_ref)),
        Column::new("mscoa_project_number".into(), s(|r| &r.mscoa_project_number)),
        Column::new("idp_project_ref".into(), s(|r| &r.idp_project_ref)),
        Column::new("project_name".into(), s(|r| &r.project_name)),
        Column::new("description".into(), s(|r| &r.description)),
        Column::new("wards".into(), s(|r| &r.wards)),
        Column::new("ward_scope".into(), s(|r| &r.ward_scope)),
        Column::new("ward_codes".into(), s(|r| &r.ward_codes)),
        Column::new("strategic_objective".into(), s(|r| &r.strategic_objective)),
        Column::new(
            "placeholder_strategic_objective".into(),
            records
                .iter()
                .map(|r| r.strategic_objective.as_deref().map(is_placeholder_objective))
                .collect::<Vec<_>>(),
        ),
        Column::new("asset_class".into(), s(|r| &r.asset_class)),
        Column::new("project_type".into(), s(|r| &r.project_type)),
        Column::new("location_scope".into(), s(|r| &r.location_scope)),
        Column::new("location_codes".into(), s(|r| &r.location_codes)),
        Column::new("funding_source".into(), s(|r| &r.funding_source)),
        Column::new("funding_status".into(), s(|r| &r.funding_status)),
        Column::new("implementing_sphere".into(), s(|r| &r.implementing_sphere)),
        Column::new("implementing_agent".into(), s(|r| &r.implementing_agent)),
        Column::new("kpa".into(), s(|r| &r.kpa)),
        Column::new("idp_cycle".into(), s(|r| &r.idp_cycle)),
        Column::new("programme".into(), s(|r| &r.programme)),
        Column::new("project_phase".into(), s(|r| &r.project_phase)),
        Column::new("lead_sphere".into(), s(|r| &r.lead_sphere)),
        Column::new("lead_entity".into(), s(|r| &r.lead_entity)),
        Column::new("project_status".into(), s(|r| &r.project_status)),
        Column::new("province".into(), s(|r| &r.province)),
        Column::new("district".into(), s(|r| &r.district)),
        Column::new("sip_category".into(), s(|r| &r.sip_category)),
        Column::new("asset_sub_class".into(), s(|r| &r.asset_sub_class)),
        Column::new("wbs_element".into(), s(|r| &r.wbs_element)),
        Column::new(
            "responsible_sphere".into(),
            records.iter().map(|r| r.responsible_sphere()).collect::<Vec<_>>(),
        ),
        Column::new("mtsf_outcome".into(), s(|r| &r.mtsf_outcome)),
        Column::new(
            "mtsf_outcome_origin".into(),
            records
                .iter()
                .map(|r| r.mtsf_outcome_origin.map(|o| o.as_str()))
                .collect::<Vec<_>>(),
        ),
        Column::new("mtsf_outcome_from_record".into(), s(|r| &r.mtsf_outcome_from_record)),
        Column::new("iudf".into(), s(|r| &r.iudf)),
        Column::new(
            "iudf_origin".into(),
            records
                .iter()
                .map(|r| r.iudf_origin.map(|o| o.as_str()))
                .collect::<Vec<_>>(),
        ),
        Column::new("iudf_from_record".into(), s(|r| &r.iudf_from_record)),
        Column::new("integration_zone".into(), s(|r| &r.integration_zone)),
        Column::new("function".into(), s(|r| &r.function)),
        Column::new("department".into(), s(|r| &r.department)),
        Column::new(
            "latitude".into(),
            records.iter().map(|r| r.latitude).collect::<Vec<_>>(),
        ),
        Column::new(
            "longitude".into(),
            records.iter().map(|r| r.longitude).collect::<Vec<_>>(),
        ),
    ];
    cols.extend(year_columns(
        &records.iter().map(|r| r.financial_year).collect::<Vec<_>>(),
    )?);
    cols.push(Column::new(
        "amount_rand".into(),
        records.iter().map(|r| r.amount_rand).collect::<Vec<_>>(),
    ));
    frame(cols)
}

/// `project_amounts`: every amount of every record, one row per year and phase.
pub fn project_amounts(records: &[Record]) -> PolarsResult<DataFrame> {
    let mut ids = Vec::new();
    let mut datasets = Vec::new();
    let mut munis = Vec::new();
    let mut years = Vec::new();
    let mut phases = Vec::new();
    let mut amounts = Vec::new();
    let mut vintages = Vec::new();
    for r in records {
        let vintage = crate::reconcile::variance::vintage(r);
        for a in &r.amounts {
            vintages.push(vintage.clone());
            ids.push(r.record_id.as_str());
            datasets.push(r.dataset.as_str());
            munis.push(r.demarcation_code.as_deref());
            years.push(Some(a.year));
            phases.push(a.phase.text());
            amounts.push(a.rand);
        }
    }
    let mut cols = vec![
        Column::new("record_id".into(), ids),
        Column::new("dataset".into(), datasets),
        Column::new("demarcation_code".into(), munis),
    ];
    cols.extend(year_columns(&years)?);
    cols.push(Column::new("phase".into(), phases));
    cols.push(Column::new("vintage".into(), vintages));
    cols.push(Column::new("amount_rand".into(), amounts));
    frame(cols)
}

/// `links`: one row per link with its evidence.
pub fn links(links: &[Link]) -> PolarsResult<DataFrame> {
    frame(vec![
        Column::new(
            "left_record_id".into(),
            links.iter().map(|l| l.left_record_id.text()).collect::<Vec<_>>(),
        ),
        Column::new(
            "right_record_id".into(),
            links.iter().map(|l| l.right_record_id.text()).collect::<Vec<_>>(),
        ),
        Column::new(
            "link_type".into(),
            links.iter().map(|l| l.link_type.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "method".into(),
            links.iter().map(|l| l.method.as_str()).collect::<Vec<_>>(),
        ),
        Column::new("score".into(), links.iter().map(|l| l.score).collect::<Vec<_>>()),
        Column::new(
            "demarcation_code".into(),
            links.iter().map(|l| l.demarcation_code.text()).collect::<Vec<_>>(),
        ),
        Column::new(
            "matched_on".into(),
            links.iter().map(|l| l.matched_on.text()).collect::<Vec<_>>(),
        ),
        Column::new(
            "matched_value".into(),
            links.iter().map(|l| l.matched_value.text()).collect::<Vec<_>>(),
        ),
        Column::new(
            "name_similarity".into(),
            links.iter().map(|l| l.name_similarity).collect::<Vec<_>>(),
        ),
        Column::new(
            "left_name".into(),
            links.iter().map(|l| l.left_name.text()).collect::<Vec<_>>(),
        ),
        Column::new(
            "right_name".into(),
            links.iter().map(|l| l.right_name.text()).collect::<Vec<_>>(),
        ),
        Column::new("band".into(), links.iter().map(|l| l.band.as_str()).collect::<Vec<_>>()),
        Column::new(
            "match_weight".into(),
            links.iter().map(|l| l.match_weight).collect::<Vec<_>>(),
        ),
        Column::new(
            "evidence".into(),
            links.iter().map(|l| l.evidence.text()).collect::<Vec<_>>(),
        ),
    ])
}

/// `link_model`: the m, u and weight of every comparison level, per link type, as this run
/// scored with them (estimated by EM or set).
pub fn link_model(models: &[crate::reconcile::ModelUsed]) -> PolarsResult<DataFrame> {
    use crate::reconcile::score::COMPARISONS;
    let rows: Vec<(&crate::reconcile::ModelUsed, usize, usize)> = models
        .iter()
        .flat_map(|mu| {
            COMPARISONS
                .iter()
                .enumerate()
                .flat_map(move |(c, (_, levels))| (0..levels.len()).map(move |l| (mu, c, l)))
        })
        .collect();
    frame(vec![
        Column::new(
            "link_type".into(),
            rows.iter().map(|(mu, ..)| mu.link_type.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "comparison".into(),
            rows.iter().map(|(_, c, _)| COMPARISONS[*c].0).collect::<Vec<_>>(),
        ),
        Column::new(
            "level".into(),
            rows.iter().map(|(_, c, l)| COMPARISONS[*c].1[*l]).collect::<Vec<_>>(),
        ),
        Column::new(
            "m".into(),
            rows.iter().map(|(mu, c, l)| mu.model.m[*c][*l]).collect::<Vec<_>>(),
        ),
        Column::new(
            "u".into(),
            rows.iter().map(|(mu, c, l)| mu.model.u[*c][*l]).collect::<Vec<_>>(),
        ),
        Column::new(
            "weight".into(),
            rows.iter()
                .map(|(mu, c, l)| mu.model.weight(*c, *l))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "source".into(),
            rows.iter()
                .map(|(mu, c, _)| mu.model.sources[*c].as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "em_pairs".into(),
            rows.iter().map(|(mu, ..)| mu.pairs).collect::<Vec<_>>(),
        ),
        Column::new(
            "em_match_share".into(),
            rows.iter().map(|(mu, ..)| mu.lambda).collect::<Vec<_>>(),
        ),
        Column::new(
            "em_iterations".into(),
            rows.iter().map(|(mu, ..)| mu.iterations).collect::<Vec<_>>(),
        ),
        Column::new(
            "em_note".into(),
            rows.iter().map(|(mu, ..)| mu.note.as_deref()).collect::<Vec<_>>(),
        ),
    ])
}

/// `project_register`: every record with the key of the cross-sphere project it belongs to.
pub fn project_register(m: &[crate::reconcile::register::Member]) -> PolarsResult<DataFrame> {
    frame(vec![
        Column::new(
            "project_key".into(),
            m.iter().map(|x| x.project_key.text()).collect::<Vec<_>>(),
        ),
        Column::new(
            "record_id".into(),
            m.iter().map(|x| x.record_id.text()).collect::<Vec<_>>(),
        ),
        Column::new(
            "natural_key".into(),
            m.iter().map(|x| x.natural_key.text()).collect::<Vec<_>>(),
        ),
        Column::new("dataset".into(), m.iter().map(|x| x.dataset).collect::<Vec<_>>()),
        Column::new(
            "demarcation_code".into(),
            m.iter().map(|x| x.demarcation_code.text()).collect::<Vec<_>>(),
        ),
        Column::new(
            "project_name".into(),
            m.iter().map(|x| x.project_name.text()).collect::<Vec<_>>(),
        ),
        Column::new(
            "cluster_size".into(),
            m.iter().map(|x| x.cluster_size).collect::<Vec<_>>(),
        ),
    ])
}

/// natural key → project key, from a published `project_register`. Registers written before
/// natural keys named the dataset (`source|municipality|reference`) are read in today's form
/// (`dataset|municipality|reference`), so their project keys carry over.
pub fn project_keys(df: &DataFrame) -> PolarsResult<std::collections::BTreeMap<String, String>> {
    let nk = df.column("natural_key")?.str()?.clone();
    let pk = df.column("project_key")?.str()?.clone();
    let ds = df.column("dataset").ok().and_then(|c| c.str().ok().cloned());
    let key = |i: usize| -> Option<String> {
        let k = nk.get(i)?;
        let dataset = ds.as_ref().and_then(|d| d.get(i));
        Some(match (dataset, k.split_once('|')) {
            (Some(d), Some((first, rest))) if first != d => format!("{d}|{rest}"),
            _ => k.to_string(),
        })
    };
    Ok((0..df.height())
        .filter_map(|i| Some((key(i)?, pk.get(i)?.to_string())))
        .collect())
}

/// `variances`: both sides of each link per municipal year.
pub fn variances(v: &[Variance]) -> PolarsResult<DataFrame> {
    let mut cols = vec![
        Column::new(
            "left_record_id".into(),
            v.iter().map(|x| x.left_record_id.text()).collect::<Vec<_>>(),
        ),
        Column::new(
            "right_record_id".into(),
            v.iter().map(|x| x.right_record_id.text()).collect::<Vec<_>>(),
        ),
        Column::new(
            "link_type".into(),
            v.iter().map(|x| x.link_type.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "demarcation_code".into(),
            v.iter().map(|x| x.demarcation_code.text()).collect::<Vec<_>>(),
        ),
    ];
    cols.extend(year_columns(
        &v.iter().map(|x| Some(x.financial_year)).collect::<Vec<_>>(),
    )?);
    cols.extend([
        Column::new(
            "left_amount_rand".into(),
            v.iter().map(|x| x.left_amount).collect::<Vec<_>>(),
        ),
        Column::new(
            "right_amount_rand".into(),
            v.iter().map(|x| x.right_amount).collect::<Vec<_>>(),
        ),
        Column::new(
            "difference_rand".into(),
            v.iter().map(|x| x.difference).collect::<Vec<_>>(),
        ),
        Column::new(
            "relative_difference".into(),
            v.iter().map(|x| x.relative_difference).collect::<Vec<_>>(),
        ),
        Column::new(
            "over_tolerance".into(),
            v.iter().map(|x| x.over_tolerance).collect::<Vec<_>>(),
        ),
        Column::new("comparison".into(), v.iter().map(|x| x.comparison).collect::<Vec<_>>()),
        Column::new(
            "left_vintage".into(),
            v.iter().map(|x| x.left_vintage.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "right_vintage".into(),
            v.iter().map(|x| x.right_vintage.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "apportionment".into(),
            v.iter().map(|x| x.apportionment.as_str()).collect::<Vec<_>>(),
        ),
    ]);
    frame(cols)
}

/// `exceptions`: the register, one row per finding.
pub fn exceptions(e: &[Exception]) -> PolarsResult<DataFrame> {
    let mut cols = vec![
        Column::new(
            "exception_id".into(),
            e.iter().map(|x| x.exception_id.text()).collect::<Vec<_>>(),
        ),
        Column::new(
            "exception_type".into(),
            e.iter().map(|x| x.exception_type).collect::<Vec<_>>(),
        ),
        Column::new(
            "severity".into(),
            e.iter().map(|x| x.severity.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "demarcation_code".into(),
            e.iter().map(|x| x.demarcation_code.text()).collect::<Vec<_>>(),
        ),
    ];
    cols.extend(year_columns(&e.iter().map(|x| x.financial_year).collect::<Vec<_>>())?);
    cols.extend([
        crate::publish::register::years_column(
            "financial_years",
            e.iter()
                .map(|x| x.financial_years.iter().map(|y| y.start_year).collect()),
        ),
        Column::new(
            "owner_sphere".into(),
            e.iter().map(|x| x.owner_sphere.text()).collect::<Vec<_>>(),
        ),
        Column::new("owner".into(), e.iter().map(|x| x.owner.text()).collect::<Vec<_>>()),
        Column::new(
            "suggested_action".into(),
            e.iter().map(|x| x.suggested_action).collect::<Vec<_>>(),
        ),
        Column::new(
            "amount_at_stake_rand".into(),
            e.iter().map(|x| x.amount_at_stake).collect::<Vec<_>>(),
        ),
        Column::new(
            "share_of_capital_budget".into(),
            e.iter().map(|x| x.share_of_capital_budget).collect::<Vec<_>>(),
        ),
        Column::new("material".into(), e.iter().map(|x| x.material).collect::<Vec<_>>()),
        Column::new("priority".into(), e.iter().map(|x| x.priority).collect::<Vec<_>>()),
        Column::new(
            "record_ids".into(),
            e.iter().map(|x| x.record_ids.text()).collect::<Vec<_>>(),
        ),
        Column::new("detail".into(), e.iter().map(|x| x.detail.text()).collect::<Vec<_>>()),
        Column::new(
            "bundle_size".into(),
            e.iter().map(|x| x.bundle_size).collect::<Vec<_>>(),
        ),
        Column::new(
            "bundled_in".into(),
            e.iter().map(|x| x.bundled_in.text()).collect::<Vec<_>>(),
        ),
    ]);
    frame(cols)
}

/// One quarantine row: a rejected cell or row with everything needed to find it.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantineRow {
    /// Pipeline source name.
    pub source: String,
    /// File name.
    pub source_file: String,
    /// Sheet, for workbooks.
    pub source_sheet: Option<String>,
    /// Row number (null for whole-sheet problems).
    pub source_row: Option<u32>,
    /// Column (canonical name or header).
    pub column: String,
    /// Rule broken.
    pub rule: String,
    /// Raw cell text.
    pub raw_value: String,
    /// `error` (row rejected) or `warning` (cell nulled).
    pub severity: String,
    /// What was expected and found.
    pub message: String,
}

impl QuarantineRow {
    /// What identifies one problem from run to run: where it is (file, sheet, row, column), the
    /// rule and the value. A fixed cell, a moved row or an edited value is another problem.
    pub fn seen_key(&self) -> String {
        seen_key(
            &self.source_file,
            self.source_sheet.as_deref(),
            self.source_row,
            &self.column,
            &self.rule,
            &self.raw_value,
        )
    }
}

fn seen_key(file: &str, sheet: Option<&str>, row: Option<u32>, column: &str, rule: &str, raw: &str) -> String {
    let row = row.map(|r| r.to_string()).unwrap_or_default();
    [file, sheet.unwrap_or(""), &row, column, rule, raw].join("\u{1f}")
}

/// The previous run's quarantine rows (those with its `run_id`) as problem key → the run that
/// first rejected it without a break (`first_seen_run`, or the run itself in files written
/// before that column).
pub fn quarantine_first_seen(df: &DataFrame, previous_run: &str) -> PolarsResult<BTreeMap<String, String>> {
    let text = |name: &str| -> PolarsResult<StringChunked> { Ok(df.column(name)?.str()?.clone()) };
    let (run, file, sheet, column, rule, raw) = (
        text("run_id")?,
        text("source_file")?,
        text("source_sheet")?,
        text("column")?,
        text("rule")?,
        text("raw_value")?,
    );
    let row = df.column("source_row")?.cast(&DataType::Int64)?;
    let row = row.i64()?;
    let first = df.column("first_seen_run").ok().and_then(|c| c.str().ok().cloned());
    let mut out = BTreeMap::new();
    for i in 0..df.height() {
        if run.get(i) != Some(previous_run) {
            continue;
        }
        let key = seen_key(
            file.get(i).unwrap_or(""),
            sheet.get(i),
            row.get(i).and_then(|r| u32::try_from(r).ok()),
            column.get(i).unwrap_or(""),
            rule.get(i).unwrap_or(""),
            raw.get(i).unwrap_or(""),
        );
        let since = first.as_ref().and_then(|f| f.get(i)).unwrap_or(previous_run);
        out.insert(key, since.to_string());
    }
    Ok(out)
}

/// `quarantine`: every rejected row or cell, with the run that rejected it (`run_id`), so the
/// history (every run's file) can be filtered to one run, and the run since which the same
/// problem has been rejected in every run (`first_seen_run`; `seen` maps the previous run's
/// problems to theirs).
pub fn quarantine(q: &[QuarantineRow], run_id: &str, seen: &BTreeMap<String, String>) -> PolarsResult<DataFrame> {
    let first_seen: Vec<&str> = q
        .iter()
        .map(|x| seen.get(&x.seen_key()).map_or(run_id, String::as_str))
        .collect();
    frame(vec![
        Column::new("run_id".into(), vec![run_id; q.len()]),
        Column::new("first_seen_run".into(), first_seen),
        Column::new("source".into(), q.iter().map(|x| x.source.text()).collect::<Vec<_>>()),
        Column::new(
            "source_file".into(),
            q.iter().map(|x| x.source_file.text()).collect::<Vec<_>>(),
        ),
        Column::new(
            "source_sheet".into(),
            q.iter().map(|x| x.source_sheet.text()).collect::<Vec<_>>(),
        ),
        Column::new("source_row".into(), q.iter().map(|x| x.source_row).collect::<Vec<_>>()),
        Column::new("column".into(), q.iter().map(|x| x.column.text()).collect::<Vec<_>>()),
        Column::new("rule".into(), q.iter().map(|x| x.rule.text()).collect::<Vec<_>>()),
        Column::new(
            "raw_value".into(),
            q.iter().map(|x| x.raw_value.text()).collect::<Vec<_>>(),
        ),
        Column::new(
            "severity".into(),
            q.iter().map(|x| x.severity.text()).collect::<Vec<_>>(),
        ),
        Column::new("message".into(), q.iter().map(|x| x.message.text()).collect::<Vec<_>>()),
    ])
}

/// Rows read, accepted and rejected for one source.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceQuality {
    /// Pipeline source name.
    pub source: String,
    /// Contract used.
    pub contract: String,
    /// Data rows read.
    pub rows_read: usize,
    /// Rows accepted.
    pub rows_accepted: usize,
    /// Rows rejected (quarantined with severity `error`).
    pub rows_rejected: usize,
    /// Cells quarantined as warnings on accepted rows.
    pub warnings: usize,
    /// Values kept but worth a look (`notice` rows in the quarantine: negative amounts).
    #[serde(default)]
    pub notices: usize,
    /// Accepted rows whose amounts are all zero (a plan line of R0 cannot be compared).
    #[serde(default)]
    pub zero_amount_rows: usize,
}

/// `data_quality`: one row per source.
pub fn data_quality(q: &[SourceQuality]) -> PolarsResult<DataFrame> {
    let n = |f: fn(&SourceQuality) -> usize| q.iter().map(|x| f(x) as u64).collect::<Vec<_>>();
    frame(vec![
        Column::new("source".into(), q.iter().map(|x| x.source.text()).collect::<Vec<_>>()),
        Column::new(
            "contract".into(),
            q.iter().map(|x| x.contract.text()).collect::<Vec<_>>(),
        ),
        Column::new("rows_read".into(), n(|x| x.rows_read)),
        Column::new("rows_accepted".into(), n(|x| x.rows_accepted)),
        Column::new("rows_rejected".into(), n(|x| x.rows_rejected)),
        Column::new("warnings".into(), n(|x| x.warnings)),
        Column::new("notices".into(), n(|x| x.notices)),
        Column::new("zero_amount_rows".into(), n(|x| x.zero_amount_rows)),
    ])
}

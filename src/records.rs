//! The canonical project record every downstream stage works on.
//!
//! Each accepted source row becomes one [`Record`], whatever its dataset: the same fields for a
//! budget line, an IDP project, a BEPP project and a departmental project, with lineage (source,
//! file, sheet, row) so any number in the outputs can be traced to the cell it came from.
//! Amounts stay attached to their record as (financial year, phase, Rand).

use crate::contracts::validate::{AmountValue, ValidRow};
use crate::contracts::{Contract, Dataset};
use crate::domain::fiscal::FinancialYear;

/// Texts in `Own Strategic Objectives` that say nothing about the IDP.
const PLACEHOLDER_OBJECTIVES: &[&str] = &[
    "own municipal strategic objective",
    "to be corrected",
    "not applicable",
    "n/a",
    "none",
    "tbc",
    "to be confirmed",
];

/// Where a record's MTSF outcome or IUDF goal came from (`projects.mtsf_outcome_origin`,
/// `projects.iudf_origin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriorityOrigin {
    /// The record's own source states it.
    Own,
    /// Inherited from a budget line the record is linked to (an accepted link).
    Link,
    /// Inherited from a budget line of the same cross-sphere project, reached through other
    /// records' links (a BEPP project linked to an IDP project linked to the budget line).
    Project,
}

impl PriorityOrigin {
    /// The name written to outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            PriorityOrigin::Own => "own",
            PriorityOrigin::Link => "inherited_via_link",
            PriorityOrigin::Project => "inherited_via_project",
        }
    }
}

/// Whether a strategic objective is a placeholder rather than a link to the IDP.
pub fn is_placeholder_objective(text: &str) -> bool {
    let t = text.trim().to_lowercase();
    t.is_empty() || PLACEHOLDER_OBJECTIVES.contains(&t.as_str())
}

/// One accepted source row, in canonical form.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// `<source>:<sheet>:<row>` or `<source>:<row>`: unique and stable for the same inputs.
    pub record_id: String,
    /// The pipeline source name.
    pub source: String,
    /// The dataset kind.
    pub dataset: Dataset,
    /// File name the row came from.
    pub source_file: String,
    /// Sheet name, for workbooks.
    pub source_sheet: Option<String>,
    /// Row number as a spreadsheet shows it (CSV: record number, header = 1).
    pub source_row: u32,
    /// Current demarcation code of the municipality the project is in.
    pub demarcation_code: Option<String>,
    /// The dataset's own key: mSCOA number (budget), IDP ref, BEPP ref, IRM project id.
    pub project_ref: Option<String>,
    /// mSCOA project number, where the source has one.
    pub mscoa_project_number: Option<String>,
    /// IDP project reference, where the source has one.
    pub idp_project_ref: Option<String>,
    /// Project name (SA36's `Project Decription`).
    pub project_name: Option<String>,
    /// Longer description, where the source has one.
    pub description: Option<String>,
    /// Ward location text as written.
    pub wards: Option<String>,
    /// What the ward text covers: `ward`, `region`, `non_ward`, `whole_municipality`, `unknown`.
    pub ward_scope: Option<String>,
    /// 8-digit ward codes named, `;`-separated.
    pub ward_codes: Option<String>,
    /// Strategic objective as written.
    pub strategic_objective: Option<String>,
    /// mSCOA asset class.
    pub asset_class: Option<String>,
    /// SA36 `Type`: New, Renewal or Upgrading.
    pub project_type: Option<String>,
    /// What a departmental project's location covers: `local`, `district`, `multi` or
    /// `provincial`.
    pub location_scope: Option<String>,
    /// Every municipality a departmental location names, `;`-separated (the first is
    /// `demarcation_code`).
    pub location_codes: Option<String>,
    /// Funding source (USDG, ICDG, NDPG, MIG, CRR, provincial equitable share, …).
    pub funding_source: Option<String>,
    /// IDP/IRM funding status (funded, partially funded, unfunded).
    pub funding_status: Option<String>,
    /// IDP implementing sphere (municipal, provincial, national, entity).
    pub implementing_sphere: Option<String>,
    /// IDP implementing agent.
    pub implementing_agent: Option<String>,
    /// IDP key performance area.
    pub kpa: Option<String>,
    /// IDP cycle (`2022-2027`).
    pub idp_cycle: Option<String>,
    /// BEPP programme, IRM or EPRE budget programme.
    pub programme: Option<String>,
    /// BEPP phase or national project stage.
    pub project_phase: Option<String>,
    /// BEPP lead sphere.
    pub lead_sphere: Option<String>,
    /// BEPP lead entity.
    pub lead_entity: Option<String>,
    /// IRM project status.
    pub project_status: Option<String>,
    /// Province as the source writes it (IRM, EPRE).
    pub province: Option<String>,
    /// IRM district municipality as written.
    pub district: Option<String>,
    /// National infrastructure SIP category.
    pub sip_category: Option<String>,
    /// mSCOA asset sub-class (SA36).
    pub asset_sub_class: Option<String>,
    /// Cape Town ledger WBS element (Project Definition).
    pub wbs_element: Option<String>,
    /// SA36 `MTSF Service Outcome`.
    pub mtsf_outcome: Option<String>,
    /// SA36 `IUDF` goal.
    pub iudf: Option<String>,
    /// Where `mtsf_outcome` came from: own, or inherited from a linked budget line.
    pub mtsf_outcome_origin: Option<PriorityOrigin>,
    /// Where `iudf` came from.
    pub iudf_origin: Option<PriorityOrigin>,
    /// The budget line an inherited MTSF outcome was taken from.
    pub mtsf_outcome_from_record: Option<String>,
    /// The budget line an inherited IUDF goal was taken from.
    pub iudf_from_record: Option<String>,
    /// BEPP integration zone.
    pub integration_zone: Option<String>,
    /// Municipal function or departmental sector.
    pub function: Option<String>,
    /// Responsible or implementing department.
    pub department: Option<String>,
    /// GPS latitude, inside South Africa.
    pub latitude: Option<f64>,
    /// GPS longitude, inside South Africa.
    pub longitude: Option<f64>,
    /// The record's own financial year: a budget's budget year, a long-form row's year.
    pub financial_year: Option<FinancialYear>,
    /// The amount for `financial_year` in Rand (its budget phase for SA36).
    pub amount_rand: Option<f64>,
    /// Every amount of the row.
    pub amounts: Vec<AmountValue>,
}

impl Record {
    /// Builds the record for one valid row of a source read through `contract`; its id is
    /// `id_prefix[:sheet]:row` (the prefix is the source name, with the file name when the
    /// source has several files).
    pub fn from_row(id_prefix: &str, source: &str, file: &str, contract: &Contract, row: &ValidRow) -> Record {
        let t = |c: &str| row.text(c).map(str::to_string);
        let record_id = match &row.sheet {
            Some(s) => format!("{id_prefix}:{s}:{}", row.row),
            None => format!("{id_prefix}:{}", row.row),
        };
        let mscoa = t("mscoa_project_number");
        let project_ref = match contract.dataset {
            Dataset::Budget => mscoa.clone(),
            Dataset::Idp => t("idp_project_ref"),
            _ => t("project_ref"),
        };
        // The record's year: the first budget year of an MTREF, else the row's own year.
        let primary = row
            .budget_year
            .or_else(|| match row.values.get("financial_year") {
                Some(crate::contracts::validate::Value::Year(y)) => Some(*y),
                _ => None,
            })
            .or_else(|| row.amounts.iter().map(|a| a.year).min());
        let amount_rand = primary.and_then(|fy| {
            let in_year: Vec<&AmountValue> = row.amounts.iter().filter(|a| a.year == fy).collect();
            // Prefer the budget phase where there are several.
            in_year
                .iter()
                .find(|a| a.phase == "budget")
                .or_else(|| in_year.first())
                .map(|a| a.rand)
        });
        Record {
            record_id,
            source: source.to_string(),
            dataset: contract.dataset,
            source_file: file.to_string(),
            source_sheet: row.sheet.clone(),
            source_row: row.row,
            demarcation_code: row.demarcation_code.clone(),
            project_ref,
            mscoa_project_number: mscoa,
            idp_project_ref: t("idp_project_ref"),
            project_name: t("project_name"),
            description: t("description"),
            wards: t("wards"),
            ward_scope: t("ward_scope"),
            ward_codes: t("ward_codes"),
            strategic_objective: t("strategic_objective"),
            asset_class: t("asset_class"),
            project_type: t("project_type"),
            location_scope: t("location_scope"),
            location_codes: t("location_codes").filter(|c| !c.is_empty()),
            funding_source: t("funding_source"),
            funding_status: t("funding_status"),
            implementing_sphere: t("implementing_sphere"),
            implementing_agent: t("implementing_agent"),
            kpa: t("kpa"),
            idp_cycle: t("idp_cycle"),
            programme: t("programme").or_else(|| t("budget_programme")),
            project_phase: t("phase").or_else(|| t("current_project_stage")),
            lead_sphere: t("lead_sphere"),
            lead_entity: t("lead_entity"),
            project_status: t("project_status"),
            province: t("province"),
            district: t("district_municipality"),
            sip_category: t("sip_category"),
            asset_sub_class: t("asset_sub_class"),
            wbs_element: t("wbs_element"),
            mtsf_outcome: t("mtsf_outcome"),
            iudf: t("iudf"),
            mtsf_outcome_origin: t("mtsf_outcome").map(|_| PriorityOrigin::Own),
            iudf_origin: t("iudf").map(|_| PriorityOrigin::Own),
            mtsf_outcome_from_record: None,
            iudf_from_record: None,
            integration_zone: t("integration_zone"),
            function: t("function").or_else(|| t("sector")),
            department: t("department").or_else(|| t("responsible_department")),
            latitude: row.number("latitude"),
            longitude: row.number("longitude"),
            financial_year: primary,
            amount_rand,
            amounts: row.amounts.clone(),
        }
    }

    /// The amount in `year` for the phase that best represents the plan or budget for it.
    pub fn amount_in(&self, year: FinancialYear) -> Option<f64> {
        let in_year = || self.amounts.iter().filter(move |a| a.year == year);
        for phase in [
            "budget",
            "adjusted_budget",
            "original_budget",
            "planned",
            "adjusted_appropriation",
            "main_appropriation",
            "forecast",
            "audited",
        ] {
            if let Some(a) = in_year().find(|a| a.phase == phase) {
                return Some(a.rand);
            }
        }
        in_year().next().map(|a| a.rand)
    }

    /// The key analysts' overrides use: the project reference, else the normalised name.
    pub fn override_key(&self) -> String {
        self.project_ref
            .clone()
            .or_else(|| self.match_name().map(|n| crate::names::tokens(n).join(" ")))
            // Neither: where the row is (file, sheet, row), which no pipeline naming changes.
            .unwrap_or_else(|| {
                format!(
                    "{}:{}:{}",
                    self.source_file,
                    self.source_sheet.as_deref().unwrap_or(""),
                    self.source_row
                )
            })
    }

    /// A key that depends only on the data, so it survives row insertions, renamed sources and
    /// the next year's file: `dataset|municipality|reference-or-normalised-name`.
    pub fn natural_key(&self) -> String {
        format!(
            "{}|{}|{}",
            self.dataset.as_str(),
            self.demarcation_code.as_deref().unwrap_or(""),
            self.override_key()
        )
    }

    /// The sphere that must act on the project: the IDP's implementing sphere, the BEPP's lead
    /// sphere, `provincial`/`national` for departmental projects (national when the row names no
    /// province), `municipal` for budget lines.
    pub fn responsible_sphere(&self) -> Option<String> {
        let norm = |s: &str| {
            let l = s.trim().to_lowercase();
            if l.starts_with("munic") || l.starts_with("metro") || l.starts_with("local") {
                "municipal".to_string()
            } else if l.starts_with("prov") {
                "provincial".to_string()
            } else if l.starts_with("nat") {
                "national".to_string()
            } else if l.starts_with("priv") {
                "private".to_string()
            } else {
                l
            }
        };
        match self.dataset {
            Dataset::Idp => Some(self.implementing_sphere.as_deref().map_or("municipal".into(), norm)),
            Dataset::Bepp => Some(self.lead_sphere.as_deref().map_or("municipal".into(), norm)),
            Dataset::Budget => Some("municipal".into()),
            Dataset::Departmental => Some(
                if self.province.is_some() {
                    "provincial"
                } else {
                    "national"
                }
                .into(),
            ),
            _ => None,
        }
    }

    /// Whether this is an in-year (SC36) budget line: it has actuals, or an original or adjusted
    /// budget without an MTREF's `budget` column (an SC36 line nothing has been spent on yet).
    pub fn is_in_year(&self) -> bool {
        let has = |p: &dyn Fn(&str) -> bool| self.amounts.iter().any(|a| p(&a.phase));
        self.dataset == Dataset::Budget
            && (has(&|p| p.starts_with("actual"))
                || (has(&|p| p == "original_budget" || p == "adjusted_budget") && !has(&|p| p == "budget")))
    }

    /// The name used for matching: the project name, else the description.
    pub fn match_name(&self) -> Option<&str> {
        self.project_name.as_deref().or(self.description.as_deref())
    }
}

#[cfg(test)]
impl Record {
    /// A record with only its identity set (no names, wards, years or amounts), for unit tests
    /// to fill in with struct-update syntax.
    pub(crate) fn bare(record_id: &str, source: &str, dataset: Dataset, muni: &str) -> Record {
        Record {
            record_id: record_id.into(),
            source: source.into(),
            dataset,
            source_file: format!("{source}.csv"),
            source_sheet: None,
            source_row: 1,
            demarcation_code: Some(muni.into()),
            project_ref: None,
            mscoa_project_number: None,
            idp_project_ref: None,
            project_name: None,
            description: None,
            wards: None,
            ward_scope: None,
            ward_codes: None,
            strategic_objective: None,
            asset_class: None,
            project_type: None,
            location_scope: None,
            location_codes: None,
            funding_source: None,
            funding_status: None,
            implementing_sphere: None,
            implementing_agent: None,
            kpa: None,
            idp_cycle: None,
            programme: None,
            project_phase: None,
            lead_sphere: None,
            lead_entity: None,
            project_status: None,
            province: None,
            district: None,
            sip_category: None,
            asset_sub_class: None,
            wbs_element: None,
            mtsf_outcome: None,
            iudf: None,
            mtsf_outcome_origin: None,
            iudf_origin: None,
            mtsf_outcome_from_record: None,
            iudf_from_record: None,
            integration_zone: None,
            function: None,
            department: None,
            latitude: None,
            longitude: None,
            financial_year: None,
            amount_rand: None,
            amounts: Vec::new(),
        }
    }
}

//! Real public files from `../shared/data/real/` load through the contracts with their row counts.

use crate::common::*;
use harvester::contracts::fiscal::{Calendar, FinancialYear};
use harvester::contracts::numbers::Unit;
use harvester::contracts::Catalog;
use harvester::run::{process_with_contract, SourceOutput};
use harvester::sources::readers::{self, Cell, Format};
use harvester::sources::Fetched;

fn check(rel: &str, contract: &str, fy: Option<FinancialYear>) -> SourceOutput {
    let path = real(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let fetched = Fetched::new(
        path.display().to_string(),
        path.file_name().unwrap().to_string_lossy().into_owned(),
        bytes.into(),
    );
    let catalog = Catalog::load(None).unwrap();
    let c = catalog.get(contract).unwrap();
    process_with_contract("real", c, None, None, c.unit, fy, 1.0, &fetched)
}

#[test]
fn sa36_test_xlsx_loads_through_the_budget_contract() {
    let out = check("municipal-data/test.xlsx", "sa36_capital_budget", None);
    assert!(
        out.problems.is_empty(),
        "{:?}",
        out.problems.iter().map(ToString::to_string).collect::<Vec<_>>()
    );
    assert_eq!((out.quality.rows_read, out.quality.rows_accepted), (2, 2));
    let r = &out.records[0];
    assert_eq!(r.demarcation_code.as_deref(), Some("BUF"));
    assert_eq!(r.mscoa_project_number.as_deref(), Some("PC002003005_00002"));
    assert_eq!(r.source_row, 4);
    assert_eq!(r.financial_year.map(|y| y.label()), Some("2019/20".to_string()));
    // "R thousands" in the caption, Rand in the cells.
    assert_eq!(r.amount_rand, Some(500_000.0));
    assert_eq!(r.amounts.len(), 5);
}

#[test]
fn failtest_xlsx_names_the_bad_sheet() {
    let out = check("municipal-data/failtest.xlsx", "sa36_capital_budget", None);
    assert_eq!((out.quality.rows_read, out.quality.rows_rejected), (27, 27));
    let q = &out.quarantine[0];
    assert_eq!(q.source_sheet.as_deref(), Some("BYU"));
    assert_eq!(q.rule, "demarcation_code");
    assert_eq!(
        q.message,
        "sheet `BYU` of failtest.xlsx should be named by the municipality's demarcation code: `BYU` is not a known demarcation code or municipality name"
    );
}

#[test]
fn other_sa36_and_sc36_files_load() {
    for (rel, rows) in [
        ("municipal-data/failyear.xlsx", 27),
        ("municipal-data/quarterly.xlsx", 2),
        ("municipal-data/quarterly2021.xlsx", 2),
        ("municipal-money-gitbook/TSH.xls", 111),
    ] {
        let out = check(rel, "sa36_capital_budget", None);
        assert!(out.problems.is_empty(), "{rel}");
        assert_eq!(
            (out.quality.rows_read, out.quality.rows_accepted),
            (rows, rows),
            "{rel}"
        );
    }
    // The Tshwane line captioned "R thousands" that is really R110 million.
    let tsh = check("municipal-money-gitbook/TSH.xls", "sa36_capital_budget", None);
    let r = tsh
        .records
        .iter()
        .find(|r| r.mscoa_project_number.as_deref() == Some("PC001001002001009_00137"))
        .unwrap();
    assert!(r
        .amounts
        .iter()
        .any(|a| a.phase == "original_budget" && a.rand == 110_000_000.0));
}

#[test]
fn irm_export_loads_with_names_resolved_to_codes() {
    let fy = FinancialYear::new(Calendar::National, 2018);
    let out = check(
        "datamanager/test_import_prov_infra_projects.xlsx",
        "irm_departmental",
        Some(fy),
    );
    assert_eq!((out.quality.rows_read, out.quality.rows_accepted), (11, 11));
    let codes: Vec<&str> = out
        .records
        .iter()
        .filter_map(|r| r.demarcation_code.as_deref())
        .collect();
    // `Dr Nkosazana Dlamini Zuma` is a 2016 municipality.
    assert_eq!(codes[0], "KZN436");
    assert!(out.records.iter().all(|r| r.financial_year == Some(fy)));
}

#[test]
fn municipalities_reference_loads() {
    let path = repo().join("data/reference/municipalities.csv");
    let bytes = std::fs::read(path).unwrap();
    let sheet = readers::read(&bytes, Format::Csv, "municipalities.csv")
        .unwrap()
        .remove(0);
    assert_eq!(sheet.rows.len(), 293);
    let catalog = Catalog::load(None).unwrap();
    let c = catalog.get("municipalities").unwrap();
    let out = harvester::contracts::validate::validate(
        c,
        &[sheet],
        &harvester::contracts::validate::Options {
            unit: Unit::Rand,
            financial_year: None,
            file: "municipalities.csv".into(),
        },
    );
    assert_eq!((out.rows_read, out.rows.len()), (292, 292));
}

#[test]
fn cape_town_ledger_latin1_cr_only_reads_every_row() {
    let bytes = std::fs::read(real("odac-idp/city_budget.txt")).unwrap();
    let (_, encoding) = readers::decode_text(&bytes);
    assert_eq!(encoding, "windows-1252");
    let sheet = readers::read(&bytes, Format::Tsv, "city_budget.txt").unwrap().remove(0);
    assert_eq!(sheet.rows.len(), 1 + 1285);
    assert_eq!(sheet.rows[0].cells[13], Cell::Text("Ward".into()));
}

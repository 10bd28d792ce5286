//! Real public files from `../shared/data/real/` load through the contracts with their row counts.

use crate::common::*;
use harvester::contracts::Catalog;
use harvester::domain::fiscal::{Calendar, FinancialYear};
use harvester::domain::Location;
use harvester::domain::Unit;
use harvester::run::ingest::{validate_fetched, SourceOutput};
use harvester::sources::readers::{self, Cell, Format};
use harvester::sources::Fetched;
use harvester::sources::SourceSpec;

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
    let spec = SourceSpec {
        financial_year: fy,
        max_reject_ratio: 1.0,
        ..SourceSpec::new("real", Location::Local(path.clone()), contract, c.unit)
    };
    validate_fetched(&spec, c, &fetched)
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

/// SC36 in-year files: the record's year is the file's own (its original and adjusted budget's),
/// not the audited columns', and the monthly and quarterly actuals are read.
#[test]
fn sc36_files_take_their_own_year_and_read_monthly_actuals() {
    // (file, the file's year, the figure for BUF's row 5 read off the sheet by hand: every
    // month, every quarter and YTD agree).
    for (rel, year, row5) in [
        ("municipal-data/quarterly.xlsx", 2019, 2_847_782.0),
        ("municipal-data/quarterly2021.xlsx", 2020, 2_837_754.0),
    ] {
        let out = check(rel, "sa36_capital_budget", None);
        assert_eq!(out.records.len(), 2, "{rel}");
        for r in &out.records {
            // Not 2018 or 2019 from the audited columns that restate earlier years.
            assert_eq!(r.financial_year.map(|y| y.start_year), Some(year), "{rel}");
        }
        let r = out.records.iter().find(|r| r.record_id.ends_with(":5")).unwrap();
        let amount = |p: &str| {
            r.amounts
                .iter()
                .filter(|a| a.year.start_year == year && a.phase == p)
                .map(|a| a.rand)
                .sum::<f64>()
        };
        let months: f64 = (1..=12).map(|m| amount(&format!("actual_m{m:02}"))).sum();
        let quarters: f64 = (1..=4).map(|q| amount(&format!("actual_q{q}"))).sum();
        assert_eq!((months, quarters, amount("actual_ytd")), (row5, row5, row5), "{rel}");
    }
    // Tshwane's SC36 for 2019/20, period M09: actuals for July to March, nothing after.
    let tsh = check("municipal-money-gitbook/TSH.xls", "sa36_capital_budget", None);
    assert!(tsh
        .records
        .iter()
        .all(|r| r.financial_year.map(|y| y.start_year) == Some(2019)));
    let phases: std::collections::BTreeSet<&str> = tsh
        .records
        .iter()
        .flat_map(|r| r.amounts.iter().map(|a| a.phase.as_str()))
        .collect();
    assert!(
        phases.contains("actual_m09") && phases.contains("actual_q3"),
        "{phases:?}"
    );
    assert!(!phases.contains("actual_m10"), "{phases:?}");
}

/// Issue #13: each real SC36 gives its own financial year and the period its title states
/// ("period ending (M09) 31 March 2020"), read from the last month with actuals; BUF 2019/20's
/// two lines as on the sheet: 10,800 of an adjusted 613,896 and 2,847,782 of 9,631,789.
#[test]
fn real_sc36_files_give_their_year_and_period_in_spending_performance() {
    use harvester::metrics::spending::spending_rows;
    // (file, year, period, lines): 21 of Tshwane's 111 rows carry only the 2018/19 audited
    // outcome or no amount at all, so nothing to measure for 2019/20.
    for (rel, year, period, lines) in [
        ("municipal-data/quarterly.xlsx", 2019, "M09", 2),
        ("municipal-data/quarterly2021.xlsx", 2020, "M12", 2),
        ("municipal-money-gitbook/TSH.xls", 2019, "M09", 90),
    ] {
        let out = check(rel, "sa36_capital_budget", None);
        let rows = spending_rows(&out.records);
        assert_eq!(rows.len(), lines, "{rel}");
        for r in &rows {
            assert_eq!(r.financial_year.start_year, year, "{rel}");
            assert_eq!(r.period().as_deref(), Some(period), "{rel} {}", r.record_id);
            assert_eq!(r.expected_share(), f64::from(r.months_elapsed) / 12.0);
        }
    }
    let out = check("municipal-data/quarterly.xlsx", "sa36_capital_budget", None);
    let rows = spending_rows(&out.records);
    let got: Vec<(Option<f64>, f64)> = rows
        .iter()
        .map(|r| (r.adjusted_budget_rand, r.actual_ytd_rand))
        .collect();
    assert_eq!(got, [(Some(613_896.0), 10_800.0), (Some(9_631_789.0), 2_847_782.0)]);
    let rate = rows[1].spend_rate().unwrap();
    assert!((rate - 2_847_782.0 / 9_631_789.0).abs() < 1e-12);
    assert!((rows[1].gap().unwrap() - (rate - 0.75)).abs() < 1e-12);
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

#[test]
fn cape_town_ledger_loads_through_its_contract() {
    let fy = FinancialYear::new(Calendar::Municipal, 2013);
    let out = check("odac-idp/city_budget.txt", "cct_capital_ledger", Some(fy));
    assert!(
        out.problems.is_empty(),
        "{:?}",
        out.problems.iter().map(ToString::to_string).collect::<Vec<_>>()
    );
    assert_eq!((out.quality.rows_read, out.quality.rows_accepted), (1285, 1285));
    assert!(out.records.iter().all(|r| r.demarcation_code.as_deref() == Some("CPT")));
    // SOURCES.md: the August adjustments sum to about R5.61 billion.
    let adjusted: f64 = out
        .records
        .iter()
        .flat_map(|r| &r.amounts)
        .filter(|a| a.phase == "adjusted_budget")
        .map(|a| a.rand)
        .sum();
    assert!((5.55e9..5.67e9).contains(&adjusted), "{adjusted}");
    // Ward 201 is a non-ward item, not a ward.
    let non_ward = out
        .records
        .iter()
        .filter(|r| r.ward_scope.as_deref() == Some("non_ward"))
        .count();
    assert!(non_ward > 0);
    assert!(out
        .records
        .iter()
        .filter(|r| r.ward_scope.as_deref() == Some("ward"))
        .all(|r| r.ward_codes.as_deref().is_some_and(|c| c.starts_with("19100"))));
}

#[test]
fn epre_budget_book_converts_thousands_and_quarantines_subtotals() {
    let out = check(
        "treasury-pipelines/SubProgramme Details - EPRE 2018-19 Tabled.csv",
        "epre_subprogramme",
        None,
    );
    assert_eq!(out.quality.rows_read, 3074);
    assert_eq!(
        out.quality.rows_read,
        out.quality.rows_accepted + out.quality.rows_rejected
    );
    assert!(out.quarantine.iter().all(|q| q.rule == "subtotal"));
    // Eastern Cape, Economic Development, Administration, Corporate Services: R62,040 thousand.
    let row = out.quarantine.len(); // subtotals are not records
    assert!(row > 0);
    let first = out
        .records
        .iter()
        .find(|r| r.source_row == 5)
        .expect("row 5 is a sub-programme");
    let a = first.amounts.iter().find(|a| a.year.start_year == 2018).unwrap();
    assert_eq!(a.rand, 62_040_000.0);
}

#[test]
fn national_large_projects_and_capital_cube_load() {
    let out = check(
        "datamanager/infrastructure-projects-2019-20.csv",
        "national_infrastructure",
        None,
    );
    assert_eq!((out.quality.rows_read, out.quality.rows_accepted), (175, 175));
    let r = &out.records[0];
    assert_eq!(r.financial_year.map(|y| y.label()), Some("2015/16".to_string()));
    assert_eq!(r.amount_rand, Some(1_368_285_000.0));
    for (rel, rows) in [("municipal-data/insert.csv", 67), ("municipal-data/update.csv", 134)] {
        let out = check(rel, "mscoa_capital_cube", None);
        assert_eq!(
            (out.quality.rows_read, out.quality.rows_accepted),
            (rows, rows),
            "{rel}"
        );
    }
    // `2018AUDA` is the audited 2017/18 year: Treasury period codes carry the year's end.
    let out = check("municipal-data/update.csv", "mscoa_capital_cube", None);
    assert!(out
        .records
        .iter()
        .all(|r| r.financial_year.map(|y| y.start_year) == Some(2017)));
}

#[test]
fn every_other_real_table_reads_with_its_row_count() {
    let csvs = [
        ("municipal-data/amount_type_v2.csv", 13),
        ("municipal-data/capital_type_v2.csv", 6),
        ("municipal-data/capital_items_v2.csv", 120),
        ("municipal-data/government_functions_v2.csv", 99),
        ("municipal-data/scorecard_geography.csv", 3),
        ("municipal-data/municipal_finance_demarcationchanges.csv", 2),
        ("municipal-data/category_details.csv", 13),
        ("municipal-data/indicator_details.csv", 138),
        ("municipal-data/data_elements.csv", 966),
        ("municipal-data/capital_facts_v1.csv", 356),
        ("municipal-data/capital_facts_v2.csv", 3981),
        ("municipal-data/capital_2015q4.csv", 57),
        ("datamanager/test_data.csv", 3),
        ("wazimap/00_demarcation_2011.ward.csv", 4277),
        ("wazimap/00_demarcation_2011.municipality.csv", 234),
        ("wazimap/00_demarcation_2011.district.csv", 52),
        ("wazimap/00_demarcation_2011.province.csv", 9),
        ("wazimap/00_demarcation_2011.country.csv", 1),
    ];
    for (rel, rows) in csvs {
        let bytes = std::fs::read(real(rel)).unwrap();
        let sheet = readers::read(&bytes, Format::Csv, rel).unwrap().remove(0);
        assert_eq!(sheet.rows.len() - 1, rows, "{rel}");
    }
    for (rel, rows) in [
        ("municipal-data/infra-demo-data.json", 53),
        ("municipal-data/test_infrastructure.json", 18),
    ] {
        let bytes = std::fs::read(real(rel)).unwrap();
        let sheet = readers::read(&bytes, Format::Json, rel).unwrap().remove(0);
        assert_eq!(sheet.rows.len() - 1, rows, "{rel}");
        assert!(sheet.rows[0].cells.contains(&Cell::Text("model".into())), "{rel}");
    }
    // The SDBIP template: two sheets with the documented non-empty rows.
    let bytes = std::fs::read(real("municipal-money-gitbook/Template.xlsx")).unwrap();
    let sheets = readers::read(&bytes, Format::Xlsx, "Template.xlsx").unwrap();
    let non_empty: Vec<(String, usize)> = sheets
        .iter()
        .map(|s| (s.name.clone().unwrap(), s.rows.iter().filter(|r| !r.is_blank()).count()))
        .collect();
    assert!(
        non_empty.contains(&("2018-19 Quarter 4".to_string(), 95)),
        "{non_empty:?}"
    );
    assert!(
        non_empty.contains(&("2018-19 Annual indicators".to_string(), 23)),
        "{non_empty:?}"
    );
}

#[test]
fn parquet_round_trips_through_the_reader() {
    use polars::prelude::*;
    let mut df = df!("demarcation_code" => ["BUF", "EC122"], "idp_project_ref" => ["A", "B"], "project_name" => ["Hall", "Road"],
        "financial_year" => ["2024/25", "2024/25"], "amount" => [1.5e6, 2.0e6]).unwrap();
    let bytes = harvester::publish::to_parquet(&mut df).unwrap();
    let fetched = Fetched::new("x.parquet".into(), "x.parquet".into(), bytes.into());
    let catalog = Catalog::load(None).unwrap();
    let c = catalog.get("idp_register").unwrap();
    let spec = SourceSpec {
        max_reject_ratio: 0.0,
        ..SourceSpec::new("pq", Location::Local("x.parquet".into()), "idp_register", c.unit)
    };
    let out = validate_fetched(&spec, c, &fetched);
    assert_eq!((out.quality.rows_read, out.quality.rows_accepted), (2, 2));
    assert_eq!(out.records[1].amount_rand, Some(2.0e6));
    assert_eq!(out.records[1].source_row, 2);
}

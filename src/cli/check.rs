//! `harvester check FILE --contract NAME`: one file through a contract, as tonight's run would
//! read it — the source compiled by the pipeline's own `config::compile_source`.

use super::runtime;
use crate::config::{compile_source, Compiler, RawSource};
use crate::contracts::{Catalog, Contract};
use crate::sources::readers::Format;
use crate::sources::SourceSpec;
use crate::Error;
use std::path::Path;
use std::process::ExitCode;

/// The source `harvester check` reads, compiled as the same keys in a pipeline's `[[sources]]`
/// would be (`config::compile_source`), so `--sheet` matches sheets as `sheets` does; it accepts
/// every reject ratio and an empty file. A problem is named by its flag.
fn check_spec(
    path: &str,
    contract: &str,
    sheet: Option<&str>,
    unit: Option<&str>,
    financial_year: Option<&str>,
    cwd: &Path,
) -> Result<(SourceSpec, Contract), Vec<String>> {
    let catalog =
        Catalog::load(None).map_err(|e| vec![e.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")])?;
    let raw = RawSource {
        name: Some("check".into()),
        location: Some(path.into()),
        contract: Some(contract.into()),
        unit: unit.map(str::to_string),
        sheets: sheet.map(str::to_string),
        financial_year: financial_year.map(str::to_string),
        max_reject_ratio: Some(1.0),
        min_rows: Some(0),
        ..Default::default()
    };
    let mut c = Compiler::new("harvester check", cwd, cwd);
    let spec = compile_source(raw, "check", &catalog, &mut c);
    if !c.diags.is_empty() {
        let flag = |key: &str| match key {
            "check.unit" => "--unit: ",
            "check.sheets" => "--sheet: ",
            "check.financial_year" => "--financial-year: ",
            _ => "",
        };
        let lines: Vec<String> = c
            .diags
            .iter()
            .map(|d| format!("{}{}", flag(&d.key), d.message))
            .collect();
        return Err(lines);
    }
    let mut spec = spec.expect("a source without problems compiles");
    spec.format = spec.format.or(Format::from_path(path));
    let contract = catalog
        .get(&spec.contract)
        .cloned()
        .expect("compiled against this catalog");
    Ok((spec, contract))
}

pub(super) fn cmd_check(
    path: &str,
    contract: &str,
    sheet: Option<&str>,
    unit: Option<&str>,
    financial_year: Option<&str>,
    json: bool,
    cwd: &Path,
) -> Result<ExitCode, Error> {
    let (spec, contract) = check_spec(path, contract, sheet, unit, financial_year, cwd).map_err(Error::Usage)?;
    let fetched = runtime()
        .block_on(crate::sources::fetch(
            &spec.name,
            &spec.location,
            &spec.http,
            None,
            None,
        ))
        .map_err(Error::failed)?
        .remove(0);
    let out = crate::run::ingest::validate_fetched(&spec, &contract, &fetched);
    let mut by_rule: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for q in out.quarantine.iter().filter(|q| q.severity == "error") {
        *by_rule.entry(q.rule.clone()).or_default() += 1;
    }
    let problems: Vec<String> = out.problems.iter().map(ToString::to_string).collect();
    if json {
        let v = serde_json::json!({
            "file": fetched.file_name,
            "contract": contract.name,
            "rows_read": out.quality.rows_read,
            "accepted": out.quality.rows_accepted,
            "quarantined": out.quality.rows_rejected,
            "warnings": out.quality.warnings,
            "by_rule": by_rule,
            "problems": problems,
            "first_rejected": out.quarantine.iter().filter(|q| q.severity == "error").take(5).map(|q| serde_json::json!({
                "sheet": q.source_sheet, "row": q.source_row, "column": q.column, "rule": q.rule, "raw_value": q.raw_value, "message": q.message,
            })).collect::<Vec<_>>(),
        });
        println!("{v}");
    } else {
        println!("{}: contract `{}`", fetched.file_name, contract.name);
        println!(
            "  rows read {}, accepted {}, quarantined {}, warnings {}",
            out.quality.rows_read, out.quality.rows_accepted, out.quality.rows_rejected, out.quality.warnings
        );
        for (rule, n) in &by_rule {
            println!("  {rule}: {n}");
        }
        for q in out.quarantine.iter().filter(|q| q.severity == "error").take(5) {
            println!(
                "  rejected: sheet {} row {} column `{}`: {}",
                q.source_sheet.as_deref().unwrap_or("-"),
                q.source_row.unwrap_or(0),
                q.column,
                q.message
            );
        }
        for p in &problems {
            println!("  problem: {p}");
        }
    }
    // Problems in the file are the check's answer, not an error: exit 1 without `error:`.
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #11: `harvester check --sheet` compiles as a pipeline's `sheets` does (it used to be
    /// anchored while `sheets` was not), and the other flags as their keys.
    #[test]
    fn check_flags_compile_like_the_pipeline_source() {
        let cwd = Path::new("/w");
        let (spec, contract) = check_spec(
            "budget.xlsx",
            "sa36_capital_budget",
            Some("A5"),
            Some("thousand"),
            Some("2024/25"),
            cwd,
        )
        .unwrap();
        let text = "name = \"t\"\n[[sources]]\nname = \"check\"\nlocation = \"budget.xlsx\"\ncontract = \"sa36_capital_budget\"\nsheets = \"A5\"\nunit = \"thousand\"\nfinancial_year = \"2024/25\"\n";
        let pipeline = crate::config::Pipeline::parse(text, "t.toml", cwd, cwd).unwrap();
        let source = &pipeline.sources[0];
        assert_eq!(contract.name, source.contract);
        assert_eq!(spec.location, source.location);
        assert_eq!(spec.unit, source.unit);
        assert_eq!(spec.financial_year, source.financial_year);
        let (a, b) = (spec.sheets.unwrap(), source.sheets.clone().unwrap());
        assert_eq!(a.as_str(), b.as_str());
        for name in ["A5", "Table A5 capital"] {
            assert!(a.is_match(name) && b.is_match(name), "{name}");
        }
        assert_eq!(spec.format, Some(Format::Xlsx));
        assert_eq!((spec.max_reject_ratio, spec.min_rows), (1.0, 0));
    }

    #[test]
    fn check_names_each_bad_flag() {
        let e = check_spec(
            "b.xlsx",
            "sa36_capital_budget",
            Some("("),
            Some("pounds"),
            Some("soon"),
            Path::new("/w"),
        )
        .unwrap_err();
        assert!(
            e[0].starts_with("--unit: expected `rand`, `thousand` or `million`, found `pounds`"),
            "{e:?}"
        );
        assert!(e[1].starts_with("--sheet: invalid regular expression `(`"), "{e:?}");
        assert!(e[2].starts_with("--financial-year: "), "{e:?}");
        let e = check_spec("b.xlsx", "nope", None, None, None, Path::new("/w")).unwrap_err();
        assert!(e[0].starts_with("unknown contract `nope`; expected one of"), "{e:?}");
    }
}

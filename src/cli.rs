//! The command line: `run`, `validate`, `check` and `synth`.
//!
//! Exit codes: 0 success; 1 the run or check failed (bad input data, unreachable source); 2 the
//! user's configuration or arguments are wrong. Errors go to stderr as one message listing every
//! problem; the run summary goes to stdout.

use crate::config::Pipeline;
use crate::contracts::fiscal::{FinancialYear, YearLabel};
use crate::contracts::numbers::Unit;
use crate::contracts::Catalog;
use crate::sources::location::Location;
use crate::sources::readers::Format;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Budget-to-plan reconciliation for South African public finance: pulls municipal capital
/// budgets (SA36), IDP registers, BEPP pipelines and departmental infrastructure lists, links the
/// same project across spheres, and publishes Parquet tables and alignment metrics.
#[derive(Debug, Parser)]
#[command(name = "harvester", version, about, long_about = None)]
pub struct Cli {
    /// Log progress (info level) to stderr; RUST_LOG overrides.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline once and publish its tables (default: the bundled sample).
    Run {
        /// Pipeline file.
        #[arg(default_value = "pipelines/sample.toml")]
        pipeline: PathBuf,
        /// Replace one source's location for this run: NAME=URL (repeatable).
        #[arg(long = "source", value_name = "NAME=URL")]
        sources: Vec<String>,
        /// Replace the publish location (path or s3://, az://, gs:// URL).
        #[arg(long, value_name = "URL")]
        out: Option<String>,
    },
    /// Check pipelines and the contracts they name without running anything.
    Validate {
        /// Pipeline files (default: every pipelines/*.toml).
        pipelines: Vec<PathBuf>,
    },
    /// Load one file through a contract and report what would be accepted and quarantined.
    Check {
        /// File path or URL.
        path: String,
        /// Contract name (see `schemas/`).
        #[arg(long)]
        contract: String,
        /// Only read sheets whose names match this pattern.
        #[arg(long)]
        sheet: Option<String>,
        /// Unit of the file's amounts (rand, thousand, million); default: the contract's.
        #[arg(long)]
        unit: Option<String>,
        /// Financial year for files that do not state it (e.g. 2024/25).
        #[arg(long)]
        financial_year: Option<String>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Generate the bundled sample data (deterministic for a seed).
    Synth {
        /// Output folder.
        #[arg(long, default_value = "sample")]
        out: PathBuf,
        /// Random seed.
        #[arg(long, default_value_t = 2024)]
        seed: u64,
    },
}

/// Entry point used by `main.rs`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let default = if cli.verbose {
        "harvester=info"
    } else {
        "harvester=warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cwd = std::env::current_dir().unwrap_or_default();
    match cli.command {
        Command::Run { pipeline, sources, out } => cmd_run(&pipeline, &sources, out.as_deref(), &cwd),
        Command::Validate { pipelines } => cmd_validate(pipelines, &cwd),
        Command::Check {
            path,
            contract,
            sheet,
            unit,
            financial_year,
            json,
        } => cmd_check(
            &path,
            &contract,
            sheet.as_deref(),
            unit.as_deref(),
            financial_year.as_deref(),
            json,
            &cwd,
        ),
        Command::Synth { out, seed } => match crate::synth::write_sample(&out, seed) {
            Ok(files) => {
                for f in files {
                    println!("wrote {}", f.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
}

fn cmd_run(pipeline: &Path, sources: &[String], out: Option<&str>, cwd: &Path) -> ExitCode {
    let mut p = match Pipeline::load(pipeline, cwd) {
        Ok(p) => p,
        Err(e) => {
            eprint!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut errors = Vec::new();
    for s in sources {
        if let Err(e) = p.override_source(s, cwd) {
            errors.push(e);
        }
    }
    if let Some(o) = out {
        if let Err(e) = p.override_publish(o, cwd) {
            errors.push(e);
        }
    }
    if !errors.is_empty() {
        for e in errors {
            eprintln!("error: {e}");
        }
        return ExitCode::from(2);
    }
    match runtime().block_on(crate::run::run(&p, chrono::Utc::now())) {
        Ok(report) => {
            print!("{}", crate::summary::render(&report));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: run of pipeline `{}` failed: {e}", p.name);
            ExitCode::FAILURE
        }
    }
}

fn cmd_validate(mut pipelines: Vec<PathBuf>, cwd: &Path) -> ExitCode {
    if pipelines.is_empty() {
        let dir = cwd.join("pipelines");
        if let Ok(entries) = std::fs::read_dir(&dir) {
            pipelines = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            pipelines.sort();
        }
        if pipelines.is_empty() {
            eprintln!("error: no pipeline files given and none found in {}", dir.display());
            return ExitCode::from(2);
        }
    }
    let mut all = Vec::new();
    for path in &pipelines {
        match Pipeline::load(path, cwd) {
            Ok(p) => println!(
                "ok: {} (pipeline `{}`, {} sources)",
                path.display(),
                p.name,
                p.sources.len()
            ),
            Err(e) => all.extend(e.0),
        }
    }
    if all.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprint!("error: {}", crate::config::ConfigError(all));
        ExitCode::from(2)
    }
}

fn cmd_check(
    path: &str,
    contract: &str,
    sheet: Option<&str>,
    unit: Option<&str>,
    financial_year: Option<&str>,
    json: bool,
    cwd: &Path,
) -> ExitCode {
    let usage = |m: String| {
        eprintln!("error: {m}");
        ExitCode::from(2)
    };
    let catalog = match Catalog::load(None) {
        Ok(c) => c,
        Err(e) => return usage(e.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")),
    };
    let Some(contract) = catalog.get(contract).cloned() else {
        return usage(format!(
            "unknown contract `{contract}`; expected one of {}",
            catalog.names().join(", ")
        ));
    };
    let location = match Location::parse(path, cwd) {
        Ok(l) => l,
        Err(e) => return usage(e.to_string()),
    };
    let unit = match unit {
        None => contract.unit,
        Some(u) => match Unit::parse(u) {
            Some(u) => u,
            None => return usage(format!("--unit: expected rand, thousand or million, found `{u}`")),
        },
    };
    let fy = match financial_year {
        None => None,
        Some(y) => match FinancialYear::parse(y, contract.calendar, YearLabel::Start) {
            Ok(fy) => Some(fy),
            Err(e) => return usage(format!("--financial-year: {e}")),
        },
    };
    let sheets = match sheet.map(|s| regex::Regex::new(&format!("^(?:{s})$"))) {
        None => None,
        Some(Ok(r)) => Some(r),
        Some(Err(e)) => return usage(format!("--sheet: {e}")),
    };
    let spec = crate::config::SourceSpec {
        name: "check".into(),
        location,
        format: Format::from_path(path),
        contract: contract.name.clone(),
        unit,
        sheets: sheets.clone(),
        financial_year: fy,
        max_reject_ratio: 1.0,
    };
    let fetched = match runtime().block_on(crate::sources::fetch(&spec)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let out = crate::run::process_with_contract(
        "check",
        &contract,
        spec.format,
        sheets.as_ref(),
        unit,
        fy,
        1.0,
        &fetched,
    );
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
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

//! The command line: the arguments (`Cli`), one file per command (`run.rs`, `serve.rs`,
//! `validate.rs`, `check.rs`, `bench.rs` with `eval`, `versions.rs`; `synth` here), and the one
//! place (`exit`) where a command's [`Error`] becomes its message and exit code.
//!
//! Exit codes: 0 success; 1 the run or check failed (bad input data, unreachable source); 2 the
//! user's configuration or arguments are wrong. Errors go to stderr as one message listing every
//! problem; the run summary goes to stdout.

use crate::Error;

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod bench;
mod check;
mod run;
mod serve;
mod validate;
mod versions;

/// Budget-to-plan reconciliation for South African public finance: pulls municipal capital
/// budgets (SA36), IDP registers, BEPP pipelines and departmental infrastructure lists, links the
/// same project across spheres, and publishes Parquet tables and alignment metrics.
#[derive(Debug, Parser)]
#[command(name = "harvester", version, about, long_about = None)]
pub struct Cli {
    /// Log progress (info level) to stderr; RUST_LOG overrides.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Log line format on stderr (default: json when stderr is not a terminal or under
    /// systemd/Kubernetes, else text).
    #[arg(long, global = true, value_enum, env = "HARVESTER_LOG_FORMAT")]
    pub log_format: Option<crate::logging::LogFormat>,
    /// Run-history database (SQLite); every run is recorded there.
    #[arg(
        long,
        global = true,
        env = "HARVESTER_HISTORY",
        default_value = ".harvester/history.sqlite"
    )]
    pub history: PathBuf,
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
        /// Rerun from exactly the inputs of an earlier run (its run id, or a time such as
        /// 2026-11-01 or 2026-11-01T02:00:00Z: the latest run started by then), read from the
        /// raw zone without touching the network.
        #[arg(long, value_name = "RUN_ID|TIME")]
        as_of: Option<String>,
        /// Only this municipal financial year, e.g. 2025/26 (repeatable). Makes the run a
        /// scenario run: it publishes under `scenarios/<name>/` and leaves the live outputs alone.
        #[arg(long = "financial-year", value_name = "YEAR")]
        financial_years: Vec<String>,
        /// Only this municipality, by demarcation code or name (repeatable). Makes the run a
        /// scenario run.
        #[arg(long = "municipality", value_name = "CODE")]
        municipalities: Vec<String>,
        /// Publish under scenarios/NAME/ instead of the live outputs (default for a filtered
        /// run: named after the filter, e.g. fy2025-BUF-EC121).
        #[arg(long, value_name = "NAME")]
        scenario: Option<String>,
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
    /// Run the service: schedules, run history and the HTTP API.
    ///
    /// Mutating API endpoints need a bearer token from HARVESTER_API_TOKEN or the file named by
    /// HARVESTER_API_TOKEN_FILE; without one they are disabled.
    Serve {
        /// Folder of pipeline files; every `*.toml` in it is loaded.
        #[arg(long, default_value = "pipelines")]
        pipelines: PathBuf,
        /// Address to listen on (port 0 picks a free port; the address is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Seconds a running job may take to finish after SIGTERM/SIGINT before it is marked
        /// interrupted.
        #[arg(long, default_value_t = 60)]
        grace_secs: u64,
    },
    /// Generate the bundled sample data (deterministic for a seed); with --municipalities, the
    /// national-scale world with ground truth (truth.csv) and its pipeline (national.toml).
    Synth {
        /// Output folder.
        #[arg(long, default_value = "sample")]
        out: PathBuf,
        /// Random seed.
        #[arg(long, default_value_t = 2024)]
        seed: u64,
        /// National scale: this many municipalities (metros first; 257 = all).
        #[arg(long)]
        municipalities: Option<usize>,
        /// National scale: this many budget years from 2024/25.
        #[arg(long, default_value_t = 3)]
        years: usize,
    },
    /// The Delta tables under `<out>/tables/`: every version and the run that wrote it; with
    /// --run, that run's version of each table; with --run and --export, copies those versions'
    /// Parquet files into DIR/<table>/.
    Versions {
        /// Publish location (path or s3://, az://, gs:// URL).
        #[arg(long, default_value = "out")]
        out: String,
        /// Only this table.
        #[arg(long)]
        table: Option<String>,
        /// A run id: the table versions it wrote.
        #[arg(long, value_name = "RUN_ID")]
        run: Option<String>,
        /// With --run: copy that run's data files here, one folder per table.
        #[arg(long, value_name = "DIR", requires = "run")]
        export: Option<PathBuf>,
    },
    /// Score a published run's accepted links against a truth file (precision, recall, F1).
    Eval {
        /// Publish location of the run (its manifest.json is read).
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Truth file: link_type,demarcation_code,left_key,right_key.
        #[arg(long)]
        truth: PathBuf,
    },
    /// National-scale benchmark: generate, run from ingest to publish, and report wall time,
    /// peak memory, pairs compared per second, and linking quality against the truth.
    Bench {
        /// Municipalities (257 = all).
        #[arg(long, default_value_t = 257)]
        municipalities: usize,
        /// Budget years.
        #[arg(long, default_value_t = 3)]
        years: usize,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Keep the generated worlds and outputs in this folder, one subfolder per profile
        /// (default: temporary folders).
        #[arg(long)]
        keep: Option<PathBuf>,
        /// Noise profile to run (repeatable): default, sparse, abbreviated, generic, terse. Default: all
        /// of them, then each link type's F1 per profile and the worst.
        #[arg(long)]
        profile: Vec<String>,
        /// An earlier harvester binary (the commit before a change) to run on each same world
        /// after this build: its wall time, link stage, peak memory and F1 are printed beside
        /// this build's, with the ratios.
        #[arg(long)]
        baseline: Option<PathBuf>,
    },
}

/// Entry point used by `main.rs`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::logging::init(cli.verbose, cli.log_format);
    let cwd = std::env::current_dir().unwrap_or_default();
    exit(dispatch(cli, &cwd))
}

/// A command that failed: the error, and whether it is told as `error: …` lines on stderr (the
/// command-line tools) or as an ERROR log line (`run` and `serve`, whose output is log lines).
pub(crate) struct Failure {
    error: Error,
    as_log: bool,
}

impl Failure {
    /// Told on stderr as `error: …`.
    fn stderr(error: Error) -> Self {
        Self { error, as_log: false }
    }

    /// Told as an ERROR log line.
    fn log(error: Error) -> Self {
        Self { error, as_log: true }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::stderr(error)
    }
}

/// The one place a command's outcome becomes the process's exit code and error text: 0 (or the
/// command's own code), 2 for the user's configuration or arguments, 1 for failed work.
fn exit(result: Result<ExitCode, Failure>) -> ExitCode {
    let Failure { error, as_log } = match result {
        Ok(code) => return code,
        Err(f) => f,
    };
    match &error {
        _ if as_log => crate::logging::say(tracing::Level::ERROR, &error.to_string()),
        // A ConfigError's text ends with its own newline.
        Error::Config(e) => eprint!("error: {e}"),
        Error::Usage(lines) => {
            for line in lines {
                eprintln!("error: {line}");
            }
        }
        Error::Failed(e) => eprintln!("error: {e}"),
    }
    ExitCode::from(error.exit_code())
}

/// Runs the chosen command.
fn dispatch(cli: Cli, cwd: &Path) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Run {
            pipeline,
            sources,
            out,
            as_of,
            financial_years,
            municipalities,
            scenario,
        } => run::cmd_run(
            &pipeline,
            &sources,
            out.as_deref(),
            run::RunFilter {
                as_of,
                financial_years,
                municipalities,
                scenario,
            },
            cwd,
            &cli.history,
        ),
        Command::Serve {
            pipelines,
            listen,
            grace_secs,
        } => serve::cmd_serve(&pipelines, &listen, grace_secs, cwd, &cli.history),
        Command::Validate { pipelines } => Ok(validate::cmd_validate(pipelines, cwd)?),
        Command::Check {
            path,
            contract,
            sheet,
            unit,
            financial_year,
            json,
        } => Ok(check::cmd_check(
            &path,
            &contract,
            sheet.as_deref(),
            unit.as_deref(),
            financial_year.as_deref(),
            json,
            cwd,
        )?),
        Command::Versions {
            out,
            table,
            run,
            export,
        } => Ok(versions::cmd_versions(
            &out,
            table.as_deref(),
            run.as_deref(),
            export.as_deref(),
            cwd,
        )?),
        Command::Eval { out, truth } => Ok(bench::cmd_eval(&out, &truth)?),
        Command::Bench {
            municipalities,
            years,
            seed,
            keep,
            profile,
            baseline,
        } => Ok(bench::cmd_bench(municipalities, years, seed, keep, profile, baseline)?),
        Command::Synth {
            out,
            seed,
            municipalities,
            years,
        } => Ok(cmd_synth(&out, seed, municipalities, years)?),
    }
}

/// `harvester synth`: the bundled sample, or with `--municipalities` the national world.
fn cmd_synth(out: &Path, seed: u64, municipalities: Option<usize>, years: usize) -> Result<ExitCode, Error> {
    match municipalities {
        Some(n) => {
            let scale = crate::synth::national::Scale {
                municipalities: n,
                years,
                seed,
                noise: crate::synth::national::Noise::DEFAULT,
            };
            let w = crate::synth::national::write(out, scale).map_err(Error::failed)?;
            println!("wrote {} files to {}: {}", w.files.len(), out.display(), w.counts());
        }
        None => {
            for f in crate::synth::write_sample(out, seed).map_err(Error::failed)? {
                println!("wrote {}", f.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A multi-threaded runtime for one command.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

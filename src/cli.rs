//! The command line: `run`, `validate`, `check` and `synth`.
//!
//! Exit codes: 0 success; 1 the run or check failed (bad input data, unreachable source); 2 the
//! user's configuration or arguments are wrong. Errors go to stderr as one message listing every
//! problem; the run summary goes to stdout.

use crate::config::Pipeline;
use crate::contracts::fiscal::{FinancialYear, YearLabel};
use crate::contracts::numbers::Unit;
use crate::contracts::Catalog;
use crate::sources::location::{redact_text, Location};
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
    },
}

/// Entry point used by `main.rs`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::logging::init(cli.verbose, cli.log_format);
    let cwd = std::env::current_dir().unwrap_or_default();
    match cli.command {
        Command::Run {
            pipeline,
            sources,
            out,
            as_of,
            financial_years,
            municipalities,
            scenario,
        } => cmd_run(
            &pipeline,
            &sources,
            out.as_deref(),
            RunFilter {
                as_of,
                financial_years,
                municipalities,
                scenario,
            },
            &cwd,
            &cli.history,
        ),
        Command::Serve {
            pipelines,
            listen,
            grace_secs,
        } => cmd_serve(&pipelines, &listen, grace_secs, &cwd, &cli.history),
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
        Command::Versions {
            out,
            table,
            run,
            export,
        } => crate::versions::cmd(&out, table.as_deref(), run.as_deref(), export.as_deref(), &cwd),
        Command::Eval { out, truth } => match crate::bench::evaluate(&out, &truth) {
            Ok(scores) => {
                print!("{}", render_scores(&scores));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Bench {
            municipalities,
            years,
            seed,
            keep,
            profile,
        } => cmd_bench(municipalities, years, seed, keep, profile),
        Command::Synth {
            out,
            seed,
            municipalities: Some(n),
            years,
        } => {
            match crate::synth::national::write(
                &out,
                crate::synth::national::Scale {
                    municipalities: n,
                    years,
                    seed,
                    noise: crate::synth::national::Noise::DEFAULT,
                },
            ) {
                Ok(w) => {
                    println!("wrote {} files to {}: {}", w.files.len(), out.display(), w.counts());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Synth {
            out,
            seed,
            municipalities: None,
            ..
        } => match crate::synth::write_sample(&out, seed) {
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

fn render_scores(scores: &[crate::bench::Score]) -> String {
    let rows: Vec<Vec<String>> = scores
        .iter()
        .map(|s| {
            vec![
                s.link_type.clone(),
                s.truth.to_string(),
                s.predicted.to_string(),
                s.correct.to_string(),
                format!("{:.3}", s.precision()),
                format!("{:.3}", s.recall()),
                format!("{:.3}", s.f1()),
            ]
        })
        .collect();
    crate::summary::table(
        &["link type", "true", "predicted", "correct", "precision", "recall", "F1"],
        &rows,
    )
}

fn cmd_bench(municipalities: usize, years: usize, seed: u64, keep: Option<PathBuf>, profiles: Vec<String>) -> ExitCode {
    let mut chosen = Vec::new();
    for name in &profiles {
        match crate::synth::national::Noise::named(name) {
            Some(p) => chosen.push(p),
            None => {
                let known: Vec<&str> = crate::synth::national::Noise::PROFILES.iter().map(|p| p.name).collect();
                eprintln!("error: --profile {name}: expected one of {}", known.join(", "));
                return ExitCode::from(2);
            }
        }
    }
    if chosen.is_empty() {
        chosen = crate::synth::national::Noise::PROFILES.to_vec();
    }
    let mut all: Vec<(&'static str, Vec<crate::bench::Score>)> = Vec::new();
    for noise in chosen {
        let scale = crate::synth::national::Scale {
            municipalities,
            years,
            seed,
            noise,
        };
        let dir = keep.as_ref().map(|k| k.join(noise.name));
        match bench_profile(scale, dir) {
            Some(scores) => all.push((noise.name, scores)),
            None => return ExitCode::FAILURE,
        }
    }
    if all.len() > 1 {
        print!("{}", render_profiles(&all));
    }
    ExitCode::SUCCESS
}

/// F1 per profile and link type, and the worst profile's F1 per link type.
fn render_profiles(all: &[(&'static str, Vec<crate::bench::Score>)]) -> String {
    let types: Vec<String> = all[0].1.iter().map(|s| s.link_type.clone()).collect();
    let f1 = |scores: &[crate::bench::Score], t: &str| scores.iter().find(|s| s.link_type == t).map_or(0.0, |s| s.f1());
    let mut rows: Vec<Vec<String>> = all
        .iter()
        .map(|(name, scores)| {
            std::iter::once(name.to_string())
                .chain(types.iter().map(|t| format!("{:.3}", f1(scores, t))))
                .collect()
        })
        .collect();
    rows.push(
        std::iter::once("worst".to_string())
            .chain(types.iter().map(|t| {
                let worst = all.iter().map(|(_, s)| f1(s, t)).fold(f64::INFINITY, f64::min);
                format!("{worst:.3}")
            }))
            .collect(),
    );
    let header: Vec<&str> = std::iter::once("F1 by profile")
        .chain(types.iter().map(String::as_str))
        .collect();
    format!("\n{}", crate::summary::table(&header, &rows))
}

/// Generates one profile's world, runs it and prints its figures; its scores, or none on error.
fn bench_profile(scale: crate::synth::national::Scale, keep: Option<PathBuf>) -> Option<Vec<crate::bench::Score>> {
    let crate::synth::national::Scale {
        municipalities,
        years,
        seed,
        noise,
    } = scale;
    let tmp = tempfile_dir();
    let dir = keep.unwrap_or_else(|| tmp.clone());
    let t0 = std::time::Instant::now();
    let w = match crate::synth::national::write(&dir, scale) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return None;
        }
    };
    let synth_secs = t0.elapsed().as_secs_f64();
    let pipeline = match Pipeline::load(&dir.join("national.toml"), &dir) {
        Ok(p) => p,
        Err(e) => {
            eprint!("error: {e}");
            return None;
        }
    };
    let before = crate::reconcile::score::PAIRS_COMPARED.load(std::sync::atomic::Ordering::Relaxed);
    // The generator's own peak is not the run's: start the high-water mark afresh.
    let peak_reset = crate::bench::reset_peak_memory();
    let t1 = std::time::Instant::now();
    let result = runtime().block_on(crate::run::run(&pipeline, chrono::Utc::now()));
    let run_secs = t1.elapsed().as_secs_f64();
    let pairs = crate::reconcile::score::PAIRS_COMPARED.load(std::sync::atomic::Ordering::Relaxed) - before;
    if let Err(e) = result {
        eprintln!("error: {e}");
        return None;
    }
    let peak = crate::bench::peak_memory_bytes().unwrap_or(0);
    println!(
        "national benchmark, profile {}: {municipalities} municipalities, {years} years (seed {seed}): {}",
        noise.name,
        w.counts()
    );
    println!("  generate:            {synth_secs:.1} s (not part of the run)");
    println!("  run, ingest→publish: {run_secs:.1} s wall time");
    println!(
        "  peak memory:         {:.2} GiB ({})",
        peak as f64 / (1u64 << 30) as f64,
        if peak_reset {
            "high-water mark of the run alone"
        } else {
            "process high-water mark, generation included"
        }
    );
    println!(
        "  pairs compared:      {pairs} ({:.0} per second of run time)",
        pairs as f64 / run_secs.max(1e-9)
    );
    let scores = crate::bench::evaluate(&dir.join("out"), &dir.join("truth.csv"));
    if dir == tmp {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    match scores {
        Ok(scores) => {
            print!("{}", render_scores(&scores));
            Some(scores)
        }
        Err(e) => {
            eprintln!("error: evaluation failed: {e}");
            None
        }
    }
}

fn tempfile_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!("harvester-bench-{}-{nanos}", std::process::id()))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
}

/// What `harvester run` was limited to, as given on the command line.
struct RunFilter {
    as_of: Option<String>,
    financial_years: Vec<String>,
    municipalities: Vec<String>,
    scenario: Option<String>,
}

fn cmd_run(
    pipeline: &Path,
    sources: &[String],
    out: Option<&str>,
    filter: RunFilter,
    cwd: &Path,
    history: &Path,
) -> ExitCode {
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
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        crate::progress::enable_bars();
    }
    let mut request = crate::run::RunRequest::new(chrono::Utc::now());
    for y in &filter.financial_years {
        match crate::contracts::fiscal::FinancialYear::parse(
            y,
            crate::contracts::fiscal::Calendar::Municipal,
            crate::contracts::fiscal::YearLabel::Start,
        ) {
            Ok(fy) => request.financial_years.push(fy),
            Err(e) => errors.push(format!("--financial-year: {e}")),
        }
    }
    for m in &filter.municipalities {
        match crate::contracts::reference::Reference::bundled().resolve(m) {
            Ok(r) => request.municipalities.push(r.code),
            Err(e) => errors.push(format!("--municipality: {e}")),
        }
    }
    request.scenario.clone_from(&filter.scenario);
    request.as_of.clone_from(&filter.as_of);
    if let Err(e) = request.scenario_name() {
        errors.push(format!("--scenario: {e}"));
    }
    if !errors.is_empty() {
        for e in errors {
            eprintln!("error: {e}");
        }
        return ExitCode::from(2);
    }
    let history = match crate::history::History::open_or_set_aside(history, chrono::Utc::now()) {
        Ok((h, note)) => {
            if let Some(n) = note {
                crate::logging::say(tracing::Level::WARN, &n);
            }
            h
        }
        Err(e) => {
            crate::logging::say(tracing::Level::ERROR, &e.to_string());
            return ExitCode::FAILURE;
        }
    };
    // Runs left `running` by `harvester run` processes that died (kill -9) are settled now.
    match history.mark_dead(&chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)) {
        Ok(0) => {}
        Ok(n) => crate::logging::say(
            tracing::Level::WARN,
            &format!("{n} earlier run(s) whose process died were marked interrupted"),
        ),
        Err(e) => crate::logging::say(
            tracing::Level::WARN,
            &format!("cannot check the history for dead runs: {e}"),
        ),
    }
    // URLs given on the command line may carry credentials: the history keeps them redacted.
    let shown: Vec<String> = sources.iter().map(|s| redact_text(s)).collect();
    let params = serde_json::json!({
        "sources": shown,
        "out": out.map(redact_text),
        "as_of": filter.as_of,
        "financial_years": filter.financial_years,
        "municipalities": filter.municipalities,
        "scenario": filter.scenario,
    });
    let clock = crate::service::SystemClock;
    let (interrupted, cancel) = (request.interrupted.clone(), request.cancel.clone());
    let result = runtime().block_on(async {
        let run = crate::service::execute(&p, &request, crate::history::Trigger::Cli, &params, &history, &clock);
        tokio::pin!(run);
        tokio::select! {
            r = &mut run => r,
            () = shutdown_signal() => {
                // SIGTERM/SIGINT: the run stops at its next check and is recorded as interrupted.
                crate::logging::say(tracing::Level::INFO, "signal received; stopping the run (nothing will be published)");
                interrupted.store(true, std::sync::atomic::Ordering::SeqCst);
                cancel.store(true, std::sync::atomic::Ordering::SeqCst);
                run.await
            }
        }
    });
    match result {
        Ok(report) => {
            print!("{}", crate::summary::render(&report));
            println!("{}", crate::summary::stages(&request.progress.stages()));
            ExitCode::SUCCESS
        }
        Err(e) => {
            crate::logging::say(
                tracing::Level::ERROR,
                &format!("run of pipeline `{}` failed: {e}", p.name),
            );
            ExitCode::FAILURE
        }
    }
}

fn load_pipelines(dir: &Path, cwd: &Path) -> Result<Vec<Pipeline>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read pipeline folder {}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut pipelines = Vec::new();
    let mut problems = Vec::new();
    for path in &paths {
        match Pipeline::load(path, cwd) {
            Ok(p) => pipelines.push(p),
            Err(e) => problems.extend(e.0),
        }
    }
    if !problems.is_empty() {
        return Err(crate::config::ConfigError(problems).to_string());
    }
    let mut names: Vec<&str> = pipelines.iter().map(|p| p.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("two pipelines in {} are named `{}`", dir.display(), w[0]));
    }
    Ok(pipelines)
}

/// Reads the API token from HARVESTER_API_TOKEN or the file in HARVESTER_API_TOKEN_FILE.
fn api_token() -> Result<Option<String>, String> {
    if let Ok(t) = std::env::var("HARVESTER_API_TOKEN") {
        let t = t.trim().to_string();
        return Ok((!t.is_empty()).then_some(t));
    }
    if let Ok(f) = std::env::var("HARVESTER_API_TOKEN_FILE") {
        let t = std::fs::read_to_string(&f).map_err(|e| format!("HARVESTER_API_TOKEN_FILE {f}: {e}"))?;
        let t = t.trim().to_string();
        return Ok((!t.is_empty()).then_some(t));
    }
    Ok(None)
}

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

fn cmd_serve(dir: &Path, listen: &str, grace_secs: u64, cwd: &Path, history: &Path) -> ExitCode {
    let pipelines = match load_pipelines(&cwd.join(dir), cwd) {
        Ok(p) => p,
        Err(e) => {
            crate::logging::say(tracing::Level::ERROR, &e.to_string());
            return ExitCode::from(2);
        }
    };
    let token = match api_token() {
        Ok(t) => t,
        Err(e) => {
            crate::logging::say(tracing::Level::ERROR, &e.to_string());
            return ExitCode::from(2);
        }
    };
    if token.is_none() {
        crate::logging::say(
            tracing::Level::WARN,
            "no API token configured: POST endpoints are disabled",
        );
    }
    let history = match crate::history::History::open_or_set_aside(history, chrono::Utc::now()) {
        Ok((h, note)) => {
            if let Some(n) = note {
                crate::logging::say(tracing::Level::WARN, &n);
            }
            std::sync::Arc::new(h)
        }
        Err(e) => {
            crate::logging::say(tracing::Level::ERROR, &e.to_string());
            return ExitCode::FAILURE;
        }
    };
    let clock: std::sync::Arc<dyn crate::service::Clock> = std::sync::Arc::new(crate::service::SystemClock);
    let service = match crate::service::Service::new(pipelines, history, token, clock) {
        Ok(s) => s,
        Err(e) => {
            crate::logging::say(tracing::Level::ERROR, &e.to_string());
            return ExitCode::FAILURE;
        }
    };
    runtime().block_on(async move {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(e) => {
                crate::logging::say(tracing::Level::ERROR, &format!("cannot listen on {listen}: {e}"));
                return ExitCode::from(2);
            }
        };
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| listen.to_string());
        println!(
            "harvester: listening on http://{addr} ({} pipelines)",
            service.pipelines.len()
        );
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let scheduler = tokio::spawn(std::sync::Arc::clone(&service).schedule(stop_rx));
        let app = crate::service::api::app(std::sync::Arc::clone(&service));
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                let _ = stop_tx.send(true);
            })
            .await;
        let _ = scheduler.await;
        if let Err(e) = served {
            crate::logging::say(tracing::Level::ERROR, &format!("the API server stopped: {e}"));
        }
        crate::logging::say(
            tracing::Level::INFO,
            &format!("shutting down; waiting up to {grace_secs}s for running jobs"),
        );
        if !service.wait_idle(std::time::Duration::from_secs(grace_secs)).await {
            service.interrupt_running();
            // Told to stop, a run ends at its next check (a download at once): let it record
            // that and release its publish lock before the process exits.
            service.wait_idle(std::time::Duration::from_secs(3)).await;
            crate::logging::say(tracing::Level::INFO, "runs still in flight were marked interrupted");
        }
        ExitCode::SUCCESS
    })
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
        match Pipeline::load_checked(path, cwd) {
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
        min_rows: 0,
        max_row_drop: None,
        http: crate::config::HttpSettings::default(),
        read_limits: crate::sources::readers::ReadLimits::default(),
    };
    let fetched = match runtime().block_on(crate::sources::fetch(&spec, None, None)) {
        Ok(mut f) => f.remove(0),
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
        &spec.read_limits,
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

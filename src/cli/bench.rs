//! `harvester bench` and `harvester eval`: the national-scale benchmark (generate, run, score
//! against the truth per noise profile; with `--baseline`, an earlier harvester binary run on
//! the same world in the same bench, for the ratios of time and memory) and scoring a published
//! run's links.

use super::runtime;
use crate::config::Pipeline;
use crate::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `harvester eval`: a published run's accepted links scored against a truth file.
pub(super) fn cmd_eval(out: &Path, truth: &Path) -> Result<ExitCode, Error> {
    let scores = crate::bench::evaluate(out, truth).map_err(Error::failed)?;
    print!("{}", render_scores(&scores));
    Ok(ExitCode::SUCCESS)
}

pub(super) fn render_scores(scores: &[crate::bench::Score]) -> String {
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

pub(super) fn cmd_bench(
    municipalities: usize,
    years: usize,
    seed: u64,
    keep: Option<PathBuf>,
    profiles: Vec<String>,
    baseline: Option<PathBuf>,
) -> Result<ExitCode, Error> {
    if let Some(b) = &baseline {
        if !b.is_file() {
            return Err(Error::usage(format!(
                "--baseline {}: expected a harvester binary, found no such file",
                b.display()
            )));
        }
    }
    let mut chosen = Vec::new();
    for name in &profiles {
        match crate::synth::national::Noise::named(name) {
            Some(p) => chosen.push(p),
            None => {
                let known: Vec<&str> = crate::synth::national::Noise::PROFILES.iter().map(|p| p.name).collect();
                return Err(Error::usage(format!(
                    "--profile {name}: expected one of {}",
                    known.join(", ")
                )));
            }
        }
    }
    if chosen.is_empty() {
        chosen = crate::synth::national::Noise::PROFILES.to_vec();
    }
    let mut all: Vec<(&'static str, Vec<crate::bench::Score>)> = Vec::new();
    let mut base: Vec<(&'static str, Vec<crate::bench::Score>)> = Vec::new();
    for noise in chosen {
        let scale = crate::synth::national::Scale {
            municipalities,
            years,
            seed,
            noise,
        };
        let dir = keep.as_ref().map(|k| k.join(noise.name));
        let (scores, baseline_scores) = bench_profile(scale, dir, baseline.as_deref())?;
        all.push((noise.name, scores));
        base.extend(baseline_scores.map(|s| (noise.name, s)));
    }
    if all.len() > 1 {
        print!("{}", render_profiles(&all, "this build"));
    }
    if base.len() > 1 {
        print!("{}", render_profiles(&base, "baseline"));
    }
    Ok(ExitCode::SUCCESS)
}

/// F1 per profile and link type, and the worst profile's F1 per link type, of `which` build.
fn render_profiles(all: &[(&'static str, Vec<crate::bench::Score>)], which: &str) -> String {
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
    let title = format!("F1 by profile ({which})");
    let header: Vec<&str> = std::iter::once(title.as_str())
        .chain(types.iter().map(String::as_str))
        .collect();
    format!("\n{}", crate::summary::table(&header, &rows))
}

/// Generates one profile's world, runs it and prints its figures, then the baseline binary's on
/// the same world; the scores of both.
fn bench_profile(
    scale: crate::synth::national::Scale,
    keep: Option<PathBuf>,
    baseline: Option<&Path>,
) -> Result<(Vec<crate::bench::Score>, Option<Vec<crate::bench::Score>>), Error> {
    let crate::synth::national::Scale {
        municipalities,
        years,
        seed,
        noise,
    } = scale;
    let tmp = tempfile_dir();
    // Absolute, so that the generated pipeline's relative sources resolve once (a relative
    // `--keep kept` had resolved them to `kept/default/kept/default/…`).
    let dir = keep
        .map_or_else(|| Ok(tmp.clone()), |k| std::path::absolute(&k))
        .map_err(|e| Error::failed(format!("--keep: cannot make the folder absolute: {e}")))?;
    let t0 = std::time::Instant::now();
    let w = crate::synth::national::write(&dir, scale).map_err(Error::failed)?;
    let synth_secs = t0.elapsed().as_secs_f64();
    // A generated pipeline that does not compile is the generator's failure (exit 1).
    let pipeline = Pipeline::load(&dir.join("national.toml"), &dir)
        .map_err(|e| Error::Failed(e.to_string().trim_end().to_string()))?;
    // The generator's own peak is not the run's: start the high-water mark afresh.
    let peak_reset = crate::bench::reset_peak_memory();
    let t1 = std::time::Instant::now();
    let request = crate::run::RunRequest::new(chrono::Utc::now());
    let result = runtime().block_on(crate::run::run_with(&pipeline, &request));
    let run_secs = t1.elapsed().as_secs_f64();
    let pairs = request.progress.pairs_compared();
    let link_secs = request
        .progress
        .stages()
        .iter()
        .find(|s| s.stage == crate::progress::Stage::Link)
        .map(|s| s.secs);
    result.map_err(Error::failed)?;
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
    let this = Measured {
        run_secs,
        link_secs,
        peak,
    };
    let base = baseline.map(|bin| run_baseline(bin, &dir));
    if dir == tmp {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    let scores = scores.map_err(|e| Error::failed(format!("evaluation failed: {e}")))?;
    print!("{}", render_scores(&scores));
    let Some(base) = base else {
        return Ok((scores, None));
    };
    let (measured, base_scores) = base?;
    print!(
        "{}",
        render_against(
            baseline.unwrap_or(Path::new("")),
            &this,
            &measured,
            &scores,
            &base_scores
        )
    );
    Ok((scores, Some(base_scores)))
}

/// Time and memory of one run.
struct Measured {
    run_secs: f64,
    link_secs: Option<f64>,
    peak: u64,
}

/// How often the baseline's peak memory is read while it runs (its `VmHWM`, a high-water mark:
/// only a peak in its last interval could be missed).
const PEAK_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// Runs the `baseline` harvester binary on the world in `dir` (outputs and run history under
/// `dir/baseline/`): its wall time, link stage, peak memory and scores.
fn run_baseline(bin: &Path, dir: &Path) -> Result<(Measured, Vec<crate::bench::Score>), Error> {
    let place = dir.join("baseline");
    let history = place.join("history.sqlite");
    let t = std::time::Instant::now();
    let mut child = std::process::Command::new(bin)
        .arg("run")
        .arg(dir.join("national.toml"))
        .arg("--out")
        .arg(place.join("out"))
        .arg("--history")
        .arg(&history)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| Error::failed(format!("--baseline {}: cannot start it: {e}", bin.display())))?;
    let status_file = PathBuf::from(format!("/proc/{}/status", child.id()));
    let mut peak = 0u64;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(Error::failed)? {
            break status;
        }
        peak = peak.max(crate::bench::peak_memory_of(&status_file).unwrap_or(0));
        std::thread::sleep(PEAK_POLL);
    };
    let run_secs = t.elapsed().as_secs_f64();
    if !status.success() {
        return Err(Error::failed(format!(
            "--baseline {}: its run of {} failed ({status}); its history is {}",
            bin.display(),
            dir.join("national.toml").display(),
            history.display()
        )));
    }
    let link_secs = baseline_link_secs(&history);
    let scores = crate::bench::evaluate(&place.join("out"), &dir.join("truth.csv"))
        .map_err(|e| Error::failed(format!("evaluation of the baseline failed: {e}")))?;
    Ok((
        Measured {
            run_secs,
            link_secs,
            peak,
        },
        scores,
    ))
}

/// The link stage's seconds of the latest run in a run history (`stages` column).
fn baseline_link_secs(history: &Path) -> Option<f64> {
    let db = rusqlite::Connection::open_with_flags(history, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    let stages: String = db
        .query_row("SELECT stages FROM runs ORDER BY started_at DESC LIMIT 1", [], |r| {
            r.get(0)
        })
        .ok()?;
    let stages: Vec<serde_json::Value> = serde_json::from_str(&stages).ok()?;
    stages
        .iter()
        .find(|s| s["stage"] == crate::progress::Stage::Link.as_str())
        .and_then(|s| s["secs"].as_f64())
}

/// This build against the baseline on the same world: time, memory and F1, with ratios.
fn render_against(
    bin: &Path,
    this: &Measured,
    base: &Measured,
    scores: &[crate::bench::Score],
    base_scores: &[crate::bench::Score],
) -> String {
    let gib = |b: u64| format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64);
    let secs = |s: Option<f64>| s.map_or("-".to_string(), |s| format!("{s:.1} s"));
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".to_string(),
    };
    let mut rows = vec![
        vec![
            "run wall time".to_string(),
            secs(Some(this.run_secs)),
            secs(Some(base.run_secs)),
            ratio(Some(this.run_secs), Some(base.run_secs)),
        ],
        vec![
            "link stage".to_string(),
            secs(this.link_secs),
            secs(base.link_secs),
            ratio(this.link_secs, base.link_secs),
        ],
        vec![
            "peak memory".to_string(),
            gib(this.peak),
            gib(base.peak),
            ratio(Some(this.peak as f64), Some(base.peak as f64)),
        ],
    ];
    for s in scores {
        let b = base_scores.iter().find(|b| b.link_type == s.link_type);
        rows.push(vec![
            format!("F1 {}", s.link_type),
            format!("{:.3}", s.f1()),
            b.map_or("-".to_string(), |b| format!("{:.3}", b.f1())),
            String::new(),
        ]);
    }
    format!(
        "  against the baseline {} (same world, run after this build, in a child process):\n{}",
        bin.display(),
        crate::summary::table(&["", "this build", "baseline", "ratio"], &rows)
    )
}

fn tempfile_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!("harvester-bench-{}-{nanos}", std::process::id()))
}

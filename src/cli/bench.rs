//! `harvester bench` and `harvester eval`: the national-scale benchmark (generate, run, score
//! against the truth per noise profile) and scoring a published run's links.

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
) -> Result<ExitCode, Error> {
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
    for noise in chosen {
        let scale = crate::synth::national::Scale {
            municipalities,
            years,
            seed,
            noise,
        };
        let dir = keep.as_ref().map(|k| k.join(noise.name));
        all.push((noise.name, bench_profile(scale, dir)?));
    }
    if all.len() > 1 {
        print!("{}", render_profiles(&all));
    }
    Ok(ExitCode::SUCCESS)
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

/// Generates one profile's world, runs it and prints its figures; its scores.
fn bench_profile(
    scale: crate::synth::national::Scale,
    keep: Option<PathBuf>,
) -> Result<Vec<crate::bench::Score>, Error> {
    let crate::synth::national::Scale {
        municipalities,
        years,
        seed,
        noise,
    } = scale;
    let tmp = tempfile_dir();
    let dir = keep.unwrap_or_else(|| tmp.clone());
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
    if dir == tmp {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    let scores = scores.map_err(|e| Error::failed(format!("evaluation failed: {e}")))?;
    print!("{}", render_scores(&scores));
    Ok(scores)
}

fn tempfile_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!("harvester-bench-{}-{nanos}", std::process::id()))
}

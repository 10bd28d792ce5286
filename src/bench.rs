//! `harvester bench` and `harvester eval`: linking quality and speed at national scale.
//!
//! `bench` generates the national synthetic world (`synth::national`), runs its pipeline from
//! ingest to publish, and reports wall time, peak memory (the process's high-water mark), pairs
//! compared per second, and precision, recall and F1 per link type against the generator's
//! truth. `eval` does the last part for any published run and truth file.

use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Precision, recall and F1 of one link type.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// Link type.
    pub link_type: String,
    /// True pairs.
    pub truth: usize,
    /// Predicted (accepted) pairs.
    pub predicted: usize,
    /// Predicted pairs that are true.
    pub correct: usize,
}

impl Score {
    /// correct ÷ predicted.
    pub fn precision(&self) -> f64 {
        if self.predicted == 0 {
            0.0
        } else {
            self.correct as f64 / self.predicted as f64
        }
    }
    /// correct ÷ truth.
    pub fn recall(&self) -> f64 {
        if self.truth == 0 {
            0.0
        } else {
            self.correct as f64 / self.truth as f64
        }
    }
    /// Harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn read_parquets(out: &Path, files: &[serde_json::Value]) -> PolarsResult<DataFrame> {
    let mut all: Option<DataFrame> = None;
    for f in files {
        let bytes = std::fs::read(out.join(f.as_str().unwrap_or_default()))
            .map_err(|e| PolarsError::ComputeError(e.to_string().into()))?;
        let df = ParquetReader::new(std::io::Cursor::new(bytes)).finish()?;
        all = Some(match all {
            None => df,
            Some(mut a) => {
                a.vstack_mut(&df)?;
                a
            }
        });
    }
    all.ok_or_else(|| PolarsError::NoData("no files".into()))
}

/// Scores the accepted links of the run published at `out` against `truth.csv`
/// (`link_type,demarcation_code,left_key,right_key`, keys being project references).
pub fn evaluate(out: &Path, truth: &Path) -> Result<Vec<Score>, String> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let files = |t: &str| manifest["tables"][t]["files"].as_array().cloned().unwrap_or_default();
    let projects = read_parquets(out, &files("projects")).map_err(|e| e.to_string())?;
    let links = read_parquets(out, &files("links")).map_err(|e| e.to_string())?;
    let col = |df: &DataFrame, c: &str| -> Result<StringChunked, String> {
        Ok(df
            .column(c)
            .map_err(|e| e.to_string())?
            .str()
            .map_err(|e| e.to_string())?
            .clone())
    };
    let (ids, refs, munis) = (
        col(&projects, "record_id")?,
        col(&projects, "project_ref")?,
        col(&projects, "demarcation_code")?,
    );
    let key: BTreeMap<&str, (&str, &str)> = (0..projects.height())
        .filter_map(|i| Some((ids.get(i)?, (munis.get(i)?, refs.get(i)?))))
        .collect();
    let (l, r, t, band) = (
        col(&links, "left_record_id")?,
        col(&links, "right_record_id")?,
        col(&links, "link_type")?,
        col(&links, "band")?,
    );
    let mut predicted: BTreeMap<String, BTreeSet<(String, String, String)>> = BTreeMap::new();
    for i in 0..links.height() {
        if band.get(i) != Some("accept") {
            continue;
        }
        let (Some(lt), Some(a), Some(b)) = (
            t.get(i),
            l.get(i).and_then(|x| key.get(x)),
            r.get(i).and_then(|x| key.get(x)),
        ) else {
            continue;
        };
        predicted
            .entry(lt.to_string())
            .or_default()
            .insert((a.0.to_string(), a.1.to_string(), b.1.to_string()));
    }
    let text = std::fs::read_to_string(truth).map_err(|e| format!("{}: {e}", truth.display()))?;
    let mut truths: BTreeMap<String, BTreeSet<(String, String, String)>> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() == 4 {
            truths
                .entry(f[0].to_string())
                .or_default()
                .insert((f[1].to_string(), f[2].to_string(), f[3].to_string()));
        }
    }
    Ok(truths
        .iter()
        .map(|(lt, truth)| {
            let pred = predicted.get(lt).cloned().unwrap_or_default();
            Score {
                link_type: lt.clone(),
                truth: truth.len(),
                predicted: pred.len(),
                correct: pred.intersection(truth).count(),
            }
        })
        .collect())
}

/// The process's peak resident memory in bytes (Linux `VmHWM`), if known.
pub fn peak_memory_bytes() -> Option<u64> {
    peak_memory_of(Path::new("/proc/self/status"))
}

/// A process's resident high-water mark (`VmHWM`) from its `/proc/<pid>/status`, in bytes.
pub fn peak_memory_of(status: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(status).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resets the process's peak resident memory (Linux: `5` into `/proc/self/clear_refs`), so the
/// next reading covers only what follows. Returns whether it worked.
pub fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

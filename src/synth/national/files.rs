//! The national world's files: the pipeline that reads them (`national.toml`), and writing
//! them all under the output folder once every municipality is generated.

use super::{Out, Written};
use crate::synth::{year_label, SynthError};
use std::fmt::Write as _;
use std::path::Path;

/// The pipeline that reads the world (`national.toml`).
pub(super) fn pipeline_toml(years: &[i32]) -> String {
    let mut pipeline = format!(
        "# National-scale benchmark pipeline, written by `harvester synth --municipalities`.\nname = \"national\"\n[publish]\nlocation = \"out\"\n[reconcile]\nfinancial_years = [{}]\n",
        years.iter().map(|y| format!("\"{}\"", year_label(*y))).collect::<Vec<_>>().join(", ")
    );
    for by in years {
        let _ = write!(
            pipeline,
            "[[sources]]\nname = \"budget_{by}\"\nlocation = \"budget_{by}.csv\"\ncontract = \"sa36_extract\"\n"
        );
    }
    let _ = write!(
        pipeline,
        "[[sources]]\nname = \"idp\"\nlocation = \"idp.csv\"\ncontract = \"idp_register\"\n"
    );
    for y in years {
        // The IRM export does not say its (national, April–March) financial year.
        let _ = write!(
            pipeline,
            "[[sources]]\nname = \"irm_{y}\"\nlocation = \"irm_{y}.csv\"\ncontract = \"irm_departmental\"\nfinancial_year = \"{}\"\n",
            year_label(*y)
        );
    }
    let _ = write!(
        pipeline,
        "[[sources]]\nname = \"bepp\"\nlocation = \"bepp.csv\"\ncontract = \"bepp_pipeline\"\n"
    );
    pipeline
}

/// Writes the files under `dir`; what was written.
pub(super) fn save(dir: &Path, years: &[i32], out: Out, pipeline: String) -> Result<Written, SynthError> {
    let Out {
        budgets,
        idp,
        irm,
        bepp,
        truth,
        mut w,
    } = out;
    let mut files: Vec<(String, String)> = years
        .iter()
        .zip(budgets)
        .map(|(by, b)| (format!("budget_{by}.csv"), b))
        .collect();
    files.push(("idp.csv".to_string(), idp));
    files.extend(years.iter().zip(irm).map(|(y, t)| (format!("irm_{y}.csv"), t)));
    files.extend([
        ("bepp.csv".to_string(), bepp),
        ("truth.csv".to_string(), truth),
        ("national.toml".to_string(), pipeline),
    ]);
    std::fs::create_dir_all(dir).map_err(|source| SynthError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    for (name, text) in files {
        let path = dir.join(&name);
        std::fs::write(&path, text).map_err(|source| SynthError::Io {
            path: path.display().to_string(),
            source,
        })?;
        w.files.push(path);
    }
    Ok(w)
}

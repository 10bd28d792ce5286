//! `harvester validate [PIPELINE…]`: every pipeline compiled and its local inputs checked,
//! every problem of every file reported at once.

use crate::config::{ConfigError, Pipeline};
use crate::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub(super) fn cmd_validate(mut pipelines: Vec<PathBuf>, cwd: &Path) -> Result<ExitCode, Error> {
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
            return Err(Error::usage(format!(
                "no pipeline files given and none found in {}",
                dir.display()
            )));
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
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Error::Config(ConfigError(all)))
    }
}

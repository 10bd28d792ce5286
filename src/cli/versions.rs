//! `harvester versions`: the Delta tables' versions and the runs that wrote them, or a run's
//! files exported (the work is in `crate::versions`).

use crate::domain::Location;
use crate::storage::Store;
use crate::Error;
use std::path::Path;
use std::process::ExitCode;

/// Opens the publish location and prints the versions (or exports a run's files).
pub(super) fn cmd_versions(
    out: &str,
    table: Option<&str>,
    run: Option<&str>,
    export_to: Option<&Path>,
    cwd: &Path,
) -> Result<ExitCode, Error> {
    let store = Location::parse(out, cwd)
        .map_err(|e| e.to_string())
        .and_then(|l| Store::open_folder(&l).map_err(|e| e.to_string()))
        .map_err(|e| Error::usage(format!("--out: {e}")))?;
    let rt = tokio::runtime::Runtime::new().map_err(Error::failed)?;
    let text = rt
        .block_on(crate::versions::report(&store, table, run, export_to))
        .map_err(Error::failed)?;
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

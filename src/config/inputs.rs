//! `harvester validate`'s check of local inputs: a file that is not there, or a glob that
//! matches nothing, is reported with the pipeline's other problems instead of failing tonight's
//! run. Remote locations (S3, HTTP, …) are not contacted here.

use crate::domain::Location;

/// What is wrong with a local input location, if anything (remote ones are not checked).
pub(super) fn missing(location: &Location) -> Option<String> {
    let Location::Local(path) = location else {
        return None;
    };
    if crate::sources::is_pattern(location) {
        let text = path.to_string_lossy();
        let (dir, pattern) = text.rsplit_once('/').unwrap_or((".", &text));
        let pattern = if pattern.is_empty() { "*" } else { pattern };
        let re = crate::sources::glob_regex(pattern);
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => return Some(format!("the folder {dir} cannot be read: {e}")),
        };
        let matched = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .any(|e| re.is_match(&e.file_name().to_string_lossy()));
        return (!matched).then(|| format!("no file in {dir} matches `{pattern}`"));
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => None,
        Ok(_) => Some(format!("{} is not a file", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(format!("{} does not exist", path.display())),
        Err(e) => Some(format!("{} cannot be read: {e}", path.display())),
    }
}

//! Where a source is read from or outputs are published to.
//!
//! A location is a URL (`file://`, `s3://`, `az://`, `gs://`, `http(s)://`) or a plain path. Plain
//! relative paths in a pipeline file are relative to that file's directory, so a pipeline and
//! its data can move together; on the command line they are relative to the working directory.

use std::path::{Component, Path, PathBuf};
use url::Url;

/// A parsed location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A path on the local file system (absolute after resolution).
    Local(PathBuf),
    /// An object store or HTTP URL.
    Url(Url),
}

/// Why a location is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    /// The URL scheme is not one harvester reads.
    #[error("unsupported scheme `{0}`: expected a path or a file://, s3://, az://, gs://, http:// or https:// URL")]
    Scheme(String),
    /// The text is not a valid URL.
    #[error("`{0}` is not a valid URL: {1}")]
    Invalid(String, String),
}

impl Location {
    /// Parses `text`, resolving plain relative paths against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Location, LocationError> {
        let text = text.trim();
        let looks_like_url = text.contains("://");
        if !looks_like_url {
            let p = Path::new(text);
            let abs = if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
            return Ok(Location::Local(clean_path(&abs)));
        }
        let url = Url::parse(text).map_err(|e| LocationError::Invalid(text.to_string(), e.to_string()))?;
        match url.scheme() {
            "file" => url
                .to_file_path()
                .map(|p| Location::Local(clean_path(&p)))
                .map_err(|()| LocationError::Invalid(text.to_string(), "not a local path".into())),
            "s3" | "s3a" | "az" | "abfs" | "abfss" | "azure" | "gs" | "http" | "https" => Ok(Location::Url(url)),
            other => Err(LocationError::Scheme(other.to_string())),
        }
    }

    /// The last path segment, used as the file name in lineage columns.
    pub fn file_name(&self) -> String {
        match self {
            Location::Local(p) => p
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            Location::Url(u) => u
                .path_segments()
                .and_then(|mut s| s.next_back().map(str::to_string))
                .unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::Url(u) => {
                // Never print credentials embedded in a URL.
                let mut u = u.clone();
                let _ = u.set_password(None);
                let _ = u.set_username("");
                write!(f, "{u}")
            }
        }
    }
}

/// Removes `.` and resolves `..` lexically, so paths in outputs are readable.
pub fn clean_path(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_resolve_against_the_base() {
        let l = Location::parse("../sample/a.csv", Path::new("/repo/pipelines")).unwrap();
        assert_eq!(l, Location::Local(PathBuf::from("/repo/sample/a.csv")));
        assert_eq!(l.file_name(), "a.csv");
    }

    #[test]
    fn urls_and_their_errors() {
        let base = Path::new("/");
        assert!(matches!(
            Location::parse("s3://bucket/x/y.xlsx", base),
            Ok(Location::Url(_))
        ));
        assert_eq!(
            Location::parse("file:///tmp/x.csv", base).unwrap(),
            Location::Local(PathBuf::from("/tmp/x.csv"))
        );
        let e = Location::parse("ftp://host/x", base).unwrap_err();
        assert!(e.to_string().starts_with("unsupported scheme `ftp`"));
    }

    #[test]
    fn credentials_never_print() {
        let l = Location::parse("https://user:secret@example.org/x.csv", Path::new("/")).unwrap();
        assert!(!l.to_string().contains("secret"), "{l}");
    }
}

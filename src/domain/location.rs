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
        let url = Url::parse(text).map_err(|e| LocationError::Invalid(redact_text(text), e.to_string()))?;
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

/// Displays a location the only way it is ever shown or stored: through [`redact_url`].
impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::Url(u) => write!(f, "{}", redact_url(u)),
        }
    }
}

/// What a masked secret is replaced by.
pub const MASK: &str = "REDACTED";

/// Whether a query parameter's value is a secret, by its name (case-insensitive): `api_key`,
/// `apikey`, `key`, `token`, `access_token`, `sig`, `signature`, `password`, `secret`, any
/// `X-Amz-*` (presigned S3 URLs), and names ending in `_key`, `_token`, `_secret` or `password`.
pub fn is_secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "api_key" | "apikey" | "key" | "token" | "access_token" | "sig" | "signature" | "password" | "secret"
    ) || n.starts_with("x-amz-")
        || [
            "_key", "-key", "_token", "-token", "_secret", "-secret", "password", "passwd",
        ]
        .iter()
        .any(|s| n.ends_with(s))
}

/// A URL as it may be shown, logged or stored: without user name and password, and with the
/// value of every secret-looking query parameter ([`is_secret_param`]) replaced by `REDACTED`;
/// other parameters (a `year=2024`) stay readable. Every place a location is displayed or
/// recorded (manifest, fetch log, run history, API, logs, error messages) goes through this.
pub fn redact_url(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_password(None);
    let _ = u.set_username("");
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_param(&k) {
                    MASK.to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        if pairs.iter().any(|(k, _)| is_secret_param(k)) {
            u.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    u.to_string()
}

/// Free text (an error message, a `NAME=URL` argument) with every URL in it redacted by
/// [`redact_url`]. Text that only looks like a URL but does not parse loses everything between
/// `://` and `@` and its query string, so nothing secret survives a typo.
pub fn redact_text(text: &str) -> String {
    static URL: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = URL.get_or_init(|| {
        regex::Regex::new(r#"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'"`<>]+"#).expect("valid regular expression")
    });
    re.replace_all(text, |c: &regex::Captures<'_>| {
        let found = &c[0];
        match Url::parse(found) {
            Ok(u) => redact_url(&u),
            Err(_) => {
                let (scheme, rest) = found.split_once("://").unwrap_or(("", found));
                let rest = rest.split_once('@').map_or(rest, |(_, r)| r);
                let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
                format!("{scheme}://{rest}")
            }
        }
    })
    .into_owned()
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

    #[test]
    fn secret_query_values_are_masked_and_the_rest_kept() {
        let l = Location::parse(
            "https://u:CANARY1@example.org/x.csv?year=2024&API_KEY=CANARY2&X-Amz-Signature=CANARY3&access_token=CANARY4&sig=CANARY5&client_secret=CANARY6",
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(
            l.to_string(),
            "https://example.org/x.csv?year=2024&API_KEY=REDACTED&X-Amz-Signature=REDACTED&access_token=REDACTED&sig=REDACTED&client_secret=REDACTED"
        );
        // A URL without secrets is shown as written.
        let plain = Location::parse("https://example.org/x.csv?year=2024&page=2", Path::new("/")).unwrap();
        assert_eq!(plain.to_string(), "https://example.org/x.csv?year=2024&page=2");
        for name in [
            "key",
            "Token",
            "password",
            "secret",
            "signature",
            "apikey",
            "x-amz-credential",
        ] {
            assert!(is_secret_param(name), "{name}");
        }
        for name in ["year", "monkey", "page", "format"] {
            assert!(!is_secret_param(name), "{name}");
        }
    }

    #[test]
    fn urls_in_free_text_are_redacted() {
        let t =
            redact_text("--source idp=https://bob:CANARY1@h.example/a.csv?token=CANARY2 failed; see http://x/?ok=1");
        assert_eq!(
            t,
            "--source idp=https://h.example/a.csv?token=REDACTED failed; see http://x/?ok=1"
        );
        // An invalid URL (bad port) still loses its user info and query.
        let t = redact_text("https://bob:CANARY1@h.example:99999/a.csv?token=CANARY2");
        assert!(!t.contains("CANARY"), "{t}");
        let e = Location::parse("https://bob:CANARY1@h.example:99999/a.csv", Path::new("/")).unwrap_err();
        assert!(!e.to_string().contains("CANARY"), "{e}");
    }
}

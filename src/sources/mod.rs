//! Sources: fetching a pipeline source's bytes and turning them into rows.
//!
//! Fetching is separate from reading so the bytes can be checksummed and kept in the raw zone
//! ([`raw`]) before any parsing happens, which is what makes exact reruns (`--as-of`) possible.
//! Local paths and object-store URLs are read through `object_store`; a location whose last
//! segment holds `*` or `?`, or that ends with `/`, names every matching file (a folder of SA36
//! workbooks, one per province). `http(s)://` sources go through [`http`] with retries and
//! conditional requests.

pub mod http;
pub mod raw;
pub mod readers;
mod spec;

pub use spec::{HttpSettings, SourceSpec, DEFAULT_MAX_REJECT_RATIO, DEFAULT_MIN_ROWS};

use crate::domain::sha256_hex;
use crate::domain::Location;
use crate::sources::raw::{FetchLog, FetchRecord, RawZone};
use crate::storage::{open_object, StorageError, Store};
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::ObjectStoreExt;

/// The bytes of one source file with what identifies them.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The location they came from (credentials removed).
    pub location: String,
    /// File name (last path segment), for lineage columns.
    pub file_name: String,
    /// The bytes.
    pub bytes: Bytes,
    /// Hex sha256 of the bytes.
    pub sha256: String,
    /// ETag the server sent, if any.
    pub etag: Option<String>,
    /// Last-Modified the server sent, if any.
    pub last_modified: Option<String>,
    /// Whether the server answered 304 and the raw zone's copy was used.
    pub not_modified: bool,
    /// Whether this is one of several files of a source (a glob or prefix): then sheet names and
    /// row numbers repeat between files, and record ids carry the file name.
    pub one_of_several: bool,
}

impl Fetched {
    /// Wraps bytes read from anywhere.
    pub fn new(location: String, file_name: String, bytes: Bytes) -> Self {
        Self {
            sha256: sha256_hex(&bytes),
            location,
            file_name,
            bytes,
            etag: None,
            one_of_several: false,
            last_modified: None,
            not_modified: false,
        }
    }

    /// The fetch-log entry for this file.
    pub fn record(&self, source: &str, fetched_at: &str) -> FetchRecord {
        FetchRecord {
            source: source.to_string(),
            location: self.location.clone(),
            file_name: self.file_name.clone(),
            sha256: self.sha256.clone(),
            size: self.bytes.len() as u64,
            fetched_at: fetched_at.to_string(),
            etag: self.etag.clone(),
            last_modified: self.last_modified.clone(),
            not_modified: self.not_modified,
        }
    }
}

/// Why a source could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The store could not be opened.
    #[error("source `{source_name}`: {error}")]
    Storage {
        /// Source name.
        source_name: String,
        /// What went wrong.
        error: StorageError,
    },
    /// The object could not be read.
    #[error("source `{source_name}`: cannot read {location}: {error}")]
    Read {
        /// Source name.
        source_name: String,
        /// Location, credentials removed.
        location: String,
        /// What object_store reported.
        error: object_store::Error,
    },
    /// The HTTP download failed.
    #[error("source `{source_name}`: cannot download {location}: {error}")]
    Http {
        /// Source name.
        source_name: String,
        /// URL, credentials removed.
        location: String,
        /// What happened.
        error: http::HttpError,
    },
    /// A pattern matched no file.
    #[error("source `{source_name}`: no file matches {location}")]
    NoMatch {
        /// Source name.
        source_name: String,
        /// The pattern.
        location: String,
    },
    /// The raw zone could not be used.
    #[error("source `{source_name}`: {error}")]
    Raw {
        /// Source name.
        source_name: String,
        /// What went wrong.
        error: raw::RawError,
    },
    /// An `--as-of` run has no input for this source.
    #[error("source `{source_name}`: run {run_id} read no input for this source (it read: {found})")]
    NotInRun {
        /// Source name.
        source_name: String,
        /// The run replayed.
        run_id: String,
        /// The sources it did read.
        found: String,
    },
}

/// Whether a location names several files (a glob in its last segment, or a folder).
pub fn is_pattern(location: &Location) -> bool {
    let text = match location {
        Location::Local(p) => p.to_string_lossy().into_owned(),
        Location::Url(u) => u.path().to_string(),
    };
    let last = text.rsplit('/').next().unwrap_or("");
    last.contains(['*', '?']) || text.ends_with('/')
}

/// A glob (`*`, `?` within one path segment) as an anchored regular expression.
pub(crate) fn glob_regex(pattern: &str) -> regex::Regex {
    let mut re = String::from("^");
    for c in pattern.chars() {
        match c {
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).unwrap_or_else(|_| regex::Regex::new("^$").expect("valid"))
}

/// Expands a pattern location into the files it names, sorted; a plain location is itself.
pub async fn expand(name: &str, location: &Location) -> Result<Vec<Location>, SourceError> {
    if !is_pattern(location) {
        return Ok(vec![location.clone()]);
    }
    let (folder, pattern) = match location {
        Location::Local(p) => {
            let text = p.to_string_lossy().into_owned();
            let (dir, pat) = text.rsplit_once('/').unwrap_or((".", &text));
            (
                Location::Local(dir.into()),
                if pat.is_empty() {
                    "*".to_string()
                } else {
                    pat.to_string()
                },
            )
        }
        Location::Url(u) => {
            let mut folder = u.clone();
            let path = u.path().to_string();
            let (dir, pat) = path.rsplit_once('/').unwrap_or(("", &path));
            folder.set_path(&format!("{dir}/"));
            (
                Location::Url(folder),
                if pat.is_empty() {
                    "*".to_string()
                } else {
                    pat.to_string()
                },
            )
        }
    };
    let store = Store::open_folder(&folder).map_err(|error| SourceError::Storage {
        source_name: name.to_string(),
        error,
    })?;
    let listed: Vec<object_store::ObjectMeta> =
        store
            .store
            .list(Some(&store.prefix))
            .try_collect()
            .await
            .map_err(|error| SourceError::Read {
                source_name: name.to_string(),
                location: location.to_string(),
                error,
            })?;
    let re = glob_regex(&pattern);
    let mut names: Vec<String> = listed
        .iter()
        .filter(|m| {
            m.location
                .prefix_match(&store.prefix)
                .is_some_and(|mut rest| rest.next().is_some() && rest.next().is_none())
        })
        .filter_map(|m| m.location.filename().map(str::to_string))
        .filter(|n| re.is_match(n))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(SourceError::NoMatch {
            source_name: name.to_string(),
            location: location.to_string(),
        });
    }
    Ok(names
        .into_iter()
        .map(|n| match &folder {
            Location::Local(d) => Location::Local(d.join(n)),
            Location::Url(u) => {
                let mut u = u.clone();
                let p = format!("{}{n}", u.path());
                u.set_path(&p);
                Location::Url(u)
            }
        })
        .collect())
}

/// Fetches every file of a source. `raw` (the publish location's raw zone) supplies the copy an
/// HTTP server says is unchanged (304) and the validators to ask with, from `previous`.
pub async fn fetch(
    name: &str,
    location: &Location,
    settings: &HttpSettings,
    raw: Option<&RawZone>,
    previous: Option<&FetchLog>,
) -> Result<Vec<Fetched>, SourceError> {
    let mut out = Vec::new();
    for file in expand(name, location).await? {
        out.push(fetch_one(name, settings, &file, raw, previous).await?);
    }
    Ok(out)
}

async fn fetch_one(
    name: &str,
    settings: &HttpSettings,
    location: &Location,
    raw: Option<&RawZone>,
    previous: Option<&FetchLog>,
) -> Result<Fetched, SourceError> {
    let display = location.to_string();
    let file_name = location.file_name();
    match location {
        Location::Url(url) if matches!(url.scheme(), "http" | "https") => {
            let shown = http::redact(url);
            let prior = previous.and_then(|log| log.inputs.iter().find(|r| r.source == name && r.location == display));
            let validators = prior
                .map(|r| http::Validators {
                    etag: r.etag.clone(),
                    last_modified: r.last_modified.clone(),
                })
                .unwrap_or_default();
            let http_err = |error| SourceError::Http {
                source_name: name.to_string(),
                location: shown.clone(),
                error,
            };
            tracing::info!(source = %name, url = %shown, "downloading");
            match http::get(url, settings, &validators, true).await.map_err(http_err)? {
                http::Response::Body { bytes, validators } => {
                    let mut f = Fetched::new(display, file_name, bytes);
                    f.etag = validators.etag;
                    f.last_modified = validators.last_modified;
                    Ok(f)
                }
                http::Response::NotModified => {
                    // The copy the 304 refers to comes from the raw zone; without it (no earlier
                    // fetch, or its file was removed or damaged) ask again without validators.
                    let stored = match (prior, raw) {
                        (Some(prior), Some(raw)) => match raw.get_blob(&prior.sha256).await {
                            Ok(Some(bytes)) => Some((prior, bytes)),
                            Ok(None) => {
                                tracing::warn!(source = %name, url = %shown, sha256 = %prior.sha256, "not modified, but the stored copy is missing from the raw zone; downloading again");
                                None
                            }
                            Err(e) => {
                                tracing::warn!(source = %name, url = %shown, error = %e, "not modified, but the stored copy cannot be used; downloading again");
                                None
                            }
                        },
                        _ => None,
                    };
                    let Some((prior, bytes)) = stored else {
                        return match http::get(url, settings, &http::Validators::default(), true)
                            .await
                            .map_err(http_err)?
                        {
                            http::Response::Body { bytes, validators } => {
                                let mut f = Fetched::new(display, file_name, bytes);
                                f.etag = validators.etag;
                                f.last_modified = validators.last_modified;
                                Ok(f)
                            }
                            http::Response::NotModified => Err(http_err(http::HttpError::Failed {
                                reason: "HTTP 304 to an unconditional request".into(),
                                attempts: 2,
                            })),
                        };
                    };
                    tracing::info!(source = %name, url = %shown, "not modified; using the stored copy");
                    let mut f = Fetched::new(display, file_name, bytes);
                    f.etag = prior.etag.clone();
                    f.last_modified = prior.last_modified.clone();
                    f.not_modified = true;
                    Ok(f)
                }
            }
        }
        loc => {
            let (store, path) = open_object(loc).map_err(|error| SourceError::Storage {
                source_name: name.to_string(),
                error,
            })?;
            let read_err = |error| SourceError::Read {
                source_name: name.to_string(),
                location: display.clone(),
                error,
            };
            let got = store.store.get(&path).await.map_err(read_err)?;
            let etag = got.meta.e_tag.clone();
            let bytes = got.bytes().await.map_err(read_err)?;
            let mut f = Fetched::new(display.clone(), file_name, bytes);
            f.etag = etag;
            Ok(f)
        }
    }
}

/// The files a source read in an earlier run, from the raw zone, without touching the network.
pub async fn from_raw(name: &str, log: &FetchLog, raw: &RawZone) -> Result<Vec<Fetched>, SourceError> {
    let records: Vec<&FetchRecord> = log.inputs.iter().filter(|r| r.source == name).collect();
    if records.is_empty() {
        let mut found: Vec<&str> = log.inputs.iter().map(|r| r.source.as_str()).collect();
        found.dedup();
        return Err(SourceError::NotInRun {
            source_name: name.to_string(),
            run_id: log.run_id.clone(),
            found: found.join(", "),
        });
    }
    let mut out = Vec::new();
    for r in records {
        let bytes = stored_copy(
            name,
            raw,
            &r.sha256,
            &format!("{} (stored copy {} is missing)", log.run_id, r.sha256),
        )
        .await?;
        let mut f = Fetched::new(r.location.clone(), r.file_name.clone(), bytes);
        f.etag = r.etag.clone();
        f.last_modified = r.last_modified.clone();
        out.push(f);
    }
    Ok(out)
}

/// A file kept in the raw zone; `missing` describes it when it is not there.
async fn stored_copy(name: &str, raw: &RawZone, sha: &str, missing: &str) -> Result<Bytes, SourceError> {
    let err = |error| SourceError::Raw {
        source_name: name.to_string(),
        error,
    };
    raw.get_blob(sha)
        .await
        .map_err(err)?
        .ok_or_else(|| err(raw::RawError::NoSuchRun(missing.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_globs() {
        let base = std::path::Path::new("/d");
        assert!(is_pattern(&Location::parse("sa36/*.xlsx", base).unwrap()));
        assert!(is_pattern(&Location::parse("s3://b/sa36/", base).unwrap()));
        assert!(!is_pattern(&Location::parse("sa36/EC.xlsx", base).unwrap()));
        let re = glob_regex("sa36_*_2024.xls?");
        assert!(re.is_match("sa36_EC_2024.xlsx"));
        assert!(!re.is_match("sa36_EC_2025.xlsx"));
        assert!(!re.is_match("x/sa36_EC_2024.xlsx"));
    }
}

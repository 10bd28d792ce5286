//! The raw zone: every input a run read, byte for byte, so any run can be repeated exactly.
//!
//! Under the publish location, `raw/sha256/<aa>/<sha256>` holds each distinct file once
//! (content-addressed), and `raw/runs/<run_id>.json` lists what one run fetched: source, location,
//! time, ETag, Last-Modified, size and sha256. `harvester run --as-of <run id or timestamp>`
//! replays a run from these files without touching the network. The raw zone lies outside
//! `runs/`, so retention of published runs never removes the inputs needed to repeat them.

use crate::storage::Store;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use futures::TryStreamExt;
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

/// One fetched file, as recorded in a run's fetch log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRecord {
    /// Pipeline source name.
    pub source: String,
    /// Where it was read (credentials removed).
    pub location: String,
    /// File name, for lineage.
    pub file_name: String,
    /// Hex sha256 of the bytes.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// When it was fetched (RFC 3339 UTC).
    pub fetched_at: String,
    /// ETag the server sent, if any.
    pub etag: Option<String>,
    /// Last-Modified the server sent, if any.
    pub last_modified: Option<String>,
    /// Whether the server answered 304 and the stored copy was used.
    pub not_modified: bool,
}

/// A run's fetch log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchLog {
    /// Run id.
    pub run_id: String,
    /// Run start time (RFC 3339 UTC).
    pub started_at: String,
    /// Every file fetched.
    pub inputs: Vec<FetchRecord>,
}

/// Why the raw zone could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RawError {
    /// Reading or writing the store failed.
    #[error("raw zone at {location}: {path}: {source}")]
    Store {
        /// Publish location.
        location: String,
        /// Object path.
        path: String,
        /// What object_store reported.
        source: object_store::Error,
    },
    /// A fetch log is not valid JSON.
    #[error("raw zone: {path} is not a valid fetch log: {source}")]
    Log {
        /// Object path.
        path: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// No run matches an `--as-of` value.
    #[error(
        "--as-of `{0}`: no run with that id, and no run started at or before that time, has inputs in the raw zone"
    )]
    NoSuchRun(String),
    /// A stored file's bytes do not match their checksum.
    #[error("raw zone: {path} does not match its sha256; the stored input is damaged")]
    Corrupt {
        /// Object path.
        path: String,
    },
}

/// The raw zone of one publish location.
#[derive(Debug, Clone)]
pub struct RawZone {
    store: Store,
}

fn blob_path(sha: &str) -> String {
    format!("raw/sha256/{}/{sha}", sha.get(..2).unwrap_or("00"))
}

impl RawZone {
    /// The raw zone inside a publish store.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    fn err(&self, path: &str) -> impl Fn(object_store::Error) -> RawError + '_ {
        let path = path.to_string();
        move |source| RawError::Store {
            location: self.store.display.clone(),
            path: path.clone(),
            source,
        }
    }

    /// Stores a file under its sha256 unless it is already there.
    pub async fn put_blob(&self, sha: &str, bytes: &Bytes) -> Result<(), RawError> {
        let rel = blob_path(sha);
        let path = self.store.path(&rel);
        if self.store.store.head(&path).await.is_ok() {
            return Ok(());
        }
        self.store
            .store
            .put(&path, PutPayload::from(bytes.clone()))
            .await
            .map_err(self.err(&rel))?;
        Ok(())
    }

    /// Reads a stored file and checks its sha256; `Ok(None)` if it is not there.
    pub async fn get_blob(&self, sha: &str) -> Result<Option<Bytes>, RawError> {
        let rel = blob_path(sha);
        match self.store.store.get(&self.store.path(&rel)).await {
            Ok(r) => {
                let bytes = r.bytes().await.map_err(self.err(&rel))?;
                if crate::domain::sha256_hex(&bytes) != sha {
                    return Err(RawError::Corrupt { path: rel });
                }
                Ok(Some(bytes))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(&rel)(e)),
        }
    }

    /// Writes a run's fetch log.
    pub async fn write_log(&self, log: &FetchLog) -> Result<(), RawError> {
        let rel = format!("raw/runs/{}.json", log.run_id);
        let bytes = serde_json::to_vec_pretty(log).map_err(|source| RawError::Log {
            path: rel.clone(),
            source,
        })?;
        self.store
            .store
            .put(&self.store.path(&rel), PutPayload::from(bytes))
            .await
            .map_err(self.err(&rel))?;
        Ok(())
    }

    async fn read_log(&self, rel: &str) -> Result<Option<FetchLog>, RawError> {
        match self.store.store.get(&self.store.path(rel)).await {
            Ok(r) => {
                let bytes = r.bytes().await.map_err(self.err(rel))?;
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|source| RawError::Log {
                        path: rel.to_string(),
                        source,
                    })
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(rel)(e)),
        }
    }

    /// Every run id with a fetch log, oldest first.
    pub async fn runs(&self) -> Result<Vec<String>, RawError> {
        let prefix = self.store.path("raw/runs");
        let listed: Vec<object_store::ObjectMeta> = self
            .store
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(self.err("raw/runs/"))?;
        let mut ids: Vec<String> = listed
            .iter()
            .filter_map(|m| {
                m.location
                    .filename()
                    .and_then(|f| f.strip_suffix(".json"))
                    .map(str::to_string)
            })
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// The latest fetch log (for conditional requests), if any.
    pub async fn latest(&self) -> Result<Option<FetchLog>, RawError> {
        match self.runs().await?.last() {
            Some(id) => self.read_log(&format!("raw/runs/{id}.json")).await,
            None => Ok(None),
        }
    }

    /// The fetch log for `--as-of`: a run id, or the latest run started at or before a time
    /// (`2026-11-01`, `2026-11-01T02:00:00Z`).
    pub async fn resolve_as_of(&self, as_of: &str) -> Result<FetchLog, RawError> {
        let name = as_of.trim();
        if crate::domain::valid_name(&name.to_ascii_lowercase()) || name.contains('T') {
            if let Some(log) = self.read_log(&format!("raw/runs/{name}.json")).await? {
                return Ok(log);
            }
        }
        let when: Option<DateTime<Utc>> = DateTime::parse_from_rfc3339(name)
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                NaiveDateTime::parse_from_str(name, "%Y-%m-%dT%H:%M:%S")
                    .ok()
                    .map(|t| t.and_utc())
            })
            .or_else(|| {
                NaiveDate::parse_from_str(name, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(23, 59, 59))
                    .map(|t| t.and_utc())
            });
        let Some(when) = when else {
            return Err(RawError::NoSuchRun(as_of.to_string()));
        };
        let stamp = when.format("%Y%m%dT%H%M%S%3fZ").to_string();
        let candidate = self
            .runs()
            .await?
            .into_iter()
            .rfind(|id| id.as_str() <= stamp.as_str() || id.starts_with(&stamp));
        match candidate {
            Some(id) => self
                .read_log(&format!("raw/runs/{id}.json"))
                .await?
                .ok_or_else(|| RawError::NoSuchRun(as_of.to_string())),
            None => Err(RawError::NoSuchRun(as_of.to_string())),
        }
    }
}

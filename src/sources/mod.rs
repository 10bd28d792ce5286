//! Sources: fetching a pipeline source's bytes and turning them into rows.
//!
//! Fetching is separate from reading so the bytes can be checksummed (and, later, kept in a raw
//! zone for exact reruns) before any parsing happens. Local paths and object-store URLs are read
//! through `object_store`; `http(s)://` sources through `reqwest` with rustls.

pub mod location;
pub mod readers;

use crate::config::SourceSpec;
use crate::sources::location::Location;
use crate::storage::{open_object, StorageError};
use bytes::Bytes;
use object_store::ObjectStoreExt;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Timeout for one HTTP source request.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(120);

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
    /// The HTTP request failed.
    #[error("source `{source_name}`: cannot download {location}: {reason}")]
    Http {
        /// Source name.
        source_name: String,
        /// URL, credentials removed.
        location: String,
        /// What happened.
        reason: String,
    },
}

/// Fetches a source's bytes.
pub async fn fetch(spec: &SourceSpec) -> Result<Fetched, SourceError> {
    let location = spec.location.to_string();
    let bytes = match &spec.location {
        Location::Url(url) if matches!(url.scheme(), "http" | "https") => {
            let http_err = |reason: String| SourceError::Http {
                source_name: spec.name.clone(),
                location: location.clone(),
                reason,
            };
            let client = reqwest::Client::builder()
                .timeout(HTTP_TIMEOUT)
                .build()
                .map_err(|e| http_err(e.to_string()))?;
            let resp = client
                .get(url.clone())
                .send()
                .await
                .map_err(|e| http_err(e.without_url().to_string()))?;
            if !resp.status().is_success() {
                return Err(http_err(format!("HTTP status {}", resp.status())));
            }
            resp.bytes().await.map_err(|e| http_err(e.without_url().to_string()))?
        }
        loc => {
            let (store, path) = open_object(loc).map_err(|error| SourceError::Storage {
                source_name: spec.name.clone(),
                error,
            })?;
            let read_err = |error| SourceError::Read {
                source_name: spec.name.clone(),
                location: location.clone(),
                error,
            };
            store
                .store
                .get(&path)
                .await
                .map_err(read_err)?
                .bytes()
                .await
                .map_err(read_err)?
        }
    };
    Ok(Fetched {
        file_name: spec.location.file_name(),
        sha256: sha256_hex(&bytes),
        location,
        bytes,
    })
}

/// Hex sha256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

//! Object storage for every location harvester reads from or publishes to.
//!
//! Every byte goes through `object_store`, so a local folder, S3 (or an S3-compatible store
//! named by `AWS_ENDPOINT`), Azure and Google Cloud Storage behave the same and tests can hand
//! in any store. Credentials come from the environment the way each cloud's own tools read
//! them (`AWS_ACCESS_KEY_ID`, `AZURE_STORAGE_ACCOUNT_NAME`, `GOOGLE_SERVICE_ACCOUNT`, ...);
//! harvester never logs or stores them.

use crate::domain::Location;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;
use std::sync::Arc;

/// A store plus the prefix inside it that a location points at.
#[derive(Debug, Clone)]
pub struct Store {
    /// The object store.
    pub store: Arc<dyn ObjectStore>,
    /// Prefix inside the store (empty for a local folder opened at the location itself).
    pub prefix: ObjectPath,
    /// The location, for messages.
    pub display: String,
}

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Building the store failed (bad URL, missing credentials configuration).
    #[error("cannot open {location}: {source}")]
    Open {
        /// The location, credentials removed.
        location: String,
        /// What object_store reported.
        source: object_store::Error,
    },
    /// A local folder could not be created.
    #[error("cannot create folder {location}: {source}")]
    CreateDir {
        /// The folder.
        location: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The location is an HTTP URL, which is read-only.
    #[error("{0} is an HTTP location and cannot be published to")]
    ReadOnly(String),
}

impl Store {
    /// Opens a location as a *folder*: objects are addressed relative to it.
    pub fn open_folder(location: &Location) -> Result<Store, StorageError> {
        let display = location.to_string();
        let open_err = |source| StorageError::Open {
            location: display.clone(),
            source,
        };
        match location {
            Location::Local(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| StorageError::CreateDir {
                    location: display.clone(),
                    source,
                })?;
                let fs = LocalFileSystem::new_with_prefix(dir)
                    .map_err(open_err)?
                    .with_automatic_cleanup(true);
                Ok(Store {
                    store: Arc::new(fs),
                    prefix: ObjectPath::default(),
                    display,
                })
            }
            Location::Url(url) => {
                let prefix = ObjectPath::from_url_path(url.path()).map_err(|e| open_err(e.into()))?;
                let store: Arc<dyn ObjectStore> = match url.scheme() {
                    "s3" | "s3a" => Arc::new(
                        AmazonS3Builder::from_env()
                            .with_url(url.as_str())
                            .with_allow_http(allow_http())
                            .build()
                            .map_err(open_err)?,
                    ),
                    "az" | "abfs" | "abfss" | "azure" => Arc::new(
                        MicrosoftAzureBuilder::from_env()
                            .with_url(url.as_str())
                            .build()
                            .map_err(open_err)?,
                    ),
                    "gs" => Arc::new(
                        GoogleCloudStorageBuilder::from_env()
                            .with_url(url.as_str())
                            .build()
                            .map_err(open_err)?,
                    ),
                    _ => return Err(StorageError::ReadOnly(display)),
                };
                Ok(Store { store, prefix, display })
            }
        }
    }

    /// The folder `relative` inside this store, as a store of its own (scenario runs publish
    /// under `scenarios/<name>/` with the same layout as the live outputs at the root).
    pub fn sub(&self, relative: &str) -> Store {
        Store {
            store: self.store.clone(),
            prefix: self.path(relative),
            display: format!("{}/{}", self.display.trim_end_matches('/'), relative.trim_matches('/')),
        }
    }

    /// The full object path of `relative` (a `/`-separated key) under this store's prefix.
    pub fn path(&self, relative: &str) -> ObjectPath {
        let mut p = self.prefix.clone();
        for part in relative.split('/').filter(|s| !s.is_empty()) {
            p = p.clone().join(part);
        }
        p
    }
}

/// S3-compatible stores on a private network often speak plain HTTP; `AWS_ALLOW_HTTP=true`
/// permits it (object_store reads the same variable).
fn allow_http() -> bool {
    std::env::var("AWS_ALLOW_HTTP").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Opens the store holding a single object (a source file) and returns the object's path.
pub fn open_object(location: &Location) -> Result<(Store, ObjectPath), StorageError> {
    match location {
        Location::Local(p) => {
            let dir = p.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
            let name = p
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let fs = LocalFileSystem::new_with_prefix(&dir).map_err(|source| StorageError::Open {
                location: location.to_string(),
                source,
            })?;
            Ok((
                Store {
                    store: Arc::new(fs),
                    prefix: ObjectPath::default(),
                    display: dir.display().to_string(),
                },
                ObjectPath::from(name),
            ))
        }
        Location::Url(url) => {
            let mut folder_url = url.clone();
            let path = ObjectPath::from_url_path(url.path()).map_err(|e| StorageError::Open {
                location: location.to_string(),
                source: e.into(),
            })?;
            folder_url.set_path("/");
            let store = Store::open_folder(&Location::Url(folder_url))?;
            Ok((store, path))
        }
    }
}

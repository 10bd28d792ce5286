//! One run at a time per publish location.
//!
//! A run takes `<root>/.lock` with a create-only write (`PutMode::Create`: exactly one writer
//! succeeds, on a local folder and on S3, Azure and GCS alike). The object names the run, the
//! host and process, and an expiry [`LOCK_TTL`] ahead that the holder renews every
//! [`HEARTBEAT`]. A run that finds the lock taken waits (re-reading it) for a bounded time and
//! then fails naming the holder; a lock past its expiry, or held by a process that no longer
//! exists on this host, is stale and taken over.

use crate::storage::Store;
use chrono::{DateTime, Utc};
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The lock object, relative to the publish root.
pub const LOCK_FILE: &str = ".lock";
/// How long a lock is valid without renewal.
pub const LOCK_TTL: Duration = Duration::from_secs(120);
/// How often the holder renews it.
pub const HEARTBEAT: Duration = Duration::from_secs(30);
/// How often a waiting run looks again.
const POLL: Duration = Duration::from_millis(250);

/// What the lock object holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockInfo {
    /// The run holding the lock.
    pub run_id: String,
    /// Its pipeline.
    pub pipeline: String,
    /// Host name of its process.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When it took the lock (RFC 3339).
    pub acquired_at: String,
    /// Until when the lock holds without renewal (RFC 3339).
    pub expires_at: String,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another run holds it and did not finish in time.
    #[error("{location} is locked by run {} of pipeline `{}` (host {}, process {}, since {}, renewed until {}); waited {waited_secs} s for it to finish (publish.lock_wait_secs). Try again when that run has finished; if it is certainly dead, its lock is taken over once it expires", .holder.run_id, .holder.pipeline, .holder.host, .holder.pid, .holder.acquired_at, .holder.expires_at)]
    Held {
        /// The publish location.
        location: String,
        /// Who holds it.
        holder: LockInfo,
        /// How long this run waited.
        waited_secs: u64,
    },
    /// The run was cancelled while it waited.
    #[error("cancelled while waiting for the publish lock of {0}")]
    Cancelled(String),
    /// The store failed.
    #[error("cannot take the publish lock {location}/{LOCK_FILE}: {source}")]
    Store {
        /// The publish location.
        location: String,
        /// What object_store reported.
        source: object_store::Error,
    },
}

/// Whether process `pid` of `host` is known to be gone: it ran on this host (Linux, where
/// `/proc` tells) and no longer exists. This process is never gone.
pub fn process_gone(host: &str, pid: u32) -> bool {
    let here = host_name();
    !here.is_empty()
        && host == here
        && pid != std::process::id()
        && std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// This machine's host name (empty if unknown).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl LockInfo {
    fn new(run_id: &str, pipeline: &str, acquired_at: DateTime<Utc>) -> LockInfo {
        LockInfo {
            run_id: run_id.to_string(),
            pipeline: pipeline.to_string(),
            host: host_name(),
            pid: std::process::id(),
            acquired_at: rfc3339(acquired_at),
            expires_at: rfc3339(Utc::now() + LOCK_TTL),
        }
    }

    /// Why the lock is stale (its holder is gone), or `None` while it holds.
    pub fn stale(&self, now: DateTime<Utc>) -> Option<String> {
        match DateTime::parse_from_rfc3339(&self.expires_at) {
            Ok(t) if t < now => return Some(format!("it expired at {}", self.expires_at)),
            Err(_) => return Some(format!("its expiry `{}` is not a time", self.expires_at)),
            Ok(_) => {}
        }
        if process_gone(&self.host, self.pid) {
            return Some(format!("process {} on {} no longer exists", self.pid, self.host));
        }
        None
    }
}

/// A held lock; [`PublishLock::release`] removes it. Dropped without release (a panic), it
/// stops being renewed and expires after [`LOCK_TTL`].
#[derive(Debug)]
pub struct PublishLock {
    store: Store,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    /// Notes for the manifest (a stale lock taken over).
    pub notes: Vec<String>,
}

async fn put(store: &Store, info: &LockInfo, mode: PutMode) -> Result<(), object_store::Error> {
    let bytes = serde_json::to_vec_pretty(info).expect("a lock serialises");
    let opts = PutOptions {
        mode,
        ..PutOptions::default()
    };
    store
        .store
        .put_opts(&store.path(LOCK_FILE), PutPayload::from(bytes), opts)
        .await
        .map(|_| ())
}

/// The current holder, if the lock exists: `Ok(None)` if it is gone, `Err` text if unreadable.
async fn holder(store: &Store) -> Result<Option<LockInfo>, object_store::Error> {
    match store.store.get(&store.path(LOCK_FILE)).await {
        Ok(r) => {
            let bytes = r.bytes().await?;
            Ok(Some(serde_json::from_slice(&bytes).unwrap_or_else(|_| LockInfo {
                run_id: "(unreadable lock)".into(),
                pipeline: String::new(),
                host: String::new(),
                pid: 0,
                acquired_at: String::new(),
                expires_at: String::new(),
            })))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Takes the publish lock of `store` for `run_id`, waiting at most `wait` for another holder.
pub async fn acquire(
    store: &Store,
    run_id: &str,
    pipeline: &str,
    wait: Duration,
    cancel: &AtomicBool,
) -> Result<PublishLock, LockError> {
    let store_err = |source| LockError::Store {
        location: store.display.clone(),
        source,
    };
    let started = std::time::Instant::now();
    let acquired_at = Utc::now();
    let mut notes = Vec::new();
    loop {
        let info = LockInfo::new(run_id, pipeline, acquired_at);
        match put(store, &info, PutMode::Create).await {
            Ok(()) => {
                let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
                let renew_store = store.clone();
                let heartbeat = tokio::spawn(async move {
                    let mut info = info;
                    loop {
                        tokio::select! {
                            _ = &mut stopped => return,
                            () = tokio::time::sleep(HEARTBEAT) => {}
                        }
                        info.expires_at = rfc3339(Utc::now() + LOCK_TTL);
                        if let Err(e) = put(&renew_store, &info, PutMode::Overwrite).await {
                            tracing::warn!(error = %e, "cannot renew the publish lock");
                        }
                    }
                });
                return Ok(PublishLock {
                    store: store.clone(),
                    stop: Some(stop),
                    heartbeat: Some(heartbeat),
                    notes,
                });
            }
            Err(object_store::Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(store_err(e)),
        }
        let Some(current) = holder(store).await.map_err(store_err)? else {
            continue; // released in between
        };
        if let Some(why) = current.stale(Utc::now()) {
            let note = format!("took over the publish lock of run {} ({why})", current.run_id);
            tracing::warn!(location = %store.display, "{note}");
            notes.push(note);
            match store.store.delete(&store.path(LOCK_FILE)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(store_err(e)),
            }
        }
        if started.elapsed() >= wait {
            return Err(LockError::Held {
                location: store.display.clone(),
                holder: current,
                waited_secs: started.elapsed().as_secs(),
            });
        }
        if cancel.load(Ordering::SeqCst) {
            return Err(LockError::Cancelled(store.display.clone()));
        }
        tokio::time::sleep(POLL).await;
    }
}

impl PublishLock {
    /// Stops renewing and removes the lock.
    pub async fn release(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(h) = self.heartbeat.take() {
            let _ = h.await;
        }
        if let Err(e) = self.store.store.delete(&self.store.path(LOCK_FILE)).await {
            tracing::warn!(error = %e, location = %self.store.display, "cannot remove the publish lock");
        }
    }
}

impl Drop for PublishLock {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

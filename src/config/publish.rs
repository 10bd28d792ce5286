//! Compiles `[publish]`: where outputs go, how long earlier runs are kept, how long a run waits
//! for the publish lock.

use super::compiler::Compiler;
use super::raw::RawPublish;
use crate::domain::Location;

/// Default number of days earlier runs are kept.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;

/// Default number of seconds a run waits for the publish lock.
pub const DEFAULT_LOCK_WAIT_SECS: u64 = 600;

/// `[publish]`, compiled.
pub(super) struct Publish {
    pub location: Location,
    pub retention_days: u32,
    pub lock_wait_secs: u64,
}

/// Compiles `[publish]` (defaults for what is missing or wrong, with a diagnostic for the latter).
pub(super) fn compile(raw: RawPublish, c: &mut Compiler) -> Publish {
    let location = match raw.location.as_deref() {
        None => Location::Local(c.cwd.join("out")),
        Some(l) => Location::parse(l, c.cwd).unwrap_or_else(|e| {
            c.diag("publish.location", e.to_string());
            Location::Local(c.cwd.join("out"))
        }),
    };
    let retention_days = match raw.retention_days {
        None => DEFAULT_RETENTION_DAYS,
        Some(d) if (1..=36_500).contains(&d) => d as u32,
        Some(d) => {
            c.diag(
                "publish.retention_days",
                format!("expected a number of days from 1 to 36500, found {d}"),
            );
            DEFAULT_RETENTION_DAYS
        }
    };
    let lock_wait_secs = match raw.lock_wait_secs {
        None => DEFAULT_LOCK_WAIT_SECS,
        Some(d) if (0..=86_400).contains(&d) => d as u64,
        Some(d) => {
            c.diag(
                "publish.lock_wait_secs",
                format!("expected a number of seconds from 0 to 86400, found {d}"),
            );
            DEFAULT_LOCK_WAIT_SECS
        }
    };
    Publish {
        location,
        retention_days,
        lock_wait_secs,
    }
}

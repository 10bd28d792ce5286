//! Where time comes from. Runs, the scheduler and the API take a [`Clock`] instead of calling
//! `Utc::now()`, so tests can fix the time a run starts and ends.

use chrono::{DateTime, Utc};

/// Where time comes from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

//! harvester: budget-to-plan reconciliation pipelines for South African public finance.
//!
//! Data flows one way through the modules below; code depends the other way round, each module
//! using only those below it in ARCHITECTURE.md's Layers (checked by `tests/it/architecture.rs`):
//! [`domain`] (shared value types) at the bottom, [`config`] as the compiler above the stages.
//!
//! 1. [`config`] — pipeline definitions (TOML), validated with every problem reported at once;
//! 2. [`sources`] — fetching bytes ([`storage`], HTTP) and reading rows (CSV, Excel);
//! 3. [`contracts`] — dataset contracts, normalisers (amounts, years, demarcation) and the
//!    validation that splits rows into accepted records and the quarantine;
//! 4. [`names`] — project-name tokens (abbreviations, filler words) and name similarity;
//!    [`records`] — the canonical project record;
//! 5. [`reconcile`] — links across datasets and year-by-year variances;
//! 6. [`metrics`] — alignment metrics and the exceptions register;
//! 7. [`report`] renders the run's HTML report; [`publish`] — Parquet tables and the manifest,
//!    the commit point;
//! 8. [`scenario`] names scenario runs (filtered or named runs that publish under
//!    `scenarios/<name>/`, never over the live outputs); [`run`] — one run of a pipeline, end
//!    to end; [`summary`] prints it.
//!
//! 9. [`history`] records every run in SQLite; [`service`] schedules pipelines and serves the
//!    HTTP API ([`service::api`]).
//!
//! [`progress`] tracks a run's stage (API, bars, the `stage` of log lines); [`logging`] writes
//! text or JSON log lines.
//!
//! [`synth`] generates the bundled sample data and the national benchmark world; [`bench`]
//! measures linking at national scale; [`cli`] is the command line, where the crate-level
//! [`Error`] becomes an exit code.

pub mod bench;
pub mod cli;
pub mod config;
pub mod contracts;
pub mod domain;
pub mod error;
pub mod history;
pub mod logging;
pub mod metrics;
pub mod names;
pub mod progress;
pub mod publish;
pub mod reconcile;
pub mod records;
pub mod report;
pub mod run;
pub mod scenario;
pub mod service;
pub mod sources;
pub mod storage;
pub mod summary;
pub mod synth;
pub mod versions;

pub use error::Error;

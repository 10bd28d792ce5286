//! A source's own settings, compiled from its `[[sources]]` table by `config` (issue #11: each
//! stage owns its settings, so `sources` never reaches up into `config`).

use crate::domain::{FinancialYear, Location, Unit};
use crate::sources::readers::{Format, ReadLimits};
use regex::Regex;

/// Default share of rejected rows past which a source fails the run.
pub const DEFAULT_MAX_REJECT_RATIO: f64 = 0.25;
/// Fewest accepted rows a source must give by default.
pub const DEFAULT_MIN_ROWS: usize = 1;

/// One source of a pipeline, validated.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    /// Source name, unique in the pipeline.
    pub name: String,
    /// Where to read it.
    pub location: Location,
    /// File format; `None` means "from the file extension".
    pub format: Option<Format>,
    /// Contract name.
    pub contract: String,
    /// Unit of its amounts (the source's own, else the contract's).
    pub unit: Unit,
    /// Only sheets whose names match this pattern are read (all when `None`).
    pub sheets: Option<Regex>,
    /// Financial year of sources whose files do not state it.
    pub financial_year: Option<FinancialYear>,
    /// Share of rejected rows (0–1) past which the run fails before publishing.
    pub max_reject_ratio: f64,
    /// Fewest accepted rows (over all its files) the source must give, or the run fails before
    /// publishing: an empty or header-only file is a broken delivery, not an empty register.
    /// Default [`DEFAULT_MIN_ROWS`]; 0 allows an empty source.
    pub min_rows: usize,
    /// Largest share (0–1) by which the source's accepted rows may fall since the previous
    /// published run, or the run fails before publishing; `None` (the default) does not check.
    pub max_row_drop: Option<f64>,
    /// How HTTP sources are fetched.
    pub http: HttpSettings,
    /// How far a file may expand while it is read (`max_uncompressed_bytes`, `max_cells`).
    pub read_limits: ReadLimits,
}

impl SourceSpec {
    /// A source with every other setting at its default (`harvester check`, tests).
    pub fn new(name: &str, location: Location, contract: &str, unit: Unit) -> Self {
        Self {
            name: name.to_string(),
            location,
            format: None,
            contract: contract.to_string(),
            unit,
            sheets: None,
            financial_year: None,
            max_reject_ratio: DEFAULT_MAX_REJECT_RATIO,
            min_rows: DEFAULT_MIN_ROWS,
            max_row_drop: None,
            http: HttpSettings::default(),
            read_limits: ReadLimits::default(),
        }
    }
}

/// Fetch settings of HTTP sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Timeout of one request, in seconds. Default 120.
    pub timeout_secs: u64,
    /// Retries after the first attempt on timeouts, connection errors, 5xx and 429. Default 4.
    pub retries: u32,
    /// First backoff delay in milliseconds, doubled each retry, plus jitter. Default 500.
    pub retry_base_ms: u64,
    /// Largest response accepted, in bytes. Default 512 MiB.
    pub max_bytes: u64,
    /// Request headers whose values come from environment variables: (header, variable).
    pub headers_from_env: Vec<(String, String)>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            timeout_secs: 120,
            retries: 4,
            retry_base_ms: 500,
            max_bytes: 512 * 1024 * 1024,
            headers_from_env: Vec::new(),
        }
    }
}

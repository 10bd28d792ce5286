//! Value types every stage shares, at the bottom of the module graph (issue #11): financial
//! years and calendars, amount units, locations, safe names, the content hash, and the closed
//! enums of domain values that published tables write as text, and the clock. Nothing here uses another
//! harvester module, so any stage may use it without a cycle.

mod clock;
pub mod fiscal;
mod hash;
pub mod location;
mod name;
mod unit;
mod values;

pub use clock::{Clock, SystemClock};
pub use fiscal::{Calendar, FinancialYear, YearLabel};
pub use hash::sha256_hex;
pub use location::Location;
pub use name::valid_name;
pub use unit::Unit;
pub use values::{Band, Better, FindingSeverity, Method, Severity};

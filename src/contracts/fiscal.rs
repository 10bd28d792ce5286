//! Financial years and calendars now live in [`crate::domain::fiscal`] (issue #11: shared value
//! types at the bottom); this path stays so code edited in parallel still compiles. Remove after
//! the merge once no `crate::contracts::fiscal::` path is left.

pub use crate::domain::fiscal::*;

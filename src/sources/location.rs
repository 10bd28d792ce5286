//! Locations now live in [`crate::domain::location`] (issue #11: `storage` and `sources` both
//! use them, so they sit below both); this path stays so code edited in parallel still compiles.
//! Remove after the merge once no `crate::sources::location::` path is left.

pub use crate::domain::location::*;

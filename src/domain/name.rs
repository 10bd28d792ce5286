//! Names that become path segments and object-key prefixes (pipelines, sources, scenarios), so
//! every stage that takes a name checks it the same way.

use regex::Regex;
use std::sync::LazyLock;

/// Names that are safe as path segments and object-key prefixes.
static NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z0-9][a-z0-9_-]{0,63}$").unwrap());

/// Whether `name` is a valid pipeline or source name (no path traversal possible).
pub fn valid_name(name: &str) -> bool {
    NAME.is_match(name)
}

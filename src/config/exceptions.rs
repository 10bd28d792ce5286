//! Compiles `[exceptions]` into the metrics stage's [`ExceptionSettings`].

use super::compiler::Compiler;
use super::raw::RawExceptions;
use crate::metrics::ExceptionSettings;

/// Compiles `[exceptions]`.
pub(super) fn compile(raw: RawExceptions, c: &mut Compiler) -> ExceptionSettings {
    let mut exceptions = ExceptionSettings::default();
    match raw.min_rand_at_stake {
        Some(v) if v.is_finite() && v >= 0.0 => exceptions.min_rand_at_stake = v,
        Some(v) => c.diag(
            "exceptions.min_rand_at_stake",
            format!("expected a Rand amount of 0 or more, found {v}"),
        ),
        None => {}
    }
    match raw.min_share_of_capital_budget {
        Some(v) if (0.0..=1.0).contains(&v) => exceptions.min_share_of_capital_budget = v,
        Some(v) => c.diag(
            "exceptions.min_share_of_capital_budget",
            format!("expected a share from 0 to 1, found {v}"),
        ),
        None => {}
    }
    if let Some(d) = raw.decisions.as_deref() {
        exceptions.decisions = c.location("exceptions.decisions", d);
    }
    exceptions
}

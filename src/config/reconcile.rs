//! Compiles `[reconcile]` into the reconcile stage's [`ReconcileSettings`]: thresholds and
//! probabilities range-checked, tolerances per link type, the linking model's levels.

use super::compiler::Compiler;
use super::raw::{RawModel, RawReconcile, RawTolerance};
use crate::domain::{Calendar, FinancialYear, YearLabel};
use crate::reconcile::ReconcileSettings;
use std::collections::BTreeMap;

/// The link types `[reconcile.tolerances]` may name.
const LINK_TYPES: &[&str] = &[
    "budget_idp",
    "bepp_idp",
    "bepp_budget",
    "departmental_idp",
    "departmental_budget",
];

/// Compiles `[reconcile]`.
pub(super) fn compile(raw: RawReconcile, c: &mut Compiler) -> ReconcileSettings {
    let mut years = Vec::new();
    for (i, y) in raw.financial_years.clone().unwrap_or_default().iter().enumerate() {
        match FinancialYear::parse(y, Calendar::Municipal, YearLabel::Start) {
            Ok(fy) => years.push(fy),
            Err(e) => c.diag(&format!("reconcile.financial_years[{i}]"), e.to_string()),
        }
    }
    let mut settings = ReconcileSettings {
        financial_years: years,
        ..ReconcileSettings::default()
    };
    thresholds(&raw, &mut settings, c);
    weights_and_probabilities(&raw, &mut settings, c);
    if let Some(o) = raw.overrides.as_deref() {
        settings.overrides = c.location("reconcile.overrides", o);
    }
    tolerances(raw.tolerances.clone().unwrap_or_default(), &mut settings, c);
    if let Some(model) = raw.model.clone() {
        self::model(model, &mut settings, c);
    }
    settings
}

fn thresholds(raw: &RawReconcile, settings: &mut ReconcileSettings, c: &mut Compiler) {
    if let Some(t) = raw.name_match_threshold {
        if (0.0..=1.0).contains(&t) {
            settings.name_match_threshold = t;
        } else {
            c.diag(
                "reconcile.name_match_threshold",
                format!("expected a number between 0 and 1, found {t}"),
            );
        }
    }
    if let Some(t) = raw.variance_abs_tolerance_rand {
        if t >= 0.0 {
            settings.variance_abs_tolerance_rand = t;
        } else {
            c.diag(
                "reconcile.variance_abs_tolerance_rand",
                format!("expected an amount in Rand of 0 or more, found {t}"),
            );
        }
    }
    if let Some(t) = raw.variance_rel_tolerance {
        if t >= 0.0 {
            settings.variance_rel_tolerance = t;
        } else {
            c.diag(
                "reconcile.variance_rel_tolerance",
                format!("expected a ratio of 0 or more, found {t}"),
            );
        }
    }
}

fn weights_and_probabilities(raw: &RawReconcile, settings: &mut ReconcileSettings, c: &mut Compiler) {
    if let Some(a) = raw.accept_weight {
        settings.accept_weight = a;
    }
    if let Some(w) = raw.no_match_weight {
        settings.no_match_weight = w;
    }
    let probabilities = [
        (
            "reconcile.accept_probability",
            raw.accept_probability,
            &mut settings.accept_probability,
        ),
        (
            "reconcile.review_probability",
            raw.review_probability,
            &mut settings.review_probability,
        ),
    ];
    for (key, value, slot) in probabilities {
        match value {
            Some(p) if p > 0.0 && p < 1.0 => *slot = p,
            Some(p) => c.diag(
                key,
                format!("expected a probability between 0 and 1 (exclusive), found {p}"),
            ),
            None => {}
        }
    }
    if settings.review_probability > settings.accept_probability {
        c.diag(
            "reconcile.review_probability",
            format!(
                "expected at most accept_probability ({}), found {}",
                settings.accept_probability, settings.review_probability
            ),
        );
    }
    if let Some(r) = raw.review_weight {
        settings.review_weight = r;
    }
    if settings.review_weight > settings.accept_weight {
        c.diag(
            "reconcile.review_weight",
            format!(
                "expected at most accept_weight ({}), found {}",
                settings.accept_weight, settings.review_weight
            ),
        );
    }
}

fn tolerances(raw: BTreeMap<String, RawTolerance>, settings: &mut ReconcileSettings, c: &mut Compiler) {
    for (link_type, t) in raw {
        let key = format!("reconcile.tolerances.{link_type}");
        if !LINK_TYPES.contains(&link_type.as_str()) {
            c.diag(
                &key,
                format!("unknown link type; expected one of {}", LINK_TYPES.join(", ")),
            );
            continue;
        }
        let abs = t.abs_rand.unwrap_or(settings.variance_abs_tolerance_rand);
        let rel = t.rel.unwrap_or(settings.variance_rel_tolerance);
        if abs < 0.0 || rel < 0.0 {
            c.diag(
                &key,
                format!("expected tolerances of 0 or more, found abs_rand = {abs}, rel = {rel}"),
            );
            continue;
        }
        settings.tolerances.insert(link_type, (abs, rel));
    }
}

fn model(model: RawModel, settings: &mut ReconcileSettings, c: &mut Compiler) {
    settings.estimate_model = model.estimate.unwrap_or(false);
    if let Some(n) = model.max_iterations {
        if n == 0 {
            c.diag("reconcile.model.max_iterations", "expected 1 or more, found 0".into());
        }
        settings.em_max_iterations = n;
    }
    for (name, mu) in model.levels.unwrap_or_default() {
        let key = format!("reconcile.model.levels.\"{name}\"");
        if crate::reconcile::score::level_index(&name).is_none() {
            c.diag(
                &key,
                format!(
                    "unknown comparison level; expected one of {}",
                    crate::reconcile::score::level_names().join(", ")
                ),
            );
            continue;
        }
        let ok = |p: f64| p > 0.0 && p < 1.0;
        if !ok(mu.m) || !ok(mu.u) {
            c.diag(
                &key,
                format!(
                    "expected m and u strictly between 0 and 1, found m = {}, u = {}",
                    mu.m, mu.u
                ),
            );
            continue;
        }
        settings.model_levels.insert(name, (mu.m, mu.u));
    }
}

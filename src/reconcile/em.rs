//! Estimating the Fellegi–Sunter m and u parameters from the data (expectation–maximisation).
//!
//! The linker's candidate pairs — every left record against the few best candidates its
//! blocking found — are a mixture of matches and non-matches. Each pair is reduced to its
//! pattern: the level it reached in every comparison (or missing). EM alternates between the
//! chance that each pattern is a match given the current m, u and match share λ (E step), and
//! m, u and λ re-estimated from those chances (M step), assuming comparisons independent given
//! the match status. Patterns are few (a few hundred distinct ones among millions of pairs), so
//! each iteration is over pattern counts, not pairs.
//!
//! The candidate pairs were chosen by their names, so they say nothing about how often names
//! agree among pairs in general: the name comparison keeps the pipeline's (or the default) m and
//! u, and EM estimates the others and λ given it — as Splink leaves a blocking rule's
//! comparisons out of an EM session. (Estimated from the candidates, the name's u of an exact
//! or high level fell to 1e-6, a name weight of +19, and a departmental project was linked to
//! every budget line of the same name: departmental↔budget precision 0.66 on the national world.)
//!
//! The estimate starts from the pipeline's (or the default) model, and the name, held at its
//! starting values, keeps "match" on the side of agreeing names. A comparison whose levels never
//! occur keeps its starting values; a result that collapses (λ near 0 or 1, or not converging)
//! is reported and the starting model is kept.

use super::score::{Model, ModelSource, COMPARISONS};
use rustc_hash::FxHashMap;

/// A pair's levels per comparison; `MISSING` where a value was missing on either side.
pub type Pattern = [u8; super::score::N_COMPARISONS];

/// The pattern entry for a missing comparison.
pub const MISSING: u8 = u8::MAX;

/// The outcome of an estimation.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// The model to link with: the estimate, or the starting model when estimation failed.
    pub model: Model,
    /// Estimated share of matches among the candidate pairs.
    pub lambda: f64,
    /// Iterations run.
    pub iterations: u32,
    /// Candidate pairs the estimate is based on.
    pub pairs: u64,
    /// Why the estimate was not used, when it was not.
    pub rejected: Option<String>,
}

/// Smallest probability kept, so that no level gets an infinite weight.
const FLOOR: f64 = 1e-6;

/// The comparison the candidate pairs were chosen by, which keeps its starting m and u.
const CHOSEN_BY: &str = "name";

/// Fewest candidate pairs worth estimating from.
pub const MIN_PAIRS: u64 = 200;

/// Runs EM over pattern counts, starting from `start`.
pub fn estimate(patterns: &FxHashMap<Pattern, u64>, start: &Model, max_iterations: u32) -> Estimate {
    let pairs: u64 = patterns.values().sum();
    let keep = |why: String, lambda: f64, iterations: u32| Estimate {
        model: start.clone(),
        lambda,
        iterations,
        pairs,
        rejected: Some(why),
    };
    if pairs < MIN_PAIRS {
        return keep(format!("{pairs} candidate pairs, fewer than {MIN_PAIRS}"), 0.0, 0);
    }
    // Sorted, so sums run in the same order on every run (byte-identical outputs).
    let mut counted: Vec<(Pattern, f64)> = patterns.iter().map(|(p, n)| (*p, *n as f64)).collect();
    counted.sort_by_key(|a| a.0);
    let mut model = start.clone();
    let mut estimated = [false; super::score::N_COMPARISONS];
    let mut lambda = 0.1;
    let mut iterations = 0;
    let mut converged = false;
    let mut previous_ll = f64::NEG_INFINITY;
    while iterations < max_iterations {
        iterations += 1;
        // E step: P(match | pattern).
        let mut m_sum: Vec<Vec<f64>> = COMPARISONS.iter().map(|(_, ls)| vec![0.0; ls.len()]).collect();
        let mut u_sum = m_sum.clone();
        let mut matches = 0.0;
        let mut log_likelihood = 0.0;
        for (p, n) in &counted {
            let (mut pm, mut pu) = (lambda, 1.0 - lambda);
            for (c, &l) in p.iter().enumerate() {
                if l != MISSING {
                    pm *= model.m[c][l as usize];
                    pu *= model.u[c][l as usize];
                }
            }
            let g = if pm + pu > 0.0 { pm / (pm + pu) } else { 0.0 };
            log_likelihood += n * (pm + pu).max(f64::MIN_POSITIVE).ln();
            matches += n * g;
            for (c, &l) in p.iter().enumerate() {
                if l != MISSING {
                    m_sum[c][l as usize] += n * g;
                    u_sum[c][l as usize] += n * (1.0 - g);
                }
            }
        }
        // M step.
        let new_lambda = matches / pairs as f64;
        let mut next = model.clone();
        for c in (0..COMPARISONS.len()).filter(|&c| COMPARISONS[c].0 != CHOSEN_BY) {
            let (tm, tu): (f64, f64) = (m_sum[c].iter().sum(), u_sum[c].iter().sum());
            if tm <= 0.0 || tu <= 0.0 {
                continue; // never observed: keep the starting values
            }
            estimated[c] = true;
            for l in 0..m_sum[c].len() {
                next.m[c][l] = (m_sum[c][l] / tm).clamp(FLOOR, 1.0 - FLOOR);
                next.u[c][l] = (u_sum[c][l] / tu).clamp(FLOOR, 1.0 - FLOOR);
            }
        }
        // Converged when the likelihood stops improving (EM never lowers it).
        let converged_now = (log_likelihood - previous_ll).abs() <= 1e-9 * log_likelihood.abs();
        tracing::trace!(iteration = iterations, log_likelihood, lambda = new_lambda, "EM");
        previous_ll = log_likelihood;
        model = next;
        lambda = new_lambda;
        if converged_now {
            converged = true;
            break;
        }
    }
    if !(0.001..=0.999).contains(&lambda) {
        return keep(format!("the match share collapsed to {lambda:.4}"), lambda, iterations);
    }
    if !converged {
        return keep(format!("no convergence in {iterations} iterations"), lambda, iterations);
    }
    for (source, _) in model.sources.iter_mut().zip(estimated).filter(|(_, e)| *e) {
        *source = ModelSource::Estimated;
    }
    Estimate {
        model,
        lambda,
        iterations,
        pairs,
        rejected: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Draws patterns from a known model with a simple deterministic generator.
    fn simulate(truth: &Model, lambda: f64, n: u64) -> FxHashMap<Pattern, u64> {
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut out: FxHashMap<Pattern, u64> = FxHashMap::default();
        for _ in 0..n {
            let is_match = next() < lambda;
            let mut p = [MISSING; crate::reconcile::score::N_COMPARISONS];
            for (c, slot) in p.iter_mut().enumerate() {
                let probs = if is_match { &truth.m[c] } else { &truth.u[c] };
                let mut x = next();
                let mut l = probs.len() - 1;
                for (i, q) in probs.iter().enumerate() {
                    if x < *q {
                        l = i;
                        break;
                    }
                    x -= q;
                }
                *slot = l as u8;
            }
            *out.entry(p).or_default() += 1;
        }
        out
    }

    fn truth() -> Model {
        let mut t = Model::default();
        t.m[0] = vec![0.7, 0.2, 0.07, 0.03];
        t.u[0] = vec![0.01, 0.04, 0.15, 0.80];
        t.m[1] = vec![0.9, 0.1];
        t.u[1] = vec![0.2, 0.8];
        t.m[4] = vec![0.9, 0.1];
        t.u[4] = vec![0.3, 0.7];
        t
    }

    #[test]
    fn recovers_known_parameters_from_simulated_pairs() {
        let t = truth();
        // The pipeline's name model is the true one; EM finds the rest.
        let mut start = Model::default();
        start.m[0] = t.m[0].clone();
        start.u[0] = t.u[0].clone();
        let est = estimate(&simulate(&t, 0.2, 200_000), &start, 200);
        assert!(est.rejected.is_none(), "{:?}", est.rejected);
        assert!((est.lambda - 0.2).abs() < 0.02, "lambda {}", est.lambda);
        assert!(
            (est.model.m[1][0] - 0.9).abs() < 0.03,
            "m wards.overlap {}",
            est.model.m[1][0]
        );
        assert!(
            (est.model.u[4][1] - 0.7).abs() < 0.03,
            "u asset_class.disagree {}",
            est.model.u[4][1]
        );
        assert_eq!(est.model.sources[1], ModelSource::Estimated);
        assert_eq!(est.model.sources[0], ModelSource::Default, "the name is not estimated");
    }

    #[test]
    fn the_name_the_pairs_were_chosen_by_keeps_its_starting_values() {
        let t = truth();
        let start = Model::default();
        let est = estimate(&simulate(&t, 0.2, 200_000), &start, 200);
        assert!(est.rejected.is_none(), "{:?}", est.rejected);
        assert_eq!((&est.model.m[0], &est.model.u[0]), (&start.m[0], &start.u[0]));
        assert_ne!(est.model.m[1], start.m[1], "wards are estimated");
    }

    #[test]
    fn too_few_pairs_keep_the_starting_model() {
        let est = estimate(&simulate(&truth(), 0.2, 50), &Model::default(), 50);
        assert_eq!(est.model, Model::default());
        assert!(est.rejected.as_deref().is_some_and(|r| r.contains("fewer than 200")));
    }

    #[test]
    fn estimates_are_deterministic() {
        let patterns = simulate(&truth(), 0.3, 20_000);
        let a = estimate(&patterns, &Model::default(), 100);
        let b = estimate(&patterns, &Model::default(), 100);
        assert_eq!(a, b);
    }
}

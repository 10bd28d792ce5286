//! Claims: which left-hand projects a block's right-hand project is already the counterpart of,
//! and how well their names match it.
//!
//! Links are many-to-one (a project's lines over years and funding sources share one IDP
//! project), but a budget line whose name only resembles an IDP project (`CONSTR KIRKWOOD
//! PUBLIC TOILETS` against `Kirkwood South Public Toilets`) is seldom its counterpart when
//! another budget project names it better (`Kirkwood South Public Toilets`, exactly): that one
//! explains it. And a budget line without a description cannot take an IDP project that a named
//! line of another budget project already has: the description is what would tell two budget
//! projects of one IDP project apart. The linker records every accepted link of a block here as
//! a claim, then settles the doubtful ones against the claims (`Block::link`).

use super::score::Comparison;
use rustc_hash::FxHashMap;

/// How well a link's names agree, best first: exact 0, high 1, medium 2, low 3, no name 4.
pub fn name_rank(comparisons: &[Comparison]) -> u8 {
    match comparisons.iter().find(|c| c.name == "name").map(|c| c.level) {
        Some("exact") => 0,
        Some("high") => 1,
        Some("medium") => 2,
        Some("low") => 3,
        _ => 4,
    }
}

/// The accepted links of one block, by right-hand project: each left project (its identity)
/// with the best name rank it has there.
#[derive(Debug, Default)]
pub struct Claims<'a> {
    by_project: FxHashMap<usize, Vec<(&'a str, u8)>>,
}

impl<'a> Claims<'a> {
    /// Records that left project `left` is linked to right project `k` with names of `rank`.
    pub fn add(&mut self, k: usize, left: &'a str, rank: u8) {
        let held = self.by_project.entry(k).or_default();
        match held.iter_mut().find(|(l, _)| *l == left) {
            Some((_, r)) => *r = (*r).min(rank),
            None => held.push((left, rank)),
        }
    }

    /// The best name rank with which another left project than `left` holds `k`.
    fn best_other(&self, k: usize, left: &str) -> Option<u8> {
        self.by_project
            .get(&k)?
            .iter()
            .filter(|(l, _)| *l != left)
            .map(|(_, r)| *r)
            .min()
    }

    /// Whether another left project than `left` holds `k`.
    pub fn held_by_other(&self, k: usize, left: &str) -> bool {
        self.best_other(k, left).is_some()
    }

    /// Whether another left project holds `k` with a name that matches it better than `rank`.
    pub fn outranked(&self, k: usize, left: &str, rank: u8) -> bool {
        self.best_other(k, left).is_some_and(|best| best < rank)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(level: &'static str) -> Vec<Comparison> {
        vec![Comparison {
            name: "name",
            level,
            weight: 0.0,
            value: None,
        }]
    }

    #[test]
    fn a_project_named_exactly_by_one_left_project_outranks_another_that_only_resembles_it() {
        let mut claims = Claims::default();
        claims.add(7, "PC1_00026", name_rank(&name("exact")));
        claims.add(7, "PC1_00031", name_rank(&name("high")));
        // The one that only resembles it is outranked; the exact one is not, by itself or by
        // the weaker one; another year's line of the same budget project is not a rival.
        assert!(claims.outranked(7, "PC1_00031", 1));
        assert!(!claims.outranked(7, "PC1_00026", 0));
        assert!(!claims.outranked(7, "PC1_00026", 1));
        assert!(claims.held_by_other(7, "PC1_00099"));
        assert!(!claims.held_by_other(8, "PC1_00099"));
        // A line without a name (rank 4) is outranked by any named claim of another project.
        assert!(claims.outranked(7, "PC1_00099", name_rank(&[])));
        assert_eq!(name_rank(&name("medium")), 2);
    }
}

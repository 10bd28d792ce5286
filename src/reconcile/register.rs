//! The cross-sphere project register: records joined by accepted links form one project, with a
//! `project_key` that survives reruns.
//!
//! Clusters are the connected components of accepted links, joined with the records of the
//! same dataset and municipality that share a reference — the IRM `Project ID`, the mSCOA project
//! number, the IDP reference — across years and files, so a departmental project reported in
//! three annual IRM exports is one project even where no IDP lists it (a record without links or
//! shared reference is a project of its own). An analyst's cannot-link holds here too: links join
//! projects from the strongest (must-links, exact identifiers, then by match weight) down, and a
//! link that would put a cannot-linked pair in one project is left out of the register. A cluster takes over the key its members had in the previous run when at least
//! half of its members' natural keys carried that key (so a renamed budget line, whose mSCOA
//! number is unchanged, keeps its project); otherwise it gets a new key from the hash of its
//! members' natural keys, which is the same on every rerun of the same inputs.

use crate::domain::Method;
use crate::reconcile::Link;
use crate::records::Record;
use std::collections::{BTreeMap, BTreeSet};

/// One record's place in the register.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The project's key.
    pub project_key: String,
    /// The record.
    pub record_id: String,
    /// Its natural key (source, municipality, reference or name).
    pub natural_key: String,
    /// Dataset.
    pub dataset: &'static str,
    /// Municipality.
    pub demarcation_code: Option<String>,
    /// Name.
    pub project_name: Option<String>,
    /// Records in the project.
    pub cluster_size: u32,
}

fn find(parent: &mut [usize], i: usize) -> usize {
    let mut root = i;
    while parent[root] != root {
        root = parent[root];
    }
    let mut j = i;
    while parent[j] != root {
        let next = parent[j];
        parent[j] = root;
        j = next;
    }
    root
}

/// Union–find over record indices that refuses to join two records an analyst kept apart
/// (a cannot-link), however the other links connect them.
struct Clusters {
    parent: Vec<usize>,
    /// Per component root: its members that are in a kept-apart pair (absent for nearly all).
    guarded: BTreeMap<usize, Vec<usize>>,
    /// Kept-apart pairs of record indices, smaller index first.
    apart: BTreeSet<(usize, usize)>,
    /// Joins refused because they would have put a kept-apart pair in one project.
    refused: usize,
}

impl Clusters {
    fn new(len: usize, apart: BTreeSet<(usize, usize)>) -> Clusters {
        let mut guarded: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for &(a, b) in &apart {
            for i in [a, b] {
                guarded.entry(i).or_insert_with(|| vec![i]);
            }
        }
        Clusters {
            parent: (0..len).collect(),
            guarded,
            apart,
            refused: 0,
        }
    }

    fn root(&mut self, i: usize) -> usize {
        find(&mut self.parent, i)
    }

    fn join(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra == rb {
            return;
        }
        if let (Some(x), Some(y)) = (self.guarded.get(&ra), self.guarded.get(&rb)) {
            let clash = x
                .iter()
                .any(|&i| y.iter().any(|&j| self.apart.contains(&(i.min(j), i.max(j)))));
            if clash {
                self.refused += 1;
                return;
            }
        }
        let (keep, gone) = (ra.min(rb), ra.max(rb));
        self.parent[gone] = keep;
        if let Some(moved) = self.guarded.remove(&gone) {
            self.guarded.entry(keep).or_default().extend(moved);
        }
    }
}

/// Accepted links in the order they join projects: analysts' must-links, then exact links on
/// shared identifiers, then probabilistic ones by match weight. Without cannot-links the order
/// changes nothing; with them, the weaker link is the one refused.
fn by_strength<'a>(accepted: &[&'a Link]) -> Vec<&'a Link> {
    let rank = |l: &Link| match l.method {
        Method::Override => 0,
        Method::ExactIdentifier => 1,
        Method::Probabilistic => 2,
    };
    let mut ordered = accepted.to_vec();
    ordered.sort_by(|a, b| {
        rank(a)
            .cmp(&rank(b))
            .then_with(|| b.match_weight.total_cmp(&a.match_weight))
            .then_with(|| {
                (a.link_type, &a.left_record_id, &a.right_record_id).cmp(&(
                    b.link_type,
                    &b.left_record_id,
                    &b.right_record_id,
                ))
            })
    });
    ordered
}

/// Builds the register. `apart` lists record-id pairs an analyst said are not one project
/// (cannot-links); `previous` maps natural keys to the project keys of the last run.
pub fn build(
    records: &[Record],
    accepted: &[&Link],
    apart: &[(String, String)],
    previous: &BTreeMap<String, String>,
) -> Vec<Member> {
    let index: BTreeMap<&str, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.record_id.as_str(), i))
        .collect();
    let apart: BTreeSet<(usize, usize)> = apart
        .iter()
        .filter_map(|(a, b)| Some((*index.get(a.as_str())?, *index.get(b.as_str())?)))
        .map(|(a, b)| (a.min(b), a.max(b)))
        .collect();
    let mut clusters = Clusters::new(records.len(), apart);
    // The same project in several years or files of one dataset: its reference is shared.
    let mut first_with_ref: BTreeMap<(&'static str, &str, &str), usize> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        let (Some(code), Some(reference)) = (r.demarcation_code.as_deref(), r.project_ref.as_deref()) else {
            continue;
        };
        match first_with_ref.entry((r.dataset.as_str(), code, reference)) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(i);
            }
            std::collections::btree_map::Entry::Occupied(o) => clusters.join(*o.get(), i),
        }
    }
    for l in by_strength(accepted) {
        if let (Some(&a), Some(&b)) = (
            index.get(l.left_record_id.as_str()),
            index.get(l.right_record_id.as_str()),
        ) {
            clusters.join(a, b);
        }
    }
    if clusters.refused > 0 {
        tracing::info!(
            links = clusters.refused,
            "accepted links left out of the project register: each would join records an analyst said are not one project"
        );
    }
    let mut by_root: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..records.len() {
        let root = clusters.root(i);
        by_root.entry(root).or_default().push(i);
    }
    // Natural keys once per record (they are compared and hashed below).
    let natural: Vec<String> = {
        use rayon::prelude::*;
        records.par_iter().map(Record::natural_key).collect()
    };
    // Each cluster's distinct natural keys, sorted; clusters in the order of those lists, so the
    // order (and the keys made from it) does not depend on record order.
    let mut ordered: Vec<(Vec<&str>, Vec<usize>)> = by_root
        .into_values()
        .map(|m| {
            let mut keys: Vec<&str> = m.iter().map(|&i| natural[i].as_str()).collect();
            keys.sort_unstable();
            keys.dedup();
            (keys, m)
        })
        .collect();
    ordered.sort_unstable();
    let mut used = BTreeSet::new();
    let mut out = Vec::with_capacity(records.len());
    for (keys, members) in ordered {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for k in &keys {
            if let Some(p) = previous.get(*k) {
                *votes.entry(p.as_str()).or_default() += 1;
            }
        }
        let carried = votes
            .iter()
            .filter(|(k, n)| **n * 2 >= keys.len() && !used.contains(**k))
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(k, _)| (*k).to_string());
        let key = carried.unwrap_or_else(|| {
            let joined = keys.join("\n");
            format!("P{}", &crate::domain::sha256_hex(joined.as_bytes())[..12])
        });
        used.insert(key.clone());
        let size = members.len() as u32;
        for i in members {
            let r = &records[i];
            out.push(Member {
                project_key: key.clone(),
                record_id: r.record_id.clone(),
                natural_key: natural[i].clone(),
                dataset: r.dataset.as_str(),
                demarcation_code: r.demarcation_code.clone(),
                project_name: r.match_name().map(str::to_string),
                cluster_size: size,
            });
        }
    }
    out.sort_by(|a, b| (&a.project_key, &a.record_id).cmp(&(&b.project_key, &b.record_id)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::Dataset;

    fn rec(id: &str, source: &str, dataset: Dataset, muni: &str, reference: &str) -> Record {
        Record {
            project_ref: Some(reference.into()),
            source_row: 2,
            project_name: Some(format!("Project {reference}")),
            ..Record::bare(id, source, dataset, muni)
        }
    }

    fn key_of<'a>(m: &'a [Member], id: &str) -> (&'a str, u32) {
        let x = m.iter().find(|x| x.record_id == id).unwrap();
        (x.project_key.as_str(), x.cluster_size)
    }

    #[test]
    fn one_departmental_project_across_annual_exports_is_one_project() {
        let records = vec![
            rec("irm_2024:1", "irm_2024", Dataset::Departmental, "BUF", "100001"),
            rec("irm_2025:1", "irm_2025", Dataset::Departmental, "BUF", "100001"),
            rec("irm_2025:2", "irm_2025", Dataset::Departmental, "BUF", "100002"),
            // The same number in another municipality is another project.
            rec("irm_2025:3", "irm_2025", Dataset::Departmental, "NMA", "100001"),
            // A different dataset with the same reference text is not joined by it.
            rec("idp:1", "idp", Dataset::Idp, "BUF", "100001"),
        ];
        let m = build(&records, &[], &[], &BTreeMap::new());
        assert_eq!(m.len(), 5);
        let (a, size) = key_of(&m, "irm_2024:1");
        assert_eq!(size, 2);
        assert_eq!(key_of(&m, "irm_2025:1").0, a);
        for other in ["irm_2025:2", "irm_2025:3", "idp:1"] {
            assert_ne!(key_of(&m, other).0, a, "{other}");
            assert_eq!(key_of(&m, other).1, 1, "{other}");
        }
        // Same inputs, same keys.
        assert_eq!(build(&records, &[], &[], &BTreeMap::new()), m);
    }

    /// A budget line linked to a BEPP project that is linked to an IDP project: one project of
    /// three, unless an analyst said the budget line is not the IDP project; then the weaker
    /// link that would join them is left out, whichever order the links come in.
    #[test]
    fn a_cannot_link_holds_through_other_links() {
        use crate::reconcile::LinkType;
        let records = vec![
            rec("budget:1", "budget", Dataset::Budget, "BUF", "PC1"),
            rec("budget_next:1", "budget_next", Dataset::Budget, "BUF", "PC1"),
            rec("bepp:1", "bepp", Dataset::Bepp, "BUF", "B-7"),
            rec("idp:1", "idp", Dataset::Idp, "BUF", "IDP-1"),
        ];
        let probabilistic = |l: &str, r: &str, t: LinkType, weight: f64| Link {
            method: crate::domain::Method::Probabilistic,
            match_weight: weight,
            ..Link::bare(l, r, t, "BUF")
        };
        let strong = probabilistic("bepp:1", "budget:1", LinkType::BeppBudget, 12.0);
        let weak = probabilistic("bepp:1", "idp:1", LinkType::BeppIdp, 6.0);
        let together = build(&records, &[&strong, &weak], &[], &BTreeMap::new());
        assert_eq!(key_of(&together, "idp:1").1, 4);
        let apart = vec![("budget_next:1".to_string(), "idp:1".to_string())];
        for links in [vec![&strong, &weak], vec![&weak, &strong]] {
            let m = build(&records, &links, &apart, &BTreeMap::new());
            let (budget, size) = key_of(&m, "budget:1");
            assert_eq!(size, 3, "both years' budget line and the BEPP project stay one project");
            assert_eq!(key_of(&m, "budget_next:1").0, budget);
            assert_eq!(key_of(&m, "bepp:1").0, budget);
            assert_ne!(key_of(&m, "idp:1").0, budget);
            assert_eq!(key_of(&m, "idp:1").1, 1);
        }
    }
}

//! The cross-sphere project register: records joined by accepted links form one project, with a
//! `project_key` that survives reruns.
//!
//! Clusters are the connected components of accepted links, joined with the records of the
//! same dataset and municipality that share a reference — the IRM `Project ID`, the mSCOA project
//! number, the IDP reference — across years and files, so a departmental project reported in
//! three annual IRM exports is one project even where no IDP lists it (a record without links or
//! shared reference is a project of its own). A cluster takes over the key its members had in the previous run when at least
//! half of its members' natural keys carried that key (so a renamed budget line, whose mSCOA
//! number is unchanged, keeps its project); otherwise it gets a new key from the hash of its
//! members' natural keys, which is the same on every rerun of the same inputs.

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

/// Builds the register. `previous` maps natural keys to the project keys of the last run.
pub fn build(records: &[Record], accepted: &[&Link], previous: &BTreeMap<String, String>) -> Vec<Member> {
    let index: BTreeMap<&str, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.record_id.as_str(), i))
        .collect();
    let mut parent: Vec<usize> = (0..records.len()).collect();
    for l in accepted {
        if let (Some(&a), Some(&b)) = (
            index.get(l.left_record_id.as_str()),
            index.get(l.right_record_id.as_str()),
        ) {
            let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
            if ra != rb {
                parent[ra.max(rb)] = ra.min(rb);
            }
        }
    }
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
            std::collections::btree_map::Entry::Occupied(o) => {
                let (ra, rb) = (find(&mut parent, *o.get()), find(&mut parent, i));
                if ra != rb {
                    parent[ra.max(rb)] = ra.min(rb);
                }
            }
        }
    }
    let mut clusters: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..records.len() {
        let root = find(&mut parent, i);
        clusters.entry(root).or_default().push(i);
    }
    // Natural keys once per record (they are compared and hashed below).
    let natural: Vec<String> = {
        use rayon::prelude::*;
        records.par_iter().map(Record::natural_key).collect()
    };
    // Each cluster's distinct natural keys, sorted; clusters in the order of those lists, so the
    // order (and the keys made from it) does not depend on record order.
    let mut ordered: Vec<(Vec<&str>, Vec<usize>)> = clusters
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
            format!("P{}", &crate::sources::sha256_hex(joined.as_bytes())[..12])
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
        let m = build(&records, &[], &BTreeMap::new());
        assert_eq!(m.len(), 5);
        let (a, size) = key_of(&m, "irm_2024:1");
        assert_eq!(size, 2);
        assert_eq!(key_of(&m, "irm_2025:1").0, a);
        for other in ["irm_2025:2", "irm_2025:3", "idp:1"] {
            assert_ne!(key_of(&m, other).0, a, "{other}");
            assert_eq!(key_of(&m, other).1, 1, "{other}");
        }
        // Same inputs, same keys.
        assert_eq!(build(&records, &[], &BTreeMap::new()), m);
    }
}

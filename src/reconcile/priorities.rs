//! National priorities through links: a budget line's MTSF outcome and IUDF goal (SA36 states
//! them; IDPs, BEPPs and departmental lists mostly do not) carried over to the IDP, BEPP and
//! departmental projects it is linked to.
//!
//! A record with its own value keeps it (`own`). Otherwise it inherits from the budget lines it
//! has an accepted link to (`inherited_via_link`); failing that, from the budget lines of the
//! same cross-sphere project, that is the connected component of accepted links, as in the
//! project register (`inherited_via_project`: a BEPP project linked to an IDP project that is
//! linked to the budget line). Among several candidate lines the one with the largest budget
//! (sum of its budget-phase amounts) wins, ties to the smaller record id, so the choice is
//! deterministic; the line is named in `mtsf_outcome_from_record` / `iudf_from_record`. Budget
//! lines never inherit: a line without an outcome stays without one.

use crate::contracts::Dataset;
use crate::reconcile::Link;
use crate::records::{PriorityOrigin, Record};
use std::collections::BTreeMap;

/// Which priority field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    MtsfOutcome,
    Iudf,
}

impl Field {
    fn get(self, r: &Record) -> Option<&str> {
        match self {
            Field::MtsfOutcome => r.mtsf_outcome.as_deref(),
            Field::Iudf => r.iudf.as_deref(),
        }
    }

    fn set(self, r: &mut Record, value: String, origin: PriorityOrigin, from: String) {
        match self {
            Field::MtsfOutcome => {
                r.mtsf_outcome = Some(value);
                r.mtsf_outcome_origin = Some(origin);
                r.mtsf_outcome_from_record = Some(from);
            }
            Field::Iudf => {
                r.iudf = Some(value);
                r.iudf_origin = Some(origin);
                r.iudf_from_record = Some(from);
            }
        }
    }
}

fn find(parent: &mut [usize], i: usize) -> usize {
    let mut root = i;
    while parent[root] != root {
        root = parent[root];
    }
    parent[i] = root;
    root
}

/// The budget line to inherit from among `candidates` (record indices): largest budget, then
/// smallest record id.
fn best(records: &[Record], candidates: &[usize], field: Field) -> Option<usize> {
    let budget = |r: &Record| -> f64 { r.amounts.iter().filter(|a| a.phase == "budget").map(|a| a.rand).sum() };
    candidates
        .iter()
        .copied()
        .filter(|&i| records[i].dataset == Dataset::Budget && field.get(&records[i]).is_some())
        .max_by(|&a, &b| {
            budget(&records[a])
                .total_cmp(&budget(&records[b]))
                .then_with(|| records[b].record_id.cmp(&records[a].record_id))
        })
}

/// Fills `mtsf_outcome` and `iudf` of non-budget records from linked budget lines, recording the
/// origin. Returns how many values were inherited.
pub fn propagate(records: &mut [Record], accepted: &[&Link]) -> usize {
    let index: BTreeMap<&str, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.record_id.as_str(), i))
        .collect();
    let mut direct: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut parent: Vec<usize> = (0..records.len()).collect();
    for l in accepted {
        let (Some(&a), Some(&b)) = (
            index.get(l.left_record_id.as_str()),
            index.get(l.right_record_id.as_str()),
        ) else {
            continue;
        };
        direct.entry(a).or_default().push(b);
        direct.entry(b).or_default().push(a);
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra != rb {
            parent[ra.max(rb)] = ra.min(rb);
        }
    }
    let roots: Vec<usize> = (0..records.len()).map(|i| find(&mut parent, i)).collect();
    let mut project: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, root) in roots.iter().enumerate() {
        project.entry(*root).or_default().push(i);
    }
    let mut plan = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if r.dataset == Dataset::Budget || r.dataset == Dataset::Reference {
            continue;
        }
        for field in [Field::MtsfOutcome, Field::Iudf] {
            if field.get(r).is_some() {
                continue;
            }
            let linked = direct.get(&i).map_or(&[][..], Vec::as_slice);
            let found = best(records, linked, field)
                .map(|j| (j, PriorityOrigin::Link))
                .or_else(|| {
                    let members = project.get(&roots[i]).map_or(&[][..], Vec::as_slice);
                    best(records, members, field).map(|j| (j, PriorityOrigin::Project))
                });
            if let Some((j, origin)) = found {
                plan.push((i, field, j, origin));
            }
        }
    }
    let n = plan.len();
    for (i, field, j, origin) in plan {
        let value = field.get(&records[j]).unwrap_or_default().to_string();
        let from = records[j].record_id.clone();
        field.set(&mut records[i], value, origin, from);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::validate::AmountValue;
    use crate::domain::fiscal::{Calendar, FinancialYear};
    use crate::reconcile::LinkType;

    fn rec(id: &str, dataset: Dataset, budget: f64) -> Record {
        Record {
            amounts: vec![AmountValue {
                year: FinancialYear::new(Calendar::Municipal, 2024),
                phase: if dataset == Dataset::Budget {
                    "budget"
                } else {
                    "planned"
                }
                .into(),
                rand: budget,
            }],
            ..Record::bare(id, "s", dataset, "EC121")
        }
    }

    fn link(l: &str, r: &str, t: LinkType) -> Link {
        Link::bare(l, r, t, "EC121")
    }

    /// Issue #19: an IDP project inherits its linked budget line's MTSF outcome; a BEPP project
    /// linked only to that IDP project inherits it through the project; own values stay.
    #[test]
    fn an_idp_project_inherits_its_linked_budget_lines_mtsf_outcome() {
        let mut small = rec("b-small", Dataset::Budget, 10.0);
        small.mtsf_outcome = Some("Outcome 6: infrastructure".into());
        small.mtsf_outcome_origin = Some(PriorityOrigin::Own);
        let mut big = rec("b-big", Dataset::Budget, 900.0);
        big.mtsf_outcome = Some("Outcome 8: human settlements".into());
        big.iudf = Some("Integrated transport".into());
        let idp = rec("idp", Dataset::Idp, 500.0);
        let bepp = rec("bepp", Dataset::Bepp, 700.0);
        let mut own = rec("idp-own", Dataset::Idp, 5.0);
        own.mtsf_outcome = Some("Outcome 2".into());
        own.mtsf_outcome_origin = Some(PriorityOrigin::Own);
        let lonely = rec("idp-alone", Dataset::Idp, 5.0);
        let mut records = vec![small, big, idp, bepp, own, lonely];
        let links = [
            link("b-small", "idp", LinkType::BudgetIdp),
            link("b-big", "idp", LinkType::BudgetIdp),
            link("bepp", "idp", LinkType::BeppIdp),
            link("b-small", "idp-own", LinkType::BudgetIdp),
        ];
        let n = propagate(&mut records, &links.iter().collect::<Vec<_>>());
        let get = |id: &str| records.iter().find(|r| r.record_id == id).unwrap();
        // Two lines linked: the larger budget wins.
        let idp = get("idp");
        assert_eq!(idp.mtsf_outcome.as_deref(), Some("Outcome 8: human settlements"));
        assert_eq!(idp.mtsf_outcome_origin, Some(PriorityOrigin::Link));
        assert_eq!(idp.mtsf_outcome_from_record.as_deref(), Some("b-big"));
        assert_eq!(idp.iudf.as_deref(), Some("Integrated transport"));
        assert_eq!(idp.iudf_origin.map(PriorityOrigin::as_str), Some("inherited_via_link"));
        let bepp = get("bepp");
        assert_eq!(bepp.mtsf_outcome.as_deref(), Some("Outcome 8: human settlements"));
        assert_eq!(
            bepp.mtsf_outcome_origin.map(PriorityOrigin::as_str),
            Some("inherited_via_project")
        );
        let own = get("idp-own");
        assert_eq!(
            (own.mtsf_outcome.as_deref(), own.mtsf_outcome_origin),
            (Some("Outcome 2"), Some(PriorityOrigin::Own))
        );
        // idp-own is in the project too (via b-small), so it inherits the IUDF goal only.
        assert_eq!(own.iudf_origin, Some(PriorityOrigin::Project));
        let lonely = get("idp-alone");
        assert_eq!(
            (lonely.mtsf_outcome.as_deref(), lonely.mtsf_outcome_origin),
            (None, None)
        );
        // idp: 2, bepp: 2, idp-own: 1 (IUDF).
        assert_eq!(n, 5);
    }
}

//! Bundles of minor findings: the many small findings of one type in one municipality become
//! one finding an adjudicator can decide on, so the register's short list of material findings
//! still covers the Rand at stake of all of them.
//!
//! A municipality's 60 budget lines of R200,000 without an IDP basis are each below the
//! materiality threshold, yet R12 million together. Left alone they are either a long list
//! nobody adjudicates or Rand nobody sees. Here every (municipality, type) with at least two
//! immaterial findings that carry Rand gets one more finding, the bundle: its Rand is the
//! members' sum, its years their union, its severity the highest among them, and it is assessed
//! for materiality like any other finding. The members stay in the table (not material, with
//! `bundled_in` naming the bundle), so nothing is lost and each can still be looked up.

use super::{exception_id, Exception, Totals, ALWAYS_MATERIAL};
use crate::domain::FindingSeverity;
use std::collections::BTreeMap;

/// How many member details a bundle's `detail` quotes (the largest first).
const QUOTED: usize = 3;

/// Adds a bundle per (municipality, type) of at least two immaterial findings with Rand at
/// stake, assesses the bundles, and names each member's bundle in `bundled_in`.
pub fn bundle_minor(out: &mut Vec<Exception>, budgets: &Totals, settings: &crate::metrics::ExceptionSettings) {
    let mut groups: BTreeMap<(String, &'static str), Vec<usize>> = BTreeMap::new();
    for (i, e) in out.iter().enumerate() {
        if bundled(e) {
            groups
                .entry((e.demarcation_code.clone(), e.exception_type))
                .or_default()
                .push(i);
        }
    }
    let mut bundles = Vec::new();
    for ((code, kind), members) in groups.into_iter().filter(|(_, m)| m.len() >= 2) {
        let bundle = make_bundle(out, &code, kind, &members);
        for &i in &members {
            out[i].bundled_in = Some(bundle.exception_id.clone());
        }
        bundles.push(bundle);
    }
    super::assess(&mut bundles, budgets, settings);
    out.append(&mut bundles);
}

/// Whether a finding goes into its municipality's bundle of that type: immaterial, with Rand at
/// stake, and of a type whose findings are about projects (not doubtful links or whole years).
fn bundled(e: &Exception) -> bool {
    !e.material && e.amount_at_stake > 0.0 && e.bundle_size.is_none() && !ALWAYS_MATERIAL.contains(&e.exception_type)
}

fn make_bundle(out: &[Exception], code: &str, kind: &'static str, members: &[usize]) -> Exception {
    let mut by_amount: Vec<&Exception> = members.iter().map(|&i| &out[i]).collect();
    by_amount.sort_by(|a, b| {
        b.amount_at_stake
            .total_cmp(&a.amount_at_stake)
            .then_with(|| a.exception_id.cmp(&b.exception_id))
    });
    let amount: f64 = by_amount.iter().map(|e| e.amount_at_stake).sum();
    let mut years: Vec<_> = by_amount
        .iter()
        .flat_map(|e| e.financial_years.iter().copied())
        .collect();
    years.sort();
    years.dedup();
    let severity = by_amount
        .iter()
        .map(|e| e.severity)
        .max()
        .unwrap_or(FindingSeverity::Low);
    let first = by_amount[0];
    let same_owner = by_amount
        .iter()
        .all(|e| e.owner_sphere == first.owner_sphere && e.owner == first.owner);
    let owner = if same_owner {
        (first.owner_sphere.clone(), first.owner.clone())
    } else {
        ("municipal".to_string(), code.to_string())
    };
    let mut record_ids: Vec<&str> = by_amount
        .iter()
        .flat_map(|e| e.record_ids.split(';'))
        .filter(|s| !s.is_empty())
        .collect();
    record_ids.sort_unstable();
    record_ids.dedup();
    let mut e = Exception::new(
        kind,
        severity,
        code.to_string(),
        years.first().copied(),
        owner,
        amount,
        record_ids.join(";"),
        bundle_detail(&by_amount, amount, same_owner),
    );
    e.financial_years = years;
    e.bundle_size = Some(by_amount.len() as i64);
    e.exception_id = exception_id(kind, &[format!("bundle|{code}")], None);
    e
}

/// `61 findings below the materiality threshold, R 12.2 m together; the largest: …`.
fn bundle_detail(by_amount: &[&Exception], amount: f64, same_owner: bool) -> String {
    let quoted: Vec<String> = by_amount
        .iter()
        .take(QUOTED)
        .map(|e| format!("{} ({})", e.detail, super::rand_text(e.amount_at_stake)))
        .collect();
    let owners = if same_owner {
        String::new()
    } else {
        let mut o: Vec<String> = by_amount
            .iter()
            .map(|e| format!("{} {}", e.owner_sphere, e.owner))
            .collect();
        o.sort();
        o.dedup();
        format!("; owners: {}", o.join(", "))
    };
    format!(
        "{} findings below the materiality threshold, {} together{owners}; the largest: {}",
        by_amount.len(),
        super::rand_text(amount),
        quoted.join(" | ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fiscal::{Calendar, FinancialYear};

    fn finding(id: &str, code: &str, kind: &'static str, severity: &str, rand: f64, year: i32) -> Exception {
        let mut e = Exception::new(
            kind,
            FindingSeverity::parse(severity).expect("a severity"),
            code.into(),
            Some(FinancialYear::new(Calendar::Municipal, year)),
            ("municipal".into(), code.into()),
            rand,
            format!("{id}-record"),
            format!("line {id}"),
        );
        e.exception_id = id.into();
        e
    }

    /// Three small BUF budget lines (R0.2 m, R0.3 m, R0.5 m) are each below R1 m; together
    /// R1.0 m is 1% of BUF's R100 m budget: one material bundle. EC122's single small line and
    /// the material R20 m line stay as they are.
    #[test]
    fn small_findings_of_one_type_in_one_municipality_become_one_material_bundle() {
        let kind = "budget_without_idp_basis";
        let mut out = vec![
            finding("a", "BUF", kind, "medium", 200_000.0, 2024),
            finding("b", "BUF", kind, "medium", 300_000.0, 2025),
            finding("c", "BUF", kind, "high", 500_000.0, 2024),
            finding("big", "BUF", kind, "high", 20_000_000.0, 2024),
            finding("alone", "EC122", kind, "medium", 400_000.0, 2024),
            finding("review", "BUF", "link_review", "low", 0.0, 2024),
        ];
        let budgets: Totals = BTreeMap::from([
            (
                "BUF".to_string(),
                BTreeMap::from([
                    ("2024/25".to_string(), 100_000_000.0),
                    ("2025/26".to_string(), 100_000_000.0),
                ]),
            ),
            (
                "EC122".to_string(),
                BTreeMap::from([("2024/25".to_string(), 50_000_000.0)]),
            ),
        ]);
        let settings = crate::metrics::ExceptionSettings::default();
        super::super::assess(&mut out, &budgets, &settings);
        bundle_minor(&mut out, &budgets, &settings);
        assert_eq!(out.len(), 7, "one bundle added, nothing removed");
        let bundle = out.last().unwrap();
        assert_eq!(bundle.bundle_size, Some(3));
        assert_eq!(bundle.exception_type, kind);
        assert_eq!(bundle.severity, FindingSeverity::High);
        assert_eq!(bundle.amount_at_stake, 1_000_000.0);
        assert_eq!(
            bundle.financial_years.iter().map(|y| y.start_year).collect::<Vec<_>>(),
            [2024, 2025]
        );
        // R1.0 m over both years' R200 m is 0.5%: just material.
        assert_eq!(bundle.share_of_capital_budget, Some(0.005));
        assert!(bundle.material);
        assert_eq!(bundle.record_ids, "a-record;b-record;c-record");
        assert!(
            bundle.detail.starts_with(
                "3 findings below the materiality threshold, R 1.0 m together; the largest: line c (R 0.5 m)"
            ),
            "{}",
            bundle.detail
        );
        let in_bundle = |id: &str| out.iter().find(|e| e.exception_id == id).unwrap().bundled_in.clone();
        for id in ["a", "b", "c"] {
            assert_eq!(in_bundle(id).as_deref(), Some(bundle.exception_id.as_str()));
        }
        for id in ["big", "alone", "review"] {
            assert_eq!(in_bundle(id), None, "{id}");
        }
        // The bundle's id depends on the municipality and type only: stable as members change.
        assert_eq!(
            bundle.exception_id,
            exception_id(kind, &["bundle|BUF".to_string()], None)
        );
    }
}

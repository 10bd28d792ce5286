//! Peer groups and peer statistics for municipal metric rows.
//!
//! A municipality is compared with municipalities of its MIIF class (Municipal Infrastructure
//! Investment Framework, in `data/reference/municipalities.csv`): metros (`A`) with metros,
//! secondary cities (`B1`), large towns (`B2`), small towns (`B3`) and mainly rural
//! municipalities (`B4`) each among themselves, and districts (`C`, the reference's `C1` and
//! `C2` together) with districts. Within a group, for one metric, dimension and year:
//! the median and quartiles of the values (linear interpolation between order statistics, the
//! same as numpy's default), each municipality's distance from the median, and — only for
//! metrics whose direction of "better" is declared ([`Better`]) — a rank and a percentile. A
//! pure share (a profile such as the budget's split by MTSF outcome) has no better direction and
//! is never ranked.

use crate::contracts::reference::Reference;
use crate::domain::Better;
use std::collections::BTreeMap;

/// The peer group of a municipality: its MIIF class (`A`, `B1`…`B4`), `C` for every district,
/// the category when the class is missing, `?` for a code the reference does not know.
pub fn peer_group(reference: &Reference, code: &str) -> String {
    match reference.get(code) {
        Some(m) if m.category == "C" => "C".to_string(),
        Some(m) if !m.miif_category.is_empty() => m.miif_category.clone(),
        Some(m) => m.category.clone(),
        None => "?".to_string(),
    }
}

/// What one municipal row gets from its peer group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerCells {
    /// Rank among the group (1 = best, ties share a rank); `None` for unranked metrics.
    pub rank: Option<u32>,
    /// Municipalities of the group with a value for this metric, dimension and year.
    pub count: Option<u32>,
    /// Share of the other members doing worse, 0–100; `None` for unranked metrics.
    pub percentile: Option<f64>,
    /// The group's median value.
    pub median: Option<f64>,
    /// The group's first quartile.
    pub q1: Option<f64>,
    /// The group's third quartile.
    pub q3: Option<f64>,
    /// This value − the group's median.
    pub distance: Option<f64>,
}

/// The `p` quantile of sorted values, by linear interpolation between order statistics.
pub fn quantile(sorted: &[f64], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let h = last as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(last);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// Peer cells for the members of one group (row index, value), ranked by `better`.
pub fn group_cells(members: &[(usize, f64)], better: Better) -> Vec<(usize, PeerCells)> {
    let mut sorted: Vec<f64> = members.iter().map(|m| m.1).collect();
    sorted.sort_by(f64::total_cmp);
    let (median, q1, q3) = (quantile(&sorted, 0.5), quantile(&sorted, 0.25), quantile(&sorted, 0.75));
    let n = members.len() as u32;
    members
        .iter()
        .map(|&(i, v)| {
            let (rank, percentile) = match better.score(v) {
                Some(s) => {
                    let score = |w: f64| better.score(w).unwrap_or(f64::NEG_INFINITY);
                    let ahead = members.iter().filter(|(_, w)| score(*w) > s).count() as u32;
                    let behind = members.iter().filter(|(_, w)| score(*w) < s).count() as f64;
                    let pct = if n > 1 {
                        100.0 * behind / f64::from(n - 1)
                    } else {
                        100.0
                    };
                    (Some(ahead + 1), Some(pct))
                }
                None => (None, None),
            };
            let cells = PeerCells {
                rank,
                count: Some(n),
                percentile,
                median,
                q1,
                q3,
                distance: median.map(|m| v - m),
            };
            (i, cells)
        })
        .collect()
}

/// Peer cells for every row: `rows` are (row index, peer key, value, direction) of municipal
/// rows with a value, the key being (peer group, year, metric, dimension). Rows not given get
/// default (empty) cells.
pub fn cells(rows: Vec<(usize, PeerKey, f64, Better)>, total: usize) -> Vec<PeerCells> {
    let mut groups: BTreeMap<PeerKey, (Better, Vec<(usize, f64)>)> = BTreeMap::new();
    for (i, key, v, better) in rows {
        groups.entry(key).or_insert_with(|| (better, Vec::new())).1.push((i, v));
    }
    let mut out = vec![PeerCells::default(); total];
    for (better, members) in groups.values() {
        for (i, c) in group_cells(members, *better) {
            out[i] = c;
        }
    }
    out
}

/// (peer group, year, metric, dimension).
pub type PeerKey = (String, i32, String, Option<String>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn miif_classes_are_the_peer_groups() {
        let r = Reference::bundled();
        assert_eq!(peer_group(r, "BUF"), "A");
        assert_eq!(peer_group(r, "EC129"), "B3");
        assert_eq!(peer_group(r, "EC121"), "B4");
        assert_eq!(peer_group(r, "DC12"), "C");
        assert_eq!(peer_group(r, "XX999"), "?");
    }

    #[test]
    fn quartiles_by_hand() {
        // 1, 2, 4, 10: median (2+4)/2 = 3; q1 at h = 0.75 → 1 + 0.75 = 1.75; q3 at h = 2.25 → 4 + 0.25×6 = 5.5.
        let s = [1.0, 2.0, 4.0, 10.0];
        assert_eq!(quantile(&s, 0.5), Some(3.0));
        assert_eq!(quantile(&s, 0.25), Some(1.75));
        assert_eq!(quantile(&s, 0.75), Some(5.5));
        assert_eq!(quantile(&[7.0], 0.25), Some(7.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn lower_is_better_ranks_the_smallest_first_and_profiles_are_not_ranked() {
        let members = [(0, 0.3), (1, 0.1), (2, 0.2)];
        let c = group_cells(&members, Better::Lower);
        assert_eq!(c[1].1.rank, Some(1));
        assert_eq!(c[0].1.rank, Some(3));
        assert_eq!(c[0].1.percentile, Some(0.0));
        assert_eq!(c[1].1.percentile, Some(100.0));
        let c = group_cells(&members, Better::None);
        assert!(c.iter().all(|(_, x)| x.rank.is_none() && x.percentile.is_none()));
        assert_eq!(c[0].1.median, Some(0.2));
        assert!((c[0].1.distance.unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(c[0].1.count, Some(3));
    }
}

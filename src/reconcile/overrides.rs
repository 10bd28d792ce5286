//! Analysts' decisions on links: must-link and cannot-link, applied on every run.
//!
//! The overrides file (CSV or Parquet, location in `reconcile.overrides`) names each side by
//! dataset, municipality and natural key — the mSCOA project number (budget), IDP reference,
//! BEPP reference, IRM Project ID, or, without one, the normalised name — so a decision keeps
//! applying to next year's file and after rows move or names are edited, and never reaches
//! another municipality's record with the same (generic) mSCOA number.
//!
//! Columns: `decision` (`must_link` | `cannot_link`), `link_type` (which fixes both sides'
//! datasets), `municipality` (demarcation code or name), `left_key`, `right_key`, and optionally
//! `left_dataset` / `right_dataset` (checked against the link type), `decided_by`,
//! `decided_on`, `reason` (carried into the link's evidence). Files of the earlier layout still
//! load: `left_source` / `right_source` (source names, now only labels: the link type gives the
//! dataset, so the decision applies to every year's source), `who` / `when` / `why`, and no
//! municipality (then a decision pairs records of the same municipality only). An override that
//! matches no record any more is reported, not silently dropped. A must-link also removes the
//! left record's competing probabilistic links of that link type.

use crate::contracts::Dataset;
use crate::domain::{Band, Method};
use crate::reconcile::{Link, LinkType};
use crate::records::Record;

use std::collections::{BTreeMap, BTreeSet};

/// What an analyst decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The two records are the same project.
    MustLink,
    /// The two records are not the same project.
    CannotLink,
}

impl Decision {
    /// The name used in files and evidence.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::MustLink => "must_link",
            Decision::CannotLink => "cannot_link",
        }
    }
}

/// One analyst decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The decision.
    pub decision: Decision,
    /// Which link type it concerns (and so the datasets of both sides).
    pub link_type: LinkType,
    /// Demarcation code of the municipality both records are in; `None` in files of the
    /// earlier layout (then any municipality where both sides are).
    pub municipality: Option<String>,
    /// Left side as the file names it (the dataset, or a source name in the earlier layout).
    pub left_label: String,
    /// Left record's natural key.
    pub left_key: String,
    /// Right side as the file names it.
    pub right_label: String,
    /// Right record's natural key.
    pub right_key: String,
    /// Who decided.
    pub decided_by: String,
    /// When.
    pub decided_on: String,
    /// Why.
    pub reason: String,
    /// Row in the overrides file.
    pub row: u32,
}

impl Override {
    /// A side as messages name it: `budget BUF/PC001...` (label, municipality, key).
    fn side(&self, label: &str, key: &str) -> String {
        match &self.municipality {
            Some(m) => format!("{label} {m}/{key}"),
            None => format!("{label}/{key}"),
        }
    }

    /// The override as evidence on a link: who, when and why.
    fn evidence(&self) -> serde_json::Value {
        serde_json::json!({
            "name": "override",
            "level": self.decision.as_str(),
            "weight": 0.0,
            "value": null,
            "row": self.row,
            "decided_by": self.decided_by,
            "decided_on": self.decided_on,
            "reason": self.reason,
        })
    }
}

/// An override that no longer matches any record.
#[derive(Debug, Clone, PartialEq)]
pub struct Stale {
    /// The override.
    pub over: Override,
    /// Which side matched nothing.
    pub reason: String,
}

impl LinkType {
    /// Reads a link type name.
    pub fn parse(s: &str) -> Option<LinkType> {
        LinkType::ALL.into_iter().find(|t| t.as_str() == s.trim())
    }
}

/// Reads an overrides file; every problem is reported at once (`file: row N: ...`).
pub fn load(bytes: &[u8], file: &str) -> Result<Vec<Override>, Vec<String>> {
    let Some((names, rows)) = crate::sources::readers::header_and_rows(bytes, file)? else {
        return Ok(vec![]);
    };
    // Each column with the name of the earlier layout beside it.
    let col = |choices: &[&str]| choices.iter().find_map(|c| names.iter().position(|n| n == c));
    let required: [&[&str]; 4] = [&["decision"], &["link_type"], &["left_key"], &["right_key"]];
    let missing: Vec<&str> = required.iter().filter(|c| col(c).is_none()).map(|c| c[0]).collect();
    if !missing.is_empty() {
        return Err(vec![format!(
            "{file}: missing column(s) {}; found {}",
            missing.join(", "),
            names.join(", ")
        )]);
    }
    let reference = crate::contracts::reference::Reference::bundled();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for row in rows.into_iter().filter(|r| !r.is_blank()) {
        let get = |choices: &[&str]| {
            col(choices)
                .and_then(|i| row.cells.get(i))
                .map(|c| c.raw().trim().to_string())
                .unwrap_or_default()
        };
        let n = row.number;
        let decision = match get(&["decision"]).to_lowercase().as_str() {
            "must_link" | "must-link" => Some(Decision::MustLink),
            "cannot_link" | "cannot-link" => Some(Decision::CannotLink),
            other => {
                errors.push(format!(
                    "{file}: row {n}: decision: expected must_link or cannot_link, found `{other}`"
                ));
                None
            }
        };
        let link_type = LinkType::parse(&get(&["link_type"]));
        if link_type.is_none() {
            errors.push(format!(
                "{file}: row {n}: link_type: expected one of {}, found `{}`",
                LinkType::ALL.map(|t| t.as_str()).join(", "),
                get(&["link_type"])
            ));
        }
        for k in ["left_key", "right_key"] {
            if get(&[k]).is_empty() {
                errors.push(format!("{file}: row {n}: {k} is empty"));
            }
        }
        let municipality = match get(&["municipality", "demarcation_code"]) {
            m if m.is_empty() => None,
            m => match reference.resolve(&m) {
                Ok(r) => Some(r.code),
                Err(e) => {
                    errors.push(format!("{file}: row {n}: municipality: {e}"));
                    None
                }
            },
        };
        let Some(link_type) = link_type else { continue };
        let (left_dataset, right_dataset) = link_type.datasets();
        let mut label = |side: &str, expected: Dataset| {
            let dataset = get(&[&format!("{side}_dataset")]);
            let legacy = get(&[&format!("{side}_source")]);
            if !dataset.is_empty() && dataset.to_lowercase() != expected.as_str() {
                errors.push(format!(
                    "{file}: row {n}: {side}_dataset: {} links {} on the {side}, found `{dataset}`",
                    link_type.as_str(),
                    expected.as_str()
                ));
            }
            if !dataset.is_empty() {
                dataset.to_lowercase()
            } else if !legacy.is_empty() {
                legacy
            } else {
                expected.as_str().to_string()
            }
        };
        let left_label = label("left", left_dataset);
        let right_label = label("right", right_dataset);
        if let Some(decision) = decision {
            out.push(Override {
                decision,
                link_type,
                municipality,
                left_label,
                left_key: get(&["left_key"]),
                right_label,
                right_key: get(&["right_key"]),
                decided_by: get(&["decided_by", "who"]),
                decided_on: get(&["decided_on", "when"]),
                reason: get(&["reason", "why"]),
                row: n,
            });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// What applying the overrides left for later stages.
#[derive(Debug, Default)]
pub struct Applied {
    /// Overrides that match no record.
    pub stale: Vec<Stale>,
    /// Record-id pairs an analyst said are not one project: the project register keeps them
    /// apart even where other links would join them.
    pub apart: Vec<(String, String)>,
}

/// Applies the overrides to the links (before clustering): cannot-link removes links; must-link
/// adds or accepts them and removes the left record's competing probabilistic links of that
/// link type. Records are matched on (dataset, municipality, natural key), and a pair is always
/// two records of the same municipality.
pub fn apply(links: &mut Vec<Link>, records: &[Record], overrides: &[Override]) -> Applied {
    let mut by_key: BTreeMap<(Dataset, String), Vec<&Record>> = BTreeMap::new();
    for r in records {
        by_key.entry((r.dataset, r.override_key())).or_default().push(r);
    }
    let mut stale = Vec::new();
    let mut apart = Vec::new();
    for o in overrides {
        let (left_dataset, right_dataset) = o.link_type.datasets();
        let side = |dataset: Dataset, key: &str| -> Vec<&Record> {
            by_key
                .get(&(dataset, key.to_string()))
                .into_iter()
                .flatten()
                .copied()
                .filter(|r| {
                    r.demarcation_code.is_some()
                        && o.municipality
                            .as_ref()
                            .is_none_or(|m| r.demarcation_code.as_ref() == Some(m))
                })
                .collect()
        };
        let lefts = side(left_dataset, &o.left_key);
        let rights = side(right_dataset, &o.right_key);
        if lefts.is_empty() || rights.is_empty() {
            let which = if lefts.is_empty() {
                format!("left {}", o.side(&o.left_label, &o.left_key))
            } else {
                format!("right {}", o.side(&o.right_label, &o.right_key))
            };
            stale.push(Stale {
                over: o.clone(),
                reason: format!("no record matches the {which}"),
            });
            continue;
        }
        let pairs: Vec<(&Record, &Record)> = lefts
            .iter()
            .flat_map(|l| rights.iter().map(move |r| (*l, *r)))
            .filter(|(l, r)| l.demarcation_code == r.demarcation_code)
            .collect();
        if pairs.is_empty() {
            let munis = |rs: &[&Record]| {
                rs.iter()
                    .filter_map(|r| r.demarcation_code.as_deref())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            stale.push(Stale {
                over: o.clone(),
                reason: format!(
                    "the left {} is in {} and the right {} in {}: no pair in one municipality",
                    o.side(&o.left_label, &o.left_key),
                    munis(&lefts),
                    o.side(&o.right_label, &o.right_key),
                    munis(&rights)
                ),
            });
            continue;
        }
        for &(l, r) in &pairs {
            match o.decision {
                Decision::CannotLink => {
                    links.retain(|x| !same_pair(x, o, l, r));
                    apart.push((l.record_id.clone(), r.record_id.clone()));
                }
                Decision::MustLink => must_link(links, o, l, r),
            }
        }
        if o.decision == Decision::MustLink {
            drop_competitors(links, o, &pairs);
        }
    }
    links.sort_by(|a, b| {
        (a.link_type, &a.left_record_id, &a.right_record_id).cmp(&(b.link_type, &b.left_record_id, &b.right_record_id))
    });
    Applied { stale, apart }
}

/// Whether `x` joins `l` to `r` with the override's link type.
fn same_pair(x: &Link, o: &Override, l: &Record, r: &Record) -> bool {
    x.link_type == o.link_type && x.left_record_id == l.record_id && x.right_record_id == r.record_id
}

/// A must-link: the existing link of the pair accepted, with the decision added to its
/// evidence, or a new accepted link.
fn must_link(links: &mut Vec<Link>, o: &Override, l: &Record, r: &Record) {
    let why = format!(
        "override row {} by {} on {}: {}",
        o.row, o.decided_by, o.decided_on, o.reason
    );
    if let Some(x) = links.iter_mut().find(|x| same_pair(x, o, l, r)) {
        x.band = Band::Accept;
        x.method = Method::Override;
        x.matched_on = Some("override".into());
        x.matched_value = Some(why);
        let mut evidence: Vec<serde_json::Value> = serde_json::from_str(&x.evidence).unwrap_or_default();
        evidence.push(o.evidence());
        x.evidence = serde_json::Value::Array(evidence).to_string();
        return;
    }
    links.push(Link {
        left_record_id: l.record_id.clone(),
        right_record_id: r.record_id.clone(),
        link_type: o.link_type,
        method: Method::Override,
        score: 0.0,
        demarcation_code: l.demarcation_code.clone().unwrap_or_default(),
        matched_on: Some("override".into()),
        matched_value: Some(why),
        name_similarity: None,
        left_name: l.match_name().map(str::to_string),
        right_name: r.match_name().map(str::to_string),
        band: Band::Accept,
        match_weight: 0.0,
        evidence: serde_json::Value::Array(vec![o.evidence()]).to_string(),
    });
}

/// The analyst said which record the left one is: its other guesses of this link type are
/// dropped (exact identifier links and other overrides stay).
fn drop_competitors(links: &mut Vec<Link>, o: &Override, pairs: &[(&Record, &Record)]) {
    let chosen: BTreeSet<(&str, &str)> = pairs
        .iter()
        .map(|(l, r)| (l.record_id.as_str(), r.record_id.as_str()))
        .collect();
    let lefts: BTreeSet<&str> = pairs.iter().map(|(l, _)| l.record_id.as_str()).collect();
    links.retain(|x| {
        !(x.link_type == o.link_type
            && x.method == Method::Probabilistic
            && lefts.contains(x.left_record_id.as_str())
            && !chosen.contains(&(x.left_record_id.as_str(), x.right_record_id.as_str())))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, dataset: Dataset, muni: &str, key: &str) -> Record {
        Record {
            project_ref: Some(key.into()),
            ..Record::bare(id, dataset.as_str(), dataset, muni)
        }
    }

    fn link(l: &str, r: &str, muni: &str, method: &str) -> Link {
        Link {
            method: Method::parse(method).expect("a method name"),
            score: 0.9,
            match_weight: 7.0,
            ..Link::bare(l, r, LinkType::BudgetIdp, muni)
        }
    }

    fn pairs(links: &[Link]) -> Vec<(&str, &str, &str)> {
        links
            .iter()
            .map(|l| (l.left_record_id.as_str(), l.right_record_id.as_str(), l.method.as_str()))
            .collect()
    }

    #[test]
    fn a_cannot_link_for_one_municipality_leaves_the_same_key_elsewhere_alone() {
        let records = vec![
            rec("b:BUF", Dataset::Budget, "BUF", "PC1"),
            rec("b:EC122", Dataset::Budget, "EC122", "PC1"),
            rec("i:BUF", Dataset::Idp, "BUF", "IDP-1"),
            rec("i:EC122", Dataset::Idp, "EC122", "IDP-1"),
        ];
        let mut links = vec![
            link("b:BUF", "i:BUF", "BUF", "probabilistic"),
            link("b:EC122", "i:EC122", "EC122", "probabilistic"),
        ];
        let file =
            "decision,link_type,municipality,left_key,right_key,decided_by\ncannot_link,budget_idp,BUF,PC1,IDP-1,a\n";
        let o = load(file.as_bytes(), "o.csv").unwrap();
        assert_eq!(o[0].municipality.as_deref(), Some("BUF"));
        assert_eq!(o[0].left_label, "budget");
        let stale = apply(&mut links, &records, &o).stale;
        assert!(stale.is_empty(), "{stale:?}");
        assert_eq!(pairs(&links), [("b:EC122", "i:EC122", "probabilistic")]);
    }

    #[test]
    fn a_must_link_across_municipalities_is_stale_and_links_nothing() {
        let records = vec![
            rec("b:BUF", Dataset::Budget, "BUF", "PC1"),
            rec("i:EC122", Dataset::Idp, "EC122", "IDP-9"),
        ];
        let mut links = vec![];
        let file = "decision,link_type,left_source,left_key,right_source,right_key\nmust_link,budget_idp,budget_2024,PC1,idp,IDP-9\n";
        let o = load(file.as_bytes(), "o.csv").unwrap();
        let stale = apply(&mut links, &records, &o).stale;
        assert!(links.is_empty());
        assert_eq!(
            stale[0].reason,
            "the left budget_2024/PC1 is in BUF and the right idp/IDP-9 in EC122: no pair in one municipality"
        );
    }

    #[test]
    fn a_must_link_keeps_exact_links_and_drops_competing_guesses() {
        let records = vec![
            rec("b", Dataset::Budget, "BUF", "PC1"),
            rec("i1", Dataset::Idp, "BUF", "IDP-1"),
            rec("i2", Dataset::Idp, "BUF", "IDP-2"),
            rec("i3", Dataset::Idp, "BUF", "IDP-3"),
        ];
        let mut links = vec![
            link("b", "i1", "BUF", "probabilistic"),
            link("b", "i2", "BUF", "exact_identifier"),
            link("b", "i3", "BUF", "probabilistic"),
        ];
        let file = "decision,link_type,municipality,left_key,right_key,decided_by,decided_on,reason\nmust_link,budget_idp,BUF,PC1,IDP-3,t.ndlovu,2026-10-01,same hall\n";
        let o = load(file.as_bytes(), "o.csv").unwrap();
        assert!(apply(&mut links, &records, &o).stale.is_empty());
        assert_eq!(
            pairs(&links),
            [("b", "i2", "exact_identifier"), ("b", "i3", "override")]
        );
        let ev: serde_json::Value = serde_json::from_str(&links[1].evidence).unwrap();
        assert_eq!(
            ev[0],
            serde_json::json!({"name": "override", "level": "must_link", "weight": 0.0, "value": null,
                "row": 2, "decided_by": "t.ndlovu", "decided_on": "2026-10-01", "reason": "same hall"})
        );
    }
}

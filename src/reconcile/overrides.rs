//! Analysts' decisions on links: must-link and cannot-link, applied on every run.
//!
//! The overrides file (CSV or Parquet, location in `reconcile.overrides`) names records by their
//! source and natural key (the project reference — mSCOA number, IDP reference, BEPP reference,
//! IRM project id — or, without one, the normalised name), so a decision keeps applying when rows
//! move or names are edited. Columns: `decision` (`must_link` | `cannot_link`), `link_type`,
//! `left_source`, `left_key`, `right_source`, `right_key`, `who`, `when`, `why`. An override
//! that matches no record any more is reported, not silently dropped.

use crate::reconcile::{Link, LinkType};
use crate::records::Record;
use crate::sources::readers::{self, Format};
use std::collections::BTreeMap;

/// What an analyst decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The two records are the same project.
    MustLink,
    /// The two records are not the same project.
    CannotLink,
}

/// One analyst decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The decision.
    pub decision: Decision,
    /// Which link type it concerns.
    pub link_type: LinkType,
    /// Left record's source.
    pub left_source: String,
    /// Left record's natural key.
    pub left_key: String,
    /// Right record's source.
    pub right_source: String,
    /// Right record's natural key.
    pub right_key: String,
    /// Who decided.
    pub who: String,
    /// When.
    pub when: String,
    /// Why.
    pub why: String,
    /// Row in the overrides file.
    pub row: u32,
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
    let format = Format::from_path(file).unwrap_or(Format::Csv);
    let sheets = readers::read(bytes, format, file).map_err(|e| vec![e.to_string()])?;
    let Some(sheet) = sheets.into_iter().next() else {
        return Ok(vec![]);
    };
    let mut rows = sheet.rows.into_iter();
    let Some(header) = rows.next() else { return Ok(vec![]) };
    let names: Vec<String> = header.cells.iter().map(|c| c.raw().trim().to_lowercase()).collect();
    let required = [
        "decision",
        "link_type",
        "left_source",
        "left_key",
        "right_source",
        "right_key",
    ];
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|r| !names.iter().any(|n| n == r))
        .collect();
    if !missing.is_empty() {
        return Err(vec![format!(
            "{file}: missing column(s) {}; found {}",
            missing.join(", "),
            names.join(", ")
        )]);
    }
    let col = |name: &str| names.iter().position(|n| n == name);
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for row in rows.filter(|r| !r.is_blank()) {
        let get = |name: &str| {
            col(name)
                .and_then(|i| row.cells.get(i))
                .map(|c| c.raw().trim().to_string())
                .unwrap_or_default()
        };
        let decision = match get("decision").to_lowercase().as_str() {
            "must_link" | "must-link" => Some(Decision::MustLink),
            "cannot_link" | "cannot-link" => Some(Decision::CannotLink),
            other => {
                errors.push(format!(
                    "{file}: row {}: decision: expected must_link or cannot_link, found `{other}`",
                    row.number
                ));
                None
            }
        };
        let link_type = LinkType::parse(&get("link_type"));
        if link_type.is_none() {
            errors.push(format!(
                "{file}: row {}: link_type: expected one of {}, found `{}`",
                row.number,
                LinkType::ALL.map(|t| t.as_str()).join(", "),
                get("link_type")
            ));
        }
        for k in ["left_source", "left_key", "right_source", "right_key"] {
            if get(k).is_empty() {
                errors.push(format!("{file}: row {}: {k} is empty", row.number));
            }
        }
        if let (Some(decision), Some(link_type)) = (decision, link_type) {
            out.push(Override {
                decision,
                link_type,
                left_source: get("left_source"),
                left_key: get("left_key"),
                right_source: get("right_source"),
                right_key: get("right_key"),
                who: get("who"),
                when: get("when"),
                why: get("why"),
                row: row.number,
            });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Applies the overrides to the links (before clustering): cannot-link removes links, must-link
/// adds or accepts them. Returns the overrides that match no record.
pub fn apply(links: &mut Vec<Link>, records: &[Record], overrides: &[Override]) -> Vec<Stale> {
    let mut by_key: BTreeMap<(&str, String), Vec<&Record>> = BTreeMap::new();
    for r in records {
        by_key.entry((r.source.as_str(), r.override_key())).or_default().push(r);
    }
    let mut stale = Vec::new();
    for o in overrides {
        let lefts = by_key.get(&(o.left_source.as_str(), o.left_key.clone()));
        let rights = by_key.get(&(o.right_source.as_str(), o.right_key.clone()));
        let (Some(lefts), Some(rights)) = (lefts, rights) else {
            let side = if lefts.is_none() {
                format!("left {}/{}", o.left_source, o.left_key)
            } else {
                format!("right {}/{}", o.right_source, o.right_key)
            };
            stale.push(Stale {
                over: o.clone(),
                reason: format!("no record matches the {side}"),
            });
            continue;
        };
        for l in lefts {
            for r in rights {
                match o.decision {
                    Decision::CannotLink => {
                        links.retain(|x| {
                            !(x.link_type == o.link_type
                                && x.left_record_id == l.record_id
                                && x.right_record_id == r.record_id)
                        });
                    }
                    Decision::MustLink => {
                        let why = format!("override row {} by {} on {}: {}", o.row, o.who, o.when, o.why);
                        if let Some(x) = links.iter_mut().find(|x| {
                            x.link_type == o.link_type
                                && x.left_record_id == l.record_id
                                && x.right_record_id == r.record_id
                        }) {
                            x.band = "accept";
                            x.method = "override";
                            x.matched_on = Some("override".into());
                            x.matched_value = Some(why);
                        } else {
                            links.push(Link {
                                left_record_id: l.record_id.clone(),
                                right_record_id: r.record_id.clone(),
                                link_type: o.link_type,
                                method: "override",
                                score: 0.0,
                                demarcation_code: l.demarcation_code.clone().unwrap_or_default(),
                                matched_on: Some("override".into()),
                                matched_value: Some(why),
                                name_similarity: None,
                                left_name: l.match_name().map(str::to_string),
                                right_name: r.match_name().map(str::to_string),
                                band: "accept",
                                match_weight: 0.0,
                                evidence: "[]".into(),
                            });
                        }
                    }
                }
            }
        }
    }
    links.sort_by(|a, b| {
        (a.link_type, &a.left_record_id, &a.right_record_id).cmp(&(b.link_type, &b.left_record_id, &b.right_record_id))
    });
    stale
}

//! Data quality in the report: rows read, accepted and quarantined per source, and this run's
//! quarantine grouped by the rule that was broken, with a few examples of each (file, row,
//! column, the raw cell and the message) so a data owner can find and fix the rows.

use super::format::{clip, count};
use crate::publish::tables::{QuarantineRow, SourceQuality};
use maud::{html, Markup};
use std::collections::{BTreeMap, BTreeSet};

/// Examples shown per rule.
const EXAMPLES: usize = 3;

/// Rows read, accepted and quarantined per source.
pub(super) fn sources(quality: &[SourceQuality]) -> Markup {
    html! {
        table {
            tr { th { "source" } th { "contract" } th { "rows read" } th { "accepted" } th { "quarantined" } th { "warnings" } }
            @for q in quality {
                tr {
                    td { (q.source) } td { (q.contract) }
                    td.n { (count(q.rows_read)) } td.n { (count(q.rows_accepted)) }
                    td.n { (count(q.rows_rejected)) } td.n { (count(q.warnings)) }
                }
            }
        }
    }
}

/// Where a quarantined cell is: `file, sheet BUF, row 12`.
fn place(q: &QuarantineRow) -> String {
    let mut s = q.source_file.clone();
    if let Some(sheet) = &q.source_sheet {
        s.push_str(&format!(", sheet {sheet}"));
    }
    if let Some(row) = q.source_row {
        s.push_str(&format!(", row {row}"));
    }
    s
}

/// The quarantine by rule, most frequent first, with examples.
pub(super) fn quarantine_by_rule(quarantine: &[QuarantineRow]) -> Markup {
    let mut by_rule: BTreeMap<&str, Vec<&QuarantineRow>> = BTreeMap::new();
    for q in quarantine {
        by_rule.entry(q.rule.as_str()).or_default().push(q);
    }
    let mut rules: Vec<(&str, Vec<&QuarantineRow>)> = by_rule.into_iter().collect();
    rules.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(b.0)));
    html! {
        @if rules.is_empty() {
            p.small { "Nothing was quarantined in this run." }
        } @else {
            p.small {
                (count(quarantine.len())) (if quarantine.len() == 1 { " cell or row" } else { " cells or rows" }) " quarantined under "
                (rules.len()) (if rules.len() == 1 { " rule" } else { " rules" }) " (an error rejects the row, a warning nulls the cell). "
                "Every one is in the " code { "quarantine" } " table, filtered on this run's " code { "run_id" } "."
            }
            table #quarantine {
                tr { th { "rule" } th { "count" } th { "severity" } th { "sources" } th { "examples: where, column, raw value, message" } }
                @for (rule, rows) in &rules {
                    @let severities: BTreeSet<&str> = rows.iter().map(|q| q.severity.as_str()).collect();
                    @let sources: BTreeSet<&str> = rows.iter().map(|q| q.source.as_str()).collect();
                    tr {
                        td { code { (rule) } }
                        td.n { (count(rows.len())) }
                        td { (severities.into_iter().collect::<Vec<_>>().join(", ")) }
                        td { (sources.into_iter().collect::<Vec<_>>().join(", ")) }
                        td {
                            ul.ex {
                                @for q in rows.iter().take(EXAMPLES) {
                                    li {
                                        (place(q)) ", " code { (q.column) } ": "
                                        span.raw { "“" (clip(&q.raw_value, 60)) "”" } " — " (clip(&q.message, 160))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

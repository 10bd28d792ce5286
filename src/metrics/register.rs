//! The exceptions register across runs: each finding's status, the analysts' decisions about
//! it, and its history from run to run.
//!
//! A finding's `exception_id` is a hash of what it is about, so the same finding keeps its id
//! from run to run. Each run merges its findings and the analysts' decisions file
//! (`exceptions.decisions`: exception_id, status, reason, until, assigned_to, decided_by) into the
//! previous register:
//!
//! - a finding present in this run is `open`, or `acknowledged`, `waived` or `assigned` while a
//!   decision about it holds (until its `until` date, on the run's clock, inclusive);
//! - a finding that vanished becomes `resolved` in this run; resolved ones are kept as history;
//! - a resolved finding that comes back is reopened (`reopened_count` + 1), as is a waived one
//!   whose waiver ran out;
//! - every change of status is appended to `status_history` (JSON: run, date, status, event,
//!   and for decisions who and why).
//!
//! The register names run ids, so unlike the other tables it differs between two runs of the
//! same inputs.

use crate::metrics::Exception;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// Statuses an analyst can set in the decisions file.
pub const DECISION_STATUSES: &[&str] = &["acknowledged", "waived", "assigned"];

/// One analyst's decision about a finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The finding.
    pub exception_id: String,
    /// `acknowledged`, `waived` or `assigned`.
    pub status: String,
    /// Why.
    pub reason: String,
    /// The last day the decision holds (inclusive); none: until withdrawn.
    pub until: Option<NaiveDate>,
    /// Who it is assigned to.
    pub assigned_to: String,
    /// Who decided.
    pub decided_by: String,
}

/// Reads a decisions file (CSV, or any format the readers know); every problem is reported at
/// once (`file: row N: ...`). A later row for the same finding replaces an earlier one.
pub fn load_decisions(bytes: &[u8], file: &str) -> Result<Vec<Decision>, Vec<String>> {
    let Some((names, rows)) = crate::sources::readers::header_and_rows(bytes, file)? else {
        return Ok(vec![]);
    };
    let col = |c: &str| names.iter().position(|n| n == c);
    let missing: Vec<&str> = ["exception_id", "status"]
        .into_iter()
        .filter(|c| col(c).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(vec![format!(
            "{file}: missing column(s) {}; found {}",
            missing.join(", "),
            names.join(", ")
        )]);
    }
    let mut out: Vec<Decision> = Vec::new();
    let mut errors = Vec::new();
    for row in rows.into_iter().filter(|r| !r.is_blank()) {
        let get = |c: &str| {
            col(c)
                .and_then(|i| row.cells.get(i))
                .map(|c| c.raw().trim().to_string())
                .unwrap_or_default()
        };
        let n = row.number;
        let id = get("exception_id");
        if id.is_empty() {
            errors.push(format!("{file}: row {n}: exception_id is empty"));
        }
        let status = get("status").to_lowercase();
        if !DECISION_STATUSES.contains(&status.as_str()) {
            errors.push(format!(
                "{file}: row {n}: status: expected one of {}, found `{status}`",
                DECISION_STATUSES.join(", ")
            ));
        }
        let until = match get("until") {
            u if u.is_empty() => None,
            u => match NaiveDate::parse_from_str(&u, "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    errors.push(format!(
                        "{file}: row {n}: until: expected a date YYYY-MM-DD, found `{u}`"
                    ));
                    None
                }
            },
        };
        if status == "waived" && until.is_none() && get("until").is_empty() {
            errors.push(format!(
                "{file}: row {n}: until: a waiver needs the date it ends (YYYY-MM-DD)"
            ));
        }
        if status == "assigned" && get("assigned_to").is_empty() {
            errors.push(format!("{file}: row {n}: assigned_to: an assignment names who"));
        }
        out.retain(|d| d.exception_id != id);
        out.push(Decision {
            exception_id: id,
            status,
            reason: get("reason"),
            until,
            assigned_to: get("assigned_to"),
            decided_by: get("decided_by"),
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// One register row.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterRow {
    /// Stable id of the finding.
    pub exception_id: String,
    /// Finding type.
    pub exception_type: String,
    /// Severity.
    pub severity: String,
    /// Municipality.
    pub demarcation_code: String,
    /// The sphere that would act on it.
    pub owner_sphere: String,
    /// Who in that sphere.
    pub owner: String,
    /// What the owner is asked to do.
    pub suggested_action: String,
    /// Records involved when last seen, `;`-separated.
    pub record_ids: String,
    /// Earliest municipal financial year affected (start year), if any.
    pub financial_year: Option<i32>,
    /// Every municipal financial year affected (start years).
    pub financial_years: Vec<i32>,
    /// Rand at stake when last seen.
    pub amount_at_stake_rand: f64,
    /// Whether it was material when last seen.
    pub material: bool,
    /// Priority when last seen.
    pub priority: f64,
    /// Description when last seen.
    pub detail: String,
    /// `open`, `acknowledged`, `waived`, `assigned` or `resolved`.
    pub status: String,
    /// The reason of the decision in force.
    pub reason: Option<String>,
    /// The last day the decision in force holds (YYYY-MM-DD).
    pub until: Option<String>,
    /// Who the finding is assigned to.
    pub assigned_to: Option<String>,
    /// Who made the decision in force.
    pub decided_by: Option<String>,
    /// Run in which it first appeared.
    pub first_seen_run: String,
    /// Latest run in which it was present.
    pub last_seen_run: String,
    /// Run in which it was gone, while resolved.
    pub resolved_in_run: Option<String>,
    /// How often it came back after being resolved, or reopened when its waiver ran out.
    pub reopened_count: u32,
    /// Every change of status, oldest first (JSON array).
    pub status_history: String,
}

fn push_history(
    history: &str,
    run_id: &str,
    today: NaiveDate,
    status: &str,
    event: &str,
    decision: Option<&Decision>,
) -> String {
    let mut v: Vec<serde_json::Value> = serde_json::from_str(history).unwrap_or_default();
    let mut entry = serde_json::json!({
        "run": run_id,
        "date": today.format("%Y-%m-%d").to_string(),
        "status": status,
        "event": event,
    });
    if let Some(d) = decision {
        entry["decided_by"] = d.decided_by.clone().into();
        entry["reason"] = d.reason.clone().into();
        if let Some(u) = d.until {
            entry["until"] = u.format("%Y-%m-%d").to_string().into();
        }
        if !d.assigned_to.is_empty() {
            entry["assigned_to"] = d.assigned_to.clone().into();
        }
    }
    v.push(entry);
    serde_json::Value::Array(v).to_string()
}

/// Merges this run's findings and the analysts' decisions into the previous register. `today`
/// is the run's date (its clock, in the pipeline's time zone): a decision holds up to and
/// including its `until` date.
pub fn merge(
    previous: &[RegisterRow],
    current: &[Exception],
    decisions: &[Decision],
    run_id: &str,
    today: NaiveDate,
) -> Vec<RegisterRow> {
    let before: BTreeMap<&str, &RegisterRow> = previous.iter().map(|r| (r.exception_id.as_str(), r)).collect();
    let decided: BTreeMap<&str, &Decision> = decisions.iter().map(|d| (d.exception_id.as_str(), d)).collect();
    let mut out: BTreeMap<String, RegisterRow> = BTreeMap::new();
    for e in current {
        let prior = before.get(e.exception_id.as_str()).copied();
        let any_decision = decided.get(e.exception_id.as_str()).copied();
        let decision = any_decision.filter(|d| d.until.is_none_or(|u| today <= u));
        let status = decision.map_or("open", |d| d.status.as_str());
        let mut reopened_count = prior.map_or(0, |p| p.reopened_count);
        let event = match prior.map(|p| p.status.as_str()) {
            None => Some("new"),
            Some("resolved") => {
                reopened_count += 1;
                Some("reopened")
            }
            Some(was) if was == status => None,
            Some("waived") if status == "open" && any_decision.is_some() => {
                reopened_count += 1;
                Some("waiver_expired")
            }
            Some(_) if status == "open" => Some(if any_decision.is_some() {
                "decision_expired"
            } else {
                "decision_withdrawn"
            }),
            Some(_) => Some("decision"),
        };
        let history = prior.map_or("[]", |p| p.status_history.as_str());
        let status_history = match event {
            Some(ev) => push_history(history, run_id, today, status, ev, decision),
            None => history.to_string(),
        };
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        out.insert(
            e.exception_id.clone(),
            RegisterRow {
                exception_id: e.exception_id.clone(),
                exception_type: e.exception_type.to_string(),
                severity: e.severity.to_string(),
                demarcation_code: e.demarcation_code.clone(),
                owner_sphere: e.owner_sphere.clone(),
                owner: e.owner.clone(),
                suggested_action: e.suggested_action.to_string(),
                record_ids: e.record_ids.clone(),
                financial_year: e.financial_year.map(|y| y.start_year),
                financial_years: e.financial_years.iter().map(|y| y.start_year).collect(),
                amount_at_stake_rand: e.amount_at_stake,
                material: e.material,
                priority: e.priority,
                detail: e.detail.clone(),
                status: status.to_string(),
                reason: decision.and_then(|d| some(&d.reason)),
                until: decision.and_then(|d| d.until).map(|u| u.format("%Y-%m-%d").to_string()),
                assigned_to: decision.and_then(|d| some(&d.assigned_to)),
                decided_by: decision.and_then(|d| some(&d.decided_by)),
                first_seen_run: prior.map_or_else(|| run_id.to_string(), |p| p.first_seen_run.clone()),
                last_seen_run: run_id.to_string(),
                resolved_in_run: None,
                reopened_count,
                status_history,
            },
        );
    }
    for p in previous {
        if out.contains_key(&p.exception_id) {
            continue;
        }
        let mut r = p.clone();
        if r.status != "resolved" {
            r.status = "resolved".into();
            r.resolved_in_run = Some(run_id.to_string());
            r.status_history = push_history(&r.status_history, run_id, today, "resolved", "resolved", None);
        }
        out.insert(r.exception_id.clone(), r);
    }
    let mut rows: Vec<RegisterRow> = out.into_values().collect();
    rows.sort_by(|a, b| {
        a.status
            .cmp(&b.status)
            .then_with(|| b.material.cmp(&a.material))
            .then_with(|| b.priority.total_cmp(&a.priority))
            .then_with(|| b.amount_at_stake_rand.total_cmp(&a.amount_at_stake_rand))
            .then_with(|| a.exception_id.cmp(&b.exception_id))
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fiscal::{Calendar, FinancialYear};
    use crate::publish::register::{from_frame, to_frame};
    use polars::prelude::*;

    fn finding(id: &str) -> Exception {
        let y = FinancialYear::new(Calendar::Municipal, 2024);
        Exception {
            exception_id: id.into(),
            exception_type: "budget_without_idp_basis",
            severity: crate::domain::FindingSeverity::High,
            demarcation_code: "BUF".into(),
            financial_year: Some(y),
            financial_years: vec![y],
            owner_sphere: "municipal".into(),
            owner: "BUF".into(),
            suggested_action: "do it",
            amount_at_stake: 12_000_000.0,
            share_of_capital_budget: Some(0.01),
            material: true,
            priority: 6.0,
            record_ids: "r1".into(),
            detail: "d".into(),
            bundle_size: None,
            bundled_in: None,
        }
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn events(r: &RegisterRow) -> Vec<(String, String)> {
        let v: Vec<serde_json::Value> = serde_json::from_str(&r.status_history).unwrap();
        v.iter()
            .map(|e| {
                (
                    e["status"].as_str().unwrap().into(),
                    e["event"].as_str().unwrap().into(),
                )
            })
            .collect()
    }

    /// Round trip through the published table, as each run reads the previous one.
    fn through_table(rows: Vec<RegisterRow>) -> Vec<RegisterRow> {
        let back = from_frame(&to_frame(&rows).unwrap()).unwrap();
        assert_eq!(back, rows);
        back
    }

    #[test]
    fn a_waived_finding_stays_waived_until_its_date_then_reopens() {
        let csv = "exception_id,status,reason,until,assigned_to,decided_by\n\
                   e1,waived,funded from the 2026 adjustments budget,2025-03-31,,t.ndlovu\n";
        let decisions = load_decisions(csv.as_bytes(), "decisions.csv").unwrap();
        let now = [finding("e1")];
        let r1 = through_table(merge(&[], &now, &decisions, "run1", day("2025-01-10")));
        assert_eq!(r1[0].status, "waived");
        assert_eq!(r1[0].until.as_deref(), Some("2025-03-31"));
        assert_eq!(r1[0].decided_by.as_deref(), Some("t.ndlovu"));
        // Still waived on the last day.
        let r2 = through_table(merge(&r1, &now, &decisions, "run2", day("2025-03-31")));
        assert_eq!(r2[0].status, "waived");
        assert_eq!(r2[0].reopened_count, 0);
        // The day after, it reopens.
        let r3 = through_table(merge(&r2, &now, &decisions, "run3", day("2025-04-01")));
        assert_eq!(r3[0].status, "open");
        assert_eq!(r3[0].reopened_count, 1);
        assert_eq!(r3[0].until, None);
        assert_eq!(
            events(&r3[0]),
            [
                ("waived".into(), "new".into()),
                ("open".into(), "waiver_expired".into())
            ]
        );
        assert_eq!(r3[0].first_seen_run, "run1");
    }

    #[test]
    fn a_finding_that_goes_away_and_comes_back_is_resolved_then_reopened() {
        let r1 = through_table(merge(&[], &[finding("e1")], &[], "run1", day("2025-01-01")));
        let r2 = through_table(merge(&r1, &[], &[], "run2", day("2025-01-02")));
        assert_eq!(r2[0].status, "resolved");
        assert_eq!(r2[0].resolved_in_run.as_deref(), Some("run2"));
        // Still resolved (and unchanged) while it stays away.
        let r3 = through_table(merge(&r2, &[], &[], "run3", day("2025-01-03")));
        assert_eq!(r3, r2);
        let r4 = through_table(merge(&r3, &[finding("e1")], &[], "run4", day("2025-01-04")));
        assert_eq!(r4[0].status, "open");
        assert_eq!(r4[0].reopened_count, 1);
        assert_eq!(r4[0].resolved_in_run, None);
        assert_eq!(r4[0].first_seen_run, "run1");
        assert_eq!(r4[0].last_seen_run, "run4");
        assert_eq!(
            events(&r4[0]),
            [
                ("open".into(), "new".into()),
                ("resolved".into(), "resolved".into()),
                ("open".into(), "reopened".into())
            ]
        );
    }

    #[test]
    fn assignments_and_acknowledgements_are_kept_and_bad_rows_named() {
        let csv = "exception_id,status,reason,until,assigned_to,decided_by\n\
                   e1,assigned,,,BUF infrastructure planning,m.smith\n\
                   e2,acknowledged,known,,,m.smith\n";
        let d = load_decisions(csv.as_bytes(), "d.csv").unwrap();
        let rows = merge(&[], &[finding("e1"), finding("e2")], &d, "run1", day("2025-01-01"));
        let status: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.exception_id.as_str(), r.status.as_str()))
            .collect();
        assert_eq!(status, [("e2", "acknowledged"), ("e1", "assigned")]);
        assert_eq!(rows[1].assigned_to.as_deref(), Some("BUF infrastructure planning"));
        let bad = "exception_id,status,until\n,closed,31/03/2025\ne3,waived,\n";
        let errs = load_decisions(bad.as_bytes(), "d.csv").unwrap_err();
        assert_eq!(errs.len(), 4, "{errs:#?}");
        assert!(errs[0].contains("row 2: exception_id is empty"), "{errs:#?}");
    }

    #[test]
    fn an_older_register_without_the_new_columns_is_read() {
        let df = df!(
            "exception_id" => ["e1"],
            "exception_type" => ["budget_without_idp_basis"],
            "severity" => ["high"],
            "demarcation_code" => ["BUF"],
            "sphere_responsible" => ["municipal"],
            "record_ids" => ["r1"],
            "financial_year" => [Some(2024i32)],
            "amount_at_stake_rand" => [1.0],
            "detail" => ["d"],
            "status" => ["open"],
            "first_seen_run" => ["run0"],
            "last_seen_run" => ["run0"],
            "resolved_in_run" => [None::<&str>],
        )
        .unwrap();
        let rows = from_frame(&df).unwrap();
        assert_eq!(rows[0].owner_sphere, "municipal");
        assert_eq!(rows[0].financial_years, [2024]);
        assert_eq!(rows[0].status_history, "[]");
    }
}

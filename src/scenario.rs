//! Scenario runs: ad-hoc runs that never touch the nightly (live) outputs.
//!
//! It exists because a filtered API run (issue #14) used to replace the live `manifest.json`,
//! resolve every exception of the municipalities it left out and re-key the project register.
//! Any run filtered to some financial years or municipalities, or given a scenario name, is a
//! scenario run: it publishes under `scenarios/<name>/` of the output root, with the same layout
//! as the live outputs (its own `manifest.json`, `runs/`, exception register and quarantine
//! history), and only reads the live project register to take its keys. This module names
//! scenarios; `run.rs` decides where they publish.

use crate::domain::fiscal::{Calendar, FinancialYear};

/// The folder under the output root that holds every scenario.
pub const PREFIX: &str = "scenarios";

/// The longest scenario name accepted.
pub const MAX_NAME: usize = 80;

/// The name a filtered run gets when it is not given one: the years (`fy2025` for 2025/26) and
/// the municipalities, sorted, so the same filter always publishes to the same folder, e.g.
/// `fy2025-BUF-EC121`.
pub fn default_name(years: &[FinancialYear], municipalities: &[String]) -> String {
    let mut ys: Vec<i32> = years
        .iter()
        .map(|y| y.dominant_in(Calendar::Municipal).start_year)
        .collect();
    ys.sort_unstable();
    ys.dedup();
    let mut ms: Vec<String> = municipalities.iter().map(|m| m.trim().to_uppercase()).collect();
    ms.sort();
    ms.dedup();
    let parts: Vec<String> = ys.iter().map(|y| format!("fy{y}")).chain(ms).collect();
    let name = parts.join("-");
    if name.len() <= MAX_NAME {
        return name;
    }
    // A long filter: a readable start and a hash of the whole, still deterministic.
    let hash = crate::domain::sha256_hex(name.as_bytes());
    let mut cut = name[..MAX_NAME - 13].to_string();
    while !cut.is_char_boundary(cut.len()) {
        cut.pop();
    }
    format!("{}-{}", cut.trim_end_matches('-'), &hash[..12])
}

/// Checks that a scenario name is safe as one path segment in every object store: 1 to 80 ASCII
/// letters, digits, `-`, `_` or `.`, starting with a letter or digit.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "scenario `{name}`: a scenario name is 1 to {MAX_NAME} ASCII letters, digits, `-`, `_` or `.`, starting with a letter or digit"
        ))
    }
}

/// The scenario a run publishes to, or `None` for a live run: a named run uses its (checked)
/// name; an unnamed run filtered to years or municipalities gets [`default_name`].
pub fn name_for(
    requested: Option<&str>,
    years: &[FinancialYear],
    municipalities: &[String],
) -> Result<Option<String>, String> {
    match requested.map(str::trim) {
        Some(name) => check_name(name).map(|()| Some(name.to_string())),
        None if years.is_empty() && municipalities.is_empty() => Ok(None),
        None => Ok(Some(default_name(years, municipalities))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fiscal::YearLabel;

    fn fy(s: &str) -> FinancialYear {
        FinancialYear::parse(s, Calendar::Municipal, YearLabel::Start).unwrap()
    }

    #[test]
    fn default_names_are_deterministic_and_safe() {
        let a = default_name(&[fy("2025/26")], &["EC121".into(), "BUF".into()]);
        let b = default_name(&[fy("2025/26"), fy("2025/26")], &["BUF".into(), "EC121".into()]);
        assert_eq!(a, "fy2025-BUF-EC121");
        assert_eq!(a, b);
        assert_eq!(default_name(&[fy("2025/26"), fy("2024/25")], &[]), "fy2024-fy2025");
        let many: Vec<String> = (0..40).map(|i| format!("EC{i:03}")).collect();
        let long = default_name(&[], &many);
        assert!(long.len() <= MAX_NAME, "{long}");
        assert_eq!(check_name(&long), Ok(()));
        assert_eq!(long, default_name(&[], &many));
    }

    #[test]
    fn unsafe_names_are_refused_and_unfiltered_runs_are_live() {
        for bad in ["", "../live", "a/b", ".hidden", "-x", "naïve", "a b"] {
            let e = check_name(bad).unwrap_err();
            assert!(
                e.starts_with(&format!("scenario `{bad}`: a scenario name is 1 to 80")),
                "{e}"
            );
        }
        assert_eq!(name_for(None, &[], &[]), Ok(None));
        assert_eq!(
            name_for(Some("what-if_2025.v2"), &[], &[]),
            Ok(Some("what-if_2025.v2".into()))
        );
        assert_eq!(name_for(None, &[], &["BUF".into()]), Ok(Some("BUF".into())));
        assert!(name_for(Some("../x"), &[], &["BUF".into()]).is_err());
    }
}

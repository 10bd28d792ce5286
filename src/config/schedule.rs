//! Cron schedules as operators write them (the Unix and Kubernetes CronJob convention), checked
//! field by field so a mistake is named in our words (`hour 25 is out of range 0–23`) rather than
//! the cron crate's, and translated into the crate's dialect.
//!
//! Five fields are `minute hour day-of-month month day-of-week`; six put seconds first. Days of
//! the week are Unix numbers (0 or 7 Sunday, 1 Monday … 6 Saturday) or names (`MON`); the cron
//! crate counts 1 = Sunday, so they are rewritten as the crate's numbers before it parses them,
//! and `0 2 * * 1` runs on Mondays as it does under cron.

use super::compiler::Compiler;
use std::collections::BTreeSet;
use std::str::FromStr;

/// One field of a cron expression.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names accepted instead of numbers, with the number each stands for.
    names: &'static [(&'static str, u32)],
}

const MONTHS: &[(&str, u32)] = &[
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("may", 5),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
];

const DAYS: &[(&str, u32)] = &[
    ("sun", 0),
    ("mon", 1),
    ("tue", 2),
    ("wed", 3),
    ("thu", 4),
    ("fri", 5),
    ("sat", 6),
];

const SECOND: Field = Field {
    name: "second",
    min: 0,
    max: 59,
    names: &[],
};
const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: Field = Field {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: MONTHS,
};
const DAY_OF_WEEK: Field = Field {
    name: "day of week",
    min: 0,
    max: 7,
    names: DAYS,
};

/// Parses a cron expression (five fields, or six with seconds first); the error says which field
/// is wrong and why, quoting the expression.
pub fn parse_schedule(text: &str) -> Result<cron::Schedule, String> {
    let quoted = format!("\"{}\"", text.trim());
    let fields: Vec<&str> = text.split_whitespace().collect();
    let with_seconds: Vec<&str> = match fields.len() {
        5 => std::iter::once("0").chain(fields.iter().copied()).collect(),
        6 => fields.clone(),
        n => {
            return Err(format!(
                "{quoted}: expected 5 fields (minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\") or 6 with seconds first, found {n}"
            ))
        }
    };
    let specs = [&SECOND, &MINUTE, &HOUR, &DAY_OF_MONTH, &MONTH, &DAY_OF_WEEK];
    let mut problems = Vec::new();
    let mut days = None;
    for (field, text) in specs.iter().zip(&with_seconds) {
        match values(field, text) {
            Ok(v) if field.name == DAY_OF_WEEK.name => days = v,
            Ok(_) => {}
            Err(p) => problems.push(p),
        }
    }
    if !problems.is_empty() {
        return Err(format!("{quoted}: {}", problems.join("; ")));
    }
    let mut crate_fields: Vec<String> = with_seconds.iter().map(|s| s.to_string()).collect();
    if let Some(days) = days {
        // Unix 0..=6 (Sunday first) → the crate's 1..=7 (Sunday = 1).
        crate_fields[5] = days.iter().map(|d| (d + 1).to_string()).collect::<Vec<_>>().join(",");
    }
    cron::Schedule::from_str(&crate_fields.join(" ")).map_err(|e| format!("{quoted}: {e}"))
}

/// The values a field allows (`None` for `*` or `?`), or what is wrong with it. Days of the
/// week come back as Unix days 0..=6.
fn values(field: &Field, text: &str) -> Result<Option<BTreeSet<u32>>, String> {
    if text == "*" || text == "?" {
        return Ok(None);
    }
    let mut out = BTreeSet::new();
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => match s.parse::<u32>() {
                Ok(n) if n >= 1 => (r, n),
                _ => {
                    return Err(format!(
                        "{} step `{s}` in `{item}` is not a whole number of at least 1",
                        field.name
                    ))
                }
            },
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            (field.min, field.max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (number(field, a)?, number(field, b)?);
            if a > b {
                return Err(format!("{} range `{range}` runs backwards", field.name));
            }
            (a, b)
        } else {
            let a = number(field, range)?;
            // `5/15` means from 5 to the end in steps of 15.
            (a, if item.contains('/') { field.max } else { a })
        };
        out.extend((lo..=hi).step_by(step as usize));
    }
    if field.name == DAY_OF_WEEK.name {
        out = out.into_iter().map(|d| d % 7).collect();
    }
    Ok(Some(out))
}

/// One value of a field: a number in its range, or one of its names.
fn number(field: &Field, text: &str) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some((_, n)) = field
        .names
        .iter()
        .find(|(name, _)| lower == *name || lower.starts_with(name) && is_full_name(&lower))
    {
        return Ok(*n);
    }
    let Ok(n) = text.parse::<u32>() else {
        let names = if field.names.is_empty() {
            String::new()
        } else {
            format!(" or a name such as `{}`", field.names[1].0.to_ascii_uppercase())
        };
        return Err(format!("{} `{text}` is not a number{names}", field.name));
    };
    if !(field.min..=field.max).contains(&n) {
        let unix = if field.name == DAY_OF_WEEK.name {
            " (0 or 7 is Sunday)"
        } else {
            ""
        };
        return Err(format!(
            "{} {n} is out of range {}–{}{unix}",
            field.name, field.min, field.max
        ));
    }
    Ok(n)
}

/// Whether a lower-case word is a full month or day name (`monday`, `january`).
fn is_full_name(word: &str) -> bool {
    const FULL: &[&str] = &[
        "january",
        "february",
        "march",
        "april",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    FULL.contains(&word)
}

/// Compiles `schedule` and `timezone` (default Africa/Johannesburg).
pub(super) fn compile(
    schedule: Option<&str>,
    timezone: Option<&str>,
    c: &mut Compiler,
) -> (Option<cron::Schedule>, chrono_tz::Tz) {
    let schedule = schedule.and_then(|s| parse_schedule(s).map_err(|e| c.diag("schedule", e)).ok());
    let timezone = match timezone {
        None => chrono_tz::Africa::Johannesburg,
        Some(tz) => tz.parse().unwrap_or_else(|_| {
            c.diag(
                "timezone",
                format!("expected an IANA time zone such as `Africa/Johannesburg`, found `{tz}`"),
            );
            chrono_tz::Africa::Johannesburg
        }),
    };
    (schedule, timezone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Timelike};

    fn first_after(expr: &str) -> chrono::DateTime<chrono::Utc> {
        let start = chrono::Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap(); // a Monday
        parse_schedule(expr).unwrap().after(&start).next().unwrap()
    }

    #[test]
    fn mistakes_are_named_in_our_words() {
        let err = |e: &str| parse_schedule(e).unwrap_err();
        assert_eq!(err("0 25 * * *"), "\"0 25 * * *\": hour 25 is out of range 0–23");
        assert_eq!(err("61 2 * * *"), "\"61 2 * * *\": minute 61 is out of range 0–59");
        assert_eq!(
            err("0 2 32 13 *"),
            "\"0 2 32 13 *\": day of month 32 is out of range 1–31; month 13 is out of range 1–12"
        );
        assert_eq!(
            err("0 2 * * 8"),
            "\"0 2 * * 8\": day of week 8 is out of range 0–7 (0 or 7 is Sunday)"
        );
        assert_eq!(err("0 2 * *"), "\"0 2 * *\": expected 5 fields (minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\") or 6 with seconds first, found 4");
        assert_eq!(err("at two in the morning"), "\"at two in the morning\": minute `at` is not a number; hour `two` is not a number; day of month `in` is not a number; month `the` is not a number or a name such as `FEB`; day of week `morning` is not a number or a name such as `MON`");
        assert_eq!(
            err("*/0 * * * *"),
            "\"*/0 * * * *\": minute step `0` in `*/0` is not a whole number of at least 1"
        );
    }

    #[test]
    fn days_of_the_week_count_as_in_unix_cron() {
        // 2026-11-30 is a Monday: `1` is Monday, `0` and `7` are Sunday, names work too.
        assert_eq!(first_after("0 2 * * 1").weekday(), chrono::Weekday::Mon);
        assert_eq!(first_after("0 2 * * 1").day(), 7);
        assert_eq!(first_after("0 2 * * 0").weekday(), chrono::Weekday::Sun);
        assert_eq!(first_after("0 2 * * 7").weekday(), chrono::Weekday::Sun);
        assert_eq!(first_after("0 2 * * SAT").weekday(), chrono::Weekday::Sat);
        assert_eq!(first_after("0 2 * * 1-5").weekday(), chrono::Weekday::Tue);
        assert_eq!(first_after("0 2 * * 5-7").weekday(), chrono::Weekday::Fri);
        let t = first_after("30 2 * * *");
        assert_eq!((t.hour(), t.minute()), (2, 30));
        assert!(parse_schedule("* * * * * *").is_ok(), "six fields: seconds first");
        assert!(parse_schedule("0 0 2 1 JAN *").is_ok());
    }
}

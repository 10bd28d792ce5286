//! How the report writes numbers, money and places: every amount a reader sees is `R 115.8 m`,
//! `R 1.2 bn` or `R 450 k`, and every municipality code has its official name beside it, so the
//! report reads the same whichever section a person starts in.

use crate::contracts::reference::Reference;
use crate::domain::fiscal::{Calendar, FinancialYear};
use regex::Regex;
use std::sync::LazyLock;

/// Rand in the report's one style: `R 1.2 bn`, `R 115.8 m`, `R 450 k`, `R 950`; negatives with a
/// leading minus; `—` for a value that is not a number.
pub fn rand(x: f64) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    let a = x.abs();
    // Thresholds just below each unit, so rounding never prints `R 1000.0 m`.
    if a >= 999.95e6 {
        format!("{sign}R {:.1} bn", a / 1e9)
    } else if a >= 999.5e3 {
        format!("{sign}R {:.1} m", a / 1e6)
    } else if a >= 999.5 {
        format!("{sign}R {:.0} k", a / 1e3)
    } else {
        format!("{sign}R {a:.0}")
    }
}

/// A signed change in Rand: `+R 2.0 m`, `-R 450 k`, `R 0`.
pub fn rand_change(x: f64) -> String {
    if x > 0.0 {
        format!("+{}", rand(x))
    } else {
        rand(x)
    }
}

/// A share (0–1) as a percentage: `63%`, `4.5%` below 10%.
pub fn pct(v: f64) -> String {
    if !v.is_finite() {
        "—".into()
    } else if v.abs() < 0.1 && v != 0.0 {
        format!("{:.1}%", v * 100.0)
    } else {
        format!("{:.0}%", v * 100.0)
    }
}

/// A ratio (`1.04`, `0.35`, `12.3`): two significant decimals below 10.
pub fn ratio(v: f64) -> String {
    if !v.is_finite() {
        "—".into()
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A whole count with thousands separators: `12,345`.
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A metric value in its unit: shares as percentages, ratios as decimals.
pub fn metric_value(unit: &str, v: f64) -> String {
    if unit == "ratio" {
        ratio(v)
    } else {
        pct(v)
    }
}

/// `2025/26` for a municipal financial year's start year.
pub fn year_label(start_year: i32) -> String {
    FinancialYear::new(Calendar::Municipal, start_year).label()
}

/// The official name of a municipality, where the bundled reference knows the code.
pub fn municipality_name(code: &str) -> Option<&'static str> {
    Reference::bundled().get(code).map(|m| m.name.as_str())
}

/// `BUF Buffalo City` (the code alone when the reference data does not know it).
pub fn municipality_label(code: &str) -> String {
    match municipality_name(code) {
        Some(name) => format!("{code} {name}"),
        None if code.is_empty() => "(no municipality)".into(),
        None => code.to_string(),
    }
}

/// A municipality's peer group (its category): `A` metros, `B` locals, `C` districts.
pub fn category(code: &str) -> &'static str {
    match Reference::bundled().get(code).map(|m| m.category.as_str()) {
        Some("A") => "A",
        Some("B") => "B",
        Some("C") => "C",
        _ => "?",
    }
}

/// The name of a peer group.
pub fn category_name(category: &str) -> &'static str {
    match category {
        "A" => "metros",
        "B" => "local municipalities",
        "C" => "district municipalities",
        _ => "not in the reference data",
    }
}

/// Raw Rand figures inside texts written elsewhere (`R115830000`, `R 45000000.5`).
static RAW_RAND: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bR ?(\d{4,})(\.\d+)?\b").expect("a valid pattern"));

/// A finding's description with its raw Rand figures written the report's way.
pub fn amounts_in_text(text: &str) -> String {
    RAW_RAND
        .replace_all(text, |c: &regex::Captures<'_>| {
            let whole = c.get(0).map_or("", |m| m.as_str());
            let number = format!("{}{}", &c[1], c.get(2).map_or("", |m| m.as_str()));
            number.parse::<f64>().map_or_else(|_| whole.to_string(), rand)
        })
        .into_owned()
}

/// At most `max` characters of a text, with `…` when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rand_is_written_with_units() {
        assert_eq!(rand(115_830_000.0), "R 115.8 m");
        assert_eq!(rand(1_234_000_000.0), "R 1.2 bn");
        assert_eq!(rand(450_000.0), "R 450 k");
        assert_eq!(rand(950.0), "R 950");
        assert_eq!(rand(999_999.0), "R 1.0 m");
        assert_eq!(rand(-2_500_000.0), "-R 2.5 m");
        assert_eq!(rand_change(2_000_000.0), "+R 2.0 m");
        assert_eq!(rand(f64::NAN), "—");
    }

    #[test]
    fn raw_amounts_in_texts_are_formatted() {
        assert_eq!(
            amounts_in_text("BUF capital budget 2025/26 is R115830000, 1000.000× the R115830 of run x"),
            "BUF capital budget 2025/26 is R 115.8 m, 1000.000× the R 116 k of run x"
        );
        assert_eq!(amounts_in_text("ward 12, R 450 left"), "ward 12, R 450 left");
    }

    #[test]
    fn names_sit_beside_codes_and_counts_have_separators() {
        assert_eq!(municipality_label("BUF"), "BUF Buffalo City");
        assert_eq!(municipality_label("XX999"), "XX999");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(12), "12");
        assert_eq!(pct(0.634), "63%");
        assert_eq!(pct(0.045), "4.5%");
    }
}

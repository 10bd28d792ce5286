//! Parsing amounts the way they appear in South African public-finance files.
//!
//! Treasury workbooks, municipal ledgers and budget books write numbers as `1 234 567`
//! (space or no-break-space thousands separators), `(1 234)` for negatives, `-` for zero,
//! `R 12,50` with a currency prefix and comma decimals, or `1,234,567.89`. Everything funnels
//! through [`parse_amount`] so that every reader agrees on what a cell means.

/// Why a text could not be read as a number; carries the text for the quarantine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{raw}` is not a number (expected digits such as `1 234 567`, `(1 234)`, `-` or `R 12,50`)")]
pub struct NumberError {
    /// The raw text as found in the cell.
    pub raw: String,
}

/// Parses one amount. Empty text gives `Ok(None)`; a lone dash gives `Ok(Some(0.0))`.
pub fn parse_amount(raw: &str) -> Result<Option<f64>, NumberError> {
    let err = || NumberError { raw: raw.to_string() };
    let mut s: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\t'))
        .collect();
    if s.is_empty() {
        return Ok(None);
    }
    if matches!(s.as_str(), "-" | "–" | "—") {
        return Ok(Some(0.0));
    }
    let mut negative = false;
    if s.starts_with('(') && s.ends_with(')') && s.len() > 2 {
        negative = true;
        s = s[1..s.len() - 1].to_string();
    }
    if let Some(rest) = s.strip_prefix('-') {
        negative = !negative;
        s = rest.to_string();
    }
    if let Some(rest) = s.strip_prefix('R').or_else(|| s.strip_prefix('r')) {
        s = rest.to_string();
    }
    if let Some(rest) = s.strip_prefix('-') {
        negative = !negative;
        s = rest.to_string();
    }
    if s.is_empty() || !s.chars().any(|c| c.is_ascii_digit()) {
        return Err(err());
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_digit() || c == ',' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')
    {
        return Err(err());
    }
    let commas = s.matches(',').count();
    let dots = s.matches('.').count();
    let normalised = match (commas, dots) {
        (0, _) => s.clone(),
        // `12,50` is a comma decimal; `1,234` and `1,234,567` are thousands separators.
        (1, 0) => {
            let after = s.len() - s.find(',').map_or(0, |i| i + 1);
            if after == 3 {
                s.replace(',', "")
            } else {
                s.replace(',', ".")
            }
        }
        (_, 0) => s.replace(',', ""),
        // Both present: whichever comes last is the decimal mark.
        _ => {
            let last_comma = s.rfind(',').unwrap_or(0);
            let last_dot = s.rfind('.').unwrap_or(0);
            if last_dot > last_comma {
                s.replace(',', "")
            } else {
                s.replace('.', "").replace(',', ".")
            }
        }
    };
    let value: f64 = normalised.parse().map_err(|_| err())?;
    if !value.is_finite() {
        return Err(err());
    }
    Ok(Some(if negative { -value } else { value }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_the_wild() {
        let cases: &[(&str, Option<f64>)] = &[
            ("", None),
            ("   ", None),
            ("1 234 567", Some(1_234_567.0)),
            ("1\u{a0}234", Some(1_234.0)),
            ("(1 234)", Some(-1_234.0)),
            ("-", Some(0.0)),
            ("R 12,50", Some(12.5)),
            ("R12 500", Some(12_500.0)),
            ("1,234,567.89", Some(1_234_567.89)),
            ("1.234.567,89", Some(1_234_567.89)),
            ("1,234", Some(1_234.0)),
            ("-500", Some(-500.0)),
            ("340609", Some(340_609.0)),
            ("110000000.0", Some(110_000_000.0)),
            ("16378.00", Some(16_378.0)),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_amount(raw).unwrap(), *want, "input {raw:?}");
        }
    }

    #[test]
    fn rejects_text_and_names_the_value() {
        for raw in ["abc", "R", "12 kg", "()", "TBC", "1e999"] {
            let e = parse_amount(raw).unwrap_err();
            assert_eq!(e.raw, raw);
            assert!(e.to_string().contains(raw), "{e}");
        }
    }
}

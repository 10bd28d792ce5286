//! Financial years and the two government calendars.
//!
//! Municipalities budget from 1 July to 30 June; national and provincial government from 1 April
//! to 31 March. Sources label a year by its start (vulekamali: `2019` = 2019/20), by its end
//! (Treasury cubes: `2020` = 2019/20, `2018AUDA` = audited 2017/18) or as text (`2019/20`,
//! `2019/2020`, `2019-20`). Every year in harvester is a [`FinancialYear`]: a calendar plus the
//! calendar year in which it starts, so its start and end dates are explicit.

use chrono::NaiveDate;
use regex::Regex;
use std::sync::LazyLock;

/// Which government calendar a financial year belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Calendar {
    /// Local government: 1 July to 30 June.
    Municipal,
    /// National and provincial government: 1 April to 31 March.
    National,
}

impl Calendar {
    /// The month (1-12) in which this calendar's financial year starts.
    pub fn start_month(self) -> u32 {
        match self {
            Calendar::Municipal => 7,
            Calendar::National => 4,
        }
    }

    /// The name written to outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Calendar::Municipal => "municipal_jul_jun",
            Calendar::National => "national_apr_mar",
        }
    }
}

/// How a bare integer year in a source is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum YearLabel {
    /// `2019` means the year starting in 2019 (2019/20), as on vulekamali.
    #[default]
    Start,
    /// `2020` means the year ending in 2020 (2019/20), as in Treasury's cubes.
    End,
}

/// One financial year of one calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FinancialYear {
    /// The calendar the year belongs to.
    pub calendar: Calendar,
    /// The calendar year in which the financial year starts (2019 for 2019/20).
    pub start_year: i32,
}

/// A text that is not a financial year in any known form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{raw}` is not a financial year (expected e.g. `2019/20`, `2019/2020`, `2019-20`, `2019` or a period code such as `2020IBY1`)")]
pub struct YearError {
    /// The raw text.
    pub raw: String,
}

static SLASHED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|[^0-9])((?:19|20)\d{2})\s*[/\-_]\s*(\d{2}|\d{4})(?:$|[^0-9])").unwrap());
static PERIOD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{4})(IBY1|IBY2|ADJB|ORGB|AUDA|PAUD|ITY1|ITY2|TABB|TRFR|SCHD|RAUD)?(M\d{2})?$").unwrap()
});

impl FinancialYear {
    /// Builds a year from its starting calendar year.
    pub fn new(calendar: Calendar, start_year: i32) -> Self {
        Self { calendar, start_year }
    }

    /// First day of the year.
    pub fn start_date(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.start_year, self.calendar.start_month(), 1).unwrap_or(NaiveDate::MIN)
    }

    /// Last day of the year.
    pub fn end_date(self) -> NaiveDate {
        let next =
            NaiveDate::from_ymd_opt(self.start_year + 1, self.calendar.start_month(), 1).unwrap_or(NaiveDate::MAX);
        next.pred_opt().unwrap_or(next)
    }

    /// The conventional label, `2019/20`.
    pub fn label(self) -> String {
        format!("{}/{:02}", self.start_year, (self.start_year + 1) % 100)
    }

    /// Months (0-12) this year shares with `other`, for apportioning across calendars.
    pub fn overlap_months(self, other: FinancialYear) -> u32 {
        let month_index = |fy: FinancialYear| fy.start_year * 12 + fy.calendar.start_month() as i32 - 1;
        let (a0, b0) = (month_index(self), month_index(other));
        let overlap = (a0 + 12).min(b0 + 12) - a0.max(b0);
        overlap.clamp(0, 12) as u32
    }

    /// The year of `calendar` that shares the most months with this one (ties go to the later).
    pub fn dominant_in(self, calendar: Calendar) -> FinancialYear {
        if calendar == self.calendar {
            return self;
        }
        let same = FinancialYear::new(calendar, self.start_year);
        let before = FinancialYear::new(calendar, self.start_year - 1);
        if self.overlap_months(before) > self.overlap_months(same) {
            before
        } else {
            same
        }
    }

    /// Parses any textual or integer form; bare integers are read by `label`.
    pub fn parse(raw: &str, calendar: Calendar, label: YearLabel) -> Result<Self, YearError> {
        let err = || YearError { raw: raw.to_string() };
        let s = raw.trim();
        if let Some(c) = SLASHED.captures(s) {
            let start: i32 = c[1].parse().map_err(|_| err())?;
            let end_text = &c[2];
            let end: i32 = end_text.parse().map_err(|_| err())?;
            let expected_end = start + 1;
            let ok = if end_text.len() == 2 {
                end == expected_end % 100
            } else {
                end == expected_end
            };
            return if ok { Ok(Self::new(calendar, start)) } else { Err(err()) };
        }
        // Excel may hand a year over as `2019.0`.
        let s = s.strip_suffix(".0").unwrap_or(s);
        if let Some(c) = PERIOD.captures(s) {
            let year: i32 = c[1].parse().map_err(|_| err())?;
            if !(1990..=2100).contains(&year) {
                return Err(err());
            }
            // Treasury period codes carry the year's end; a bare integer follows `label`.
            let is_period_code = c.get(2).is_some() || c.get(3).is_some();
            let start = if is_period_code || label == YearLabel::End {
                year - 1
            } else {
                year
            };
            return Ok(Self::new(calendar, start));
        }
        Err(err())
    }
}

/// The period type of a Treasury period code (`2018AUDA` → `auda`, `2020M09` → `m09`), if any.
pub fn period_type(raw: &str) -> Option<String> {
    let c = PERIOD.captures(raw.trim())?;
    c.get(2).or_else(|| c.get(3)).map(|m| m.as_str().to_lowercase())
}

impl std::fmt::Display for FinancialYear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Calendar::*;

    #[test]
    fn every_textual_form() {
        let cases = [
            ("2019/20", YearLabel::Start, 2019),
            ("2019/2020", YearLabel::Start, 2019),
            ("2019-20", YearLabel::Start, 2019),
            ("amount_2024_25", YearLabel::Start, 2024),
            ("Budget year 2019/20", YearLabel::Start, 2019),
            ("budget year 2021/22", YearLabel::Start, 2021),
            ("2019", YearLabel::Start, 2019),
            ("2020", YearLabel::End, 2019),
            ("2019.0", YearLabel::Start, 2019),
            ("2018AUDA", YearLabel::Start, 2017),
            ("2020IBY1", YearLabel::Start, 2019),
            ("2020M09", YearLabel::Start, 2019),
            ("2099/00", YearLabel::Start, 2099),
        ];
        for (raw, label, start) in cases {
            assert_eq!(
                FinancialYear::parse(raw, Municipal, label).unwrap().start_year,
                start,
                "{raw}"
            );
        }
    }

    #[test]
    fn rejects_and_names_the_value() {
        for raw in ["", "next year", "2019/22", "2019/2022", "21019", "1850"] {
            let e = FinancialYear::parse(raw, Municipal, YearLabel::Start).unwrap_err();
            assert!(e.to_string().contains(&format!("`{raw}`")), "{e}");
        }
    }

    #[test]
    fn period_types() {
        assert_eq!(period_type("2018AUDA").as_deref(), Some("auda"));
        assert_eq!(period_type("2025ORGB").as_deref(), Some("orgb"));
        assert_eq!(period_type("2020M09").as_deref(), Some("m09"));
        assert_eq!(period_type("2019"), None);
        assert_eq!(period_type("2019/20"), None);
    }

    #[test]
    fn dates_follow_the_calendar() {
        let m = FinancialYear::new(Municipal, 2024);
        assert_eq!(m.start_date().to_string(), "2024-07-01");
        assert_eq!(m.end_date().to_string(), "2025-06-30");
        let n = FinancialYear::new(National, 2024);
        assert_eq!(n.start_date().to_string(), "2024-04-01");
        assert_eq!(n.end_date().to_string(), "2025-03-31");
        assert_eq!(m.label(), "2024/25");
        assert_eq!(FinancialYear::new(Municipal, 1999).label(), "1999/00");
    }

    #[test]
    fn apportionment_between_calendars() {
        let prov = FinancialYear::new(National, 2024);
        assert_eq!(prov.overlap_months(FinancialYear::new(Municipal, 2024)), 9);
        assert_eq!(prov.overlap_months(FinancialYear::new(Municipal, 2023)), 3);
        assert_eq!(prov.overlap_months(FinancialYear::new(Municipal, 2022)), 0);
        assert_eq!(prov.dominant_in(Municipal), FinancialYear::new(Municipal, 2024));
    }
}

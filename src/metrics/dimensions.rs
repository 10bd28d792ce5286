//! Funding source and programme as metric dimensions (issue #13): the capital budget's split by
//! funding source (`budget_by_funding_source_share`, `dimension` = the normalised source of
//! `grants::FundingSource`) and a metro's BEPP plan value by catalytic programme
//! (`bepp_value_by_programme_share`, `dimension` = the programme as written). Both are profiles
//! (they describe, they do not rank), published like the department and MTSF outcome splits.

use crate::contracts::Dataset;
use crate::domain::fiscal::FinancialYear;
use crate::metrics::alignment::{municipal_years, Facts};
use crate::metrics::grants;
use crate::reconcile::Link;
use crate::records::Record;
use std::collections::BTreeMap;

/// Adds the dimensioned facts: budget by funding source and BEPP value by programme.
pub(crate) fn push_facts(f: &mut Facts, records: &[Record], links: &[&Link]) {
    for row in grants::grant_rows(records, links) {
        let source = row.funding_source.unwrap_or(grants::FundingSource::Unknown);
        f.push(
            "budget_by_funding_source_share",
            Some(source.as_str()),
            &row.demarcation_code,
            FinancialYear::new(crate::domain::fiscal::Calendar::Municipal, row.financial_year),
            row.amount_rand,
            row.capital_budget_rand,
        );
    }
    let mut part: BTreeMap<(&str, FinancialYear, &str), f64> = BTreeMap::new();
    let mut total: BTreeMap<(&str, FinancialYear), f64> = BTreeMap::new();
    for r in records.iter().filter(|r| r.dataset == Dataset::Bepp) {
        let Some(muni) = r.demarcation_code.as_deref() else {
            continue;
        };
        let programme = r.programme.as_deref().map(str::trim).filter(|p| !p.is_empty());
        for (y, amount) in municipal_years(r) {
            *part.entry((muni, y, programme.unwrap_or("(none)"))).or_default() += amount;
            *total.entry((muni, y)).or_default() += amount;
        }
    }
    for (&(muni, y, programme), &v) in &part {
        let den = total.get(&(muni, y)).copied().unwrap_or(0.0);
        f.push("bepp_value_by_programme_share", Some(programme), muni, y, v, den);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::validate::AmountValue;
    use crate::domain::fiscal::Calendar;

    fn with(r: Record, year: i32, phase: &str, rand: f64) -> Record {
        let fy = FinancialYear::new(Calendar::Municipal, year);
        Record {
            financial_year: Some(fy),
            amounts: vec![AmountValue {
                year: fy,
                phase: phase.into(),
                rand,
            }],
            ..r
        }
    }

    /// BUF 2024/25: budget 300 USDG + 100 CRR; BEPP 600 in `Mdantsane Urban Hub`, 200 without a
    /// programme.
    #[test]
    fn funding_source_and_programme_dimensions_by_hand() {
        let mut usdg = Record::bare("b1", "s", Dataset::Budget, "BUF");
        usdg.funding_source = Some("USDG".into());
        let mut crr = Record::bare("b2", "s", Dataset::Budget, "BUF");
        crr.funding_source = Some("CRR".into());
        let mut hub = Record::bare("p1", "bepp", Dataset::Bepp, "BUF");
        hub.programme = Some("Mdantsane Urban Hub".into());
        let records = vec![
            with(usdg, 2024, "budget", 300.0),
            with(crr, 2024, "budget", 100.0),
            with(hub, 2024, "planned", 600.0),
            with(Record::bare("p2", "bepp", Dataset::Bepp, "BUF"), 2024, "planned", 200.0),
        ];
        let mut f = Facts::default();
        push_facts(&mut f, &records, &[]);
        let got: Vec<(&str, Option<&str>, f64, f64)> = (0..f.metric.len())
            .map(|i| (f.metric[i], f.dimension[i].as_deref(), f.num[i], f.den[i]))
            .collect();
        assert_eq!(
            got,
            [
                ("budget_by_funding_source_share", Some("usdg"), 300.0, 400.0),
                ("budget_by_funding_source_share", Some("own_revenue"), 100.0, 400.0),
                ("bepp_value_by_programme_share", Some("(none)"), 200.0, 800.0),
                (
                    "bepp_value_by_programme_share",
                    Some("Mdantsane Urban Hub"),
                    600.0,
                    800.0
                ),
            ]
        );
    }
}

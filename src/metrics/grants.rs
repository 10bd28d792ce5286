//! Capital budget by grant: the funding-source normaliser and the `grant_budget` table.
//!
//! Treasury's infrastructure grants (USDG, ICDG, NDPG for metros' BEPPs; MIG, WSIG, INEP for
//! the others; PTNG, HSDG) are conditional: analysts need to see how much of each
//! municipality's capital budget each grant carries. Sources write the funding source as free
//! text (`Urban Settlements Development Grant`, `USDG`, `4 NT USDG`, `MIG `, `3 CRR:WardAllocation`,
//! `1 EFF`), so it is normalised to the closed [`FundingSource`] enum; the raw texts stay beside
//! it. The SA36 has no funding column: a budget line without its own funding source takes the
//! one of the IDP project it is linked to (`budget_idp`), else of the BEPP project
//! (`bepp_budget`), the smallest `record_id` first; `amount_inherited_rand` says how much of a
//! row came that way. Amounts are each year's budget from one MTREF only, as in the metrics.

use crate::contracts::Dataset;
use crate::metrics::BudgetVintages;
use crate::reconcile::{Link, LinkType};
use crate::records::Record;
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// A funding source, normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FundingSource {
    /// Urban Settlements Development Grant.
    Usdg,
    /// Integrated City Development Grant.
    Icdg,
    /// Neighbourhood Development Partnership Grant.
    Ndpg,
    /// Municipal Infrastructure Grant.
    Mig,
    /// Water Services Infrastructure Grant.
    Wsig,
    /// Integrated National Electrification Programme grant.
    Inep,
    /// Public Transport Network Grant (formerly the Public Transport Infrastructure Grant).
    Ptng,
    /// Human Settlements Development Grant.
    Hsdg,
    /// Own revenue: capital replacement reserve, revenue, asset sales, contributions levies.
    OwnRevenue,
    /// Borrowing (loans, external financing fund).
    Borrowing,
    /// Another provincial transfer.
    OtherProvincial,
    /// Another national transfer.
    OtherNational,
    /// Private sector or donors.
    Private,
    /// Not stated, or not recognised.
    Unknown,
}

/// (source, words that name it), checked in this order: grants first, so `Provincial HSDG` is
/// HSDG and `USDG and CRR` is USDG.
const RULES: &[(FundingSource, &[&str])] = &[
    (
        FundingSource::Usdg,
        &["usdg", "urban settlement development", "urban settlements development"],
    ),
    (FundingSource::Icdg, &["icdg", "integrated city development"]),
    (
        FundingSource::Ndpg,
        &["ndpg", "neighbourhood development", "neighborhood development"],
    ),
    (FundingSource::Mig, &["mig", "municipal infrastructure grant"]),
    (FundingSource::Wsig, &["wsig", "water services infrastructure"]),
    (FundingSource::Inep, &["inep", "integrated national electrification"]),
    (
        FundingSource::Ptng,
        &[
            "ptng",
            "ptig",
            "ptnog",
            "public transport network",
            "public transport infrastructure",
        ],
    ),
    (
        FundingSource::Hsdg,
        &[
            "hsdg",
            "human settlements development",
            "human settlement development",
            "prov house dev",
        ],
    ),
    (FundingSource::Private, &["private", "donor", "donation", "donations"]),
    (
        FundingSource::Borrowing,
        &[
            "borrowing",
            "borrowings",
            "loan",
            "loans",
            "eff",
            "external financing",
            "external loans",
        ],
    ),
    (
        FundingSource::OwnRevenue,
        &[
            "crr",
            "capital replacement reserve",
            "own revenue",
            "own funds",
            "own funding",
            "own source",
            "internally generated",
            "revenue",
            "asset sale",
            "assets sale",
            "bicl",
        ],
    ),
    (
        FundingSource::OtherProvincial,
        &["provincial", "province", "prov", "pawc", "pgwc"],
    ),
    (
        FundingSource::OtherNational,
        &["national", "nt", "state", "dora", "grant", "grants"],
    ),
];

impl FundingSource {
    /// The name written to outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            FundingSource::Usdg => "usdg",
            FundingSource::Icdg => "icdg",
            FundingSource::Ndpg => "ndpg",
            FundingSource::Mig => "mig",
            FundingSource::Wsig => "wsig",
            FundingSource::Inep => "inep",
            FundingSource::Ptng => "ptng",
            FundingSource::Hsdg => "hsdg",
            FundingSource::OwnRevenue => "own_revenue",
            FundingSource::Borrowing => "borrowing",
            FundingSource::OtherProvincial => "other_provincial",
            FundingSource::OtherNational => "other_national",
            FundingSource::Private => "private",
            FundingSource::Unknown => "unknown",
        }
    }

    /// `conditional_grant` for the eight named grants, else `own_revenue`, `borrowing`,
    /// `other_transfer`, `private` or `unknown`.
    pub fn funding_type(self) -> &'static str {
        use FundingSource::*;
        match self {
            Usdg | Icdg | Ndpg | Mig | Wsig | Inep | Ptng | Hsdg => "conditional_grant",
            OwnRevenue => "own_revenue",
            Borrowing => "borrowing",
            OtherProvincial | OtherNational => "other_transfer",
            Private => "private",
            Unknown => "unknown",
        }
    }

    /// Normalises a funding-source text: lower case, words split on anything not a letter or
    /// digit, then the first rule (in [`RULES`] order) with a word or phrase in the text.
    pub fn parse(text: &str) -> FundingSource {
        let words: Vec<String> = text
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect();
        let joined = format!(" {} ", words.join(" "));
        RULES
            .iter()
            .find(|(_, names)| names.iter().any(|n| joined.contains(&format!(" {n} "))))
            .map_or(FundingSource::Unknown, |(s, _)| *s)
    }
}

/// A budget line's funding text and whether it was inherited through a link.
pub(crate) struct Funding<'a> {
    /// The text as written (own or the linked record's).
    pub text: Option<&'a str>,
    /// Whether it came from a linked IDP or BEPP project.
    pub inherited: bool,
}

/// Every budget line's funding: its own text, else a linked IDP project's, else a linked BEPP
/// project's (smallest `record_id` first within each).
pub(crate) fn line_funding<'a>(records: &'a [Record], links: &[&Link]) -> BTreeMap<&'a str, Funding<'a>> {
    let by_id: BTreeMap<&str, &Record> = records.iter().map(|r| (r.record_id.as_str(), r)).collect();
    let text = |r: &'a Record| r.funding_source.as_deref().map(str::trim).filter(|t| !t.is_empty());
    // Budget line → (rank: IDP 0, BEPP 1, linked record id) → its text.
    let mut linked: BTreeMap<&str, BTreeMap<(u8, &str), &'a str>> = BTreeMap::new();
    for l in links {
        let (rank, line, other) = match l.link_type {
            LinkType::BudgetIdp => (0, l.left_record_id.as_str(), l.right_record_id.as_str()),
            LinkType::BeppBudget => (1, l.right_record_id.as_str(), l.left_record_id.as_str()),
            _ => continue,
        };
        if let Some(t) = by_id.get(other).and_then(|r| text(r)) {
            linked.entry(line).or_default().insert((rank, other), t);
        }
    }
    records
        .iter()
        .filter(|r| r.dataset == Dataset::Budget)
        .map(|r| {
            let own = text(r);
            let from_link = || {
                linked
                    .get(r.record_id.as_str())
                    .and_then(|m| m.values().next().copied())
            };
            let f = match own {
                Some(t) => Funding {
                    text: Some(t),
                    inherited: false,
                },
                None => Funding {
                    text: from_link(),
                    inherited: from_link().is_some(),
                },
            };
            (r.record_id.as_str(), f)
        })
        .collect()
}

/// One row of `grant_budget`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GrantRow {
    /// Municipality.
    pub demarcation_code: String,
    /// Municipal financial year (start year).
    pub financial_year: i32,
    /// The normalised source.
    pub funding_source: Option<FundingSource>,
    /// Distinct raw texts, sorted.
    pub raw_texts: BTreeSet<String>,
    /// Documents the amounts come from.
    pub vintages: BTreeSet<String>,
    /// Budget lines counted.
    pub budget_lines: i32,
    /// Σ budget Rand.
    pub amount_rand: f64,
    /// The part whose funding source came from a linked IDP or BEPP project.
    pub amount_inherited_rand: f64,
    /// The municipality's capital budget that year (every source).
    pub capital_budget_rand: f64,
}

impl GrantRow {
    /// Amount ÷ capital budget; null when the budget is 0.
    pub fn share(&self) -> Option<f64> {
        (self.capital_budget_rand != 0.0)
            .then(|| self.amount_rand / self.capital_budget_rand)
            .filter(|v| v.is_finite())
    }
}

/// Every municipality-year's budget by funding source, sorted by municipality, year, source.
pub fn grant_rows(records: &[Record], links: &[&Link]) -> Vec<GrantRow> {
    let vintages = BudgetVintages::new(records);
    let funding = line_funding(records, links);
    let mut rows: BTreeMap<(String, i32, FundingSource), GrantRow> = BTreeMap::new();
    let mut totals: BTreeMap<(String, i32), f64> = BTreeMap::new();
    for r in records.iter().filter(|r| r.dataset == Dataset::Budget) {
        let Some(muni) = r.demarcation_code.as_deref() else {
            continue;
        };
        let f = funding.get(r.record_id.as_str());
        let text = f.and_then(|f| f.text);
        let source = text.map_or(FundingSource::Unknown, FundingSource::parse);
        for a in r
            .amounts
            .iter()
            .filter(|a| a.phase == "budget" && vintages.counts(r, a.year))
        {
            let y = a.year.start_year;
            *totals.entry((muni.to_string(), y)).or_default() += a.rand;
            let row = rows.entry((muni.to_string(), y, source)).or_insert_with(|| GrantRow {
                demarcation_code: muni.to_string(),
                financial_year: y,
                funding_source: Some(source),
                ..GrantRow::default()
            });
            row.raw_texts.extend(text.map(str::to_string));
            row.vintages.insert(crate::reconcile::variance::vintage(r));
            row.budget_lines += 1;
            row.amount_rand += a.rand;
            if f.is_some_and(|f| f.inherited) {
                row.amount_inherited_rand += a.rand;
            }
        }
    }
    rows.into_values()
        .map(|mut row| {
            row.capital_budget_rand = totals
                .get(&(row.demarcation_code.clone(), row.financial_year))
                .copied()
                .unwrap_or(0.0);
            row
        })
        .collect()
}

/// `grant_budget` as a DataFrame (see docs/tables.md).
pub fn grant_budget(records: &[Record], links: &[&Link]) -> PolarsResult<DataFrame> {
    let rows = grant_rows(records, links);
    let source = |r: &GrantRow| r.funding_source.unwrap_or(FundingSource::Unknown);
    let join = |set: &BTreeSet<String>| (!set.is_empty()).then(|| set.iter().cloned().collect::<Vec<_>>().join("; "));
    let f = |name: &str, g: fn(&GrantRow) -> f64| Column::new(name.into(), rows.iter().map(g).collect::<Vec<_>>());
    let columns = vec![
        Column::new(
            "demarcation_code".into(),
            rows.iter().map(|r| r.demarcation_code.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "financial_year".into(),
            rows.iter().map(|r| r.financial_year).collect::<Vec<_>>(),
        ),
        Column::new(
            "funding_source".into(),
            rows.iter().map(|r| source(r).as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "funding_type".into(),
            rows.iter().map(|r| source(r).funding_type()).collect::<Vec<_>>(),
        ),
        Column::new(
            "funding_source_raw".into(),
            rows.iter().map(|r| join(&r.raw_texts)).collect::<Vec<_>>(),
        ),
        Column::new(
            "vintage".into(),
            rows.iter().map(|r| join(&r.vintages)).collect::<Vec<_>>(),
        ),
        Column::new(
            "budget_lines".into(),
            rows.iter().map(|r| r.budget_lines).collect::<Vec<_>>(),
        ),
        f("amount_rand", |r| r.amount_rand),
        f("amount_inherited_rand", |r| r.amount_inherited_rand),
        f("capital_budget_rand", |r| r.capital_budget_rand),
        Column::new(
            "share_of_capital_budget".into(),
            rows.iter().map(GrantRow::share).collect::<Vec<_>>(),
        ),
    ];
    DataFrame::new(rows.len(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::validate::AmountValue;
    use crate::domain::fiscal::{Calendar, FinancialYear};

    fn line(id: &str, by: i32, funding: Option<&str>, amounts: &[(i32, f64)]) -> Record {
        let fy = |y| FinancialYear::new(Calendar::Municipal, y);
        Record {
            funding_source: funding.map(str::to_string),
            financial_year: Some(fy(by)),
            amounts: amounts
                .iter()
                .map(|(y, r)| AmountValue {
                    year: fy(*y),
                    phase: "budget".into(),
                    rand: *r,
                })
                .collect(),
            ..Record::bare(id, "s", Dataset::Budget, "BUF")
        }
    }

    #[test]
    fn messy_funding_texts_normalise_to_the_closed_list() {
        use FundingSource::*;
        for (text, want) in [
            ("Urban Settlements Development Grant", Usdg),
            ("USDG", Usdg),
            ("4 NT USDG", Usdg),
            ("MIG ", Mig),
            ("Municipal Infrastructure Grant (MIG)", Mig),
            ("CRR", OwnRevenue),
            ("3 CRR:WardAllocation", OwnRevenue),
            ("own revenue", OwnRevenue),
            ("1 EFF", Borrowing),
            ("External Loans", Borrowing),
            ("4 NT PTIG", Ptng),
            ("4 DME - INEP", Inep),
            ("4 PAWC - LIBRARIES", OtherProvincial),
            ("4 NT EPWP", OtherNational),
            ("4 PRIVATE SECTOR FIN", Private),
            ("Provincial HSDG", Hsdg),
            ("", Unknown),
            ("migration fund", Unknown),
        ] {
            assert_eq!(FundingSource::parse(text), want, "{text:?}");
        }
    }

    /// Hand-made lines of BUF 2025/26 with messy texts, summed by hand; the 2024/25 MTREF's
    /// BY+1 for 2025/26 is not added (one MTREF per year); a line without funding of its own
    /// takes its linked IDP project's.
    #[test]
    fn budget_by_grant_summed_by_hand() {
        let mut idp = Record::bare("idp1", "idp", Dataset::Idp, "BUF");
        idp.funding_source = Some("NDPG".into());
        let records = vec![
            line("a", 2025, Some("Urban Settlements Development Grant"), &[(2025, 100.0)]),
            line("b", 2025, Some("USDG"), &[(2025, 50.0), (2026, 70.0)]),
            line("c", 2025, Some("MIG "), &[(2025, 30.0)]),
            line("d", 2025, Some("CRR"), &[(2025, 20.0)]),
            line("e", 2025, None, &[(2025, 40.0)]),
            line("f", 2025, None, &[(2025, 10.0)]),
            line("old", 2024, Some("USDG"), &[(2024, 5.0), (2025, 999.0)]),
            idp,
        ];
        let links = [Link::bare("e", "idp1", LinkType::BudgetIdp, "BUF")];
        let rows = grant_rows(&records, &links.iter().collect::<Vec<_>>());
        let y25: Vec<&GrantRow> = rows.iter().filter(|r| r.financial_year == 2025).collect();
        let got: Vec<(&str, f64, i32)> = y25
            .iter()
            .map(|r| (r.funding_source.unwrap().as_str(), r.amount_rand, r.budget_lines))
            .collect();
        assert_eq!(
            got,
            [
                ("usdg", 150.0, 2),
                ("ndpg", 40.0, 1),
                ("mig", 30.0, 1),
                ("own_revenue", 20.0, 1),
                ("unknown", 10.0, 1),
            ]
        );
        // Capital budget 2025/26 = 100 + 50 + 30 + 20 + 40 + 10 = 250 (not + 999).
        assert!(y25.iter().all(|r| r.capital_budget_rand == 250.0));
        assert_eq!(y25[0].share(), Some(0.6));
        assert_eq!(
            y25[0].raw_texts.iter().map(String::as_str).collect::<Vec<_>>(),
            ["USDG", "Urban Settlements Development Grant"]
        );
        assert_eq!(
            (y25[1].amount_inherited_rand, y25[0].amount_inherited_rand),
            (40.0, 0.0)
        );
        let df = grant_budget(&records, &links.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(df.height(), rows.len());
    }

    /// An SC36 of 2026/27 is no MTREF: the 2025/26 MTREF's BY+1 estimate stays 2026/27's budget.
    #[test]
    fn an_sc36_of_a_later_year_does_not_hide_the_mtref_estimate() {
        let mut sc36 = line("sc", 2026, Some("USDG"), &[]);
        let fy = FinancialYear::new(Calendar::Municipal, 2026);
        sc36.amounts = ["adjusted_budget", "actual_m03"]
            .iter()
            .map(|p| AmountValue {
                year: fy,
                phase: (*p).into(),
                rand: 30.0,
            })
            .collect();
        let records = vec![line("b", 2025, Some("USDG"), &[(2025, 50.0), (2026, 70.0)]), sc36];
        let rows = grant_rows(&records, &[]);
        assert_eq!(
            rows.iter()
                .map(|r| (r.financial_year, r.amount_rand))
                .collect::<Vec<_>>(),
            [(2025, 50.0), (2026, 70.0)]
        );
    }
}

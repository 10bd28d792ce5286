//! The sample's provincial departmental projects and the IRM export that reports them.
//!
//! [`SECTOR`] lists the departments' projects (most of which the IDP also lists, see
//! `registers.rs`); [`workbook`] writes them as an IRM `Project List` export, with one row that
//! must be quarantined.

use super::{fixed_properties, round_thousand, MUNIS};
use crate::synth::Rng;
use rust_xlsxwriter::{Workbook, XlsxError};

/// Provincial departmental projects: (muni index, department, sector, name, IDP lists it as).
pub(super) const SECTOR: &[(usize, &str, &str, &str, Option<&str>)] = &[
    (
        0,
        "Health",
        "Health",
        "Mdantsane Community Health Centre",
        Some("Construction of Mdantsane Community Health Centre (DoH)"),
    ),
    (
        0,
        "Education",
        "Education",
        "Zwelitsha Primary School Upgrades and Additions",
        Some("Zwelitsha Primary School upgrades and additions"),
    ),
    (
        0,
        "Transport",
        "Transport",
        "Rehabilitation of R102 Berlin to Potsdam",
        None,
    ),
    (
        1,
        "Health",
        "Health",
        "Butterworth Hospital Renovation",
        Some("Renovation of Butterworth Hospital"),
    ),
    (
        1,
        "Education",
        "Education",
        "Centane Senior Secondary School",
        Some("Centane Senior Secondary School (DoE)"),
    ),
    (
        1,
        "Transport",
        "Transport",
        "Upgrading of DR08031 Centane to Qolora Road",
        None,
    ),
    (
        2,
        "Education",
        "Education",
        "Dutywa Junior Secondary School",
        Some("Dutywa Junior Secondary School"),
    ),
    (2, "Health", "Health", "Elliotdale Clinic", None),
    (2, "Education", "Education", "Willowvale Senior Secondary School", None),
];

/// The IRM export: one row per departmental project, then one that must be quarantined.
pub(super) fn workbook(rng: &mut Rng) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    wb.set_properties(&fixed_properties()?);
    let ws = wb.add_worksheet();
    ws.set_name("Project List")?;
    let headers = [
        "Project ID",
        "Project No",
        "Project Name",
        "Province",
        "Department",
        "Sector",
        "Local Municipality",
        "District Municipality",
        "Latitude",
        "Longitude",
        "Project Status",
        "Project Start Date",
        "Estimated Construction Start Date",
        "Estimated Project Completion Date",
        "Contracted Construction End Date",
        "Estimated Construction End Date",
        "Professional Fees",
        "Construction Costs",
        "Variation Orders",
        "Total Project Cost",
        "Project Expenditure from Previous Financial Years (Professional Fees)",
        "Project Expenditure from Previous Financial Years (Construction Costs)",
        "Project Expenditure from Previous Financial Years (TOTAL)",
        "Project Expenditure (TOTAL)",
        "Main Budget Appropriation (Professional Fees)",
        "Adjustment Budget Appropriation (Professional Fees)",
        "Main Budget Appropriation (Construction Costs)",
        "Adjustment Budget Appropriation (Construction Costs)",
        "Main Budget Appropriation (TOTAL)",
        "Adjustment Budget Appropriation (TOTAL)",
        "Actual Expenditure Q1",
        "Actual Expenditure Q2",
        "Actual Expenditure Q3",
        "Actual Expenditure Q4",
        "Budget Programme",
        "Primary Funding Source",
        "Nature of Investment",
        "Funding Status",
        "Project Contractor",
        "Project Contractor",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(0, c as u16, *h)?;
    }
    let statuses = ["Design", "Tender", "Construction", "Identified"];
    let mut row = 1u32;
    for (i, (mi, dept, sector, name, _)) in SECTOR.iter().enumerate() {
        let m = &MUNIS[*mi];
        let total = (5 + rng.below(60)) as f64 * 1_000_000.0;
        let main = round_thousand(total * 0.3);
        ws.write_number(row, 0, 41_000.0 + i as f64 * 37.0)?;
        ws.write_string(row, 1, format!("W/{}/{:05}", &dept[..3].to_uppercase(), 300 + i))?;
        ws.write_string(row, 2, *name)?;
        ws.write_string(row, 3, "Eastern Cape")?;
        ws.write_string(row, 4, *dept)?;
        ws.write_string(row, 5, *sector)?;
        ws.write_string(row, 6, if m.metro { "Buffalo City Metropolitan" } else { m.name })?;
        ws.write_string(row, 7, if m.metro { "Buffalo City" } else { "Amathole" })?;
        ws.write_number(row, 8, -32.9 - rng.below(500) as f64 / 1000.0)?;
        ws.write_number(row, 9, 27.5 + rng.below(700) as f64 / 1000.0)?;
        ws.write_string(row, 10, *rng.pick(&statuses))?;
        ws.write_number(row, 11, 45_000.0 + rng.below(500) as f64)?; // Excel serial date
        ws.write_number(row, 19, total)?;
        ws.write_number(row, 28, main)?;
        ws.write_number(row, 29, round_thousand(main * 1.05))?;
        ws.write_string(row, 34, format!("Programme 2 - {dept} Infrastructure"))?;
        ws.write_string(row, 35, format!("{dept} Infrastructure Grant"))?;
        ws.write_string(row, 36, "New infrastructure assets")?;
        ws.write_string(row, 37, "Tabled")?;
        ws.write_string(row, 38, "Program Implementing Agent:  DPWI")?;
        row += 1;
    }
    // A row that must be quarantined: a municipality that does not exist.
    ws.write_number(row, 0, 41_999.0)?;
    ws.write_string(row, 2, "Ngqamakhwe Clinic")?;
    ws.write_string(row, 3, "Eastern Cape")?;
    ws.write_string(row, 4, "Health")?;
    ws.write_string(row, 6, "Amathole Metro")?;
    ws.write_number(row, 28, 2_000_000.0)?;
    wb.save_to_buffer()
}

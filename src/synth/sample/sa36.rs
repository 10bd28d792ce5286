//! The sample's budget: SA36 workbooks in Treasury's layout and the A5 capital totals they
//! must reconcile with.
//!
//! One workbook per budget year, one sheet per municipality: a title row, an "R thousands"
//! caption over Rand amounts, headers starting with a newline, the `Project Decription` typo,
//! a line per budgeted project, two lines with no IDP basis, the rows that must be quarantined,
//! and footnotes after a blank row. Each step below writes one of those parts, in that order.

use super::{fixed_properties, round_thousand, Muni, Project, MTSF, MUNIS};
use crate::synth::vocabulary::{OBJECTIVES, PLACEHOLDERS};
use crate::synth::{year_label, Rng};
use rust_xlsxwriter::{Workbook, Worksheet, XlsxError};
use std::collections::BTreeMap;

/// Writes one SA36 workbook for the budget year starting in `by`; adds each municipality's
/// budget-year total (accepted rows) to `totals`.
pub(super) fn workbook(
    world: &[Project],
    by: i32,
    rng: &mut Rng,
    totals: &mut BTreeMap<&'static str, f64>,
) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    wb.set_properties(&fixed_properties()?);
    let offset = (by - 2024) as usize;
    for (mi, m) in MUNIS.iter().enumerate() {
        let ws = wb.add_worksheet();
        ws.set_name(m.code)?;
        headers(ws, m, by)?;
        let mut row = 3u32;
        for p in world.iter().filter(|p| p.muni == mi && p.in_budget) {
            project_line(ws, row, p, m, offset, rng, totals)?;
            row += 1;
        }
        row = lines_without_idp(ws, row, mi, m, totals)?;
        row = quarantined_lines(ws, row, mi, by)?;
        footnotes(ws, row)?;
    }
    wb.save_to_buffer()
}

/// The title, the caption and the header row (rows 0 to 2).
fn headers(ws: &mut Worksheet, m: &Muni, by: i32) -> Result<(), XlsxError> {
    ws.write_string(
        0,
        0,
        format!(
            "Eastern Cape: {}({}) - Table SA36 Detailed Capital Budget (projects)",
            m.name, m.code
        ),
    )?;
    ws.write_string(1, 0, "R thousands")?;
    let mut headers: Vec<String> = [
        "Function",
        "Project Decription",
        "Project Number",
        "Type",
        "MTSF Service Outcome",
        "IUDF",
        "Own Strategic Objectives",
        "Asset Class",
        "Asset Sub-Class",
        "Ward Location",
        "GPS Longitude",
        "GPS Latitude",
    ]
    .iter()
    .map(|h| format!("\n{h}"))
    .collect();
    headers.push(format!("Audited Outcome\n{}", year_label(by - 2)));
    headers.push(format!("Full Year Forecast\n{}", year_label(by - 1)));
    for k in 0..3 {
        headers.push(format!("Budget year\n{}", year_label(by + k)));
    }
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(2, c as u16, h)?;
    }
    Ok(())
}

/// One budgeted project's line; its budget-year amount is added to the municipality's total.
fn project_line(
    ws: &mut Worksheet,
    row: u32,
    p: &Project,
    m: &Muni,
    offset: usize,
    rng: &mut Rng,
    totals: &mut BTreeMap<&'static str, f64>,
) -> Result<(), XlsxError> {
    let ward_text = match rng.below(6) {
        0 if m.metro => "Whole of the Metro".to_string(),
        1 => format!("{},{},{},...", p.ward, p.ward + 1, p.ward + 3),
        2 if m.metro => "Region 3 B: Central Region".to_string(),
        _ => format!("Ward {}", p.ward),
    };
    let objective = if p.objective_placeholder {
        *rng.pick(PLACEHOLDERS)
    } else {
        *rng.pick(OBJECTIVES)
    };
    let text = [
        p.function,
        &p.budget_name,
        &p.mscoa,
        p.project_type,
        MTSF,
        "Inclusion and access",
        objective,
        p.asset_class,
        "",
        &ward_text,
    ];
    for (c, t) in text.iter().enumerate() {
        if !t.is_empty() {
            ws.write_string(row, c as u16, *t)?;
        }
    }
    if rng.chance(50) {
        ws.write_string(row, 10, format!("{:.5}", p.lon))?;
        ws.write_string(row, 11, format!("{:.5}", p.lat))?;
    } else {
        ws.write_string(row, 10, "0")?;
        ws.write_string(row, 11, "0")?;
    }
    // Past years: audited and forecast near the plan; budget years follow the IDP with drift.
    ws.write_number(row, 12, round_thousand(p.plan[0] * 0.6))?;
    ws.write_number(row, 13, round_thousand(p.plan[0] * 0.8))?;
    for k in 0..3usize {
        let idx = offset + k;
        let planned = if idx < 4 { p.plan[idx] } else { p.plan[3] };
        let drift = if rng.chance(10) {
            1.6
        } else {
            0.9 + rng.below(20) as f64 / 100.0
        };
        let v = round_thousand(planned * drift);
        if v > 0.0 {
            ws.write_number(row, 12 + 2 + k as u16, v)?;
            if k == 0 {
                *totals.entry(m.code).or_default() += v;
            }
        }
    }
    Ok(())
}

/// Budget lines with no IDP basis: office furniture and vehicles. Returns the next free row.
fn lines_without_idp(
    ws: &mut Worksheet,
    mut row: u32,
    mi: usize,
    m: &Muni,
    totals: &mut BTreeMap<&'static str, f64>,
) -> Result<u32, XlsxError> {
    let seq = 2 + mi as u32;
    let extras = [
        (
            "Administrative and Corporate Support",
            "P-CNIN FURN & OFF EQUIP",
            format!("PC002003005_{seq:05}"),
            "Furniture and Office Equipment",
        ),
        (
            "Fleet Management",
            "VEHICLES REPLACEMENT",
            format!("PC002003010_{:05}", seq + 40),
            "Transport Assets",
        ),
    ];
    for (function, name, number, class) in extras {
        *totals.entry(m.code).or_default() += 600_000.0; // its budget-year amount below
        let text = [
            function,
            name,
            number.as_str(),
            "New",
            MTSF,
            "Growth",
            PLACEHOLDERS[0],
            class,
            "",
            "Administrative or Head Office",
        ];
        for (c, t) in text.iter().enumerate() {
            if !t.is_empty() {
                ws.write_string(row, c as u16, *t)?;
            }
        }
        ws.write_string(row, 10, "0")?;
        ws.write_string(row, 11, "0")?;
        for k in 0..5u16 {
            ws.write_number(row, 12 + k, 500_000.0 + f64::from(k) * 50_000.0)?;
        }
        row += 1;
    }
    Ok(row)
}

/// Rows that must be quarantined, one kind per municipality (in the first budget year only).
/// Returns the next free row.
fn quarantined_lines(ws: &mut Worksheet, mut row: u32, mi: usize, by: i32) -> Result<u32, XlsxError> {
    match (mi, by) {
        (0, 2024) => {
            ws.write_string(row, 0, "Roads")?;
            ws.write_string(row, 1, "RESURF MDANTSANE NU 2 STREETS")?;
            ws.write_string(row, 2, "PC0010_19")?; // not an mSCOA project number
            ws.write_number(row, 14, 1_200_000.0)?;
            row += 1;
            ws.write_string(row, 0, "Roads")?;
            ws.write_string(row, 1, "GONUBIE MAIN RD SIDEWALKS")?;
            ws.write_string(row, 2, "PC001002001001_00999")?;
            ws.write_string(row, 14, "R1O 000")?; // letter O, not zero
            row += 1;
        }
        (1, 2024) => {
            ws.write_string(row, 0, "Z ???")?; // neither a description nor a project number
            ws.write_number(row, 14, 80_000.0)?;
            row += 1;
        }
        _ => {}
    }
    Ok(row)
}

/// Footnotes after a blank row.
fn footnotes(ws: &mut Worksheet, row: u32) -> Result<(), XlsxError> {
    let row = row + 1;
    ws.write_string(row, 0, "References")?;
    ws.write_string(row + 1, 0, "Must reconcile with Budgeted Capital Expenditure")?;
    ws.write_string(
        row + 2,
        0,
        "Distinguish projects approved in terms of MFMA section 19(1)(b) and MRRR Regulation 13",
    )?;
    Ok(())
}

/// The A5 capital totals (mSCOA capital cube layout, original budget 2024/25 = `2025ORGB`) that
/// the SA36 project lines must reconcile with; Mnquma's A5 is 10% above its SA36 lines.
pub(super) fn a5_csv(totals: &BTreeMap<&'static str, f64>) -> String {
    let mut s = String::from("DEMARCATION_CDE,YEARPERIOD,FUNCTION_CDE,CAPITAL_CDE,CAPEX_TYPE,TCOST\n");
    for (code, total) in totals {
        let total = if *code == "EC122" {
            (total * 1.10).round()
        } else {
            *total
        };
        let roads = (total * 0.7).round();
        s.push_str(&format!("{code},2025ORGB,ROADS,INFRA,NEW,{roads:.0}\n"));
        s.push_str(&format!("{code},2025ORGB,OTHER,INFRA,RENEWAL,{:.0}\n", total - roads));
    }
    s
}

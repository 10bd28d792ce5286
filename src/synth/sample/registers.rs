//! The sample's IDP and BEPP registers, as CSV.
//!
//! The IDP register lists every project of the world (one row per year, the unfunded ones
//! too), the provincial projects the IDP lists as sector projects, and two rows that must be
//! quarantined. The BEPP lists some of Buffalo City's projects (half carrying the IDP
//! reference, half to be found by name), two catalytic projects that never reached the IDP,
//! and a row that must be quarantined.

use super::irm::SECTOR;
use super::{Project, MUNIS};
use crate::synth::{csv_line, year_label, Rng};

/// The IDP register: the header, then the municipal, sector and quarantined rows.
pub(super) fn idp_csv(world: &[Project]) -> String {
    let header = [
        "demarcation_code",
        "idp_cycle",
        "review_year",
        "idp_project_ref",
        "project_name",
        "description",
        "kpa",
        "strategic_objective",
        "wards",
        "responsible_department",
        "implementing_sphere",
        "implementing_agent",
        "asset_class",
        "mscoa_project_number",
        "funding_source",
        "funding_status",
        "financial_year",
        "amount",
    ];
    let mut s = csv_line(&header.iter().map(|h| (*h).to_string()).collect::<Vec<_>>());
    idp_project_rows(world, &mut s);
    idp_sector_rows(&mut s);
    idp_quarantined_rows(&mut s);
    s
}

/// Every project of the world, one row per year of the IDP's first three.
fn idp_project_rows(world: &[Project], s: &mut String) {
    for p in world {
        let m = &MUNIS[p.muni];
        for (y, amount) in p.plan.iter().enumerate().take(3) {
            let fields = [
                m.code.to_string(),
                "2022-2027".into(),
                "2024/25".into(),
                p.idp_ref.clone(),
                p.idp_name.clone(),
                String::new(),
                "Basic Service Delivery".into(),
                "Improved access to basic services".into(),
                format!("Ward {}", p.ward),
                "Infrastructure Services".into(),
                "municipal".into(),
                String::new(),
                p.asset_class.into(),
                if p.idp_carries_mscoa {
                    p.mscoa.clone()
                } else {
                    String::new()
                },
                if m.metro { "USDG".into() } else { "MIG".into() },
                if p.in_budget {
                    "funded".into()
                } else {
                    "unfunded".into()
                },
                year_label(2024 + y as i32),
                format!("{amount:.0}"),
            ];
            s.push_str(&csv_line(&fields));
        }
    }
}

/// Sector projects: provincial projects the IDP lists.
fn idp_sector_rows(s: &mut String) {
    for (i, (mi, dept, _, _, idp_name)) in SECTOR.iter().enumerate() {
        let Some(idp_name) = idp_name else { continue };
        let m = &MUNIS[*mi];
        let fields = [
            m.code.to_string(),
            "2022-2027".into(),
            "2024/25".into(),
            format!("IDP-{}-S{:02}", m.code, i + 1),
            (*idp_name).to_string(),
            "Sector project".into(),
            "Basic Service Delivery".into(),
            "Social infrastructure".into(),
            String::new(),
            format!("EC Department of {dept}"),
            "provincial".into(),
            format!("EC Department of {dept}"),
            String::new(),
            String::new(),
            "Provincial equitable share".into(),
            "funded".into(),
            "2024/25".into(),
            "0".into(),
        ];
        s.push_str(&csv_line(&fields));
    }
}

/// Rows that must be quarantined: an unknown municipality and an amount that is not a number.
fn idp_quarantined_rows(s: &mut String) {
    s.push_str(&csv_line(
        &[
            "EC999",
            "2022-2027",
            "2024/25",
            "IDP-EC999-001",
            "Construction of Nqamakwe Bridge",
            "",
            "Basic Service Delivery",
            "",
            "",
            "",
            "municipal",
            "",
            "",
            "",
            "MIG",
            "funded",
            "2024/25",
            "2500000",
        ]
        .map(String::from),
    ));
    s.push_str(&csv_line(
        &[
            "EC121",
            "2022-2027",
            "2024/25",
            "IDP-EC121-099",
            "Construction of Xhora Taxi Rank",
            "",
            "Basic Service Delivery",
            "",
            "Ward 4",
            "",
            "municipal",
            "",
            "",
            "",
            "MIG",
            "funded",
            "2024/25",
            "TBC",
        ]
        .map(String::from),
    ));
}

/// The BEPP register of Buffalo City.
pub(super) fn bepp_csv(world: &[Project], rng: &mut Rng) -> String {
    let header = [
        "metro_code",
        "bepp_year",
        "programme",
        "integration_zone",
        "project_ref",
        "project_name",
        "phase",
        "lead_sphere",
        "lead_entity",
        "wards",
        "idp_project_ref",
        "mscoa_project_number",
        "financial_year",
        "funding_source",
        "amount",
    ];
    let mut s = csv_line(&header.iter().map(|h| (*h).to_string()).collect::<Vec<_>>());
    let buf: Vec<&Project> = world.iter().filter(|p| p.muni == 0).take(8).collect();
    let phases = ["pre-feasibility", "feasibility", "design", "implementation"];
    let mut n = 0;
    for (i, p) in buf.iter().enumerate() {
        n += 1;
        // Half carry the IDP reference; the rest must be found by name.
        let idp_ref = if i % 2 == 0 { p.idp_ref.clone() } else { String::new() };
        let name = if i % 2 == 0 {
            p.idp_name.clone()
        } else {
            p.idp_name.replace(" of ", " ").to_string() + " (catalytic)"
        };
        for y in 0..2 {
            let fields = [
                "BUF".to_string(),
                "2024/25".into(),
                "Mdantsane Urban Hub".into(),
                "IZ1 Mdantsane-East London Corridor".into(),
                format!("BEPP-BUF-{n:03}"),
                name.clone(),
                (*rng.pick(&phases)).to_string(),
                "municipal".into(),
                "Buffalo City Metropolitan Municipality".into(),
                format!("{}", p.ward),
                idp_ref.clone(),
                String::new(),
                year_label(2024 + y),
                "USDG".into(),
                format!("{:.0}", p.plan[y as usize] * 0.5),
            ];
            s.push_str(&csv_line(&fields));
        }
    }
    // Catalytic projects that never reached the IDP.
    for (name, amount) in [
        ("Sleeper Site Mixed-Use Precinct", 45_000_000.0),
        ("East London Harbour Waterfront Bulk Services", 30_000_000.0),
    ] {
        n += 1;
        for y in 0..2 {
            let fields = [
                "BUF".to_string(),
                "2024/25".into(),
                "East London Inner City".into(),
                "IZ2 Inner City".into(),
                format!("BEPP-BUF-{n:03}"),
                name.to_string(),
                "feasibility".into(),
                "municipal".into(),
                "Buffalo City Metropolitan Development Agency".into(),
                "Whole of the Metro".into(),
                String::new(),
                String::new(),
                year_label(2024 + y),
                "ICDG".into(),
                format!("{amount:.0}"),
            ];
            s.push_str(&csv_line(&fields));
        }
    }
    // A row that must be quarantined: no project name.
    s.push_str(&csv_line(
        &[
            "BUF",
            "2024/25",
            "Mdantsane Urban Hub",
            "IZ1 Mdantsane-East London Corridor",
            "BEPP-BUF-099",
            "",
            "design",
            "municipal",
            "",
            "",
            "",
            "",
            "2024/25",
            "USDG",
            "1000000",
        ]
        .map(String::from),
    ));
    s
}

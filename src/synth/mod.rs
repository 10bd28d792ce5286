//! `harvester synth`: the bundled sample data, generated rather than hand-made.
//!
//! Three Eastern Cape municipalities — Buffalo City (BUF, a metro with a BEPP), Mnquma (EC122)
//! and Mbhashe (EC121), both locals in the Amathole district (DC12) — over the budget years
//! 2024/25 and 2025/26, in the real formats: SA36 workbooks in Treasury's layout (title row,
//! "R thousands" caption over Rand amounts, headers starting with a newline, the `Project
//! Decription` typo, one sheet per municipality, footnotes after a blank row), an IRM export of
//! provincial departmental projects, and IDP and BEPP registers as CSV. The same projects appear
//! in several datasets under different names (`UPGR MDANTSANE ACCESS RD PH2` in the budget,
//! `Upgrading of Mdantsane Access Road Phase 2` in the IDP), some with shared identifiers and
//! some without, some in one dataset only, and a few rows break their contract on purpose.
//! Output is deterministic for a seed, so the committed sample can be regenerated exactly.

pub mod national;
mod places;

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Workbook, XlsxError};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Why the sample could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// Writing a workbook failed.
    #[error("cannot build workbook {file}: {source}")]
    Xlsx {
        /// File name.
        file: String,
        /// What rust_xlsxwriter reported.
        source: XlsxError,
    },
    /// Writing a file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A small deterministic generator (SplitMix64); the sample must not change with a crate update.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

struct Muni {
    code: &'static str,
    name: &'static str,
    places: &'static [&'static str],
    wards: u32,
    projects: usize,
    metro: bool,
}

const MUNIS: &[Muni] = &[
    Muni {
        code: "BUF",
        name: "Buffalo City",
        places: &[
            "Mdantsane",
            "Zwelitsha",
            "Duncan Village",
            "Gonubie",
            "Dimbaza",
            "Ilitha",
            "Scenery Park",
            "Amalinda",
            "Beacon Bay",
            "Potsdam",
            "Berlin",
            "Reeston",
        ],
        wards: 50,
        projects: 22,
        metro: true,
    },
    Muni {
        code: "EC122",
        name: "Mnquma",
        places: &[
            "Butterworth",
            "Centane",
            "Ngqamakhwe",
            "Msobomvu",
            "Ibika",
            "Nqadu",
            "Teko",
        ],
        wards: 31,
        projects: 11,
        metro: false,
    },
    Muni {
        code: "EC121",
        name: "Mbhashe",
        places: &[
            "Dutywa",
            "Elliotdale",
            "Willowvale",
            "Xhora",
            "Gatyana",
            "Qora",
            "Nqabara",
        ],
        wards: 32,
        projects: 9,
        metro: false,
    },
];

/// (IDP asset words, SA36 abbreviation, mSCOA asset class, function, project-number prefix,
/// mSCOA asset sub-class).
type Asset = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const ASSETS: &[Asset] = &[
    (
        "Access Road",
        "ACCESS RD",
        "Roads Infrastructure",
        "Roads",
        "PC001002001001",
        "Roads",
    ),
    (
        "Community Hall",
        "COM HALL",
        "Community Facilities",
        "Community Halls and Facilities",
        "PC001002002001001",
        "Halls",
    ),
    (
        "Sports Field",
        "SPORTS FIELD",
        "Sport and Recreation Facilities",
        "Sports Grounds and Stadiums",
        "PC001002002002",
        "Outdoor Facilities",
    ),
    (
        "Water Reticulation",
        "WTR RETICULATION",
        "Water Supply Infrastructure",
        "Water Distribution",
        "PC001002006001",
        "Distribution",
    ),
    (
        "Sewer Pump Station",
        "SWR PUMP STN",
        "Sanitation Infrastructure",
        "Sewerage",
        "PC001002007001",
        "Pump Station",
    ),
    (
        "Street Lighting",
        "STREET LIGHTING",
        "Electrical Infrastructure",
        "Street Lighting and Signal Systems",
        "PC001002004001",
        "LV Networks",
    ),
    (
        "Taxi Rank",
        "TAXI RANK",
        "Community Facilities",
        "Public Transport",
        "PC001002002001021",
        "Taxi Ranks/Bus Terminals",
    ),
    (
        "Library",
        "LIBRARY",
        "Community Facilities",
        "Libraries and Archives",
        "PC001002002001010",
        "Libraries",
    ),
    (
        "Stormwater Drainage",
        "STORMWATER DRAINAGE",
        "Storm water Infrastructure",
        "Storm Water Management",
        "PC001002003001",
        "Drainage Collection",
    ),
];

/// More real mSCOA asset classes and sub-classes, for the national world only: the sample draws
/// from [`ASSETS`] alone, so the committed sample stays as it is.
const MORE_ASSETS: &[Asset] = &[
    (
        "Gravel Roads",
        "GRAVEL RDS",
        "Roads Infrastructure",
        "Roads",
        "PC001002001001",
        "Roads",
    ),
    (
        "Bridge",
        "BRIDGE",
        "Roads Infrastructure",
        "Roads",
        "PC001002001002",
        "Road Structures",
    ),
    (
        "Sidewalks",
        "SIDEWALKS",
        "Roads Infrastructure",
        "Roads",
        "PC001002001003",
        "Road Furniture",
    ),
    (
        "Stormwater Channel",
        "STORMWATER CHANNEL",
        "Storm water Infrastructure",
        "Storm Water Management",
        "PC001002003002",
        "Storm water Conveyance",
    ),
    (
        "Electrification",
        "ELECTRIFICATION",
        "Electrical Infrastructure",
        "Electricity",
        "PC001002004002",
        "LV Networks",
    ),
    (
        "MV Network",
        "MV NETWORK",
        "Electrical Infrastructure",
        "Electricity",
        "PC001002004003",
        "MV Networks",
    ),
    (
        "Substation",
        "SUBSTATION",
        "Electrical Infrastructure",
        "Electricity",
        "PC001002004004",
        "MV Substations",
    ),
    (
        "High Mast Lights",
        "HIGH MAST LIGHTS",
        "Electrical Infrastructure",
        "Street Lighting and Signal Systems",
        "PC001002004001",
        "LV Networks",
    ),
    (
        "Landfill Site",
        "LANDFILL SITE",
        "Solid Waste Infrastructure",
        "Solid Waste Disposal (Landfill Sites)",
        "PC001002005001",
        "Landfill Sites",
    ),
    (
        "Waste Transfer Station",
        "WASTE TRANSFER STN",
        "Solid Waste Infrastructure",
        "Solid Waste Removal",
        "PC001002005002",
        "Waste Transfer Stations",
    ),
    (
        "Waste Drop-off Point",
        "WASTE DROP-OFF POINT",
        "Solid Waste Infrastructure",
        "Recycling",
        "PC001002005003",
        "Waste Drop-off Points",
    ),
    (
        "Bulk Water Supply",
        "BULK WTR SUPPLY",
        "Water Supply Infrastructure",
        "Water Distribution",
        "PC001002006002",
        "Bulk Mains",
    ),
    (
        "Reservoir",
        "RESERVOIR",
        "Water Supply Infrastructure",
        "Water Storage",
        "PC001002006003",
        "Reservoirs",
    ),
    (
        "Water Treatment Works",
        "WTR TREATMENT WORKS",
        "Water Supply Infrastructure",
        "Water Treatment",
        "PC001002006004",
        "Water Treatment Works",
    ),
    (
        "Boreholes",
        "BOREHOLES",
        "Water Supply Infrastructure",
        "Water Distribution",
        "PC001002006005",
        "Boreholes",
    ),
    (
        "Sewer Reticulation",
        "SWR RETICULATION",
        "Sanitation Infrastructure",
        "Sewerage",
        "PC001002007002",
        "Reticulation",
    ),
    (
        "Waste Water Treatment Works",
        "WASTE WTR TREATMENT WORKS",
        "Sanitation Infrastructure",
        "Waste Water Treatment",
        "PC001002007003",
        "Waste Water Treatment Works",
    ),
    (
        "Public Toilets",
        "PUBLIC TOILETS",
        "Sanitation Infrastructure",
        "Public Toilets",
        "PC001002007004",
        "Toilet Facilities",
    ),
    (
        "Clinic",
        "CLINIC",
        "Community Facilities",
        "Health Services",
        "PC001002002001004",
        "Clinics/Care Centres",
    ),
    (
        "Fire Station",
        "FIRE STN",
        "Community Facilities",
        "Fire Fighting and Protection",
        "PC001002002001005",
        "Fire/Ambulance Stations",
    ),
    (
        "Testing Station",
        "TESTING STN",
        "Community Facilities",
        "Road and Traffic Regulation",
        "PC001002002001006",
        "Testing Stations",
    ),
    (
        "Cemetery",
        "CEMETERY",
        "Community Facilities",
        "Cemeteries, Funeral Parlours and Crematoriums",
        "PC001002002001011",
        "Cemeteries/Crematoria",
    ),
    (
        "ECD Centre",
        "ECD CENTRE",
        "Community Facilities",
        "Child Care Facilities",
        "PC001002002001003",
        "Crèches",
    ),
    (
        "Community Park",
        "COM PARK",
        "Community Facilities",
        "Community Parks (including Nurseries)",
        "PC001002002001013",
        "Parks",
    ),
    (
        "Hawker Stalls",
        "HAWKER STALLS",
        "Community Facilities",
        "Markets",
        "PC001002002001019",
        "Stalls",
    ),
    (
        "Multi-Purpose Centre",
        "MULTI-PURPOSE CENTRE",
        "Community Facilities",
        "Community Halls and Facilities",
        "PC001002002001002",
        "Centres",
    ),
    (
        "Public Transport Interchange",
        "PUBLIC TRANSPORT INTERCHANGE",
        "Community Facilities",
        "Public Transport",
        "PC001002002001021",
        "Taxi Ranks/Bus Terminals",
    ),
    (
        "Swimming Pool",
        "SWIMMING POOL",
        "Sport and Recreation Facilities",
        "Recreational Facilities",
        "PC001002002003",
        "Outdoor Facilities",
    ),
    (
        "Indoor Sports Centre",
        "INDOOR SPORTS CENTRE",
        "Sport and Recreation Facilities",
        "Sports Grounds and Stadiums",
        "PC001002002004",
        "Indoor Facilities",
    ),
    (
        "Housing Project",
        "HSG PROJECT",
        "Housing",
        "Housing",
        "PC001002008001",
        "Social Housing",
    ),
    (
        "Municipal Offices",
        "MUNICIPAL OFFICES",
        "Other Assets",
        "Administrative and Corporate Support",
        "PC002002001001",
        "Municipal Offices",
    ),
    (
        "Depot",
        "DEPOT",
        "Other Assets",
        "Fleet Management",
        "PC002002001002",
        "Depots",
    ),
];

/// (IDP verb, SA36 abbreviation, SA36 type, mSCOA segment).
const VERBS: &[(&str, &str, &str)] = &[
    ("Upgrading of", "UPGR", "Upgrading"),
    ("Construction of", "CONSTR", "New"),
    ("Rehabilitation of", "REHAB", "Renewal"),
    ("Refurbishment of", "REFURB", "Renewal"),
];

const OBJECTIVES: &[&str] = &[
    "Improved access to basic services",
    "A well-maintained road network",
    "Safe and liveable communities",
    "Sustainable infrastructure",
];

const PLACEHOLDERS: &[&str] = &["OWN MUNICIPAL STRATEGIC OBJECTIVE", "TO BE CORRECTED"];

const MTSF: &str = "An efficient, competitive and responsive economic infrastructure network";

/// One real-world project in the sample world.
struct Project {
    muni: usize,
    idp_ref: String,
    mscoa: String,
    idp_name: String,
    budget_name: String,
    project_type: &'static str,
    asset_class: &'static str,
    function: &'static str,
    ward: u32,
    /// Planned amount per year index (0 = 2024/25, 1 = 2025/26, 2 = 2026/27, 3 = 2027/28).
    plan: [f64; 4],
    in_budget: bool,
    idp_carries_mscoa: bool,
    objective_placeholder: bool,
    lat: f64,
    lon: f64,
}

fn round_thousand(x: f64) -> f64 {
    (x / 1000.0).round() * 1000.0
}

fn world(rng: &mut Rng) -> Vec<Project> {
    let mut out = Vec::new();
    for (mi, m) in MUNIS.iter().enumerate() {
        let mut seq = 17u32;
        let mut used = std::collections::BTreeSet::new();
        for i in 0..m.projects {
            // Distinct (place, asset) pairs so names identify projects.
            let (place, asset) = loop {
                let p = *rng.pick(m.places);
                let a = rng.pick(ASSETS);
                if used.insert((p, a.0)) {
                    break (p, a);
                }
            };
            let verb = rng.pick(VERBS);
            let phase = if rng.chance(30) { Some(1 + rng.below(3)) } else { None };
            let idp_name = format!(
                "{} {place} {}{}",
                verb.0,
                asset.0,
                phase.map(|p| format!(" Phase {p}")).unwrap_or_default()
            );
            let budget_name = format!(
                "{} {} {}{}",
                verb.1,
                place.to_uppercase(),
                asset.1,
                phase.map(|p| format!(" PH{p}")).unwrap_or_default()
            );
            seq += 1 + rng.below(5) as u32;
            let base = (1 + rng.below(if m.metro { 40 } else { 12 })) as f64 * 500_000.0;
            let mut plan = [0.0; 4];
            for (y, v) in plan.iter_mut().enumerate() {
                let factor = 0.7 + (rng.below(60) as f64) / 100.0;
                *v = if y > 0 && rng.chance(15) {
                    0.0
                } else {
                    round_thousand(base * factor)
                };
            }
            out.push(Project {
                muni: mi,
                idp_ref: format!("IDP-{}-{:03}", m.code, i + 1),
                mscoa: format!("{}_{:05}", asset.4, seq),
                idp_name,
                budget_name,
                project_type: verb.2,
                asset_class: asset.2,
                function: asset.3,
                ward: 1 + rng.below(u64::from(m.wards)) as u32,
                plan,
                // About one IDP project in five has no budget line (unfunded).
                in_budget: !rng.chance(20),
                idp_carries_mscoa: rng.chance(50),
                objective_placeholder: rng.chance(35),
                lat: -32.9 - (rng.below(600) as f64) / 1000.0,
                lon: 27.4 + (rng.below(800) as f64) / 1000.0,
            });
        }
    }
    out
}

fn xlsx_err(file: &str) -> impl Fn(XlsxError) -> SynthError + '_ {
    move |source| SynthError::Xlsx {
        file: file.to_string(),
        source,
    }
}

fn fixed_properties() -> Result<DocProperties, XlsxError> {
    // A fixed creation time keeps the workbook bytes identical across regenerations.
    Ok(DocProperties::new()
        .set_author("harvester synth")
        .set_creation_datetime(&ExcelDateTime::from_ymd(2024, 5, 31)?))
}

fn year_label(start: i32) -> String {
    format!("{}/{:02}", start, (start + 1) % 100)
}

/// Writes one SA36 workbook for the budget year starting in `by`.
/// Writes one SA36 workbook; adds each municipality's budget-year total (accepted rows) to `totals`.
fn sa36_workbook(
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
        let mut row = 3u32;
        for p in world.iter().filter(|p| p.muni == mi && p.in_budget) {
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
            row += 1;
        }
        // Budget lines with no IDP basis: office furniture and vehicles.
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
        // Rows that must be quarantined, one kind per municipality.
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
        // Footnotes after a blank row.
        row += 1;
        ws.write_string(row, 0, "References")?;
        ws.write_string(row + 1, 0, "Must reconcile with Budgeted Capital Expenditure")?;
        ws.write_string(
            row + 2,
            0,
            "Distinguish projects approved in terms of MFMA section 19(1)(b) and MRRR Regulation 13",
        )?;
    }
    wb.save_to_buffer()
}

/// The A5 capital totals (mSCOA capital cube layout, original budget 2024/25 = `2025ORGB`) that
/// the SA36 project lines must reconcile with; Mnquma's A5 is 10% above its SA36 lines.
fn a5_csv(totals: &BTreeMap<&'static str, f64>) -> String {
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

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv_line(fields: &[String]) -> String {
    fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",") + "\n"
}

/// Provincial departmental projects: (muni index, department, sector, name, IDP lists it as).
const SECTOR: &[(usize, &str, &str, &str, Option<&str>)] = &[
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

fn idp_csv(world: &[Project]) -> String {
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
    // Sector projects: provincial projects the IDP lists.
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
    // Rows that must be quarantined: an unknown municipality and an amount that is not a number.
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
    s
}

fn bepp_csv(world: &[Project], rng: &mut Rng) -> String {
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

fn irm_workbook(rng: &mut Rng) -> Result<Vec<u8>, XlsxError> {
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

/// Writes the sample under `dir` and returns the files written.
pub fn write_sample(dir: &Path, seed: u64) -> Result<Vec<PathBuf>, SynthError> {
    let mut rng = Rng(seed);
    let world = world(&mut rng);
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let mut first_totals = BTreeMap::new();
    for by in [2024, 2025] {
        let name = format!("budget/sa36_{}_{:02}.xlsx", by, (by + 1) % 100);
        let mut totals = BTreeMap::new();
        let bytes = sa36_workbook(&world, by, &mut rng, &mut totals).map_err(xlsx_err(&name))?;
        if by == 2024 {
            first_totals = totals;
        }
        files.push((dir.join(name), bytes));
    }
    files.push((
        dir.join("capital_cube/a5_capital_2024_25.csv"),
        a5_csv(&first_totals).into_bytes(),
    ));
    files.push((dir.join("idp/idp_register_2024_25.csv"), idp_csv(&world).into_bytes()));
    files.push((
        dir.join("bepp/bepp_buf_2024_25.csv"),
        bepp_csv(&world, &mut rng).into_bytes(),
    ));
    let irm = irm_workbook(&mut rng).map_err(xlsx_err("departmental/irm_ec_2024_25.xlsx"))?;
    files.push((dir.join("departmental/irm_ec_2024_25.xlsx"), irm));
    let mut readme = String::new();
    let _ = writeln!(readme, "# Sample data (generated)\n");
    let _ = writeln!(
        readme,
        "Generated by `harvester synth --out sample --seed {seed}`; do not edit by hand."
    );
    let _ = writeln!(
        readme,
        "Three Eastern Cape municipalities (BUF metro with a BEPP; EC122 Mnquma and EC121 Mbhashe in DC12 Amathole),"
    );
    let _ = writeln!(
        readme,
        "budget years 2024/25 and 2025/26, in the real layouts. Rows that must be quarantined are deliberate."
    );
    files.push((dir.join("README.md"), readme.into_bytes()));
    let mut written = Vec::new();
    for (path, bytes) in files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| SynthError::Io {
                path: parent.display().to_string(),
                source,
            })?;
        }
        std::fs::write(&path, bytes).map_err(|source| SynthError::Io {
            path: path.display().to_string(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

//! The bundled sample: its world of projects and the files written from it.
//!
//! Three Eastern Cape municipalities — Buffalo City (BUF, a metro with a BEPP), Mnquma (EC122)
//! and Mbhashe (EC121), both locals in the Amathole district (DC12) — over the budget years
//! 2024/25 and 2025/26, in the real formats: SA36 workbooks in Treasury's layout (`sa36.rs`),
//! an IRM export of provincial departmental projects (`irm.rs`), and IDP and BEPP registers as
//! CSV (`registers.rs`). The same projects appear in several datasets under different names
//! (`UPGR MDANTSANE ACCESS RD PH2` in the budget, `Upgrading of Mdantsane Access Road Phase 2`
//! in the IDP), some with shared identifiers and some without, some in one dataset only, and a
//! few rows break their contract on purpose. This file holds the municipalities, the projects
//! drawn for them and [`write_sample`], which draws every file in a fixed order.

mod irm;
mod registers;
mod sa36;

use super::vocabulary::{ASSETS, VERBS};
use super::{Rng, SynthError};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, XlsxError};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A sample municipality: its places, wards and how many projects it has.
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

/// The MTSF outcome every SA36 line of the sample names.
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

/// Rounded to the nearest thousand Rand.
fn round_thousand(x: f64) -> f64 {
    (x / 1000.0).round() * 1000.0
}

/// The sample's projects, drawn municipality by municipality.
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

/// A workbook error, naming the file.
fn xlsx_err(file: &str) -> impl Fn(XlsxError) -> SynthError + '_ {
    move |source| SynthError::Xlsx {
        file: file.to_string(),
        source,
    }
}

/// Workbook properties that never change between regenerations.
fn fixed_properties() -> Result<DocProperties, XlsxError> {
    // A fixed creation time keeps the workbook bytes identical across regenerations.
    Ok(DocProperties::new()
        .set_author("harvester synth")
        .set_creation_datetime(&ExcelDateTime::from_ymd(2024, 5, 31)?))
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
        let bytes = sa36::workbook(&world, by, &mut rng, &mut totals).map_err(xlsx_err(&name))?;
        if by == 2024 {
            first_totals = totals;
        }
        files.push((dir.join(name), bytes));
    }
    files.push((
        dir.join("capital_cube/a5_capital_2024_25.csv"),
        sa36::a5_csv(&first_totals).into_bytes(),
    ));
    files.push((
        dir.join("idp/idp_register_2024_25.csv"),
        registers::idp_csv(&world).into_bytes(),
    ));
    files.push((
        dir.join("bepp/bepp_buf_2024_25.csv"),
        registers::bepp_csv(&world, &mut rng).into_bytes(),
    ));
    let irm = irm::workbook(&mut rng).map_err(xlsx_err("departmental/irm_ec_2024_25.xlsx"))?;
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

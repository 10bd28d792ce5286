//! National-scale synthetic data with ground truth, for the linking benchmark.
//!
//! Every current municipality (or the first N) gets a world of projects; each project appears in
//! the IDP register (one row per year), most in the budget (one SA36 line per MTREF, sometimes
//! split by funding source), some only in one of the two; provincial departments build projects
//! in every municipality, most of them listed among the IDP's sector projects; metros have BEPP
//! pipelines. Names get the real variants: Treasury abbreviations, typos, reordered words,
//! dropped identifiers. `truth.csv` lists which records are the same project.

use super::{csv_line, Rng, SynthError, ASSETS, VERBS};
use crate::contracts::reference::Reference;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const SYLLABLES: &[&str] = &[
    "ma", "ku", "nde", "lo", "tsha", "ba", "zi", "mvu", "le", "kho", "nga", "pho", "si", "thu", "we", "da", "bo", "mi",
    "ra", "ne", "qo", "xa", "gu", "lwa",
];
const PLACE_SUFFIX: &[&str] = &["", "", "", " Ext 2", " Ext 5", " North", " Village", " Park"];
const SECTORS: &[(&str, &str)] = &[
    ("Education", "Secondary School"),
    ("Health", "Clinic"),
    ("Transport", "Bridge"),
    ("Human Settlements", "Housing Project"),
];

fn place(rng: &mut Rng) -> String {
    let n = 2 + rng.below(2) as usize;
    let mut s: String = (0..n).map(|_| *rng.pick(SYLLABLES)).collect();
    if let Some(first) = s.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    let suffix = PLACE_SUFFIX[rng.below(PLACE_SUFFIX.len() as u64) as usize];
    s + suffix
}

/// Introduces one typo (a swapped pair of letters) in a word longer than four letters.
fn typo(name: &str, rng: &mut Rng) -> String {
    let mut words: Vec<String> = name.split(' ').map(str::to_string).collect();
    let long: Vec<usize> = (0..words.len())
        .filter(|&i| words[i].len() > 4 && words[i].is_ascii())
        .collect();
    if long.is_empty() {
        return name.to_string();
    }
    let i = long[rng.below(long.len() as u64) as usize];
    let mut chars: Vec<char> = words[i].chars().collect();
    let j = 1 + rng.below(chars.len() as u64 - 2) as usize;
    chars.swap(j, j + 1);
    words[i] = chars.into_iter().collect();
    words.join(" ")
}

/// Sizes of the generated world.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Municipalities (the first N current ones, metros first).
    pub municipalities: usize,
    /// Budget years (MTREFs), starting 2024/25.
    pub years: usize,
    /// Seed.
    pub seed: u64,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Budget lines.
    pub budget_lines: usize,
    /// IDP rows (project-years).
    pub idp_rows: usize,
    /// Departmental projects.
    pub departmental: usize,
    /// BEPP rows.
    pub bepp_rows: usize,
    /// True links.
    pub truth_pairs: usize,
}

fn year_label(start: i32) -> String {
    format!("{}/{:02}", start, (start + 1) % 100)
}

/// Writes the national world under `dir` with a pipeline `national.toml` that reads it.
pub fn write(dir: &Path, scale: Scale) -> Result<Written, SynthError> {
    let mut rng = Rng(scale.seed ^ 0x6e61_7469_6f6e);
    let reference = Reference::bundled();
    let mut munis: Vec<(String, String, String)> = reference
        .current()
        .map(|m| (m.category.clone(), m.code.clone(), m.name.clone()))
        .collect();
    munis.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    munis.truncate(scale.municipalities);
    let years: Vec<i32> = (0..scale.years as i32).map(|k| 2024 + k).collect();
    // One SA36 extract per MTREF, each with its three budget years.
    let mut budgets: Vec<String> = years
        .iter()
        .map(|by| {
            let mut b = String::from("demarcation_code,Function,Project Decription,Project Number,Type,Own Strategic Objectives,Asset Class,Ward Location");
            for y in *by..=by + 2 {
                let _ = write!(b, ",Budget year {}", year_label(y));
            }
            b.push('\n');
            b
        })
        .collect();
    let mut idp = String::from("demarcation_code,idp_project_ref,project_name,kpa,wards,implementing_sphere,asset_class,mscoa_project_number,funding_status,financial_year,amount\n");
    let mut irm = String::from("Project ID,Project No,Project Name,Province,Department,Sector,Local Municipality,District Municipality,Latitude,Longitude,Project Status,Total Project Cost,Main Budget Appropriation (TOTAL)\n");
    let mut bepp = String::from("metro_code,bepp_year,programme,integration_zone,project_ref,project_name,phase,wards,idp_project_ref,financial_year,funding_source,amount\n");
    let mut truth = String::from("link_type,demarcation_code,left_key,right_key\n");
    let mut w = Written::default();
    let mut dept_id = 100_000u64;
    for (category, code, name) in &munis {
        let projects = match category.as_str() {
            "A" => 1500,
            "B" => 450,
            _ => 150,
        };
        let wards = 10 + rng.below(40);
        let mut seq = 1u32;
        let mut seen_names = std::collections::BTreeSet::new();
        for p in 0..projects {
            let (verb_full, verb_abbr, kind) = *rng.pick(VERBS);
            let asset = rng.pick(ASSETS);
            let place = place(&mut rng);
            let phase = if rng.chance(25) { Some(1 + rng.below(4)) } else { None };
            let idp_name = format!(
                "{verb_full} {place} {}{}",
                asset.0,
                phase.map(|p| format!(" Phase {p}")).unwrap_or_default()
            );
            if !seen_names.insert(idp_name.clone()) {
                continue;
            }
            let mscoa = format!("{}_{:05}", asset.4, seq);
            seq += 1;
            let idp_ref = format!("IDP-{code}-{p:05}");
            let ward = 1 + rng.below(wards);
            let in_idp = !rng.chance(10); // budget-only projects
            let in_budget = !in_idp || !rng.chance(20); // IDP-only projects
            let base = (1 + rng.below(40)) as f64 * 250_000.0;
            if in_idp {
                for y in &years {
                    let fields = [
                        code.clone(),
                        idp_ref.clone(),
                        if rng.chance(15) {
                            typo(&idp_name, &mut rng)
                        } else {
                            idp_name.clone()
                        },
                        "Basic Service Delivery".into(),
                        format!("Ward {ward}"),
                        "municipal".into(),
                        asset.2.into(),
                        if rng.chance(40) { mscoa.clone() } else { String::new() },
                        if in_budget { "funded".into() } else { "unfunded".into() },
                        year_label(*y),
                        format!("{base:.0}"),
                    ];
                    idp.push_str(&csv_line(&fields));
                    w.idp_rows += 1;
                }
            }
            if in_budget {
                let split = rng.chance(8);
                let mut budget_name = format!(
                    "{verb_abbr} {} {}{}",
                    place.to_uppercase(),
                    asset.1,
                    phase.map(|p| format!(" PH{p}")).unwrap_or_default()
                );
                if rng.chance(15) {
                    budget_name = typo(&budget_name, &mut rng);
                }
                if rng.chance(10) {
                    // Reordered words.
                    let mut words: Vec<&str> = budget_name.split(' ').collect();
                    words.rotate_left(1);
                    budget_name = words.join(" ");
                }
                let parts: Vec<(String, String)> = if split {
                    vec![
                        (format!("{budget_name} (USDG)"), mscoa.clone()),
                        (
                            format!("{budget_name} (CRR)"),
                            format!("{}_{:05}", asset.4, 90_000 + seq),
                        ),
                    ]
                } else {
                    vec![(budget_name, mscoa.clone())]
                };
                for (line_name, number) in &parts {
                    for (k, _by) in years.iter().enumerate() {
                        let mut row = vec![
                            code.clone(),
                            asset.3.into(),
                            line_name.clone(),
                            number.clone(),
                            kind.into(),
                            "OWN MUNICIPAL STRATEGIC OBJECTIVE".into(),
                            asset.2.into(),
                            format!("Ward {ward}"),
                        ];
                        for _ in 0..3 {
                            let v = base / parts.len() as f64 * (0.9 + rng.below(20) as f64 / 100.0);
                            row.push(format!("{:.0}", v.round()));
                        }
                        budgets[k].push_str(&csv_line(&row));
                        w.budget_lines += 1;
                    }
                    if in_idp {
                        truth.push_str(&csv_line(&[
                            "budget_idp".into(),
                            code.clone(),
                            number.clone(),
                            idp_ref.clone(),
                        ]));
                        w.truth_pairs += 1;
                    }
                }
            }
        }
        // Provincial projects in the municipality; most are IDP sector projects.
        let dept_count = match category.as_str() {
            "A" => 300,
            "B" => 100,
            _ => 0,
        };
        for d in 0..dept_count {
            let (dept, thing) = *rng.pick(SECTORS);
            let place = place(&mut rng);
            let dept_name = format!("{place} {thing}");
            dept_id += 1;
            let fields = [
                dept_id.to_string(),
                format!("W/{dept_id}"),
                dept_name.clone(),
                "Province".into(),
                dept.into(),
                dept.into(),
                name.clone(),
                String::new(),
                String::new(),
                String::new(),
                "Construction".into(),
                format!("{}", (5 + rng.below(50)) * 1_000_000),
                format!("{}", (1 + rng.below(20)) * 500_000),
            ];
            irm.push_str(&csv_line(&fields));
            w.departmental += 1;
            if rng.chance(60) {
                let idp_ref = format!("IDP-{code}-S{d:04}");
                let variant = match rng.below(3) {
                    0 => format!("Construction of {dept_name}"),
                    1 => format!("{dept_name} (Dept of {dept})"),
                    _ => typo(&dept_name, &mut rng),
                };
                let fields = [
                    code.clone(),
                    idp_ref.clone(),
                    variant,
                    "Basic Service Delivery".into(),
                    String::new(),
                    "provincial".into(),
                    String::new(),
                    String::new(),
                    "funded".into(),
                    year_label(years[0]),
                    "0".into(),
                ];
                idp.push_str(&csv_line(&fields));
                w.idp_rows += 1;
                truth.push_str(&csv_line(&[
                    "departmental_idp".into(),
                    code.clone(),
                    dept_id.to_string(),
                    idp_ref,
                ]));
                w.truth_pairs += 1;
            }
        }
        if category == "A" {
            for b in 0..600 {
                let fields = [
                    code.clone(),
                    year_label(years[0]),
                    "Catalytic Urban Development".into(),
                    "IZ1".into(),
                    format!("BEPP-{code}-{b:04}"),
                    format!("{} Precinct", place(&mut rng)),
                    "feasibility".into(),
                    String::new(),
                    String::new(),
                    year_label(years[0]),
                    "USDG".into(),
                    format!("{}", (1 + rng.below(20)) * 1_000_000),
                ];
                bepp.push_str(&csv_line(&fields));
                w.bepp_rows += 1;
            }
        }
    }
    let mut pipeline = format!(
        "# National-scale benchmark pipeline, written by `harvester synth --municipalities`.\nname = \"national\"\n[publish]\nlocation = \"out\"\n[reconcile]\nfinancial_years = [{}]\n",
        years.iter().map(|y| format!("\"{}\"", year_label(*y))).collect::<Vec<_>>().join(", ")
    );
    for by in &years {
        let _ = write!(
            pipeline,
            "[[sources]]\nname = \"budget_{by}\"\nlocation = \"budget_{by}.csv\"\ncontract = \"sa36_extract\"\n"
        );
    }
    for (src, file, contract, extra) in [
        ("idp", "idp.csv", "idp_register", ""),
        ("irm", "irm.csv", "irm_departmental", "financial_year = \"2024/25\"\n"),
        ("bepp", "bepp.csv", "bepp_pipeline", ""),
    ] {
        let _ = write!(
            pipeline,
            "[[sources]]\nname = \"{src}\"\nlocation = \"{file}\"\ncontract = \"{contract}\"\n{extra}"
        );
    }
    let mut files: Vec<(String, String)> = years
        .iter()
        .zip(budgets)
        .map(|(by, b)| (format!("budget_{by}.csv"), b))
        .collect();
    files.extend([
        ("idp.csv".to_string(), idp),
        ("irm.csv".to_string(), irm),
        ("bepp.csv".to_string(), bepp),
        ("truth.csv".to_string(), truth),
        ("national.toml".to_string(), pipeline),
    ]);
    std::fs::create_dir_all(dir).map_err(|source| SynthError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    for (name, text) in files {
        let path = dir.join(&name);
        std::fs::write(&path, text).map_err(|source| SynthError::Io {
            path: path.display().to_string(),
            source,
        })?;
        w.files.push(path);
    }
    Ok(w)
}

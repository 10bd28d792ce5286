//! National-scale synthetic data with ground truth, for the linking benchmark.
//!
//! Every current municipality (or the first N, metros first) gets a world of capital projects
//! named after real places: its own towns, townships and suburbs from
//! `data/reference/places.csv` where they are known, else places of its province and its own
//! name, with real suffixes (`Ext 4`, `Section C`, `Zone 7`, `North`, `Village`). Many projects
//! of one municipality share a place name, as in real registers; a municipality has one project
//! per facility (place, asset) and phase, so its project names are unique. Asset class,
//! sub-class and function labels are mSCOA's; project-number prefixes have the mSCOA shape but
//! are made up.
//!
//! Each project appears in the IDP register (one row per year), most in the budget (one SA36
//! line per MTREF, sometimes split by funding source), some only in one of the two. Ward
//! locations are written as real files write them (`Ward 12`, `12`, `Ward 3, Ward 4`, `W3 and
//! W4`, `All wards`, 8-digit ward codes in IDP and BEPP rows), only in forms the ward normaliser
//! reads. Names get the real variants: Treasury abbreviations, a few unknown ones, typos,
//! reordered words, empty descriptions, dropped identifiers.
//!
//! Provincial departments build projects in every metro and local, reported in one IRM export
//! per year: most projects continue from year to year under the same `Project ID` (amounts
//! change, names are sometimes edited), some finish and a few start. Most are listed among the
//! IDP's sector projects; about one in ten is implemented by the municipality itself and also
//! appears as a budget line funded by a provincial grant (and often as a municipal IDP project).
//! Metros have BEPP pipelines (one row per project per year): about 70% of BEPP projects are the
//! metro's own capital projects, named the BEPP's way (`Mdantsane Access Road Upgrade (IZ2)`) or
//! as in the IDP, sometimes carrying the IDP reference or the mSCOA project number; the rest are
//! BEPP-only catalytic precinct projects.
//!
//! `truth.csv` lists which records are the same project, for every link type: `budget_idp`,
//! `bepp_idp`, `bepp_budget`, `departmental_idp`, `departmental_budget`.
//!
//! The files are written by one `Generator` that walks the municipalities in order and draws
//! every random number from one sequence, so a seed gives the same bytes. Per municipality, in
//! the order drawn: its own capital projects (`projects.rs`, with their SA36 lines in
//! `budget.rs` and IDP rows in `idp.rs`), generic items (`generic.rs`), provincial departmental
//! projects (`departmental.rs`) and, for metros, the BEPP (`bepp.rs`). Place names and ward
//! texts are in `place.rs`, the noise profiles and what they do to names in `noise.rs`.

mod bepp;
mod budget;
mod departmental;
mod files;
mod generic;
mod idp;
mod noise;
mod place;
mod projects;

pub use noise::Noise;

use super::places::Places;
use super::vocabulary::{Asset, Verb, ASSETS, MORE_ASSETS, VERBS};
use super::{csv_line, year_label, Rng, SynthError};
use crate::contracts::reference::Reference;
use crate::contracts::wards;
use place::{name_words, PlaceName, Pool, WardInfo, WardLoc};
use projects::{MuniProject, MORE_VERBS};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Sizes of the generated world.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Municipalities (the first N current ones, metros first).
    pub municipalities: usize,
    /// Budget years (MTREFs), starting 2024/25.
    pub years: usize,
    /// Seed.
    pub seed: u64,
    /// How the budget lines' descriptions are written.
    pub noise: Noise,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Budget lines (SA36 rows over all MTREFs).
    pub budget_lines: usize,
    /// IDP rows (project-years).
    pub idp_rows: usize,
    /// Distinct IDP projects (references).
    pub idp_projects: usize,
    /// Distinct departmental projects (IRM `Project ID`s over all years).
    pub departmental: usize,
    /// IRM rows (project-years).
    pub departmental_rows: usize,
    /// BEPP rows (project-years).
    pub bepp_rows: usize,
    /// Distinct BEPP projects.
    pub bepp_projects: usize,
    /// True links (rows of `truth.csv`).
    pub truth_pairs: usize,
}

impl Written {
    /// What was generated, in one line (`synth` and `bench` print it).
    pub fn counts(&self) -> String {
        format!(
            "{} budget lines, {} IDP rows ({} projects), {} departmental projects ({} IRM rows), {} BEPP rows ({} projects), {} true links",
            self.budget_lines,
            self.idp_rows,
            self.idp_projects,
            self.departmental,
            self.departmental_rows,
            self.bepp_rows,
            self.bepp_projects,
            self.truth_pairs
        )
    }
}

/// Writes the national world under `dir` with a pipeline `national.toml` that reads it.
pub fn write(dir: &Path, scale: Scale) -> Result<Written, SynthError> {
    let mut g = Generator::new(scale);
    for row in &municipalities(scale.municipalities) {
        g.municipality(row);
    }
    let pipeline = files::pipeline_toml(&g.years);
    files::save(dir, &g.years, g.out, pipeline)
}

/// A current municipality of the reference, as the generator reads it.
struct MuniRow {
    category: String,
    code: String,
    name: String,
    province: String,
    parent: String,
}

/// The first `n` current municipalities, metros first (by category, then code).
fn municipalities(n: usize) -> Vec<MuniRow> {
    let mut munis: Vec<MuniRow> = Reference::bundled()
        .current()
        .map(|m| MuniRow {
            category: m.category.clone(),
            code: m.code.clone(),
            name: m.name.clone(),
            province: m.province.clone(),
            parent: m.parent_code.clone(),
        })
        .collect();
    munis.sort_by(|a, b| a.category.cmp(&b.category).then_with(|| a.code.cmp(&b.code)));
    munis.truncate(n);
    munis
}

/// The world being generated: the scale, the vocabulary, the one random sequence every draw
/// comes from (always in the same order, so a seed gives the same files) and the files' text.
struct Generator {
    scale: Scale,
    years: Vec<i32>,
    assets: Vec<&'static Asset>,
    verbs: Vec<&'static Verb>,
    /// The sum of the departmental things' relative frequencies.
    dept_weight: u64,
    /// The last IRM `Project ID` given out.
    dept_id: u64,
    rng: Rng,
    out: Out,
}

impl Generator {
    fn new(scale: Scale) -> Generator {
        let years: Vec<i32> = (0..scale.years as i32).map(|k| 2024 + k).collect();
        let out = Out::new(&years);
        Generator {
            scale,
            years,
            assets: ASSETS.iter().chain(MORE_ASSETS).collect(),
            verbs: VERBS.iter().chain(MORE_VERBS).collect(),
            dept_weight: departmental::weight(),
            dept_id: 100_000,
            rng: Rng(scale.seed ^ 0x6e61_7469_6f6e),
            out,
        }
    }

    /// The asset whose IDP words these are.
    fn asset_named(&self, words: &str) -> Option<&'static Asset> {
        self.assets.iter().copied().find(|a| a.0 == words)
    }

    /// One municipality: its own projects, generic items, provincial projects and (metros) BEPP.
    fn municipality(&mut self, row: &MuniRow) {
        let mut m = Municipality::new(row, &mut self.rng);
        // IDPs list many projects no budget funds (41% here), so a municipality has more IDP
        // projects than budgeted ones: about 150k IDP and 100k budgeted projects nationally.
        let projects = match row.category.as_str() {
            "A" => 1950,
            "B" => 585,
            _ => 195,
        };
        for _ in 0..projects {
            self.municipal_project(&mut m);
        }
        if self.scale.noise.generic_items > 0 {
            self.generic_items(&mut m);
        }
        // Provincial projects in the municipality, one IRM export per year.
        self.departmental(&mut m);
        if m.metro {
            self.bepp_pipeline(&m);
        }
    }
}

/// One municipality while it is generated: where its places lie, the counters its project
/// numbers and IDP references come from, and the projects it has so far.
struct Municipality<'a> {
    row: &'a MuniRow,
    metro: bool,
    district: bool,
    info: WardInfo,
    pool: Pool<'static>,
    /// Each place (with its suffix) lies in one home ward.
    home: BTreeMap<String, u32>,
    /// The next project number's sequence.
    seq: u32,
    /// The last IDP reference's sequence.
    idp_seq: u32,
    /// One project per facility (place and asset) and phase: a hall is not built and
    /// refurbished at once.
    facilities: BTreeSet<(String, &'static str, Option<u64>)>,
    /// The municipality's own capital projects, for the BEPP.
    world: Vec<MuniProject>,
}

impl<'a> Municipality<'a> {
    fn new(row: &'a MuniRow, rng: &mut Rng) -> Municipality<'a> {
        let metro = row.category == "A";
        let district = row.category == "C";
        let (count, prefix) = match wards::prefix(&row.code) {
            Some((p, n)) => (n, Some(p)),
            None => (10 + rng.below(25) as u32, None),
        };
        let places = Places::bundled();
        Municipality {
            row,
            metro,
            district,
            info: WardInfo {
                count,
                prefix,
                metro,
                district,
            },
            pool: Pool {
                own: places.of_municipality(&row.code),
                province: places.of_province(&row.province),
                names: name_words(&row.code, &row.name),
            },
            home: BTreeMap::new(),
            seq: 1,
            idp_seq: 0,
            facilities: BTreeSet::new(),
            world: Vec::new(),
        }
    }

    fn code(&self) -> &'a str {
        &self.row.code
    }

    /// The place's home ward (drawn the first time the place is seen).
    fn home_ward(&mut self, p: &PlaceName, rng: &mut Rng) -> u32 {
        let count = self.info.count;
        *self
            .home
            .entry(p.key())
            .or_insert_with(|| 1 + rng.below(count as u64) as u32)
    }

    /// Where a project at this place is: its home ward, a neighbour, or the whole municipality.
    fn locate(&mut self, p: &PlaceName, rng: &mut Rng) -> WardLoc {
        let home = self.home_ward(p, rng);
        self.info.locate(home, rng)
    }

    /// The next project number with this mSCOA prefix (`PC001002001001_00042`).
    fn next_number(&mut self, prefix: &str) -> String {
        let number = format!("{prefix}_{:05}", self.seq);
        self.seq += 1;
        number
    }

    /// The next IDP reference (`IDP-BUF-00042`).
    fn next_idp_ref(&mut self) -> String {
        self.idp_seq += 1;
        format!("IDP-{}-{:05}", self.row.code, self.idp_seq)
    }
}

/// The files' text as it is generated, and the counts of what was written.
struct Out {
    budgets: Vec<String>,
    idp: String,
    irm: Vec<String>,
    bepp: String,
    truth: String,
    w: Written,
}

impl Out {
    fn new(years: &[i32]) -> Out {
        Out {
            // One SA36 extract per MTREF, each with its three budget years.
            budgets: years
                .iter()
                .map(|by| {
                    let mut b = String::from("demarcation_code,Function,Project Decription,Project Number,Type,Own Strategic Objectives,Asset Class,Asset Sub-Class,Ward Location");
                    for y in *by..=by + 2 {
                        let _ = write!(b, ",Budget year {}", year_label(y));
                    }
                    b.push('\n');
                    b
                })
                .collect(),
            idp: String::from("demarcation_code,idp_cycle,idp_project_ref,project_name,kpa,wards,implementing_sphere,asset_class,mscoa_project_number,funding_source,funding_status,financial_year,amount\n"),
            irm: years
                .iter()
                .map(|_| String::from("Project ID,Project No,Project Name,Province,Department,Sector,Local Municipality,District Municipality,Latitude,Longitude,Project Status,Total Project Cost,Main Budget Appropriation (TOTAL)\n"))
                .collect(),
            bepp: String::from("metro_code,bepp_year,programme,integration_zone,project_ref,project_name,phase,lead_sphere,wards,idp_project_ref,mscoa_project_number,financial_year,funding_source,amount\n"),
            truth: String::from("link_type,demarcation_code,left_key,right_key\n"),
            w: Written::default(),
        }
    }

    fn truth(&mut self, link_type: &str, code: &str, left: &str, right: &str) {
        self.truth.push_str(&csv_line(&[
            link_type.to_string(),
            code.to_string(),
            left.to_string(),
            right.to_string(),
        ]));
        self.w.truth_pairs += 1;
    }
}

/// Rounded to the nearest multiple of `unit`.
fn round_to(x: f64, unit: f64) -> f64 {
    (x / unit).round() * unit
}

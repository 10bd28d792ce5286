//! Pipeline definitions: the TOML files in `pipelines/`, parsed and validated in two phases.
//!
//! Phase one reads the TOML into loose raw structs (every field optional) and checks every key
//! against the keys harvester knows, so a typo is reported instead of silently ignored. Phase
//! two compiles the raw structs into a [`Pipeline`]: locations parsed, cron expression checked,
//! contracts looked up, numbers range-checked. Every problem from both phases is collected and
//! reported at once, each with the file and the key (`sources[2].contract`). The keys are
//! documented in `pipelines/README.md`.
//!
//! `config` is the compiler above the stages (ARCHITECTURE.md, Layers): `raw.rs` holds the raw
//! serde structs (`deny_unknown_fields` on every one), `compiler.rs` the shared state, and one
//! file per section compiles it into the stage's own settings — `sources.rs` ([`SourceSpec`],
//! also used by `harvester check`), `reconcile.rs` ([`ReconcileSettings`]), `exceptions.rs`
//! ([`ExceptionSettings`]), `publish.rs`, and `schedule.rs` (cron and time zone).

use crate::contracts::{span_hint, Catalog};
use crate::domain::Location;
use raw::{RawExceptions, RawPipeline, RawPublish, RawReconcile};
use std::path::{Path, PathBuf};

mod compiler;
mod exceptions;
mod inputs;
mod publish;
mod raw;
mod reconcile;
mod schedule;
mod sources;

pub use compiler::Compiler;
pub use publish::{DEFAULT_LOCK_WAIT_SECS, DEFAULT_RETENTION_DAYS};
pub use raw::RawSource;
pub use sources::compile_source;

/// One problem in a pipeline file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The pipeline file.
    pub file: String,
    /// The key, e.g. `sources[1].contract`.
    pub key: String,
    /// What was expected and what was found.
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.key, self.message)
    }
}

/// Every problem found in one or more pipeline files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError(pub Vec<Diagnostic>);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "{n} problem{} in pipeline configuration:",
            if n == 1 { "" } else { "s" }
        )?;
        for d in &self.0 {
            writeln!(f, "  - {d}")?;
        }
        Ok(())
    }
}

pub use crate::domain::valid_name;
pub use crate::metrics::ExceptionSettings;
pub use crate::reconcile::ReconcileSettings;
pub use crate::sources::{HttpSettings, SourceSpec, DEFAULT_MAX_REJECT_RATIO, DEFAULT_MIN_ROWS};

/// A validated pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// Pipeline name (lowercase letters, digits, `-`, `_`).
    pub name: String,
    /// What it is for.
    pub description: String,
    /// The file it was read from.
    pub file: PathBuf,
    /// Cron schedule (seconds field first), if scheduled.
    pub schedule: Option<cron::Schedule>,
    /// Time zone of the schedule. Default Africa/Johannesburg.
    pub timezone: chrono_tz::Tz,
    /// Whether a schedule missed while the service was down runs once at start-up.
    pub catch_up: bool,
    /// The contracts available to this pipeline.
    pub catalog: Catalog,
    /// Where outputs are published. Default `./out`.
    pub publish: Location,
    /// Days earlier runs' files are kept for as-of comparison. Default 30.
    pub retention_days: u32,
    /// Seconds a run waits for another run publishing to the same location to finish before it
    /// fails (naming the holder). Default [`DEFAULT_LOCK_WAIT_SECS`].
    pub lock_wait_secs: u64,
    /// Reconciliation settings.
    pub reconcile: ReconcileSettings,
    /// Materiality of findings and analysts' decisions (`[exceptions]`).
    pub exceptions: ExceptionSettings,
    /// Sources, in file order.
    pub sources: Vec<SourceSpec>,
}

pub use schedule::parse_schedule;

/// Whether loading a pipeline also checks that its local input files exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inputs {
    /// Files may appear later (a nightly drop): `run` and `serve` find out when they fetch.
    Later,
    /// `harvester validate`: a missing file or a glob that matches nothing is a problem now.
    Now,
}

impl Pipeline {
    /// Reads and validates a pipeline file. `cwd` resolves the default publish location.
    pub fn load(path: &Path, cwd: &Path) -> Result<Pipeline, ConfigError> {
        Self::load_with(path, cwd, Inputs::Later)
    }

    /// [`Pipeline::load`], and also checks that every local input (sources, overrides,
    /// exception decisions) exists and every local glob matches a file, reporting those problems
    /// with all the others (`harvester validate`).
    pub fn load_checked(path: &Path, cwd: &Path) -> Result<Pipeline, ConfigError> {
        Self::load_with(path, cwd, Inputs::Now)
    }

    fn load_with(path: &Path, cwd: &Path, inputs: Inputs) -> Result<Pipeline, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(vec![Diagnostic {
                file: file.clone(),
                key: "(file)".into(),
                message: format!("cannot read the pipeline file: {e}"),
            }])
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let base = if base.as_os_str().is_empty() {
            cwd.to_path_buf()
        } else {
            cwd.join(base)
        };
        Self::parse_with(&text, &file, &base, cwd, inputs)
    }

    /// Parses pipeline text; `base` resolves relative source paths, `cwd` the default output.
    pub fn parse(text: &str, file: &str, base: &Path, cwd: &Path) -> Result<Pipeline, ConfigError> {
        Self::parse_with(text, file, base, cwd, Inputs::Later)
    }

    fn parse_with(text: &str, file: &str, base: &Path, cwd: &Path, inputs: Inputs) -> Result<Pipeline, ConfigError> {
        let mut c = Compiler::new(file, base, cwd);
        let table: toml::Table = match toml::from_str(text) {
            Ok(t) => t,
            Err(e) => {
                c.diag(
                    "(syntax)",
                    format!("not valid TOML: {}{}", e.message(), span_hint(text, e.span())),
                );
                return Err(ConfigError(c.diags));
            }
        };
        // Phase one: unknown keys and types, section by section.
        let raw: RawPipeline = c.section(&toml::Value::Table(table), "");
        let publish: RawPublish = raw
            .publish
            .as_ref()
            .map_or_else(Default::default, |v| c.section(v, "publish"));
        let reconcile: RawReconcile = raw
            .reconcile
            .as_ref()
            .map_or_else(Default::default, |v| c.section(v, "reconcile"));
        let exceptions: RawExceptions = raw
            .exceptions
            .as_ref()
            .map_or_else(Default::default, |v| c.section(v, "exceptions"));
        let raw_sources = sources::read_all(raw.sources.as_ref(), &mut c);

        // Phase two: compile, section by section.
        let name = compile_name(raw.name.as_deref(), &mut c);
        let (schedule, timezone) = schedule::compile(raw.schedule.as_deref(), raw.timezone.as_deref(), &mut c);
        let catalog = compile_catalog(raw.contracts_dir.as_deref(), &mut c);
        let publish = publish::compile(publish, &mut c);
        let reconcile = reconcile::compile(reconcile, &mut c);
        let exceptions = exceptions::compile(exceptions, &mut c);
        let sources = sources::compile_all(raw_sources, &catalog, &mut c);
        if inputs == Inputs::Now {
            for (key, location) in std::mem::take(&mut c.local_inputs) {
                if let Some(problem) = inputs::missing(&location) {
                    c.diag(&key, problem);
                }
            }
        }
        if !c.diags.is_empty() {
            return Err(ConfigError(c.diags));
        }
        Ok(Pipeline {
            name,
            description: raw.description.unwrap_or_default(),
            file: PathBuf::from(file),
            schedule,
            timezone,
            catch_up: raw.catch_up.unwrap_or(false),
            catalog,
            publish: publish.location,
            retention_days: publish.retention_days,
            lock_wait_secs: publish.lock_wait_secs,
            reconcile,
            exceptions,
            sources,
        })
    }

    /// Replaces one source's location (`--source NAME=URL`), relative to `cwd`.
    pub fn override_source(&mut self, spec: &str, cwd: &Path) -> Result<(), String> {
        let shown = crate::domain::location::redact_text(spec);
        let (name, url) = spec
            .split_once('=')
            .ok_or_else(|| format!("--source `{shown}`: expected NAME=URL"))?;
        let names: Vec<String> = self.sources.iter().map(|s| s.name.clone()).collect();
        let src = self.sources.iter_mut().find(|s| s.name == name).ok_or_else(|| {
            format!(
                "--source `{shown}`: pipeline `{}` has no source `{name}`; its sources are {}",
                self.name,
                names.join(", ")
            )
        })?;
        src.location = Location::parse(url, cwd).map_err(|e| format!("--source `{shown}`: {e}"))?;
        Ok(())
    }

    /// Replaces the publish location (`--out URL`), relative to `cwd`.
    pub fn override_publish(&mut self, url: &str, cwd: &Path) -> Result<(), String> {
        self.publish = Location::parse(url, cwd)
            .map_err(|e| format!("--out `{}`: {e}", crate::domain::location::redact_text(url)))?;
        Ok(())
    }
}

/// The pipeline's name, checked as a path segment.
fn compile_name(name: Option<&str>, c: &mut Compiler) -> String {
    match name {
        None => c.diag("name", "missing: expected a pipeline name such as `sample`".into()),
        Some(n) if !valid_name(n) => c.diag(
            "name",
            format!("expected lowercase letters, digits, `-` or `_` (at most 64), found `{n}`"),
        ),
        Some(_) => {}
    }
    name.unwrap_or_default().to_string()
}

/// The contracts: the bundled ones, or those of `contracts_dir` (relative to the pipeline file).
fn compile_catalog(contracts_dir: Option<&str>, c: &mut Compiler) -> Catalog {
    let dir = contracts_dir.map(|d| c.base.join(d));
    match Catalog::load(dir.as_deref()) {
        Ok(catalog) => catalog,
        Err(errs) => {
            for e in errs {
                c.diag("contracts_dir", e.to_string());
            }
            Catalog::load(None).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
schedule = "0 2 * * *"
[[sources]]
name = "budget"
location = "sample/budget.xlsx"
contract = "sa36_capital_budget"
"#;

    #[test]
    fn a_good_pipeline_compiles_with_defaults() {
        let p = Pipeline::parse(GOOD, "t.toml", Path::new("/repo/pipelines"), Path::new("/work")).unwrap();
        assert_eq!(p.name, "t");
        assert_eq!(p.publish, Location::Local(PathBuf::from("/work/out")));
        assert_eq!(
            p.sources[0].location,
            Location::Local(PathBuf::from("/repo/pipelines/sample/budget.xlsx"))
        );
        assert_eq!(p.timezone, chrono_tz::Africa::Johannesburg);
        assert!(p.schedule.is_some());
        assert_eq!(p.sources[0].max_reject_ratio, DEFAULT_MAX_REJECT_RATIO);
        assert_eq!(p.sources[0].min_rows, DEFAULT_MIN_ROWS);
    }

    #[test]
    fn min_rows_is_a_known_key_and_checked() {
        let with = |v: &str| GOOD.replacen("contract = ", &format!("min_rows = {v}\ncontract = "), 1);
        let p = Pipeline::parse(&with("0"), "t.toml", Path::new("/r"), Path::new("/w")).unwrap();
        assert_eq!(p.sources[0].min_rows, 0);
        let p = Pipeline::parse(&with("25"), "t.toml", Path::new("/r"), Path::new("/w")).unwrap();
        assert_eq!(p.sources[0].min_rows, 25);
        let e = Pipeline::parse(&with("-1"), "t.toml", Path::new("/r"), Path::new("/w")).unwrap_err();
        assert_eq!(e.0.len(), 1, "{e}");
        assert_eq!(e.0[0].key, "sources[0].min_rows", "{e}");
        assert!(e.to_string().contains("found -1"), "{e}");
        let drop = |v: &str| GOOD.replacen("contract = ", &format!("max_row_drop = {v}\ncontract = "), 1);
        let p = Pipeline::parse(&drop("0.5"), "t.toml", Path::new("/r"), Path::new("/w")).unwrap();
        assert_eq!(p.sources[0].max_row_drop, Some(0.5));
        let e = Pipeline::parse(&drop("1.5"), "t.toml", Path::new("/r"), Path::new("/w")).unwrap_err();
        assert_eq!(e.0[0].key, "sources[0].max_row_drop", "{e}");
    }

    #[test]
    fn exception_settings_are_read_checked_and_defaulted() {
        let p = Pipeline::parse(GOOD, "t.toml", Path::new("/r"), Path::new("/w")).unwrap();
        assert_eq!(p.exceptions, ExceptionSettings::default());
        let good = format!(
            "{GOOD}\n[exceptions]\nmin_rand_at_stake = 5000000\nmin_share_of_capital_budget = 0.02\ndecisions = \"decisions.csv\"\n"
        );
        let p = Pipeline::parse(&good, "t.toml", Path::new("/r"), Path::new("/w")).unwrap();
        assert_eq!(p.exceptions.min_rand_at_stake, 5_000_000.0);
        assert_eq!(p.exceptions.min_share_of_capital_budget, 0.02);
        assert_eq!(
            p.exceptions.decisions,
            Some(Location::Local(PathBuf::from("/r/decisions.csv")))
        );
        let bad = format!("{GOOD}\n[exceptions]\nmin_share_of_capital_budget = 2\nmin_rand = 1\n");
        let e = Pipeline::parse(&bad, "t.toml", Path::new("/r"), Path::new("/w")).unwrap_err();
        let keys: Vec<&str> = e.0.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(
            keys,
            ["exceptions.min_rand", "exceptions.min_share_of_capital_budget"],
            "{e}"
        );
    }

    #[test]
    fn every_mistake_is_named_with_its_key() {
        let text = r#"
name = "Bad Name"
schedule = "every night"
[reconcile]
name_match_treshold = 0.5
[[sources]]
name = "budget"
location = "x.xlsx"
contract = "sa36"
max_reject_ratio = "lots"
"#;
        let e = Pipeline::parse(text, "bad.toml", Path::new("/"), Path::new("/")).unwrap_err();
        let keys: Vec<&str> = e.0.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "reconcile.name_match_treshold",
                "sources[0].max_reject_ratio",
                "name",
                "schedule",
                "sources[0].contract"
            ],
            "{e}"
        );
        let text = e.to_string();
        assert!(text.starts_with("5 problems in pipeline configuration:"), "{text}");
        assert!(text.contains("did you mean `name_match_threshold`?"), "{text}");
        assert!(text.contains("unknown contract `sa36`"), "{text}");
        assert!(text.contains("found the string \"lots\""), "{text}");
    }

    #[test]
    fn linking_model_levels_are_checked_and_applied() {
        let good = format!(
            "{GOOD}\n[reconcile.model]\nestimate = true\nmax_iterations = 50\n[reconcile.model.levels]\n\"wards.overlap\" = {{ m = 0.9, u = 0.1 }}\n"
        );
        let p = Pipeline::parse(&good, "t.toml", Path::new("/r"), Path::new("/w")).unwrap();
        assert!(p.reconcile.estimate_model);
        assert_eq!(p.reconcile.em_max_iterations, 50);
        assert_eq!(p.reconcile.model_levels.get("wards.overlap"), Some(&(0.9, 0.1)));
        let bad = format!(
            "{GOOD}\n[reconcile.model]\nmax_iterations = 0\n[reconcile.model.levels]\n\"wards.near\" = {{ m = 0.9, u = 0.1 }}\n\"gps.near\" = {{ m = 1.5, u = 0.0 }}\n"
        );
        let e = Pipeline::parse(&bad, "bad.toml", Path::new("/r"), Path::new("/w")).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("3 problems"), "{text}");
        assert!(
            text.contains("reconcile.model.max_iterations: expected 1 or more, found 0"),
            "{text}"
        );
        assert!(
            text.contains(
                "reconcile.model.levels.\"wards.near\": unknown comparison level; expected one of name.exact"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "reconcile.model.levels.\"gps.near\": expected m and u strictly between 0 and 1, found m = 1.5, u = 0"
            ),
            "{text}"
        );
    }

    #[test]
    fn names_cannot_traverse_paths() {
        assert!(valid_name("sample"));
        assert!(!valid_name("../etc"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(""));
    }

    #[test]
    fn overrides_name_unknown_sources() {
        let mut p = Pipeline::parse(GOOD, "t.toml", Path::new("/r"), Path::new("/w")).unwrap();
        p.override_source("budget=/data/b.xlsx", Path::new("/w")).unwrap();
        assert_eq!(p.sources[0].location, Location::Local(PathBuf::from("/data/b.xlsx")));
        let e = p.override_source("idp=x.csv", Path::new("/w")).unwrap_err();
        assert!(e.contains("has no source `idp`"), "{e}");
    }

    /// Issue #11: every raw struct denies unknown keys; an unknown key is named with the file,
    /// its full key and the keys expected, in every section and at the top.
    #[test]
    fn an_unknown_key_names_the_file_and_key_in_every_section() {
        let text =
            format!("{GOOD}\n[publish]\nlocation = \"out\"\nretention = 3\n[exceptions]\ndecision = \"d.csv\"\n")
                .replacen("schedule =", "schedul = \"x\"\nschedule =", 1)
                .replacen("contract = ", "sheet = \"A5\"\ncontract = ", 1);
        let e = Pipeline::parse(&text, "typos.toml", Path::new("/r"), Path::new("/w")).unwrap_err();
        let shown: Vec<String> = e.0.iter().map(|d| format!("{}: {}", d.key, d.message)).collect();
        assert_eq!(e.0.len(), 4, "{e}");
        assert!(e.0.iter().all(|d| d.file == "typos.toml"), "{e}");
        assert!(
            shown[0].starts_with("schedul: unknown key (did you mean `schedule`?); expected one of name, description, schedule, timezone, catch_up, contracts_dir, publish, reconcile, exceptions, sources"),
            "{e}"
        );
        assert!(
            shown[1].starts_with("publish.retention: unknown key (did you mean `retention_days`?); expected one of location, retention_days, lock_wait_secs"),
            "{e}"
        );
        assert!(
            shown[2].starts_with("exceptions.decision: unknown key (did you mean `decisions`?)"),
            "{e}"
        );
        assert!(
            shown[3].starts_with("sources[0].sheet: unknown key (did you mean `sheets`?)"),
            "{e}"
        );
        assert!(
            e.to_string().contains("typos.toml: sources[0].sheet: unknown key"),
            "{e}"
        );
    }

    /// The bundled pipelines (and the S3 example in ops/) still compile with unknown keys denied.
    #[test]
    fn the_bundled_pipelines_compile() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for file in ["pipelines/sample.toml", "ops/pipelines/s3_example.toml"] {
            let path = root.join(file);
            Pipeline::load(&path, root).unwrap_or_else(|e| panic!("{file}: {e}"));
        }
    }
}

//! What every compile function shares: the file being compiled, where its relative paths start,
//! the problems found so far (all reported at once, each with file and key) and the local inputs
//! `harvester validate` checks at the end; and `section`, which reads one TOML table into its raw
//! struct key by key, so one mistake never hides another.

use super::Diagnostic;
use crate::domain::Location;
use serde::Deserialize;
use std::path::Path;

/// The state of one compile.
pub struct Compiler<'a> {
    /// The pipeline file, as named in diagnostics.
    pub file: &'a str,
    /// Relative source paths resolve against this (the pipeline file's folder).
    pub base: &'a Path,
    /// The default publish location and `--out` resolve against this.
    pub cwd: &'a Path,
    /// Every problem found so far.
    pub diags: Vec<Diagnostic>,
    /// Local inputs by key, checked at the end by `harvester validate`.
    pub local_inputs: Vec<(String, Location)>,
}

impl<'a> Compiler<'a> {
    /// A compile of `file` with no problems yet.
    pub fn new(file: &'a str, base: &'a Path, cwd: &'a Path) -> Self {
        Self {
            file,
            base,
            cwd,
            diags: Vec::new(),
            local_inputs: Vec::new(),
        }
    }

    /// Records a problem at `key`.
    pub fn diag(&mut self, key: &str, message: String) {
        self.diags.push(Diagnostic {
            file: self.file.to_string(),
            key: key.to_string(),
            message,
        });
    }

    /// Parses a location at `key` (relative to the pipeline file), remembering it as a local
    /// input; a problem is recorded and `None` returned.
    pub fn location(&mut self, key: &str, text: &str) -> Option<Location> {
        match Location::parse(text, self.base) {
            Ok(l) => {
                self.local_inputs.push((key.to_string(), l.clone()));
                Some(l)
            }
            Err(e) => {
                self.diag(key, e.to_string());
                None
            }
        }
    }

    /// Reads one table (`key` is its place, `""` for the top level) into its raw struct, key by
    /// key: unknown keys first (with the keys expected and the nearest one), then values of the
    /// wrong type; the struct keeps every good value.
    pub fn section<T: for<'de> Deserialize<'de> + Default>(&mut self, value: &toml::Value, key: &str) -> T {
        let Some(table) = value.as_table() else {
            self.diag(key, "expected a table".into());
            return T::default();
        };
        let full = |k: &str| {
            if key.is_empty() {
                k.to_string()
            } else {
                format!("{key}.{k}")
            }
        };
        let mut good = toml::Table::new();
        let mut unknown = Vec::new();
        let mut wrong = Vec::new();
        for (k, v) in table {
            let mut single = toml::Table::new();
            single.insert(k.clone(), v.clone());
            match T::deserialize(toml::Value::Table(single)) {
                Ok(_) => {
                    good.insert(k.clone(), v.clone());
                }
                Err(e) if e.message().starts_with(&format!("unknown field `{k}`")) => {
                    unknown.push((full(k), unknown_key(k, &expected_fields(e.message()))));
                }
                Err(e) => {
                    let expected = e
                        .message()
                        .split(", expected ")
                        .nth(1)
                        .unwrap_or("another type")
                        .to_string();
                    wrong.push((full(k), format!("expected {expected}, found {}", found(v))));
                }
            }
        }
        for (k, message) in unknown.into_iter().chain(wrong) {
            self.diag(&k, message);
        }
        T::deserialize(toml::Value::Table(good)).unwrap_or_default()
    }
}

/// The field names serde lists after "expected" in an unknown-field error, in declaration order.
fn expected_fields(message: &str) -> Vec<String> {
    let Some((_, expected)) = message.split_once(", expected") else {
        return Vec::new();
    };
    expected.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// `unknown key (did you mean `x`?); expected one of a, b, c`.
fn unknown_key(key: &str, known: &[String]) -> String {
    let hint = known
        .iter()
        .map(|c| (strsim::jaro_winkler(c, key), c))
        .filter(|(s, _)| *s > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default();
    format!("unknown key{hint}; expected one of {}", known.join(", "))
}

/// A TOML value as a message names it.
fn found(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("the string \"{s}\""),
        toml::Value::Integer(i) => format!("the integer {i}"),
        toml::Value::Float(f) => format!("the number {f}"),
        toml::Value::Boolean(b) => format!("{b}"),
        toml::Value::Array(_) => "an array".into(),
        toml::Value::Table(_) => "a table".into(),
        toml::Value::Datetime(d) => format!("the date {d}"),
    }
}

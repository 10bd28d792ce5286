//! The module graph against ARCHITECTURE.md (issue #11): every `use crate::<module>` and
//! `crate::<module>::` path (and a `super::` path that leaves its top-level module) in `src/` is
//! an edge between two top-level modules; an edge must go down the layer order that
//! ARCHITECTURE.md writes under "## Layers", and the graph must have no cycle.
//!
//! Test code (`#[cfg(test)] mod …` blocks and `tests.rs` files) may use anything and is not read.
//! The check reads the sources as text, so it needs no build of its own and names each offending
//! edge as `file:line module -> module`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Edges against the order that live where this branch may not edit yet (or are re-exports left
/// for code there), as (file, from, to, why). Shrink this list; never grow it without a reason.
const ALLOWED: &[(&str, &str, &str, &str)] = &[];

/// One `crate::` (or crate-leaving `super::`) path in a source file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    file: String,
    line: usize,
    from: String,
    to: String,
}

impl std::fmt::Display for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{} {} -> {}", self.file, self.line, self.from, self.to)
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The layers written in ARCHITECTURE.md: the first fenced block after the `## Layers` heading,
/// one module per line, bottom first (`#` starts a comment).
fn layers(doc: &str) -> Vec<String> {
    let section = doc
        .split("\n## Layers")
        .nth(1)
        .expect("ARCHITECTURE.md has a `## Layers` section");
    let block = section
        .split("```")
        .nth(1)
        .expect("the Layers section has a fenced block");
    block
        .lines()
        .skip(1) // the fence's info string
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The line without string literals, char literals and a `//` comment.
fn code_of(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    let mut in_str = false;
    while let Some(c) = chars.next() {
        if in_str {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '/' if chars.peek() == Some(&'/') => break,
            _ => out.push(c),
        }
    }
    out
}

/// The top-level modules a line of code names, with `module_path` the file's module path
/// (`["reconcile", "score"]`), for resolving `super::`.
fn targets(code: &str, module_path: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let ident_at = |start: usize| -> String {
        code[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let boundary = |i: usize| i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
    for (i, _) in code.match_indices("crate::") {
        if !boundary(i) {
            continue;
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a::X, b};` on one line.
            let inner = group.split('}').next().unwrap_or("");
            for part in inner.split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name = ident_at(i + "crate::".len());
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    for (i, _) in code.match_indices("super::") {
        if !boundary(i) || (i >= 7 && &code[i - 7..i] == "super::") {
            continue; // counted from the first `super::` of a chain
        }
        let mut depth = module_path.len();
        let mut j = i;
        while code[j..].starts_with("super::") {
            depth = depth.saturating_sub(1);
            j += "super::".len();
        }
        if depth == 0 {
            let name = ident_at(j);
            if !name.is_empty() && name != "*" {
                out.push(name);
            }
        }
    }
    out
}

/// Every cross-module edge outside test code.
fn edges(modules: &BTreeSet<String>) -> Vec<Edge> {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let rel = path.strip_prefix(root()).unwrap().to_string_lossy().replace('\\', "/");
        let inner: Vec<String> = path
            .strip_prefix(&src)
            .unwrap()
            .with_extension("")
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| s != "mod")
            .collect();
        let from = inner[0].clone();
        if from == "lib" || from == "main" || inner.last().is_some_and(|s| s == "tests") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("source is readable");
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let trimmed = lines[i].trim();
            if trimmed == "#[cfg(test)]" {
                let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
                if next.starts_with("mod ") && next.ends_with('{') {
                    // Skip the test module to its closing brace.
                    let mut depth = 0i32;
                    i += 1;
                    while i < lines.len() {
                        let code = code_of(lines[i]);
                        depth += code.matches('{').count() as i32 - code.matches('}').count() as i32;
                        i += 1;
                        if depth <= 0 {
                            break;
                        }
                    }
                    continue;
                }
            }
            for to in targets(&code_of(lines[i]), &inner) {
                if to != from && modules.contains(&to) {
                    out.push(Edge {
                        file: rel.clone(),
                        line: i + 1,
                        from: from.clone(),
                        to,
                    });
                }
            }
            i += 1;
        }
    }
    out
}

/// Cycles in the module graph: each strongly connected set of more than one module.
fn cycles(edges: &[Edge]) -> Vec<Vec<String>> {
    let mut adj: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in edges {
        adj.entry(&e.from).or_default().insert(&e.to);
        adj.entry(&e.to).or_default();
    }
    // Reachability by repeated search: the graph has a few dozen nodes.
    let reach = |start: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![start.to_string()];
        while let Some(n) = todo.pop() {
            for m in &adj[n.as_str()] {
                if seen.insert(m.to_string()) {
                    todo.push(m.to_string());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&str, BTreeSet<String>> = adj.keys().map(|n| (*n, reach(n))).collect();
    let mut out: Vec<Vec<String>> = Vec::new();
    for n in adj.keys() {
        if !reaches[n].contains(*n) {
            continue;
        }
        let set: Vec<String> = adj
            .keys()
            .filter(|m| reaches[n].contains(**m) && reaches[*m].contains(*n))
            .map(|m| m.to_string())
            .collect();
        if !out.contains(&set) {
            out.push(set);
        }
    }
    out
}

#[test]
fn modules_use_only_modules_below_them_in_architecture_md() {
    let doc = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let order = layers(&doc);
    let rank: BTreeMap<&str, usize> = order.iter().enumerate().map(|(i, m)| (m.as_str(), i)).collect();
    let mut top = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("src")).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        if name != "lib" && name != "main" {
            top.insert(name);
        }
    }
    let missing: Vec<_> = top.iter().filter(|m| !rank.contains_key(m.as_str())).collect();
    assert!(
        missing.is_empty(),
        "modules missing from ARCHITECTURE.md's Layers: {missing:?}"
    );

    let all = edges(&top);
    let allowed = |e: &Edge| {
        ALLOWED
            .iter()
            .any(|(f, a, b, _)| *f == e.file && *a == e.from && *b == e.to)
    };
    let against: Vec<String> = all
        .iter()
        .filter(|e| rank[e.from.as_str()] < rank[e.to.as_str()] && !allowed(e))
        .map(|e| format!("  {e}"))
        .collect();
    let graph: Vec<Edge> = all.iter().filter(|e| !allowed(e)).cloned().collect();
    let cycles: Vec<String> = cycles(&graph)
        .iter()
        .map(|c| format!("  {}", c.join(" <-> ")))
        .collect();
    let unused: Vec<_> = ALLOWED
        .iter()
        .filter(|(f, a, b, _)| !all.iter().any(|e| e.file == *f && e.from == *a && e.to == *b))
        .map(|(f, a, b, _)| format!("  {f} {a} -> {b}"))
        .collect();
    assert!(
        against.is_empty() && cycles.is_empty() && unused.is_empty(),
        "module order (ARCHITECTURE.md, ## Layers, bottom first: {order:?})\n\
         edges against the order:\n{}\ncycles:\n{}\nallow-list entries no longer needed:\n{}",
        against.join("\n"),
        cycles.join("\n"),
        unused.join("\n"),
    );
}

#[test]
fn the_edge_reader_sees_use_lines_inline_paths_and_super() {
    let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        targets("use crate::config::SourceSpec;", &path(&["sources"])),
        ["config"]
    );
    assert_eq!(
        targets("use crate::{storage::Store, domain};", &path(&["sources"])),
        ["storage", "domain"]
    );
    assert_eq!(
        targets("let x = crate::domain::sha256_hex(b);", &path(&["metrics"])),
        ["domain"]
    );
    assert_eq!(
        targets("use super::score::Model;", &path(&["reconcile", "em"])),
        Vec::<String>::new()
    );
    assert_eq!(
        targets("use super::super::records::Record;", &path(&["reconcile", "em"])),
        ["records"]
    );
    assert_eq!(
        targets(&code_of(r#"let s = "crate::config"; // crate::run"#), &path(&["x"])),
        Vec::<String>::new()
    );
}

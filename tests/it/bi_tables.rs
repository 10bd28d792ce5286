//! Issue #17, tables BI tools open as they are: plain stored types (no `string_view`, no
//! unsigned integers), no Hive folder duplicating a column, a `run_id` in every table, the
//! stable `current/` copy, the data dictionary in docs/tables.md and the README's examples.

use crate::common::*;
use harvester::run::run;
use polars::prelude::*;
use polars_arrow::datatypes::ArrowDataType;
use std::path::{Path, PathBuf};

/// Every Parquet file under `dir`, sorted.
fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The Arrow schema a file's footer stores (`ARROW:schema`, what pyarrow and others read), as
/// (name, type) pairs, and the `Debug` text of every Parquet column's logical and converted type.
fn footer(path: &Path) -> (Vec<(String, ArrowDataType)>, Vec<String>) {
    use base64::Engine;
    let mut f = std::fs::File::open(path).unwrap();
    let meta = polars_parquet::read::read_metadata(&mut f).unwrap();
    let encoded = meta
        .key_value_metadata()
        .as_ref()
        .and_then(|kv| kv.iter().find(|kv| kv.key == "ARROW:schema"))
        .and_then(|kv| kv.value.clone())
        .unwrap_or_else(|| panic!("{} has no ARROW:schema", path.display()));
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
    // Arrow's legacy IPC framing: 0xFFFFFFFF, length, then the Schema message.
    let message = if bytes[..4] == [255; 4] {
        &bytes[8..]
    } else {
        &bytes[..]
    };
    let (schema, ..) = polars_arrow::io::ipc::read::deserialize_schema(message).unwrap();
    let fields = schema
        .iter_values()
        .map(|f| (f.name.to_string(), f.dtype.clone()))
        .collect();
    let columns = meta
        .schema()
        .columns()
        .iter()
        .map(|c| {
            let t = &c.descriptor.primitive_type;
            format!("{:?} {:?}", t.logical_type, t.converted_type)
        })
        .collect();
    (fields, columns)
}

/// Why a stored type is not plain, if it is not.
fn not_plain(dt: &ArrowDataType) -> Option<String> {
    use ArrowDataType::*;
    match dt {
        Utf8View | BinaryView => Some(format!("view type {dt:?}")),
        UInt8 | UInt16 | UInt32 | UInt64 => Some(format!("unsigned {dt:?}")),
        List(f) | LargeList(f) | FixedSizeList(f, _) => not_plain(&f.dtype),
        Struct(fs) => fs.iter().find_map(|f| not_plain(&f.dtype)),
        Dictionary(..) => Some(format!("dictionary {dt:?}")),
        _ => None,
    }
}

/// Asserts every Parquet file under `dir` stores plain types only and has a `run_id` column.
fn assert_plain(dir: &Path) -> usize {
    let files = parquet_files(dir);
    for path in &files {
        let (fields, columns) = footer(path);
        for (name, dt) in &fields {
            if let Some(why) = not_plain(dt) {
                panic!("{}: column {name} is stored as {why}", path.display());
            }
        }
        for c in &columns {
            assert!(
                !c.contains("UInt") && !c.contains("Uint"),
                "{}: unsigned Parquet type {c}",
                path.display()
            );
        }
        assert_eq!(
            fields.first().map(|f| f.0.as_str()),
            Some("run_id"),
            "{}",
            path.display()
        );
        assert!(
            !path.to_string_lossy().contains('='),
            "{}: no Hive folders",
            path.display()
        );
    }
    files.len()
}

/// The type name docs/tables.md uses for a column type.
fn doc_type(dt: &DataType) -> String {
    match dt {
        DataType::String => "string".into(),
        DataType::Boolean => "bool".into(),
        DataType::Int16 => "int16".into(),
        DataType::Int32 => "int32".into(),
        DataType::Int64 => "int64".into(),
        DataType::Float64 => "float64".into(),
        DataType::Date => "date".into(),
        DataType::Binary => "binary".into(),
        other => format!("{other:?}"),
    }
}

/// `(table, [(column, type)])` in the order docs/tables.md lists them: a `## \`table\``
/// heading, then a Markdown table whose rows start `| \`column\` | type |`.
fn dictionary() -> Vec<(String, Vec<(String, String)>)> {
    let text = std::fs::read_to_string(repo().join("docs/tables.md")).unwrap();
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.lines() {
        let heading = line
            .strip_prefix("## `")
            .and_then(|h| h.strip_suffix('`'))
            .filter(|h| !h.contains([' ', '`']));
        if let Some(h) = heading {
            out.push((h.to_string(), Vec::new()));
        } else if let (Some(last), Some(row)) = (out.last_mut(), line.strip_prefix("| `")) {
            let mut cells = row.split('|').map(str::trim);
            let name = cells.next().unwrap_or_default().trim_end_matches('`').to_string();
            let ty = cells.next().unwrap_or_default().to_string();
            last.1.push((name, ty));
        }
    }
    out
}

#[test]
fn every_table_stores_plain_types_names_its_run_and_matches_the_data_dictionary() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let report = block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    let m = manifest(out);
    let run_id = report.manifest.run_id.clone();
    // The footers: no view types, no unsigned integers, run_id first, in the run and in current/.
    let n = assert_plain(&out.join("runs").join(&run_id));
    assert!(n >= report.manifest.tables.len(), "{n} files");
    assert!(assert_plain(&out.join("current")) >= report.manifest.tables.len());
    // What polars reads back, table by table, against the data dictionary.
    let mut actual = Vec::new();
    for (name, entry) in &report.manifest.tables {
        let df = read_table(out, &m, name);
        assert!(
            strings(&df, "run_id")
                .iter()
                .all(|r| r.as_deref() == Some(run_id.as_str())),
            "{name}: every row names the run"
        );
        if entry.partitioned_by.as_deref() == Some("financial_year") {
            assert_eq!(df.column("financial_year").unwrap().dtype(), &DataType::Int32);
        }
        let cols = df
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), doc_type(c.dtype())))
            .collect::<Vec<_>>();
        actual.push((name.clone(), cols));
    }
    let mut documented = dictionary();
    documented.sort();
    let render = |t: &[(String, Vec<(String, String)>)]| {
        t.iter()
            .map(|(name, cols)| {
                let rows: String = cols.iter().map(|(c, ty)| format!("| `{c}` | {ty} | |\n")).collect();
                format!("## `{name}`\n\n{rows}")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        documented == actual,
        "docs/tables.md does not match the published tables; they are:\n{}",
        render(&actual)
    );
}

#[test]
fn current_holds_the_latest_committed_run_at_stable_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let first = block_on(run(&sample_pipeline(out), clock(0))).unwrap();
    // A file the next run does not write (a year it no longer has) must not survive the swap.
    let stale = out.join("current/projects/financial_year_1999.parquet");
    std::fs::copy(out.join(&first.manifest.tables["projects"].files[0]), &stale).unwrap();
    let second = block_on(run(&sample_pipeline(out), clock(1))).unwrap();
    let second_id = &second.manifest.run_id;
    assert!(!stale.exists(), "a file the committed run does not have is removed");
    let current: harvester::publish::Manifest =
        serde_json::from_slice(&std::fs::read(out.join("current/manifest.json")).unwrap()).unwrap();
    assert_eq!(&current.run_id, second_id);
    assert_eq!(current.tables.len(), second.manifest.tables.len());
    for (name, entry) in &current.tables {
        // Listed files are exactly the files in the folder, at stable names.
        let mut on_disk: Vec<String> = parquet_files(&out.join("current").join(name))
            .iter()
            .map(|p| p.strip_prefix(out).unwrap().to_string_lossy().replace('\\', "/"))
            .collect();
        on_disk.sort();
        let mut listed = entry.files.clone();
        listed.sort();
        assert_eq!(on_disk, listed, "{name}");
        assert!(entry.files.iter().all(|f| f.starts_with(&format!("current/{name}/"))));
        let df = read_table(out, &serde_json::to_value(&current).unwrap(), name);
        assert_eq!(df.height(), second.manifest.tables[name].rows, "{name}");
        let runs = strings(&df, "run_id");
        if harvester::publish::RUN_HISTORY_TABLES.contains(&name.as_str()) {
            // A history (the quarantine, the metrics history): each run's rows, in a file named
            // after the run.
            assert_eq!(
                listed,
                [&first.manifest.run_id, second_id].map(|r| format!("current/{name}/{r}.parquet"))
            );
            assert_eq!(
                runs.iter().filter(|r| r.as_deref() == Some(second_id)).count(),
                df.height() / 2
            );
        } else {
            assert!(
                runs.iter().all(|r| r.as_deref() == Some(second_id.as_str())),
                "{name}: current/ shows the second run only"
            );
            // The same rows as the run's own files.
            let own = read_table(out, &manifest(out), name);
            assert!(own.equals_missing(&df), "{name}");
        }
    }
    // Stable: the same paths after both runs (quarantine aside, which grows by one file).
    assert_eq!(
        current.tables["projects"].files,
        second.manifest.tables["projects"]
            .files
            .iter()
            .map(|f| f.replace(&format!("runs/{second_id}/"), "current/"))
            .collect::<Vec<_>>()
    );
}

/// The Python interpreter the README examples run with: `HARVESTER_PYTHON`, else `python3`.
fn python() -> String {
    std::env::var("HARVESTER_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Modules a Python snippet imports (top-level names), and the ones it needs without naming
/// them: polars reads Delta tables through the `deltalake` package.
fn imports(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    if code.contains("read_delta(") || code.contains("scan_delta(") {
        out.push("deltalake".to_string());
    }
    for line in code.lines().map(str::trim) {
        let names = if let Some(rest) = line.strip_prefix("import ") {
            rest.split(',')
                .map(|m| m.split_whitespace().next().unwrap_or_default().to_string())
                .collect()
        } else if let Some(rest) = line.strip_prefix("from ") {
            vec![rest.split_whitespace().next().unwrap_or_default().to_string()]
        } else {
            vec![]
        };
        out.extend(
            names
                .into_iter()
                .map(|n| n.split('.').next().unwrap_or_default().to_string())
                .filter(|n| !n.is_empty()),
        );
    }
    out.sort();
    out.dedup();
    out
}

/// Whether `python` can import every module in `modules`; the error text if not.
fn importable(modules: &[String]) -> Result<(), String> {
    let code = format!("import {}", modules.join(", "));
    match std::process::Command::new(python()).args(["-c", &code]).output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr)
            .lines()
            .last()
            .unwrap_or_default()
            .to_string()),
        Err(e) => Err(format!("{} cannot be started: {e}", python())),
    }
}

/// The fenced code blocks of README.md with the given info string.
fn readme_blocks(lang: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match &mut current {
            None if line.trim_start() == format!("```{lang}") => current = Some(String::new()),
            Some(block) if line.trim_start() == "```" => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// Whether DuckDB (the CLI, else the Python module) can install and load its delta extension.
fn duckdb_delta_extension(cli: bool, module: bool) -> Result<(), String> {
    let sql = "INSTALL delta; LOAD delta;";
    let o = match (cli, module) {
        (true, _) => std::process::Command::new("duckdb").args(["-c", sql]).output(),
        (false, true) => std::process::Command::new(python())
            .args(["-c", &format!("import duckdb; duckdb.sql({sql:?})")])
            .output(),
        (false, false) => return Err("no DuckDB".into()),
    }
    .map_err(|e| e.to_string())?;
    if o.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&o.stderr);
        Err(err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .trim()
            .to_string())
    }
}

/// The README's Python examples and DuckDB one-liners, run as written in a folder where `out/`
/// holds two sample runs. Examples whose tools are missing are skipped with the reason printed
/// (CI need not have Python); set `HARVESTER_PYTHON` to pick an interpreter.
#[test]
fn readme_examples_work_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    block_on(run(&sample_pipeline(&out), clock(0))).unwrap();
    block_on(run(&sample_pipeline(&out), clock(1))).unwrap();
    let python_blocks = readme_blocks("python");
    assert!(
        python_blocks.len() >= 2,
        "the README has pandas/pyarrow and polars examples"
    );
    let mut ran = 0;
    for code in &python_blocks {
        let modules = imports(code);
        if let Err(why) = importable(&modules) {
            eprintln!(
                "SKIPPED README Python example importing {modules:?}: {why} (set HARVESTER_PYTHON to an interpreter that has them)"
            );
            continue;
        }
        // The example runs as written; once it has finished (every assertion in it passed), the
        // interpreter leaves without its finalisation, where the `deltalake` Python package's
        // runtime threads sometimes abort ("terminate called without an active exception",
        // seen once in CI after the example had printed and asserted everything).
        let finished =
            format!("{code}\nimport os as _os, sys as _sys\n_sys.stdout.flush()\n_sys.stderr.flush()\n_os._exit(0)\n");
        let o = std::process::Command::new(python())
            .args(["-c", &finished])
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "README example failed:\n{code}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        ran += 1;
    }
    // DuckDB one-liners: `duckdb -c "<sql>"` lines in the shell examples.
    let sql: Vec<String> = readme_blocks("sh")
        .iter()
        .flat_map(|b| b.lines().map(str::to_string).collect::<Vec<_>>())
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("duckdb -c \"")?;
            Some(rest[..rest.rfind('"')?].to_string())
        })
        .collect();
    let tables = manifest(&out)["tables"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect::<Vec<_>>();
    for t in &tables {
        assert!(
            sql.iter().any(|q| q.contains(&format!("out/current/{t}/*.parquet"))),
            "the README has a DuckDB one-liner for {t}"
        );
    }
    let cli = std::process::Command::new("duckdb").arg("--version").output().is_ok();
    let module = importable(&["duckdb".to_string()]);
    if let (false, Err(why)) = (cli, &module) {
        eprintln!("SKIPPED README DuckDB one-liners: no `duckdb` on PATH and no Python duckdb module ({why})");
    }
    // `delta_scan` needs DuckDB's delta extension, which DuckDB downloads on first use.
    let delta_ext = duckdb_delta_extension(cli, module.is_ok());
    for q in sql.iter().filter(|_| cli || module.is_ok()) {
        if let (true, Err(why)) = (q.contains("delta_scan("), &delta_ext) {
            eprintln!("SKIPPED README DuckDB example {q}: the delta extension cannot be loaded ({why})");
            continue;
        }
        let o = if cli {
            std::process::Command::new("duckdb")
                .args(["-c", q])
                .current_dir(tmp.path())
                .output()
        } else {
            let code = "import duckdb, sys\nprint(duckdb.sql(sys.argv[1]).fetchall()[:3])";
            std::process::Command::new(python())
                .args(["-c", code, q])
                .current_dir(tmp.path())
                .output()
        }
        .unwrap();
        assert!(
            o.status.success(),
            "README DuckDB example failed: {q}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        ran += 1;
    }
    eprintln!("ran {ran} README examples");
}

//! Run history in an embedded SQLite database (rusqlite, bundled SQLite: nothing to install).
//!
//! Every run is recorded — scheduled, triggered through the API, or started from the command
//! line — with its parameters, status, timings, input checksums, output manifest and error. The
//! database survives restarts; a run still marked `running` when the service starts was cut off
//! by a crash or a kill and is marked `interrupted`.

use crate::domain::location::redact_text;
use rusqlite::{params, Connection, OptionalExtension};
use rusqlite_migration::{Migrations, M};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

/// Why the history could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// SQLite reported an error.
    #[error("run history {path}: {source}")]
    Sqlite {
        /// Database file.
        path: String,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The schema could not be brought up to date.
    #[error("run history {path}: cannot update its schema: {source}")]
    Migration {
        /// Database file.
        path: String,
        /// What the migration reported.
        source: rusqlite_migration::Error,
    },
    /// The database folder could not be created.
    #[error("run history {path}: cannot create its folder: {source}")]
    Folder {
        /// Database file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// How a run was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// By the scheduler.
    Schedule,
    /// Through the HTTP API.
    Api,
    /// From the command line.
    Cli,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Api => "api",
            Trigger::Cli => "cli",
        }
    }
}

/// One row of the history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    /// Run id.
    pub run_id: String,
    /// Pipeline name.
    pub pipeline: String,
    /// `schedule`, `api` or `cli`.
    pub trigger: String,
    /// Parameters as JSON text.
    pub parameters: serde_json::Value,
    /// `running`, `succeeded`, `failed`, `cancelled` or `interrupted`.
    pub status: String,
    /// Start time, RFC 3339 UTC.
    pub started_at: String,
    /// End time, RFC 3339 UTC.
    pub finished_at: Option<String>,
    /// Wall time in seconds.
    pub duration_secs: Option<f64>,
    /// Inputs with their sha256, as JSON.
    pub inputs: serde_json::Value,
    /// Path of the committed manifest, relative to the publish location.
    pub manifest: Option<String>,
    /// Rows read over all sources.
    pub rows_in: Option<i64>,
    /// Rows published in the projects table.
    pub rows_out: Option<i64>,
    /// Rows quarantined (rejected).
    pub rows_quarantined: Option<i64>,
    /// The error, for failed runs.
    pub error: Option<String>,
    /// Each finished stage's own wall time (`[{"stage": "link", "secs": 3.1}, ...]`).
    pub stages: serde_json::Value,
}

/// How a run ended.
#[derive(Debug, Clone, Default)]
pub struct Finish {
    /// Final status.
    pub status: &'static str,
    /// End time, RFC 3339 UTC.
    pub finished_at: String,
    /// Wall time in seconds.
    pub duration_secs: f64,
    /// Inputs as JSON.
    pub inputs: serde_json::Value,
    /// Manifest path.
    pub manifest: Option<String>,
    /// Rows read.
    pub rows_in: Option<i64>,
    /// Rows published.
    pub rows_out: Option<i64>,
    /// Rows quarantined.
    pub rows_quarantined: Option<i64>,
    /// Error text.
    pub error: Option<String>,
    /// Each finished stage's own wall time.
    pub stages: Vec<crate::progress::StageTime>,
}

/// The history database.
pub struct History {
    conn: Mutex<Connection>,
    path: String,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History").field("path", &self.path).finish()
    }
}

/// Version 1: the runs table as first released.
const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    pipeline TEXT NOT NULL,
    trigger TEXT NOT NULL,
    parameters TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    duration_secs REAL,
    inputs TEXT NOT NULL DEFAULT '[]',
    manifest TEXT,
    rows_in INTEGER,
    rows_out INTEGER,
    rows_quarantined INTEGER,
    error TEXT
);
CREATE INDEX IF NOT EXISTS runs_pipeline_started ON runs (pipeline, started_at);
";

/// The history's schema, one step per version (SQLite's `user_version` says which have run).
/// Only ever append: a released step is never edited.
const MIGRATIONS: &[M<'static>] = &[
    M::up(SCHEMA_V1),
    // 2: the host and process of a run, so a run left `running` by a process that is gone can
    // be told from one still in flight.
    M::up("ALTER TABLE runs ADD COLUMN host TEXT; ALTER TABLE runs ADD COLUMN pid INTEGER;"),
    // 3: each stage's own wall time, JSON (`[{"stage": "link", "secs": 3.1}, ...]`).
    M::up("ALTER TABLE runs ADD COLUMN stages TEXT;"),
];

/// A database written before migrations (`user_version` 0) already holds some steps: which.
fn adopt_unversioned(conn: &Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let column = |name: &str| -> rusqlite::Result<bool> {
        conn.query_row(
            "SELECT COUNT(*) FROM pragma_table_info('runs') WHERE name = ?1",
            params![name],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
    };
    if version != 0 || !column("run_id")? {
        return Ok(());
    }
    let held = if column("pid")? { 2 } else { 1 };
    conn.pragma_update(None, "user_version", held)
}

/// Brings the schema to the latest version. A database written by a newer harvester (a higher
/// version) is used as it is: later steps only add columns, and every query names its columns.
fn migrate(conn: &mut Connection, file: &str) -> Result<(), HistoryError> {
    let sql = |source| HistoryError::Sqlite {
        path: file.to_string(),
        source,
    };
    let migration = |source| HistoryError::Migration {
        path: file.to_string(),
        source,
    };
    adopt_unversioned(conn).map_err(sql)?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(sql)?;
    if version > MIGRATIONS.len() as i64 {
        tracing::warn!(path = %file, version, known = MIGRATIONS.len(), "the run history was written by a newer harvester; using it as it is");
        return Ok(());
    }
    Migrations::from_slice(MIGRATIONS).to_latest(conn).map_err(migration)
}

impl History {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<History, HistoryError> {
        let display = path.display().to_string();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| HistoryError::Folder {
                path: display.clone(),
                source,
            })?;
        }
        let sql = |source| HistoryError::Sqlite {
            path: display.clone(),
            source,
        };
        let mut conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(sql)?;
        conn.execute_batch("PRAGMA journal_mode = WAL;").map_err(sql)?;
        migrate(&mut conn, &display)?;
        Ok(History {
            conn: Mutex::new(conn),
            path: display,
        })
    }

    /// Opens the database like [`History::open`], but a file that is not a readable SQLite
    /// database (damaged, or something else written over it) never stops every later run: it is
    /// renamed to `<name>.unreadable-<time>` (with its `-wal` and `-shm` files) and a new, empty
    /// history is started. The second value says what was set aside. A database that is only
    /// busy or cannot be reached is still an error.
    pub fn open_or_set_aside(
        path: &Path,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(History, Option<String>), HistoryError> {
        match History::open(path) {
            Ok(h) => Ok((h, None)),
            Err(HistoryError::Sqlite {
                source: rusqlite::Error::SqliteFailure(e, _),
                ..
            }) if matches!(
                e.code,
                rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
            ) =>
            {
                let stamp = now.format("%Y%m%dT%H%M%S%3fZ");
                let aside = |suffix: &str| {
                    let mut from = path.as_os_str().to_owned();
                    from.push(suffix);
                    let mut to = path.as_os_str().to_owned();
                    to.push(format!(".unreadable-{stamp}{suffix}"));
                    (std::path::PathBuf::from(from), std::path::PathBuf::from(to))
                };
                let (from, to) = aside("");
                std::fs::rename(&from, &to).map_err(|source| HistoryError::Folder {
                    path: path.display().to_string(),
                    source,
                })?;
                for suffix in ["-wal", "-shm"] {
                    let (from, to) = aside(suffix);
                    if from.exists() {
                        let _ = std::fs::rename(from, to);
                    }
                }
                let note = format!(
                    "the run history {} could not be read ({}); it was set aside as {} and a new history was started",
                    path.display(),
                    e,
                    to.display()
                );
                tracing::warn!(path = %path.display(), moved_to = %to.display(), "the run history cannot be read; set aside, starting a new one");
                Ok((History::open(path)?, Some(note)))
            }
            Err(e) => Err(e),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, HistoryError> {
        let conn = self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&conn).map_err(|source| HistoryError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }

    /// Marks runs left `running` by a previous service process (scheduled and API runs), and
    /// command-line runs whose process is gone ([`History::mark_dead`]), as `interrupted`;
    /// returns how many. Command-line runs still in flight are left alone.
    pub fn mark_interrupted(&self, now: &str) -> Result<usize, HistoryError> {
        let service = self.with(|c| {
            c.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ?1, error = 'the process stopped while the run was in flight' WHERE status = 'running' AND trigger != 'cli'",
                params![now],
            )
        })?;
        Ok(service + self.mark_dead(now)?)
    }

    /// Marks runs left `running` by a process of this host that no longer exists as
    /// `interrupted` (a `harvester run` killed with -9, a machine that lost power); returns how
    /// many. Runs of live processes, of other hosts, or recorded before processes were (no
    /// pid) are left alone.
    pub fn mark_dead(&self, now: &str) -> Result<usize, HistoryError> {
        let running: Vec<(String, Option<String>, Option<i64>)> = self.with(|c| {
            let mut stmt = c.prepare("SELECT run_id, host, pid FROM runs WHERE status = 'running'")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })?;
        let mut n = 0;
        for (run_id, host, pid) in running {
            let (Some(host), Some(pid)) = (host, pid.and_then(|p| u32::try_from(p).ok())) else {
                continue;
            };
            if crate::publish::lock::process_gone(&host, pid) {
                n += self.with(|c| {
                    c.execute(
                        "UPDATE runs SET status = 'interrupted', finished_at = ?2, error = ?3 WHERE run_id = ?1 AND status = 'running'",
                        params![run_id, now, format!("process {pid} on {host} ended while the run was in flight")],
                    )
                })?;
            }
        }
        Ok(n)
    }

    /// Records a run as started.
    pub fn start(
        &self,
        run_id: &str,
        pipeline: &str,
        trigger: Trigger,
        parameters: &serde_json::Value,
        started_at: &str,
    ) -> Result<(), HistoryError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO runs (run_id, pipeline, trigger, parameters, status, started_at, host, pid) VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?7)",
                params![run_id, pipeline, trigger.as_str(), redact_text(&parameters.to_string()), started_at, crate::publish::lock::host_name(), i64::from(std::process::id())],
            )
            .map(|_| ())
        })
    }

    /// Records how a run ended.
    pub fn finish(&self, run_id: &str, f: &Finish) -> Result<(), HistoryError> {
        self.with(|c| {
            c.execute(
                "UPDATE runs SET status = ?2, finished_at = ?3, duration_secs = ?4, inputs = ?5, manifest = ?6, rows_in = ?7, rows_out = ?8, rows_quarantined = ?9, error = ?10, stages = ?11 WHERE run_id = ?1",
                params![run_id, f.status, f.finished_at, f.duration_secs, redact_text(&f.inputs.to_string()), f.manifest, f.rows_in, f.rows_out, f.rows_quarantined, f.error.as_deref().map(redact_text), serde_json::to_string(&f.stages).unwrap_or_default()],
            )
            .map(|_| ())
        })
    }

    /// One run.
    pub fn get(&self, run_id: &str) -> Result<Option<RunRow>, HistoryError> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM runs WHERE run_id = ?1"),
                params![run_id],
                row_to_run,
            )
            .optional()
        })
    }

    /// The latest runs, newest first, optionally for one pipeline.
    pub fn list(&self, pipeline: Option<&str>, limit: usize) -> Result<Vec<RunRow>, HistoryError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM runs WHERE (?1 IS NULL OR pipeline = ?1) ORDER BY started_at DESC, run_id DESC LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![pipeline, limit as i64], row_to_run)?;
            rows.collect()
        })
    }
}

/// Aggregates per pipeline, for the `/metrics` endpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PipelineStats {
    /// Runs by status.
    pub by_status: BTreeMap<String, i64>,
    /// Sum of run durations (finished runs), seconds.
    pub duration_sum_secs: f64,
    /// Number of finished runs with a duration.
    pub duration_count: i64,
    /// Rows read by succeeded runs.
    pub rows_in: i64,
    /// Rows published by succeeded runs.
    pub rows_out: i64,
    /// Rows quarantined by succeeded runs.
    pub rows_quarantined: i64,
    /// Start time of the latest succeeded run, RFC 3339.
    pub last_success: Option<String>,
}

impl History {
    /// Per-pipeline aggregates over the whole history.
    pub fn stats(&self) -> Result<BTreeMap<String, PipelineStats>, HistoryError> {
        self.with(|c| {
            let mut out: BTreeMap<String, PipelineStats> = BTreeMap::new();
            let mut stmt = c.prepare("SELECT pipeline, status, COUNT(*) FROM runs GROUP BY pipeline, status")?;
            for row in stmt.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
            })? {
                let (p, status, n) = row?;
                out.entry(p).or_default().by_status.insert(status, n);
            }
            let mut stmt = c.prepare(
                "SELECT pipeline, COALESCE(SUM(duration_secs), 0), COUNT(duration_secs),
                        COALESCE(SUM(CASE WHEN status = 'succeeded' THEN rows_in END), 0),
                        COALESCE(SUM(CASE WHEN status = 'succeeded' THEN rows_out END), 0),
                        COALESCE(SUM(CASE WHEN status = 'succeeded' THEN rows_quarantined END), 0),
                        MAX(CASE WHEN status = 'succeeded' THEN finished_at END)
                 FROM runs GROUP BY pipeline",
            )?;
            for row in stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, f64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })? {
                let (p, dsum, dcount, rin, rout, rq, last) = row?;
                let e = out.entry(p).or_default();
                e.duration_sum_secs = dsum;
                e.duration_count = dcount;
                e.rows_in = rin;
                e.rows_out = rout;
                e.rows_quarantined = rq;
                e.last_success = last;
            }
            Ok(out)
        })
    }
}

const COLUMNS: &str = "run_id, pipeline, trigger, parameters, status, started_at, finished_at, duration_secs, inputs, manifest, rows_in, rows_out, rows_quarantined, error, stages";

fn row_to_run(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    let json = |s: String| serde_json::from_str(&s).unwrap_or(serde_json::Value::Null);
    Ok(RunRow {
        run_id: r.get(0)?,
        pipeline: r.get(1)?,
        trigger: r.get(2)?,
        parameters: json(r.get(3)?),
        status: r.get(4)?,
        started_at: r.get(5)?,
        finished_at: r.get(6)?,
        duration_secs: r.get(7)?,
        inputs: json(r.get(8)?),
        manifest: r.get(9)?,
        rows_in: r.get(10)?,
        rows_out: r.get(11)?,
        rows_quarantined: r.get(12)?,
        error: r.get(13)?,
        stages: r
            .get::<_, Option<String>>(14)?
            .map_or(serde_json::Value::Array(vec![]), json),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_survive_reopening_and_in_flight_ones_become_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h/history.sqlite");
        {
            let h = History::open(&path).unwrap();
            h.start(
                "r1",
                "sample",
                Trigger::Cli,
                &serde_json::json!({}),
                "2026-11-22T00:00:00Z",
            )
            .unwrap();
            h.finish(
                "r1",
                &Finish {
                    status: "succeeded",
                    finished_at: "2026-11-22T00:00:01Z".into(),
                    duration_secs: 1.0,
                    rows_in: Some(10),
                    ..Finish::default()
                },
            )
            .unwrap();
            h.start(
                "r2",
                "sample",
                Trigger::Api,
                &serde_json::json!({"financial_years": ["2024/25"]}),
                "2026-11-22T00:01:00Z",
            )
            .unwrap();
        }
        let h = History::open(&path).unwrap();
        assert_eq!(h.mark_interrupted("2026-11-22T00:02:00Z").unwrap(), 1);
        let runs = h.list(Some("sample"), 10).unwrap();
        assert_eq!(
            runs.iter()
                .map(|r| (r.run_id.as_str(), r.status.as_str()))
                .collect::<Vec<_>>(),
            [("r2", "interrupted"), ("r1", "succeeded")]
        );
        assert_eq!(runs[0].parameters["financial_years"][0], "2024/25");
        assert_eq!(h.get("r1").unwrap().unwrap().rows_in, Some(10));
        assert!(h.get("nope").unwrap().is_none());
    }

    /// A history written before migrations existed: today's table (with `host` and `pid`, or
    /// the first release's without them) and `user_version` 0.
    fn unversioned(path: &Path, with_pid: bool) {
        let c = Connection::open(path).unwrap();
        c.execute_batch(SCHEMA_V1).unwrap();
        if with_pid {
            c.execute_batch("ALTER TABLE runs ADD COLUMN host TEXT; ALTER TABLE runs ADD COLUMN pid INTEGER;")
                .unwrap();
        }
        c.execute(
            "INSERT INTO runs (run_id, pipeline, trigger, parameters, status, started_at, finished_at, duration_secs, rows_in) VALUES ('old', 'sample', 'cli', '{}', 'succeeded', '2026-11-01T02:00:00Z', '2026-11-01T02:00:09Z', 9.5, 217)",
            [],
        )
        .unwrap();
    }

    #[test]
    fn a_history_from_before_migrations_opens_and_is_migrated() {
        for with_pid in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("history.sqlite");
            unversioned(&path, with_pid);
            let h = History::open(&path).unwrap();
            let old = h.get("old").unwrap().expect("the old run is kept");
            assert_eq!(
                (old.status.as_str(), old.rows_in, old.duration_secs),
                ("succeeded", Some(217), Some(9.5))
            );
            assert_eq!(old.stages, serde_json::json!([]));
            h.start(
                "new",
                "sample",
                Trigger::Cli,
                &serde_json::json!({}),
                "2026-11-22T02:00:00Z",
            )
            .unwrap();
            let stages = vec![crate::progress::StageTime {
                stage: crate::progress::Stage::Link,
                secs: 2.5,
            }];
            let finish = Finish {
                status: "succeeded",
                stages,
                ..Finish::default()
            };
            h.finish("new", &finish).unwrap();
            assert_eq!(
                h.get("new").unwrap().unwrap().stages,
                serde_json::json!([{"stage": "link", "secs": 2.5}])
            );
            drop(h);
            let c = Connection::open(&path).unwrap();
            let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
            assert_eq!(version, MIGRATIONS.len() as i64, "with_pid {with_pid}");
            // Opening again changes nothing.
            assert_eq!(History::open(&path).unwrap().list(None, 10).unwrap().len(), 2);
        }
    }

    #[test]
    fn a_history_from_a_newer_harvester_is_used_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.sqlite");
        drop(History::open(&path).unwrap());
        let c = Connection::open(&path).unwrap();
        c.execute_batch("ALTER TABLE runs ADD COLUMN later TEXT; PRAGMA user_version = 99;")
            .unwrap();
        drop(c);
        let h = History::open(&path).unwrap();
        h.start("r", "p", Trigger::Cli, &serde_json::json!({}), "2026-11-22T02:00:00Z")
            .unwrap();
        assert_eq!(h.list(None, 10).unwrap().len(), 1);
    }

    #[test]
    fn an_unreadable_history_is_set_aside_and_a_new_one_started() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.sqlite");
        let garbage = b"this is not a database, it is an HTML error page: <html></html> ".repeat(100);
        std::fs::write(&path, &garbage).unwrap();
        assert!(History::open(&path).is_err(), "the plain open refuses it");
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-22T02:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let (h, note) = History::open_or_set_aside(&path, now).unwrap();
        let aside = dir.path().join("history.sqlite.unreadable-20261122T020000000Z");
        assert_eq!(std::fs::read(&aside).unwrap(), garbage, "kept as it was");
        let note = note.expect("a note says what happened");
        assert!(note.contains(&format!("set aside as {}", aside.display())), "{note}");
        h.start("r1", "p", Trigger::Cli, &serde_json::json!({}), "2026-11-22T02:00:00Z")
            .unwrap();
        assert_eq!(h.list(None, 10).unwrap().len(), 1);
        // A good database is opened as it is.
        drop(h);
        let (h, note) = History::open_or_set_aside(&path, now).unwrap();
        assert!(note.is_none());
        assert_eq!(h.list(None, 10).unwrap().len(), 1);
    }
}

//! Logging to stderr: text for a person at a terminal, one JSON object per line for log
//! shippers (journald, Kubernetes, Loki, Elastic).
//!
//! The format is chosen by `--log-format` / `HARVESTER_LOG_FORMAT`; without either it is JSON
//! when stderr is not a terminal or when harvester runs under systemd (`JOURNAL_STREAM`,
//! `INVOCATION_ID`) or Kubernetes (`KUBERNETES_SERVICE_HOST`), else text. Colours are used only
//! on a terminal (and never with `NO_COLOR`), so files and pipes get no escape codes. Every line
//! written while a run is being polled carries its `run_id`, `pipeline` and `stage`
//! ([`crate::progress::log_context`]); lines are written around a progress bar on screen.

use crate::progress;
use std::fmt;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{self, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-11-22T02:00:01.234Z [link]  INFO harvester::run: linked links=812`.
    Text,
    /// `{"timestamp":"…","level":"INFO","target":"harvester::run","stage":"link","message":"linked","links":812}`.
    Json,
}

/// The format when none is asked for: JSON unless stderr is a terminal outside systemd and
/// Kubernetes. `env` reads an environment variable.
pub fn default_format(stderr_is_terminal: bool, env: impl Fn(&str) -> Option<String>) -> LogFormat {
    let managed = ["JOURNAL_STREAM", "INVOCATION_ID", "KUBERNETES_SERVICE_HOST"]
        .iter()
        .any(|k| env(k).is_some_and(|v| !v.is_empty()));
    if managed || !stderr_is_terminal {
        LogFormat::Json
    } else {
        LogFormat::Text
    }
}

/// Whether colours may be used: only on a terminal, and not with `NO_COLOR` set.
pub fn use_colour(stderr_is_terminal: bool, env: impl Fn(&str) -> Option<String>) -> bool {
    stderr_is_terminal && env("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Whether log lines are JSON (set by [`init`]), for [`say`].
static JSON_LINES: AtomicBool = AtomicBool::new(false);

/// A message from the command itself to the operator on stderr (a warning, a shutdown notice,
/// why a run failed), written whatever the log level: in the log format, so a JSON log stream
/// stays all JSON (`{"level":"ERROR","target":"harvester","message":…}`); as text it reads
/// `error: …`, `warning: …` or `harvester: …`.
pub fn say(level: tracing::Level, text: &str) {
    let line = if JSON_LINES.load(Ordering::SeqCst) {
        serde_json::json!({
            "timestamp": now(),
            "level": level.as_str(),
            "target": "harvester",
            "message": text,
        })
        .to_string()
    } else {
        let prefix = match level {
            tracing::Level::ERROR => "error",
            tracing::Level::WARN => "warning",
            _ => "harvester",
        };
        format!("{prefix}: {text}")
    };
    progress::suspend(|| {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    });
}

/// Starts logging to stderr at `info` (`verbose`) or `warn`; `RUST_LOG` overrides the level.
pub fn init(verbose: bool, format: Option<LogFormat>) {
    let env = |k: &str| std::env::var(k).ok();
    let terminal = std::io::stderr().is_terminal();
    let format = format.unwrap_or_else(|| default_format(terminal, env));
    let default = if verbose { "harvester=info" } else { "harvester=warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    JSON_LINES.store(format == LogFormat::Json, Ordering::SeqCst);
    let colour = format == LogFormat::Text && use_colour(terminal, env);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(|| StderrAroundBars);
    let _ = match format {
        LogFormat::Text => builder
            .event_format(TextLine {
                inner: format::format().without_time().with_ansi(colour),
                colour,
            })
            .try_init(),
        LogFormat::Json => builder.event_format(JsonLine).try_init(),
    };
}

/// Stderr, with the progress bar on screen (if any) cleared while a line is written.
struct StderrAroundBars;

impl Write for StderrAroundBars {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        progress::suspend(|| std::io::stderr().lock().write_all(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The text line: time, `[stage]` while a run is in one, then tracing's own format.
struct TextLine {
    inner: format::Format<format::Full, ()>,
    colour: bool,
}

impl<S, N> FormatEvent<S, N> for TextLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let (dim, reset) = if self.colour { ("\x1b[2m", "\x1b[0m") } else { ("", "") };
        write!(writer, "{dim}{}{reset} ", now())?;
        if let Some(stage) = progress::log_context().and_then(|(_, _, s)| s) {
            write!(writer, "[{}] ", stage.as_str())?;
        }
        self.inner.format_event(ctx, writer.by_ref(), event)
    }
}

/// One JSON object per line: `timestamp`, `level`, `target`, the run's `run_id`, `pipeline`
/// and `stage` when a run is being polled, `message`, then the event's own fields.
struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        writeln!(writer, "{}", json_line(event))
    }
}

fn json_line(event: &Event<'_>) -> serde_json::Value {
    use serde_json::Value;
    let meta = event.metadata();
    let mut line = serde_json::Map::new();
    line.insert("timestamp".into(), Value::from(now()));
    line.insert("level".into(), Value::from(meta.level().as_str()));
    line.insert("target".into(), Value::from(meta.target()));
    if let Some((run_id, pipeline, stage)) = progress::log_context() {
        line.insert("run_id".into(), Value::from(run_id));
        if let Some(p) = pipeline {
            line.insert("pipeline".into(), Value::from(p));
        }
        if let Some(s) = stage {
            line.insert("stage".into(), Value::from(s.as_str()));
        }
    }
    event.record(&mut JsonFields(&mut line));
    Value::Object(line)
}

/// Collects an event's fields as JSON values (numbers stay numbers).
struct JsonFields<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl Visit for JsonFields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let v = serde_json::Number::from_f64(value).map_or_else(|| value.to_string().into(), Into::into);
        self.0.insert(field.name().into(), v);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn json_unless_a_person_is_at_a_terminal() {
        assert_eq!(default_format(true, env(&[])), LogFormat::Text);
        assert_eq!(default_format(false, env(&[])), LogFormat::Json);
        assert_eq!(default_format(true, env(&[("INVOCATION_ID", "abc")])), LogFormat::Json);
        assert_eq!(
            default_format(true, env(&[("JOURNAL_STREAM", "8:123")])),
            LogFormat::Json
        );
        assert_eq!(
            default_format(true, env(&[("KUBERNETES_SERVICE_HOST", "10.0.0.1")])),
            LogFormat::Json
        );
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, env(&[])));
        assert!(!use_colour(false, env(&[])), "a pipe or file never gets escape codes");
        assert!(!use_colour(true, env(&[("NO_COLOR", "1")])));
    }
}

//! The service's Prometheus metrics (prometheus-client), kept in the process.
//!
//! Counters only grow: they count runs as they end in this process (a restart starts them at
//! zero again, which Prometheus' `rate()` and `increase()` expect), never figures re-read from
//! the history, which could go down. Durations are histograms (run and per stage). Runs in
//! flight are a gauge. `/metrics` answers in the OpenMetrics format when the scraper asks for
//! it, else in the Prometheus text format (0.0.4) that `promtool check metrics` accepts.

use crate::progress::{Stage, StageTime};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;

/// How a run ended, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Published.
    Succeeded,
    /// Failed before publishing.
    Failed,
    /// Cancelled through the API.
    Cancelled,
    /// Stopped by SIGTERM/SIGINT.
    Interrupted,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 4] = [
        Outcome::Succeeded,
        Outcome::Failed,
        Outcome::Cancelled,
        Outcome::Interrupted,
    ];

    /// The status as in the history and the `status` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
            Outcome::Interrupted => "interrupted",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PipelineLabel {
    pipeline: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    pipeline: String,
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    pipeline: String,
    stage: String,
}

/// Buckets for run and stage durations, seconds: 0.1 s to 2 h.
fn duration_histogram() -> Histogram {
    Histogram::new([
        0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0,
    ])
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// What one run that ended contributes to the metrics.
#[derive(Debug, Clone, Default)]
pub struct RunFigures {
    /// Wall time, seconds.
    pub secs: f64,
    /// Each stage's own seconds.
    pub stages: Vec<StageTime>,
    /// Rows read (succeeded runs).
    pub rows_in: u64,
    /// Project rows published (succeeded runs).
    pub rows_out: u64,
    /// Rows quarantined (succeeded runs).
    pub rows_quarantined: u64,
    /// Unix time the run finished, seconds.
    pub finished_unix: f64,
}

/// The registry and its metrics.
#[derive(Debug)]
pub struct Telemetry {
    registry: Registry,
    runs: Family<StatusLabels, Counter>,
    running: Family<PipelineLabel, Gauge>,
    run_secs: Histograms<StatusLabels>,
    stage_secs: Histograms<StageLabels>,
    rows_in: Family<PipelineLabel, Counter>,
    rows_out: Family<PipelineLabel, Counter>,
    rows_quarantined: Family<PipelineLabel, Counter>,
    last_success: Family<PipelineLabel, Gauge<f64, AtomicU64>>,
}

impl Telemetry {
    /// Metrics for these pipelines, every series present from the start (at zero).
    pub fn new<'a>(pipelines: impl IntoIterator<Item = &'a str>) -> Telemetry {
        let mut t = Telemetry {
            registry: Registry::with_prefix("harvester"),
            runs: Family::default(),
            running: Family::default(),
            run_secs: Family::new_with_constructor(duration_histogram),
            stage_secs: Family::new_with_constructor(duration_histogram),
            rows_in: Family::default(),
            rows_out: Family::default(),
            rows_quarantined: Family::default(),
            last_success: Family::default(),
        };
        let r = &mut t.registry;
        r.register(
            "runs",
            "Runs that ended in this process, by pipeline and final status",
            t.runs.clone(),
        );
        r.register("running", "Runs in flight, by pipeline", t.running.clone());
        r.register_with_unit(
            "run_duration",
            "Wall time of runs that ended, by pipeline and final status",
            Unit::Seconds,
            t.run_secs.clone(),
        );
        r.register_with_unit(
            "stage_duration",
            "Each stage's own wall time, by pipeline and stage",
            Unit::Seconds,
            t.stage_secs.clone(),
        );
        r.register("rows_in", "Rows read by succeeded runs", t.rows_in.clone());
        r.register(
            "rows_out",
            "Project rows published by succeeded runs",
            t.rows_out.clone(),
        );
        r.register(
            "rows_quarantined",
            "Rows quarantined by succeeded runs",
            t.rows_quarantined.clone(),
        );
        r.register(
            "last_success_timestamp_seconds",
            "Unix time at which the latest succeeded run finished (0 if none since start)",
            t.last_success.clone(),
        );
        for p in pipelines {
            let pl = PipelineLabel {
                pipeline: p.to_string(),
            };
            let _ = t.running.get_or_create(&pl);
            let _ = t.rows_in.get_or_create(&pl);
            let _ = t.rows_out.get_or_create(&pl);
            let _ = t.rows_quarantined.get_or_create(&pl);
            let _ = t.last_success.get_or_create(&pl);
            for o in Outcome::ALL {
                let sl = StatusLabels {
                    pipeline: p.to_string(),
                    status: o.as_str().into(),
                };
                let _ = t.runs.get_or_create(&sl);
                let _ = t.run_secs.get_or_create(&sl);
            }
            for s in Stage::ALL {
                let _ = t.stage_secs.get_or_create(&StageLabels {
                    pipeline: p.to_string(),
                    stage: s.as_str().into(),
                });
            }
        }
        t
    }

    /// Sets when `pipeline` last succeeded (from the history, at start-up): a gauge, so it may
    /// be read back from state.
    pub fn last_success(&self, pipeline: &str, unix_secs: f64) {
        self.last_success
            .get_or_create(&PipelineLabel {
                pipeline: pipeline.into(),
            })
            .set(unix_secs);
    }

    /// A run of `pipeline` started.
    pub fn started(&self, pipeline: &str) {
        self.running
            .get_or_create(&PipelineLabel {
                pipeline: pipeline.into(),
            })
            .inc();
    }

    /// A run of `pipeline` ended.
    pub fn ended(&self, pipeline: &str, outcome: Outcome, f: &RunFigures) {
        let pl = PipelineLabel {
            pipeline: pipeline.into(),
        };
        self.running.get_or_create(&pl).dec();
        let sl = StatusLabels {
            pipeline: pipeline.into(),
            status: outcome.as_str().into(),
        };
        self.runs.get_or_create(&sl).inc();
        self.run_secs.get_or_create(&sl).observe(f.secs);
        for t in &f.stages {
            let l = StageLabels {
                pipeline: pipeline.into(),
                stage: t.stage.as_str().into(),
            };
            self.stage_secs.get_or_create(&l).observe(t.secs);
        }
        if outcome == Outcome::Succeeded {
            self.rows_in.get_or_create(&pl).inc_by(f.rows_in);
            self.rows_out.get_or_create(&pl).inc_by(f.rows_out);
            self.rows_quarantined.get_or_create(&pl).inc_by(f.rows_quarantined);
            self.last_success.get_or_create(&pl).set(f.finished_unix);
        }
    }

    /// The OpenMetrics text.
    pub fn openmetrics(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        out
    }

    /// The Prometheus text format (0.0.4): as OpenMetrics, but a counter's `HELP` and `TYPE`
    /// name its samples' `_total` name, and without the OpenMetrics-only `UNIT` and `EOF` lines.
    pub fn prometheus_text(&self) -> String {
        to_prometheus_text(&self.openmetrics())
    }
}

/// Rewrites prometheus-client's OpenMetrics text as Prometheus text.
fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::BTreeSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(name).then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_named_alike_in_help_type_and_samples() {
        let t = Telemetry::new(["sample"]);
        t.started("sample");
        t.ended(
            "sample",
            Outcome::Succeeded,
            &RunFigures {
                secs: 3.0,
                rows_in: 10,
                ..RunFigures::default()
            },
        );
        let text = t.prometheus_text();
        assert!(text.contains("# TYPE harvester_runs_total counter\n"), "{text}");
        assert!(
            text.contains("harvester_runs_total{pipeline=\"sample\",status=\"succeeded\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE harvester_run_duration_seconds histogram\n"),
            "{text}"
        );
        assert!(
            text.contains("harvester_rows_in_total{pipeline=\"sample\"} 10\n"),
            "{text}"
        );
        assert!(text.contains("harvester_running{pipeline=\"sample\"} 0\n"), "{text}");
        assert!(!text.contains("# EOF") && !text.contains("# UNIT"), "{text}");
        assert!(t.openmetrics().ends_with("# EOF\n"));
    }
}

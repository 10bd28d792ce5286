//! Where a run is: its stage, how far through it, and how long each stage took on its own.
//!
//! One [`Progress`] per run, shared by the run (which moves it on), the service (`/runs/{id}`
//! shows a [`Snapshot`]; `/metrics` gets each stage's seconds), the logs (every line written
//! while the run is being polled carries its `stage` and `run_id`, see [`log_context`]) and, when
//! `harvester run` writes to a terminal, an indicatif bar for each stage that lasts longer than a
//! second. Stages are timed one by one, so a stage's seconds never include the stages before it.

use serde::Serialize;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The stages of a run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Fetching, reading and validating every source.
    Fetch,
    /// Linking records across datasets, municipality by municipality.
    Link,
    /// Comparing the amounts of linked records year by year.
    Variances,
    /// Alignment metrics.
    Metrics,
    /// Exceptions and the registers (previous state read here).
    Exceptions,
    /// Writing the tables, the report and the manifest.
    Publish,
}

impl Stage {
    /// Every stage, in run order.
    pub const ALL: [Stage; 6] = [
        Stage::Fetch,
        Stage::Link,
        Stage::Variances,
        Stage::Metrics,
        Stage::Exceptions,
        Stage::Publish,
    ];

    /// The stage's name in logs, the API and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Fetch => "fetch",
            Stage::Link => "link",
            Stage::Variances => "variances",
            Stage::Metrics => "metrics",
            Stage::Exceptions => "exceptions",
            Stage::Publish => "publish",
        }
    }

    /// What the stage counts, for the bar and the API.
    fn unit(self) -> &'static str {
        match self {
            Stage::Fetch => "sources",
            Stage::Link => "municipality blocks",
            Stage::Publish => "tables",
            Stage::Variances | Stage::Metrics | Stage::Exceptions => "steps",
        }
    }

    fn code(self) -> u8 {
        Stage::ALL.iter().position(|s| *s == self).map_or(0, |i| i as u8 + 1)
    }

    fn from_code(code: u8) -> Option<Stage> {
        Stage::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }
}

/// One finished stage and its own wall time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StageTime {
    /// The stage.
    pub stage: Stage,
    /// Its own wall time, in seconds.
    pub secs: f64,
}

/// What `/runs/{id}` shows of a run in flight.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// The stage the run is in (`None` before the first and after the last).
    pub stage: Option<Stage>,
    /// Units of the stage done (sources, municipality blocks, tables).
    pub done: u64,
    /// Units of the stage in all, when known.
    pub total: Option<u64>,
    /// What the units are.
    pub unit: Option<&'static str>,
    /// Seconds spent in the current stage so far.
    pub stage_secs: f64,
    /// The stages already finished, each with its own seconds.
    pub finished: Vec<StageTime>,
}

/// Stages shorter than this get no bar.
const BAR_AFTER: Duration = Duration::from_secs(1);

/// Whether `harvester run` draws bars (set once, when stderr is a terminal).
static BARS: AtomicBool = AtomicBool::new(false);

/// The bar on screen, if any: log lines are written around it (see [`suspend`]).
static VISIBLE: Mutex<Option<indicatif::ProgressBar>> = Mutex::new(None);

/// Draws a bar for every stage longer than a second on stderr from now on (call only when
/// stderr is a terminal).
pub fn enable_bars() {
    BARS.store(true, Ordering::SeqCst);
}

/// Runs `f` (writing a log line) with the bar on screen, if any, cleared and redrawn after.
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    let bar = VISIBLE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    match bar {
        Some(b) => b.suspend(f),
        None => f(),
    }
}

/// A run's progress; see the module documentation.
#[derive(Debug)]
pub struct Progress {
    run_id: String,
    pipeline: OnceLock<String>,
    /// The current stage's code (0: none), read by every log line without a lock.
    stage: AtomicU8,
    done: AtomicU64,
    /// Pairs of records compared by the linker (the benchmark's pairs per second).
    pairs: AtomicU64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    started: Option<Instant>,
    total: Option<u64>,
    finished: Vec<StageTime>,
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// The progress of run `run_id`, before its first stage. On a terminal with bars enabled a
    /// thread redraws the bar until the run ends.
    pub fn new(run_id: &str) -> Arc<Progress> {
        let p = Arc::new(Progress {
            run_id: run_id.to_string(),
            pipeline: OnceLock::new(),
            stage: AtomicU8::new(0),
            done: AtomicU64::new(0),
            pairs: AtomicU64::new(0),
            state: Mutex::new(State::default()),
        });
        if BARS.load(Ordering::SeqCst) {
            let weak = Arc::downgrade(&p);
            let _ = std::thread::Builder::new()
                .name("progress".into())
                .spawn(move || redraw(&weak));
        }
        p
    }

    /// The run's id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Pairs of records the linker compared in this run.
    pub fn pairs_compared(&self) -> u64 {
        self.pairs.load(Ordering::Relaxed)
    }

    /// Names the pipeline (once), for log lines.
    pub fn set_pipeline(&self, name: &str) {
        let _ = self.pipeline.set(name.to_string());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The current stage.
    pub fn stage(&self) -> Option<Stage> {
        Stage::from_code(self.stage.load(Ordering::SeqCst))
    }

    /// Ends the current stage (logging its own seconds) and starts `stage` with `total` units.
    pub fn begin(&self, stage: Stage, total: Option<u64>) {
        self.end_stage();
        let bar = BARS.load(Ordering::SeqCst).then(|| new_bar(stage, total));
        let mut st = self.lock();
        st.started = Some(Instant::now());
        st.total = total;
        st.bar = bar;
        self.done.store(0, Ordering::SeqCst);
        self.stage.store(stage.code(), Ordering::SeqCst);
    }

    /// Sets the current stage's total once it is known (linking counts its blocks).
    pub fn set_total(&self, total: u64) {
        let mut st = self.lock();
        st.total = Some(total);
        if let Some(b) = &st.bar {
            set_style(b, true);
            b.set_length(total);
        }
    }

    /// Counts `n` more units of the current stage done (safe from any thread).
    pub fn advance(&self, n: u64) {
        self.done.fetch_add(n, Ordering::SeqCst);
    }

    /// Sets how many units of the current stage are done.
    pub fn set_done(&self, n: u64) {
        self.done.store(n, Ordering::SeqCst);
    }

    /// Ends the last stage; the run is over.
    pub fn finish(&self) {
        self.end_stage();
    }

    fn end_stage(&self) {
        let ended = {
            let mut st = self.lock();
            let Some(stage) = Stage::from_code(self.stage.swap(0, Ordering::SeqCst)) else {
                return;
            };
            let secs = st.started.take().map_or(0.0, |t| t.elapsed().as_secs_f64());
            st.finished.push(StageTime { stage, secs });
            if let Some(b) = st.bar.take() {
                hide(&b);
            }
            StageTime { stage, secs }
        };
        // Logged after the lock is released: the log line reads the stage itself.
        tracing::info!(
            stage = ended.stage.as_str(),
            secs = ended.secs,
            done = self.done.load(Ordering::SeqCst),
            "stage finished"
        );
    }

    /// The finished stages with their own seconds.
    pub fn stages(&self) -> Vec<StageTime> {
        self.lock().finished.clone()
    }

    /// Where the run is now, for the API.
    pub fn snapshot(&self) -> Snapshot {
        let st = self.lock();
        let stage = self.stage();
        Snapshot {
            stage,
            done: self.done.load(Ordering::SeqCst),
            total: st.total,
            unit: stage.map(Stage::unit),
            stage_secs: st.started.map_or(0.0, |t| t.elapsed().as_secs_f64()),
            finished: st.finished.clone(),
        }
    }

    /// One redraw: shows the bar once its stage has lasted [`BAR_AFTER`], then moves it on.
    fn redraw(&self) {
        let st = self.lock();
        let (Some(bar), Some(started)) = (&st.bar, st.started) else {
            return;
        };
        if bar.is_hidden() && started.elapsed() >= BAR_AFTER {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            *VISIBLE.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(bar.clone());
        }
        bar.set_position(self.done.load(Ordering::SeqCst));
    }
}

fn new_bar(stage: Stage, total: Option<u64>) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(total, indicatif::ProgressDrawTarget::hidden());
    set_style(&bar, total.is_some());
    bar.set_prefix(stage.as_str());
    bar.set_message(stage.unit());
    bar
}

/// A bar with a length once the total is known, else a spinner.
fn set_style(bar: &indicatif::ProgressBar, counted: bool) {
    let template = if counted {
        "{prefix:>10} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}"
    } else {
        "{prefix:>10} [{elapsed_precise}] {spinner}"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
}

fn hide(bar: &indicatif::ProgressBar) {
    let mut visible = VISIBLE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    bar.finish_and_clear();
    *visible = None;
}

/// The bar thread: redraws ten times a second until the run's progress is dropped or finished.
fn redraw(progress: &Weak<Progress>) {
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let Some(p) = progress.upgrade() else { return };
        p.redraw();
    }
}

/// What linking sees of the run: its cancel flag, and the progress it moves on per
/// municipality block.
pub struct LinkWatch<'a> {
    progress: &'a Progress,
    cancel: &'a AtomicBool,
}

impl<'a> LinkWatch<'a> {
    /// Linking for a run with this progress and cancel flag.
    pub fn new(progress: &'a Progress, cancel: &'a AtomicBool) -> Self {
        Self { progress, cancel }
    }
}

impl crate::reconcile::LinkObserver for LinkWatch<'_> {
    fn blocks(&self, total: u64) {
        self.progress.set_total(total);
    }

    fn block_done(&self) {
        self.progress.advance(1);
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    fn pairs_compared(&self, pairs: u64) {
        self.progress.pairs.fetch_add(pairs, Ordering::Relaxed);
    }
}

thread_local! {
    /// The run being polled on this thread (see [`Staged`]).
    static CURRENT: RefCell<Option<Arc<Progress>>> = const { RefCell::new(None) };
}

/// What a log line written on this thread says about the run being polled: run id, pipeline
/// and stage.
pub fn log_context() -> Option<(String, Option<String>, Option<Stage>)> {
    CURRENT
        .try_with(|c| {
            c.borrow()
                .as_ref()
                .map(|p| (p.run_id.clone(), p.pipeline.get().cloned(), p.stage()))
        })
        .ok()
        .flatten()
}

/// A run's future that makes its progress the thread's current one while it is polled (so log
/// lines carry the stage) and ends the last stage when the run ends, however it ends.
pub struct Staged<F> {
    inner: Pin<Box<F>>,
    progress: Arc<Progress>,
}

impl<F> Staged<F> {
    /// Wraps a run's future.
    pub fn new(inner: F, progress: Arc<Progress>) -> Self {
        Self {
            inner: Box::pin(inner),
            progress,
        }
    }
}

impl<F: Future> Future for Staged<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let previous = CURRENT.with(|c| c.replace(Some(Arc::clone(&this.progress))));
        let out = this.inner.as_mut().poll(cx);
        if out.is_ready() {
            this.progress.finish();
        }
        CURRENT.with(|c| *c.borrow_mut() = previous);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stage_is_timed_on_its_own() {
        let p = Progress::new("r1");
        p.begin(Stage::Fetch, Some(2));
        p.advance(1);
        std::thread::sleep(Duration::from_millis(30));
        let snap = p.snapshot();
        assert_eq!((snap.stage, snap.done, snap.total), (Some(Stage::Fetch), 1, Some(2)));
        p.begin(Stage::Link, None);
        std::thread::sleep(Duration::from_millis(5));
        p.finish();
        let stages = p.stages();
        assert_eq!(
            stages.iter().map(|s| s.stage).collect::<Vec<_>>(),
            [Stage::Fetch, Stage::Link]
        );
        assert!(stages[0].secs >= 0.03, "{stages:?}");
        assert!(
            stages[1].secs < stages[0].secs,
            "link is timed from its own start: {stages:?}"
        );
        assert_eq!(p.stage(), None);
    }

    #[test]
    fn log_lines_see_the_stage_only_while_the_run_is_polled() {
        let p = Progress::new("r2");
        p.set_pipeline("sample");
        let inner = Arc::clone(&p);
        let fut = Staged::new(
            async move {
                inner.begin(Stage::Metrics, None);
                log_context()
            },
            Arc::clone(&p),
        );
        let seen = futures::executor::block_on(fut);
        assert_eq!(seen, Some(("r2".into(), Some("sample".into()), Some(Stage::Metrics))));
        assert_eq!(log_context(), None);
        assert_eq!(p.stages().len(), 1, "the last stage ends with the run");
    }
}

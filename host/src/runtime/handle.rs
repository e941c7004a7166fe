//! Starting a job and the handle to a running one: stop, drain, cancel, savepoints,
//! wait for its report.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, anyhow};
use crossbeam_channel::Sender;

use super::coordinator::{CheckpointStats, Request};
use super::functions::prepare_all;
use super::metrics::Metrics;
use super::options::{JobError, RunOptions, StartFrom};
use super::plan::plan;
use super::report::JobReport;
use super::state_dir::StateDir;
use super::stop::StopSignal;
use super::supervisor::{Shared, Supervisor};
use crate::checkpoint::{CheckpointStore, Restore, load};
use crate::manifest::Job;

/// A running job.
pub struct JobHandle {
    cancel: Arc<AtomicBool>,
    stop: Arc<StopSignal>,
    requests: Sender<Request>,
    checkpoints: bool,
    started: Option<String>,
    metrics: Arc<Metrics>,
    stats: Arc<Mutex<CheckpointStats>>,
    restore_ms: Arc<Mutex<Option<f64>>>,
    running: Arc<super::query::Running>,
    restarts: Arc<Mutex<Vec<String>>>,
    done: std::thread::JoinHandle<Result<JobReport, JobError>>,
}

impl JobHandle {
    /// Stops the job as Flink's `stop` does: sources stop reading, what was read flows to
    /// the sinks and is committed, windows that have not ended are not fired. With
    /// checkpoints, this takes a savepoint first (the sources stop right after it), and
    /// the next run resumes from it.
    pub fn stop(&self) {
        stop(&self.stop, &self.requests, &self.cancel, self.checkpoints);
    }

    /// Stops the job as if its inputs had ended: what was read flows to the sinks, the
    /// watermark goes to the end of time and every window fires.
    pub fn drain(&self) {
        self.stop.drain();
    }

    /// Cancels the job: tasks stop where they are, and outputs are not committed.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// A function that stops the job (for signal handlers).
    pub fn stopper(&self) -> impl Fn() + Send + 'static {
        let (s, r, c, k) = (
            self.stop.clone(),
            self.requests.clone(),
            self.cancel.clone(),
            self.checkpoints,
        );
        move || stop(&s, &r, &c, k)
    }

    /// A function that cancels the job (for signal handlers).
    pub fn canceller(&self) -> impl Fn() + Send + 'static {
        let cancel = self.cancel.clone();
        move || cancel.store(true, Ordering::Relaxed)
    }

    /// Takes a savepoint into `dir` (or the job's checkpoint folder) and waits for it;
    /// with `stop`, the job stops right after it.
    pub fn savepoint(&self, dir: Option<PathBuf>, stop: bool) -> anyhow::Result<PathBuf> {
        savepoint(&self.requests, dir, stop)
    }

    /// What the run said when it started (resuming from a checkpoint, starting fresh).
    pub fn started(&self) -> Option<&str> {
        self.started.as_deref()
    }

    /// The job's counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The run's checkpoint history.
    pub fn checkpoint_stats(&self) -> &Arc<Mutex<CheckpointStats>> {
        &self.stats
    }

    /// How long the last restore took, in milliseconds (none yet if it did not restore).
    pub fn restore_ms(&self) -> Option<f64> {
        *self.restore_ms.lock().expect("restore time")
    }

    /// Swaps operator `req.operator`'s function and waits for the outcome: the swap's
    /// record once every instance switched, or why it was refused (the old version keeps
    /// running).
    pub fn swap(&self, req: super::swap::SwapRequest) -> anyhow::Result<super::swap::SwapRecord> {
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.requests
            .send(Request::Swap { req, reply })
            .map_err(|_| anyhow!("the job has ended"))?;
        answer
            .recv()
            .map_err(|_| anyhow!("the job ended before the swap"))?
            .map_err(|e| anyhow!(e))
    }

    /// Reads state `state` of `key` in operator `operator` while the job runs.
    pub fn query_state(
        &self,
        operator: &str,
        state: &str,
        key: &[u8],
    ) -> Result<super::query::StateAnswer, super::query::QueryError> {
        super::query::read_state(&self.running, operator, state, key)
    }

    /// The failures the job restarted after so far, oldest first (each the error that
    /// failed the attempt, with its causes).
    pub fn restarts(&self) -> Vec<String> {
        self.restarts.lock().expect("restarts").clone()
    }

    /// Whether the job has ended.
    pub fn is_finished(&self) -> bool {
        self.done.is_finished()
    }

    /// Waits for the job to end.
    pub fn wait(self) -> Result<JobReport, JobError> {
        self.done
            .join()
            .unwrap_or_else(|_| Err(JobError::Failed(anyhow!("the job supervisor panicked"))))
    }
}

/// Asks the coordinator for a savepoint and waits for it.
pub fn savepoint(
    requests: &Sender<Request>,
    dir: Option<PathBuf>,
    stop: bool,
) -> anyhow::Result<PathBuf> {
    let (reply, answer) = crossbeam_channel::bounded(1);
    requests
        .send(Request::Savepoint { dir, stop, reply })
        .map_err(|_| anyhow!("the job has ended"))?;
    answer
        .recv()
        .map_err(|_| anyhow!("the job ended before the savepoint completed"))?
        .map_err(|e| anyhow!(e))
}

fn stop(
    signal: &Arc<StopSignal>,
    requests: &Sender<Request>,
    cancel: &Arc<AtomicBool>,
    checkpoints: bool,
) {
    if !checkpoints {
        signal.stop();
        return;
    }
    // With checkpoints, output after the last one would be committed by a plain stop
    // and produced again by the run that resumes: stop at a savepoint instead.
    let (requests, cancel) = (requests.clone(), cancel.clone());
    std::thread::spawn(move || match savepoint(&requests, None, true) {
        Ok(p) => tracing::info!("stopped at the savepoint {}", p.display()),
        Err(e) => {
            tracing::error!(
                "the savepoint to stop at failed ({e:#}): cancelling; a new run resumes from the latest checkpoint"
            );
            cancel.store(true, Ordering::Relaxed);
        }
    });
}

/// Runs `job` to its end.
pub fn run(job: Job, options: RunOptions) -> Result<JobReport, JobError> {
    start(job, options)?.wait()
}

/// Starts `job`: locks its state directory, compiles its functions, finds the snapshot
/// it starts from, and starts its tasks. Fails before any record is read if a function
/// cannot be loaded or the snapshot cannot be restored.
pub fn start(job: Job, options: RunOptions) -> Result<JobHandle, JobError> {
    let state_dir = StateDir::lock(&job.state_dir)?;
    let (functions, wasm) = prepare_all(&job, &options)?;
    let (restore, started) = start_point(&job, &options)?;
    if let Some(r) = &restore {
        let dropped = r.check(&job, options.allow_non_restored_state)?;
        if !dropped.is_empty() {
            tracing::warn!(
                "not restoring the state of {} (no node of the manifest has the uid)",
                dropped.join(", ")
            );
        }
    }
    if let Some(s) = &started {
        tracing::info!("{s}");
    }
    let (requests_tx, requests) = crossbeam_channel::unbounded();
    let shared = Shared {
        metrics: Arc::new(Metrics::default()),
        stop: Arc::new(StopSignal::default()),
        cancel: Arc::new(AtomicBool::new(false)),
        next_id: Arc::new(AtomicU64::new(1)),
        stats: Arc::default(),
        requests,
        restarts: Arc::default(),
        restore_ms: Arc::default(),
        running: Arc::default(),
    };
    let handle_parts = (
        shared.cancel.clone(),
        shared.stop.clone(),
        shared.metrics.clone(),
        shared.stats.clone(),
        shared.restore_ms.clone(),
        shared.running.clone(),
        shared.restarts.clone(),
    );
    let checkpoints = job.checkpoint.is_some();
    let swap_log: Arc<Mutex<Vec<super::swap::SwapRecord>>> =
        Arc::new(Mutex::new(super::swap::read_log(&job.state_dir)));
    let control = if options.control {
        Some(start_control(&job, &shared, &requests_tx, &swap_log)?)
    } else {
        None
    };
    let supervisor = Supervisor {
        wasm,
        swap_log: swap_log.clone(),
        plan: plan(&job),
        job,
        options,
        functions,
        state_dir,
        restore,
    };
    let done = std::thread::Builder::new()
        .name(format!("weir-{}", supervisor.job.name))
        .spawn(move || {
            let result = supervisor.run(&shared);
            drop(control);
            result
        })
        .map_err(|e| JobError::Failed(e.into()))?;
    Ok(JobHandle {
        cancel: handle_parts.0,
        stop: handle_parts.1,
        requests: requests_tx,
        checkpoints,
        started,
        metrics: handle_parts.2,
        stats: handle_parts.3,
        restore_ms: handle_parts.4,
        running: handle_parts.5,
        restarts: handle_parts.6,
        done,
    })
}

/// Serves the job's control endpoint.
fn start_control(
    job: &Job,
    shared: &Shared,
    requests: &Sender<Request>,
    swaps: &Arc<Mutex<Vec<super::swap::SwapRecord>>>,
) -> anyhow::Result<crate::control::ControlServer> {
    let token = match &job.control.token_env {
        Some(var) => Some(
            std::env::var(var)
                .with_context(|| format!("job.control.token_env names {var}, which is not set"))?,
        ),
        None => None,
    };
    let state = Arc::new(crate::control::ControlState {
        job: job.clone(),
        requests: requests.clone(),
        metrics: shared.metrics.clone(),
        stats: shared.stats.clone(),
        restarts: shared.restarts.clone(),
        started_at_ms: super::clock::epoch_ms(),
        token,
        swaps: swaps.clone(),
        running: shared.running.clone(),
        samples: Default::default(),
    });
    crate::control::ControlServer::start(
        &job.control.bind,
        job.control.token_env.as_deref(),
        state,
        &super::state_dir::control_file(&job.state_dir),
    )
}

/// The snapshot a run starts from, and what to tell the user about it.
fn start_point(
    job: &Job,
    options: &RunOptions,
) -> anyhow::Result<(Option<Restore>, Option<String>)> {
    let store = CheckpointStore::new(&job.checkpoint_dir);
    match &options.start_from {
        StartFrom::Snapshot(path) => {
            let found = load(path).with_context(|| format!("restoring {}", path.display()))?;
            let m = &found.metadata;
            let say = format!(
                "restoring {} {} of job `{}` from {}, {}",
                kind_word(m.kind),
                m.id,
                m.job,
                found.base.display(),
                summary(m)
            );
            store.clear_finished()?;
            Ok((Some(Restore { found }), Some(say)))
        }
        StartFrom::Fresh => {
            let complete = store.complete()?;
            if complete.is_empty() {
                store.clear_finished()?;
                return Ok((None, None));
            }
            let aside = job.checkpoint_dir.with_file_name(format!(
                "{}.set-aside-{}",
                job.checkpoint_dir
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            ));
            std::fs::rename(&job.checkpoint_dir, &aside)
                .with_context(|| format!("setting {} aside", job.checkpoint_dir.display()))?;
            Ok((
                None,
                Some(format!(
                    "starting fresh: {} checkpoint(s) ({}) set aside in {}",
                    complete.len(),
                    complete
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    aside.display()
                )),
            ))
        }
        StartFrom::Latest => {
            let (found, skipped) = store.latest()?;
            for (id, why) in &skipped {
                tracing::warn!("checkpoint {id} cannot be used: {why}");
            }
            match found {
                Some(found) => {
                    let m = &found.metadata;
                    let mut say = format!(
                        "resuming from {} {} taken {}, {}",
                        kind_word(m.kind),
                        m.id,
                        time_of(m.taken_at_ms),
                        summary(m)
                    );
                    if !skipped.is_empty() {
                        say.push_str(&format!(
                            " (skipped newer checkpoint(s) {} that cannot be used)",
                            skipped
                                .iter()
                                .map(|(id, _)| id.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                    Ok((Some(Restore { found }), Some(say)))
                }
                None => match store.finished()? {
                    Some(f) => {
                        store.clear_finished()?;
                        Ok((
                            None,
                            Some(format!(
                                "the last run of job `{}` ran to its end (snapshot {} taken {}): starting fresh",
                                job.name,
                                f.id,
                                time_of(f.taken_at_ms)
                            )),
                        ))
                    }
                    None => Ok((None, None)),
                },
            }
        }
    }
}

fn kind_word(k: crate::checkpoint::SnapshotKind) -> &'static str {
    match k {
        crate::checkpoint::SnapshotKind::Checkpoint => "checkpoint",
        crate::checkpoint::SnapshotKind::Savepoint => "savepoint",
        crate::checkpoint::SnapshotKind::Final => "final snapshot",
        crate::checkpoint::SnapshotKind::Swap => "swap",
    }
}

/// "4 operators, 3 with keyed state", for messages.
fn summary(m: &crate::checkpoint::Metadata) -> String {
    let mut nodes: BTreeMap<&str, bool> = BTreeMap::new();
    for i in &m.instances {
        *nodes.entry(&i.uid).or_default() |= i.keyed.is_some();
    }
    let keyed = nodes.values().filter(|&&k| k).count();
    format!("{} nodes, {keyed} with keyed state", nodes.len())
}

/// An epoch-millisecond time for people (RFC 3339, UTC).
pub fn time_of(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

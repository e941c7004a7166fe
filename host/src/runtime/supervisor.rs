//! Running a job's attempts: each attempt's tasks on the blocking pool of a tokio runtime
//! with the checkpoint coordinator beside them; when a task fails, the restart strategy
//! decides, and the next attempt restores the latest complete checkpoint. When every task
//! has finished, the job's last snapshot commits the sinks' last output.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};

use super::attempt::{Inputs, build};
use super::coordinator::{CheckpointStats, Coordinator, Ended, Request, commit_pending};
use super::exchange::Cancelled;
use super::functions::PreparedFn;
use super::metrics::{Counts, Metrics};
use super::options::{JobError, RunOptions, root_error};
use super::plan::Plan;
use super::report::JobReport;
use super::state_dir::StateDir;
use super::stop::StopSignal;
use super::swapping::CanaryRollback;
use crate::checkpoint::{
    CheckpointStore, Metadata, Restarter, Restore, SnapshotKind, metadata::FORMAT,
};
use crate::manifest::{Job, NodeKind, OperatorKind};
use crate::operator::{Finish, OperatorReport};

/// What a finished attempt leaves: the tasks' reports, the coordinator's end, and how
/// the sources ended.
type AttemptEnd = (Vec<(usize, OperatorReport)>, Ended, Finish);

/// What a running job shares with its handle and its control endpoint.
pub struct Shared {
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Stop or drain.
    pub stop: Arc<StopSignal>,
    /// Set by the user: cancel now.
    pub cancel: Arc<AtomicBool>,
    /// The id the next snapshot takes.
    pub next_id: Arc<AtomicU64>,
    /// Checkpoint history of the run.
    pub stats: Arc<Mutex<CheckpointStats>>,
    /// Savepoint requests.
    pub requests: crossbeam_channel::Receiver<Request>,
    /// The restarts so far, for status.
    pub restarts: Arc<Mutex<Vec<String>>>,
    /// How long the last restore took (milliseconds): state read back and instances
    /// started, before the first record.
    pub restore_ms: Arc<Mutex<Option<f64>>>,
    /// The running attempt, for queries of its state.
    pub running: Arc<super::query::Running>,
}

/// Everything a run needs, prepared before it starts.
pub struct Supervisor {
    /// The job.
    pub job: Job,
    /// How it runs.
    pub options: RunOptions,
    /// Its tasks.
    pub plan: Plan,
    /// Its functions (as the manifest names them).
    pub functions: HashMap<usize, PreparedFn>,
    /// The engine they were prepared with.
    pub wasm: Arc<crate::operator::WasmFunctions>,
    /// Every swap of the run.
    pub swap_log: Arc<Mutex<Vec<super::swap::SwapRecord>>>,
    /// Its locked state directory.
    pub state_dir: StateDir,
    /// Where it starts.
    pub restore: Option<Restore>,
}

impl Supervisor {
    /// Runs attempts until the job ends, fails for good, or is cancelled.
    pub fn run(self, shared: &Shared) -> Result<JobReport, JobError> {
        let started = Instant::now();
        let store = CheckpointStore::new(&self.job.checkpoint_dir);
        let mut restarter = Restarter::new(self.job.restart.clone());
        let mut restore = self.restore.clone();
        if restore.is_none() {
            self.set_aside_earlier_output().map_err(JobError::Failed)?;
        }
        loop {
            let attempt_cancel = Arc::new(AtomicBool::new(false));
            let outcome = self.attempt(restore.as_ref(), shared, &attempt_cancel);
            match outcome {
                Ok((reports, ended, how)) => {
                    let next = shared.next_id.load(Ordering::SeqCst);
                    self.finish(&store, &ended, how, next)
                        .map_err(JobError::Failed)?;
                    let mut report = self.report(shared, reports, started.elapsed());
                    report.stopped = how == Finish::Stopped;
                    report.restarts = restarter.history.len();
                    report.resumed = self.restore.as_ref().map(|r| {
                        let m = &r.found.metadata;
                        let read = m
                            .instances
                            .iter()
                            .filter(|i| i.role == crate::checkpoint::Role::Source)
                            .filter_map(|i| i.counters.get("records_in"))
                            .sum();
                        (m.id, read)
                    });
                    if !self.options.keep_state {
                        let _ = std::fs::remove_dir_all(self.state_dir.work());
                    }
                    return Ok(report);
                }
                Err(e) if e.downcast_ref::<CanaryRollback>().is_some() => {
                    // Not a failure: back to the swap's checkpoint (the latest: none is
                    // taken while a canary is watched), which runs the old version.
                    tracing::warn!("{e:#}; restoring the swap's checkpoint");
                    match store.latest() {
                        Ok((Some(found), _)) => restore = Some(Restore { found }),
                        Ok((None, _)) => {
                            return Err(JobError::Failed(
                                e.context("no checkpoint to roll back to"),
                            ));
                        }
                        Err(e) => return Err(JobError::Failed(e)),
                    }
                }
                Err(e) => {
                    if shared.cancel.load(Ordering::Relaxed) || is_cancelled(&e) {
                        return Err(root_error(e));
                    }
                    let at = started.elapsed().as_millis() as u64;
                    let message = format!("{e:#}");
                    let Some(delay) = restarter.failed(at, message.clone()) else {
                        if restarter.history.len() > 1 {
                            return Err(JobError::GaveUp {
                                last: Box::new(root_error(e)),
                                failures: restarter.history.len(),
                                history: restarter.describe(),
                            });
                        }
                        return Err(root_error(e));
                    };
                    tracing::warn!(
                        "the job failed ({}); restarting in {} ms: {message}",
                        restarter.history.len(),
                        delay.as_millis()
                    );
                    shared.restarts.lock().expect("restarts").push(message);
                    if !sleep_unless_cancelled(delay, &shared.cancel) {
                        return Err(JobError::Failed(anyhow!("the job was cancelled")));
                    }
                    // Start again from the latest complete checkpoint (or where the run
                    // started, if none completed since).
                    match store.latest() {
                        Ok((Some(found), skipped)) => {
                            for (id, why) in skipped {
                                tracing::warn!("skipping checkpoint {id}: {why}");
                            }
                            restore = Some(Restore { found });
                        }
                        Ok((None, _)) => {}
                        Err(e) => return Err(JobError::Failed(e)),
                    }
                }
            }
        }
    }

    /// One attempt: builds it, runs its tasks and coordinator, returns the tasks'
    /// reports and how it ended.
    fn attempt(
        &self,
        restore: Option<&Restore>,
        shared: &Shared,
        cancel: &Arc<AtomicBool>,
    ) -> anyhow::Result<AttemptEnd> {
        let restoring = Instant::now();
        if let Some(r) = restore {
            self.prepare_restore(r, shared)?;
        } else {
            shared.metrics.restart_from(BTreeMap::new());
        }
        crate::connector::kafka::prepare(&self.job, restore)?;
        let work = self.state_dir.fresh_work()?;
        // Operators a restored snapshot says run a swapped-in version run that version.
        let versions = restore
            .map(|r| r.found.metadata.versions.clone())
            .unwrap_or_default();
        let mut functions = self.functions.clone();
        for (i, n) in self.job.nodes.iter().enumerate() {
            if let (Some(v), NodeKind::Operator(o)) = (versions.get(&n.uid), &n.kind) {
                tracing::info!(
                    "operator `{}` runs the version swapped in (sha256:{}), not the manifest's",
                    n.name,
                    &v.hash[..v.hash.len().min(12)]
                );
                functions.insert(
                    i,
                    super::functions::prepare_version(&self.wasm, n, o, v).with_context(|| {
                        format!("operator `{}`: its swapped-in version", n.name)
                    })?,
                );
            }
        }
        let attempt = build(Inputs {
            job: &self.job,
            options: &self.options,
            plan: &self.plan,
            functions: &functions,
            restore,
            work,
            metrics: &shared.metrics,
            cancel,
            stop: &shared.stop,
            next_id: &shared.next_id,
        })?;
        super::crash::crash_point("restore");
        let swap_ctx = Arc::new(super::swap::SwapContext {
            job: self.job.clone(),
            wasm: self.wasm.clone(),
            targets: attempt.targets,
            running: Mutex::new(
                functions
                    .iter()
                    .filter_map(|(i, p)| super::functions::version_of(p).map(|v| (*i, v)))
                    .collect(),
            ),
            components: self.state_dir.root().join("components"),
            metrics: shared.metrics.clone(),
        });
        *shared.running.lock().expect("running attempt") = Arc::downgrade(&swap_ctx);
        if restore.is_some() {
            *shared.restore_ms.lock().expect("restore time") =
                Some(restoring.elapsed().as_secs_f64() * 1e3);
        }
        let coordinator = Coordinator {
            job: self.job.name.clone(),
            manifest_hash: self.options.manifest_hash.clone(),
            max_parallelism: self.job.max_parallelism,
            store: CheckpointStore::new(&self.job.checkpoint_dir),
            config: self.job.checkpoint.clone(),
            registry: attempt.registry.clone(),
            controls: attempt.controls,
            sources: attempt.sources,
            not_ready: attempt.not_ready,
            reports: attempt.reports,
            requests: shared.requests.clone(),
            next_id: shared.next_id.clone(),
            stop: shared.stop.clone(),
            stats: shared.stats.clone(),
            sync_ms: 0.0,
            held_ms: 0.0,
            swaps: super::swapping::Swaps::new(swap_ctx, versions, self.swap_log.clone()),
            cancel: cancel.clone(),
        };
        let coordinator = std::thread::Builder::new()
            .name("weir-coordinator".into())
            .spawn(move || coordinator.run())
            .context("starting the coordinator")?;
        let reports = run_tasks(attempt.tasks, cancel, &shared.cancel);
        let ended = match coordinator
            .join()
            .map_err(|_| anyhow!("the checkpoint coordinator panicked"))?
        {
            Ok(ended) => ended,
            Err(e) => match e.downcast::<CanaryRollback>() {
                // A task failed while a canary was watched: its error is the reason.
                Ok(mut rollback) => {
                    if let Some(u) = rollback.unjudged.take() {
                        if let Err(task) = &reports {
                            rollback.why = format!("a task failed: {task:#}");
                        }
                        (*u).roll_back(&rollback.why);
                    }
                    return Err(rollback.into());
                }
                Err(e) => return Err(e),
            },
        };
        let reports = reports?;
        let how = shared.stop.requested().unwrap_or(Finish::Drained);
        Ok((reports, ended, how))
    }

    /// A run that starts from the beginning does not add to the committed output of an
    /// earlier run: a sink folder holding committed parts is renamed aside (nothing
    /// committed is deleted).
    fn set_aside_earlier_output(&self) -> anyhow::Result<()> {
        if self.job.checkpoint.is_none() {
            return Ok(());
        }
        for n in &self.job.nodes {
            if let NodeKind::Sink {
                kind: crate::manifest::SinkKind::File { path, .. },
                ..
            } = &n.kind
                && path.is_dir()
                && !crate::connector::committed_parts(path)?.is_empty()
            {
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let aside = path.with_file_name(format!(
                    "{}.previous-{stamp}",
                    path.file_name().unwrap_or_default().to_string_lossy()
                ));
                std::fs::rename(path, &aside)
                    .with_context(|| format!("setting {} aside", path.display()))?;
                tracing::warn!(
                    "sink `{}`: the output of an earlier run is set aside in {} (this run starts from the beginning)",
                    n.name,
                    aside.display()
                );
            }
        }
        Ok(())
    }

    /// Before an attempt that restores `r`: its sinks' pending parts are committed and
    /// anything else uncommitted is removed; the counters start from its counts.
    fn prepare_restore(&self, r: &Restore, shared: &Shared) -> anyhow::Result<()> {
        let m = &r.found.metadata;
        crate::connector::commit_parts(m.pending_parts())
            .context("committing the restored snapshot's pending output")?;
        for n in &self.job.nodes {
            if let NodeKind::Sink {
                kind: crate::manifest::SinkKind::File { path, .. },
                ..
            } = &n.kind
                && path.is_dir()
            {
                let removed = crate::connector::clean_uncommitted(path, &[])?;
                if removed > 0 {
                    tracing::info!(
                        "sink `{}`: removed {removed} uncommitted part(s) of the failed run",
                        n.name
                    );
                }
            }
        }
        let counters: BTreeMap<String, Counts> = r
            .counters(&self.job)
            .iter()
            .map(|(k, v)| (k.clone(), Counts::from_map(v)))
            .collect();
        shared.metrics.restart_from(counters);
        shared
            .next_id
            .fetch_max(m.id + 1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// After every task finished: with checkpoints, a job whose input ended takes its
    /// final snapshot (committing the sinks' last parts) and retires its checkpoints; a
    /// stopped one commits what its last savepoint left.
    fn finish(
        &self,
        store: &CheckpointStore,
        ended: &Ended,
        how: Finish,
        next_id: u64,
    ) -> anyhow::Result<()> {
        if self.job.checkpoint.is_none() {
            return Ok(());
        }
        if how == Finish::Stopped {
            return commit_pending(&ended.finals);
        }
        let id = store.next_id()?.max(next_id);
        let dir = store.begin(id)?;
        let metadata = Metadata {
            format: FORMAT,
            id,
            kind: SnapshotKind::Final,
            job: self.job.name.clone(),
            manifest_hash: self.options.manifest_hash.clone(),
            taken_at_ms: super::clock::epoch_ms(),
            duration_ms: 0,
            max_parallelism: self.job.max_parallelism,
            states: Vec::new(),
            instances: ended.finals.clone(),
            finished: true,
            external: None,
            versions: Default::default(),
        };
        let retain = self.job.checkpoint.as_ref().map_or(1, |c| c.retain);
        store.complete_in(&dir, &metadata, retain)?;
        super::crash::crash_point("metadata-written");
        commit_pending(&ended.finals)?;
        store.retire(&metadata)?;
        Ok(())
    }

    fn report(
        &self,
        shared: &Shared,
        reports: Vec<(usize, OperatorReport)>,
        elapsed: Duration,
    ) -> JobReport {
        let mut broadcast_states = BTreeMap::new();
        for (op, n) in self.job.nodes.iter().enumerate() {
            if matches!(&n.kind, NodeKind::Operator(o) if matches!(o.kind, OperatorKind::Broadcast { .. }))
            {
                let states: Vec<(u64, usize)> = reports
                    .iter()
                    .filter(|(i, _)| *i == op)
                    .filter_map(|(_, r)| r.broadcast_state)
                    .collect();
                broadcast_states.insert(n.name.clone(), states);
            }
        }
        JobReport::new(&self.job, &shared.metrics, elapsed, broadcast_states)
    }
}

/// Runs every task on the blocking pool of a tokio runtime; the first failure cancels
/// the others (through `cancel`), as does the user's cancellation.
fn run_tasks(
    tasks: Vec<super::task::TaskInstance>,
    cancel: &Arc<AtomicBool>,
    user_cancel: &Arc<AtomicBool>,
) -> anyhow::Result<Vec<(usize, OperatorReport)>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(tasks.len() + 8)
        .thread_name("weir-task")
        .enable_time()
        .build()?;
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for t in tasks {
            let name = t.name.clone();
            set.spawn_blocking(move || t.run().with_context(|| format!("task {name}")));
        }
        let mut first: Option<anyhow::Error> = None;
        let mut reports = Vec::new();
        loop {
            let next = tokio::time::timeout(Duration::from_millis(50), set.join_next()).await;
            let r = match next {
                Err(_) => {
                    if user_cancel.load(Ordering::Relaxed) {
                        cancel.store(true, Ordering::Relaxed);
                    }
                    continue;
                }
                Ok(None) => break,
                Ok(Some(r)) => r,
            };
            match r {
                Ok(Ok(rep)) => reports.extend(rep),
                Ok(Err(e)) => {
                    cancel.store(true, Ordering::Relaxed);
                    // Keep the error that caused the cancellation, not its echoes.
                    match &first {
                        Some(f) if !is_cancelled(f) => {}
                        Some(_) if is_cancelled(&e) => {}
                        _ => first = Some(e),
                    }
                }
                Err(join) => {
                    cancel.store(true, Ordering::Relaxed);
                    first.get_or_insert_with(|| anyhow!("a task panicked: {join}"));
                }
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(reports),
        }
    })
}

fn is_cancelled(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<Cancelled>().is_some())
}

/// Sleeps for `d`; false if the job was cancelled meanwhile.
fn sleep_unless_cancelled(d: Duration, cancel: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if cancel.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(20)));
    }
    !cancel.load(Ordering::Relaxed)
}

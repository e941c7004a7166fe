//! The checkpoint coordinator of one run: it triggers barriers at the sources, collects
//! every task's acknowledgement, completes a snapshot by writing its metadata atomically,
//! then tells the tasks (sinks commit what waited for it). A snapshot that times out is
//! abandoned and counted, and the job goes on. Savepoints are asked for through
//! [`Request`]s.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossbeam_channel::{Receiver, Sender, select};

use super::message::{Barrier, BarrierKind};
use super::stop::StopSignal;
use crate::checkpoint::{
    CheckpointStore, InFlight, InstanceState, Metadata, OperatorState, SnapshotKind, Tracker,
    metadata::FORMAT,
};
use crate::connector::commit_parts;
use crate::manifest::CheckpointConfig;
use crate::state::StateRegistry;

/// From the coordinator to a task instance.
pub enum Control {
    /// Inject this barrier (sources).
    Trigger(Barrier),
    /// This snapshot completed.
    Complete(u64),
    /// Hold this new version of operator `node`'s function; switch to it at swap
    /// `swap`'s barrier.
    Stage {
        /// The swap.
        swap: u64,
        /// The operator's node index.
        node: usize,
        /// The new instance (its `init` has run).
        function: crate::operator::Function,
        /// Its content hash.
        hash: String,
        /// What the switch changes in the instance's states, if anything.
        states: Option<Box<super::swap::StateSwitch>>,
    },
}

/// From a task instance to the coordinator.
#[derive(Debug)]
pub enum Report {
    /// It saved its state for snapshot `id`.
    Ack {
        /// Task instance index.
        task: usize,
        /// The snapshot.
        id: u64,
        /// Its instances' state.
        instances: Vec<InstanceState>,
        /// How long the task's snapshot held it up (milliseconds).
        sync_ms: f64,
        /// How long it held records back for the barrier: alignment and snapshot.
        held_ms: f64,
    },
    /// It holds the new version of swap `swap`.
    Staged {
        /// Task instance index.
        task: usize,
        /// The swap.
        swap: u64,
    },
    /// All its input ended; this is its final state.
    Finished {
        /// Task instance index.
        task: usize,
        /// Its instances' final state.
        instances: Vec<InstanceState>,
    },
    /// It reads all its inputs (a broadcast bootstrap is over): barriers can pass it.
    Ready {
        /// Task instance index.
        task: usize,
    },
}

/// A request to the coordinator (from the control endpoint).
#[derive(Debug)]
pub enum Request {
    /// Take a savepoint into `dir` (or the job's checkpoint folder), and stop the job
    /// after it if `stop`.
    Savepoint {
        /// Where.
        dir: Option<PathBuf>,
        /// Stop after it.
        stop: bool,
        /// The answer: the savepoint's folder, or why it failed.
        reply: Sender<Result<PathBuf, String>>,
    },
    /// Swap an operator's function.
    Swap {
        /// What to swap.
        req: super::swap::SwapRequest,
        /// The answer: the swap's record, or why it was refused.
        reply: super::swapping::SwapReply,
    },
}

/// One snapshot's outcome, for `GET /v1/checkpoints`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SnapshotRecord {
    /// Its id.
    pub id: u64,
    /// `checkpoint`, `savepoint`.
    pub kind: SnapshotKind,
    /// `completed`, `abandoned`, or `failed`.
    pub status: &'static str,
    /// When it was triggered (epoch ms).
    pub taken_at_ms: i64,
    /// Trigger to completion.
    pub duration_ms: u64,
    /// Bytes of the files it wrote (links to files of earlier checkpoints not counted).
    pub bytes: u64,
    /// The longest a task was held up saving its state (the synchronous part).
    pub sync_ms: f64,
    /// The longest a task held records back for it (alignment and saving).
    pub held_ms: f64,
    /// Where it is.
    pub path: PathBuf,
    /// Why it failed or was abandoned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the coordinator shares with the control endpoint.
#[derive(Debug, Default)]
pub struct CheckpointStats {
    /// Every snapshot of this run, oldest first (at most the last 100).
    pub history: Vec<SnapshotRecord>,
    /// Completed.
    pub completed: u64,
    /// Abandoned (timed out).
    pub abandoned: u64,
    /// Failed to complete (writing their metadata failed).
    pub failed: u64,
}

/// The coordinator of one run.
pub struct Coordinator {
    /// Job name.
    pub job: String,
    /// SHA-256 of the manifest.
    pub manifest_hash: String,
    /// Key groups.
    pub max_parallelism: u32,
    /// The job's checkpoints.
    pub store: CheckpointStore,
    /// Periodic checkpoints, if on.
    pub config: Option<CheckpointConfig>,
    /// State ids (saved in every snapshot).
    pub registry: Arc<StateRegistry>,
    /// One control channel per task instance.
    pub controls: Vec<Sender<Control>>,
    /// Task instances that start with a source.
    pub sources: Vec<usize>,
    /// Task instances not ready for barriers yet.
    pub not_ready: std::collections::BTreeSet<usize>,
    /// Acknowledgements.
    pub reports: Receiver<Report>,
    /// Savepoint requests.
    pub requests: Receiver<Request>,
    /// The id the next snapshot takes (sinks name their last part with it).
    pub next_id: Arc<AtomicU64>,
    /// To stop the job after a savepoint with `stop`.
    pub stop: Arc<StopSignal>,
    /// Shared with the control endpoint.
    pub stats: Arc<Mutex<CheckpointStats>>,
    /// The longest time a task spent saving its state for the snapshot completing.
    pub sync_ms: f64,
    /// The longest time a task held records back for the snapshot completing.
    pub held_ms: f64,
    /// Swaps.
    pub swaps: super::swapping::Swaps,
    /// Stops the run's tasks (a canary's rollback).
    pub cancel: Arc<std::sync::atomic::AtomicBool>,
}

/// How a run's coordination ended.
pub struct Ended {
    /// Every task instance's final state (when all finished).
    pub finals: Vec<InstanceState>,
}

impl Coordinator {
    /// Runs until every task instance has finished (or every task is gone).
    pub fn run(mut self) -> Result<Ended> {
        let tasks = self.controls.len();
        let mut tracker = Tracker::new(tasks);
        let started = Instant::now();
        let ms = |t: Instant| t.duration_since(started).as_millis() as u64;
        let mut last_end = Instant::now();
        let mut waiting: Vec<Request> = Vec::new();
        let mut savepoint_reply: Option<(u64, Sender<Result<PathBuf, String>>)> = None;
        // The longest a task was held up by the snapshot in flight.
        let mut max_sync_ms = 0f64;
        let mut max_held_ms = 0f64;
        loop {
            if tracker.all_finished() {
                for r in waiting.drain(..) {
                    match r {
                        Request::Savepoint { reply, .. } => {
                            let _ = reply.send(Err("the job has ended".into()));
                        }
                        Request::Swap { reply, .. } => {
                            let _ = reply.send(Err("the job has ended".into()));
                        }
                    }
                }
                // A canary still watched is judged on what it saw.
                if let Err(rollback) = self.swaps.judge(true) {
                    return Err(rollback.into());
                }
                self.swaps.abandon();
                if let Some((_, reply)) = savepoint_reply.take() {
                    let _ = reply.send(Err("the job ended before the savepoint completed".into()));
                }
                return Ok(Ended {
                    finals: tracker.final_states(),
                });
            }
            // A canary failed: every task stops, and the job restores the swap's
            // checkpoint (which names the old version).
            if let Err(rollback) = self.swaps.judge(false) {
                self.cancel.store(true, Ordering::Relaxed);
                return Err(rollback.into());
            }
            // Start what is due: a savepoint asked for, or the next checkpoint (none while
            // a canary is watched: nothing the new version made may be committed yet).
            if tracker.in_flight().is_none()
                && self.not_ready.is_empty()
                && !self.swaps.canary_pending()
            {
                if let Some(swap) = self.swaps.ready() {
                    let kind = if self.config.is_some() {
                        SnapshotKind::Checkpoint
                    } else {
                        SnapshotKind::Swap
                    };
                    match self.trigger_kind(
                        &mut tracker,
                        kind,
                        None,
                        false,
                        Some(swap),
                        ms(Instant::now()),
                    ) {
                        Ok(id) => self.swaps.switching(swap, id),
                        Err(e) => tracing::warn!("swap barrier not started: {e:#}"),
                    }
                } else if let Some(Request::Savepoint { dir, stop, reply }) = waiting.pop() {
                    match self.trigger(
                        &mut tracker,
                        SnapshotKind::Savepoint,
                        dir,
                        stop,
                        ms(Instant::now()),
                    ) {
                        Ok(id) => savepoint_reply = Some((id, reply)),
                        Err(e) => {
                            let _ = reply.send(Err(format!("{e:#}")));
                        }
                    }
                } else if let Some(c) = &self.config
                    && last_end.elapsed()
                        >= Duration::from_millis(c.interval_ms.max(c.min_pause_ms))
                    && let Err(e) = self.trigger(
                        &mut tracker,
                        SnapshotKind::Checkpoint,
                        None,
                        false,
                        ms(Instant::now()),
                    )
                {
                    tracing::warn!("checkpoint not started: {e:#}");
                    last_end = Instant::now();
                }
            }
            // Abandon what took too long.
            if let (Some(f), Some(c)) = (tracker.in_flight(), &self.config)
                && ms(Instant::now()).saturating_sub(f.started_ms) > c.timeout_ms
                && f.kind == SnapshotKind::Checkpoint
            {
                let f = tracker.abandon().expect("in flight");
                tracing::warn!(
                    "checkpoint {} timed out after {} ms: abandoned",
                    f.id,
                    c.timeout_ms
                );
                self.store.abandon(f.id);
                self.record(&f, "abandoned", 0, Some("timed out".into()));
                self.stats.lock().expect("stats").abandoned += 1;
                last_end = Instant::now();
            }
            select! {
                recv(self.reports) -> r => {
                    let Ok(r) = r else {
                        // Every task is gone without finishing: the run failed (and
                        // rolls back a canary being watched).
                        if let Some(rollback) = self.swaps.unjudged() {
                            return Err(rollback.into());
                        }
                        return Ok(Ended { finals: Vec::new() });
                    };
                    let done = match r {
                        Report::Ack { task, id, instances, sync_ms, held_ms } => {
                            if tracker.in_flight().is_some_and(|f| f.id == id) {
                                max_sync_ms = max_sync_ms.max(sync_ms);
                                max_held_ms = max_held_ms.max(held_ms);
                            }
                            tracker.ack(task, id, instances)
                        }
                        Report::Staged { task, swap } => {
                            self.swaps.staged(task, swap);
                            None
                        }
                        Report::Finished { task, instances } => tracker.finished(task, instances),
                        Report::Ready { task } => {
                            self.not_ready.remove(&task);
                            None
                        }
                    };
                    if let Some(f) = done {
                        self.sync_ms = std::mem::take(&mut max_sync_ms);
                        self.held_ms = std::mem::take(&mut max_held_ms);
                        let outcome = self.complete(&f, started);
                        self.swaps.barrier_done(f.id, self.held_ms, outcome.is_ok());
                        last_end = Instant::now();
                        if let Some((id, reply)) = savepoint_reply.take_if(|(id, _)| *id == f.id) {
                            let _ = id;
                            let _ = reply.send(outcome.as_ref().map(|_| f.dir.clone()).map_err(|e| format!("{e:#}")));
                        }
                        if let Err(e) = outcome {
                            tracing::warn!("snapshot {} failed to complete: {e:#}", f.id);
                        } else if f.stop {
                            self.stop.stop();
                        }
                    }
                }
                recv(self.requests) -> r => {
                    match r {
                        Ok(Request::Swap { req, reply }) => self.swaps.request(req, reply),
                        Ok(r) => waiting.insert(0, r),
                        Err(_) => {}
                    }
                }
                recv(self.swaps.prepared) -> p => {
                    if let Ok((id, result)) = p {
                        self.swaps.prepared(id, result, &self.controls);
                    }
                }
                default(Duration::from_millis(5)) => {}
            }
        }
    }

    fn trigger(
        &mut self,
        tracker: &mut Tracker,
        kind: SnapshotKind,
        dir: Option<PathBuf>,
        stop: bool,
        now_ms: u64,
    ) -> Result<u64> {
        self.trigger_kind(tracker, kind, dir, stop, None, now_ms)
    }

    /// Starts snapshot `kind` (for swap `swap`, when given): its barrier goes to the
    /// sources.
    fn trigger_kind(
        &mut self,
        tracker: &mut Tracker,
        kind: SnapshotKind,
        dir: Option<PathBuf>,
        stop: bool,
        swap: Option<u64>,
        now_ms: u64,
    ) -> Result<u64> {
        let id = self
            .next_id
            .load(Ordering::SeqCst)
            .max(self.store.next_id()?);
        let folder = match (&kind, dir) {
            (SnapshotKind::Savepoint, Some(d)) => {
                let d = d.join(format!("savepoint-{id}"));
                std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
                d
            }
            // A swap without checkpoints saves nothing.
            (SnapshotKind::Swap, _) => self.store.path_of(id),
            _ => self.store.begin(id)?,
        };
        self.next_id.store(id + 1, Ordering::SeqCst);
        let taken_at_ms = super::clock::epoch_ms();
        tracker
            .start(id, kind, folder.clone(), taken_at_ms, now_ms, stop)
            .map_err(|busy| anyhow::anyhow!("snapshot {busy} is in flight"))?;
        let barrier = Barrier {
            id,
            dir: Arc::new(folder),
            kind: match (kind, swap) {
                (_, Some(swap)) => BarrierKind::Swap {
                    swap,
                    save: kind != SnapshotKind::Swap,
                },
                (SnapshotKind::Savepoint, _) => BarrierKind::Savepoint { stop },
                _ => BarrierKind::Checkpoint,
            },
        };
        for &t in &self.sources {
            if !tracker.is_finished(t) {
                let _ = self.controls[t].send(Control::Trigger(barrier.clone()));
            }
        }
        tracing::debug!("snapshot {id} triggered");
        Ok(id)
    }

    /// Writes the metadata of a snapshot every task acknowledged, then announces it.
    fn complete(&mut self, f: &InFlight, started: Instant) -> Result<()> {
        let now = started.elapsed().as_millis() as u64;
        let duration_ms = now.saturating_sub(f.started_ms);
        let metadata = Metadata {
            format: FORMAT,
            id: f.id,
            kind: f.kind,
            job: self.job.clone(),
            manifest_hash: self.manifest_hash.clone(),
            taken_at_ms: f.taken_at_ms,
            duration_ms,
            max_parallelism: self.max_parallelism,
            states: self.registry.snapshot(),
            instances: f.instances.clone(),
            finished: false,
            external: None,
            versions: self.swaps.versions_at(f.id),
        };
        let result = (|| -> Result<()> {
            match f.kind {
                SnapshotKind::Swap => {}
                SnapshotKind::Savepoint => {
                    // A savepoint stands alone: no file shared with checkpoints that
                    // retention deletes.
                    crate::state::snapshot::unlink_shared(&f.dir)?;
                    crate::checkpoint::store::write_atomically(
                        &f.dir.join(crate::checkpoint::store::METADATA),
                        &serde_json::to_vec_pretty(&metadata)?,
                    )?;
                    // The job's own checkpoints point to it: it is what a new run
                    // resumes from.
                    if !f.dir.starts_with(self.store.dir()) {
                        let entry = self.store.begin(f.id)?;
                        let pointer = Metadata {
                            instances: Vec::new(),
                            external: Some(f.dir.clone()),
                            ..metadata.clone()
                        };
                        self.store.complete_in(&entry, &pointer, self.retain())?;
                    } else {
                        self.store.retain(self.retain())?;
                    }
                }
                _ => {
                    self.store.complete_in(&f.dir, &metadata, self.retain())?;
                }
            }
            Ok(())
        })();
        match &result {
            Ok(()) => {
                super::crash::crash_point("metadata-written");
                if self.swaps.is_switching(f.id) {
                    super::crash::crash_point("swap-metadata-written");
                }
                tracing::debug!("snapshot {} complete in {duration_ms} ms", f.id);
                for c in &self.controls {
                    let _ = c.send(Control::Complete(f.id));
                }
                // Finished sinks are gone: no completion reaches them, so their parts
                // are committed here (they are in every later snapshot too, so a
                // failure before this commits them on restore).
                if let Err(e) = commit_pending(&f.instances) {
                    tracing::warn!("committing the parts of finished sinks: {e:#}");
                }
                self.stats.lock().expect("stats").completed += 1;
                self.record(f, "completed", duration_ms, None);
            }
            Err(e) => {
                self.store.abandon(f.id);
                self.stats.lock().expect("stats").failed += 1;
                self.record(f, "failed", duration_ms, Some(format!("{e:#}")));
            }
        }
        result
    }

    fn retain(&self) -> usize {
        self.config
            .as_ref()
            .map_or(crate::manifest::DEFAULT_RETAIN, |c| c.retain)
    }

    fn record(&self, f: &InFlight, status: &'static str, duration_ms: u64, error: Option<String>) {
        let bytes = if status == "completed" && f.kind != SnapshotKind::Swap {
            new_bytes(&f.dir)
        } else {
            0
        };
        let mut s = self.stats.lock().expect("stats");
        s.history.push(SnapshotRecord {
            id: f.id,
            kind: f.kind,
            status,
            taken_at_ms: f.taken_at_ms,
            duration_ms,
            bytes,
            sync_ms: self.sync_ms,
            held_ms: self.held_ms,
            path: f.dir.clone(),
            error,
        });
        if s.history.len() > 100 {
            s.history.remove(0);
        }
    }
}

/// Commits the parts and Kafka transactions that finished sinks left pending in a
/// completed snapshot.
pub fn commit_pending(instances: &[InstanceState]) -> Result<()> {
    let parts = instances.iter().flat_map(|i| match &i.state {
        OperatorState::Sink { pending } if i.finished => pending.as_slice(),
        _ => &[],
    });
    commit_parts(parts)?;
    crate::connector::kafka::commit_finished(instances)
}

/// Bytes of the files under `dir` that are not shared with another checkpoint.
fn new_bytes(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else if m.nlink() <= 2 {
                total += m.len();
            }
        }
    }
    total
}

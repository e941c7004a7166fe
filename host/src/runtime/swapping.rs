//! The coordinator's side of a swap: prepared off its thread, staged in the tasks, then
//! switched by a barrier; answered and logged.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender};

use super::coordinator::Control;
use super::swap::{PreparedSwap, SwapContext, SwapRecord, SwapRequest, log};
use crate::checkpoint::metadata::Version;

/// The answer to a swap request.
pub type SwapReply = Sender<Result<SwapRecord, String>>;

/// Where a swap is.
enum Stage {
    /// Compiling and starting the new instances (on a thread of its own).
    Preparing,
    /// The new instances are on their way to the tasks; these have not confirmed.
    Staging(BTreeSet<usize>),
    /// Every task holds its new instance: the barrier may go.
    Staged,
    /// The barrier is on its way.
    Switching(u64),
    /// Switched, provisionally: the new version is being watched.
    Canary {
        /// Since when.
        since: std::time::Instant,
        /// The operator's records in and rejected when it began.
        base: (u64, u64),
    },
}

/// A canary swap that failed: the job goes back to the swap's checkpoint and the old
/// version.
#[derive(Debug, thiserror::Error)]
#[error("canary rollback of operator `{operator}`: {why}")]
pub struct CanaryRollback {
    /// The operator.
    pub operator: String,
    /// What the new version did.
    pub why: String,
    /// The swap, not answered yet when a task failed while its canary was watched (the
    /// supervisor answers it with the task's error).
    pub unjudged: Option<Box<Unjudged>>,
}

/// A canary swap whose run failed before it was judged.
#[derive(Debug)]
pub struct Unjudged {
    record: SwapRecord,
    reply: SwapReply,
    state_dir: std::path::PathBuf,
    log: Arc<Mutex<Vec<SwapRecord>>>,
}

impl Unjudged {
    /// Answers and logs the swap as rolled back because of `why`.
    pub fn roll_back(self, why: &str) {
        let mut record = self.record;
        record.outcome = rolled_back(&record, why);
        log(&self.state_dir, &record);
        self.log.lock().expect("swap log").push(record);
        let _ = self
            .reply
            .send(Err(format!("the new version failed the canary: {why}")));
    }
}

/// How the log puts a rollback.
fn rolled_back(record: &SwapRecord, why: &str) -> String {
    format!(
        "rolled back to checkpoint {} and the old version: {why}",
        record.barrier.unwrap_or_default()
    )
}

struct Flight {
    id: u64,
    req: SwapRequest,
    reply: SwapReply,
    record: SwapRecord,
    stage: Stage,
    node: usize,
    hash: String,
    path: std::path::PathBuf,
    config: String,
}

/// The swaps of one run.
pub struct Swaps {
    ctx: Arc<SwapContext>,
    /// The swap in progress (one at a time).
    flight: Option<Flight>,
    prepared_tx: Sender<(u64, anyhow::Result<PreparedSwap>)>,
    /// Prepared swaps, from their threads.
    pub prepared: Receiver<(u64, anyhow::Result<PreparedSwap>)>,
    next: u64,
    /// Versions swapped in so far, by operator uid (saved in checkpoints).
    pub versions: BTreeMap<String, Version>,
    /// Every swap of the run, for `GET /v1/swaps`.
    pub log: Arc<Mutex<Vec<SwapRecord>>>,
}

impl Swaps {
    /// The swaps of a run with `ctx`, starting from `versions` (restored).
    pub fn new(
        ctx: Arc<SwapContext>,
        versions: BTreeMap<String, Version>,
        log: Arc<Mutex<Vec<SwapRecord>>>,
    ) -> Self {
        let (prepared_tx, prepared) = crossbeam_channel::unbounded();
        Self {
            ctx,
            flight: None,
            prepared_tx,
            prepared,
            next: 1,
            versions,
            log,
        }
    }

    fn finish(&mut self, record: SwapRecord, outcome: Result<String, String>, reply: &SwapReply) {
        let logged = match &outcome {
            Ok(o) => o.clone(),
            Err(e) => format!("refused: {e}"),
        };
        self.finish_as(record, logged, outcome, reply);
    }

    /// Answers and logs a swap, logged as `logged`.
    fn finish_as(
        &mut self,
        mut record: SwapRecord,
        logged: String,
        outcome: Result<String, String>,
        reply: &SwapReply,
    ) {
        record.outcome = logged;
        log(&self.ctx.job.state_dir, &record);
        self.log.lock().expect("swap log").push(record.clone());
        let _ = reply.send(outcome.map(|_| record));
    }

    /// A request: starts preparing it on a thread of its own.
    pub fn request(&mut self, req: SwapRequest, reply: SwapReply) {
        let node = self.ctx.node(&req.operator).ok();
        let old = node.map(|n| self.ctx.running(n).0).unwrap_or_default();
        let record = SwapRecord {
            at_ms: super::clock::epoch_ms(),
            operator: req.operator.clone(),
            old,
            new: String::new(),
            requested_by: req.requested_by.clone(),
            outcome: String::new(),
            barrier: None,
            pause_ms: None,
            states: Vec::new(),
        };
        if self.flight.is_some() {
            let _ = reply.send(Err("another swap is in progress".into()));
            return;
        }
        if let Some(c) = &req.canary {
            let why = match c.check() {
                Err(e) => Some(format!("{e:#}")),
                Ok(()) if self.ctx.job.checkpoint.is_none() => Some(
                    "a canary swap needs checkpoints ([job.checkpoint]): rolling back restores the swap's checkpoint"
                        .to_owned(),
                ),
                Ok(()) => None,
            };
            if let Some(why) = why {
                self.finish(record, Err(why), &reply);
                return;
            }
        }
        let Some(node) = node else {
            let why = format!("the job has no operator `{}`", req.operator);
            self.finish(record, Err(why), &reply);
            return;
        };
        let id = self.next;
        self.next += 1;
        let ctx = self.ctx.clone();
        let tx = self.prepared_tx.clone();
        let r = req.clone();
        std::thread::Builder::new()
            .name("weir-swap".into())
            .spawn(move || {
                let _ = tx.send((id, ctx.prepare(&r)));
            })
            .expect("a thread to prepare the swap");
        self.flight = Some(Flight {
            id,
            config: req.config.clone().unwrap_or_default(),
            req,
            reply,
            record,
            stage: Stage::Preparing,
            node,
            hash: String::new(),
            path: Default::default(),
        });
    }

    /// A prepared swap: refused, checked (a dry run), or staged in the tasks.
    pub fn prepared(
        &mut self,
        id: u64,
        result: anyhow::Result<PreparedSwap>,
        controls: &[Sender<Control>],
    ) {
        let Some(mut f) = self.flight.take().filter(|f| f.id == id) else {
            return;
        };
        match result {
            Err(e) => {
                let why = format!("{e:#}");
                // What was refused, when it could be read.
                f.record.new = f.req.component.hash().unwrap_or_default();
                self.finish(f.record, Err(why), &f.reply);
            }
            Ok(p) if f.req.dry_run => {
                f.record.new = p.hash;
                f.record.states = p.changes.iter().map(ToString::to_string).collect();
                let outcome = format!(
                    "checked: compiles, exports the operator's world, and init ran on {} instance(s)",
                    p.functions.len()
                );
                self.finish(f.record, Ok(outcome), &f.reply);
            }
            Ok(p) if f.req.canary.is_some() && !p.changes.is_empty() => {
                f.record.new = p.hash;
                let why = format!(
                    "a canary swap cannot change state ({}): rolling back would need the state as it was; swap without a canary",
                    p.changes
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                );
                self.finish(f.record, Err(why), &f.reply);
            }
            Ok(p) => {
                f.record.new = p.hash.clone();
                f.record.states = p.changes.iter().map(ToString::to_string).collect();
                f.hash = p.hash;
                f.path = p.path;
                let mut waiting = BTreeSet::new();
                for (task, function, states) in p.functions {
                    waiting.insert(task);
                    let _ = controls[task].send(Control::Stage {
                        swap: id,
                        node: p.node,
                        function,
                        hash: f.hash.clone(),
                        states,
                    });
                }
                f.stage = if waiting.is_empty() {
                    Stage::Staged
                } else {
                    Stage::Staging(waiting)
                };
                self.flight = Some(f);
            }
        }
    }

    /// Task `task` holds its new instance of swap `id`.
    pub fn staged(&mut self, task: usize, id: u64) {
        if let Some(f) = self.flight.as_mut().filter(|f| f.id == id)
            && let Stage::Staging(waiting) = &mut f.stage
        {
            waiting.remove(&task);
            if waiting.is_empty() {
                f.stage = Stage::Staged;
            }
        }
    }

    /// The swap whose barrier may go now.
    pub fn ready(&self) -> Option<u64> {
        self.flight
            .as_ref()
            .filter(|f| matches!(f.stage, Stage::Staged))
            .map(|f| f.id)
    }

    /// Swap `swap`'s barrier is snapshot `barrier`.
    pub fn switching(&mut self, swap: u64, barrier: u64) {
        if let Some(f) = self.flight.as_mut().filter(|f| f.id == swap) {
            f.stage = Stage::Switching(barrier);
        }
    }

    /// The version a flight switches its operator to, by the operator's uid.
    fn version_of(&self, f: &Flight) -> (String, Version) {
        let node = &self.ctx.job.nodes[f.node];
        let config = match &node.kind {
            crate::manifest::NodeKind::Operator(o) if f.config.is_empty() => o.config_json.clone(),
            _ => f.config.clone(),
        };
        let version = Version {
            hash: f.hash.clone(),
            component: f.path.clone(),
            config,
        };
        (node.uid.clone(), version)
    }

    /// The versions snapshot `barrier` holds: with the swap it switches, if it is a
    /// swap's barrier (its tasks run the new version from that barrier on).
    pub fn versions_at(&self, barrier: u64) -> BTreeMap<String, Version> {
        let mut versions = self.versions.clone();
        // A canary's version is recorded when it passes: a restore before then (its
        // rollback, or a crash) goes on with the old version.
        if let Some(f) = self.switched_by(barrier).filter(|f| f.req.canary.is_none()) {
            let (uid, version) = self.version_of(f);
            versions.insert(uid, version);
        }
        versions
    }

    /// The swap snapshot `barrier` switches, if any.
    fn switched_by(&self, barrier: u64) -> Option<&Flight> {
        self.flight
            .as_ref()
            .filter(|f| matches!(f.stage, Stage::Switching(b) if b == barrier))
    }

    /// Whether snapshot `barrier` switches a swap.
    pub fn is_switching(&self, barrier: u64) -> bool {
        self.switched_by(barrier).is_some()
    }

    /// Snapshot `barrier` completed (or failed): the swap it switched is applied.
    pub fn barrier_done(&mut self, barrier: u64, pause_ms: f64, ok: bool) {
        let Some(f) = self
            .flight
            .take_if(|f| matches!(f.stage, Stage::Switching(b) if b == barrier))
        else {
            return;
        };
        let mut record = f.record.clone();
        record.barrier = Some(barrier);
        record.pause_ms = Some(pause_ms);
        if ok && f.req.canary.is_some() {
            // Provisional: the version is recorded (and answered) when the canary passes.
            let name = &self.ctx.job.nodes[f.node].name;
            let c = self.ctx.metrics.node(name);
            let base = (c.records_in, c.rejected);
            tracing::info!("swap of `{name}` switched at {barrier}: watching the canary");
            self.flight = Some(Flight {
                record,
                stage: Stage::Canary {
                    since: std::time::Instant::now(),
                    base,
                },
                ..f
            });
        } else if ok {
            let (uid, version) = self.version_of(&f);
            self.versions.insert(uid, version);
            self.ctx.set_running(f.node, f.hash.clone(), f.path.clone());
            self.finish(record, Ok("applied".into()), &f.reply);
        } else {
            // The tasks switched, but the snapshot failed to complete: the new version
            // runs; a restore from an earlier checkpoint would run the old one.
            self.finish(
                record,
                Ok("applied (its checkpoint did not complete)".into()),
                &f.reply,
            );
        }
    }

    /// Whether a canary is being watched (the job takes no snapshot meanwhile).
    pub fn canary_pending(&self) -> bool {
        self.flight
            .as_ref()
            .is_some_and(|f| matches!(f.stage, Stage::Canary { .. }))
    }

    /// Judges the canary being watched, if it is due (or the input has `ended`): applies
    /// the swap when it passed, or answers it and returns why it must be rolled back.
    pub fn judge(&mut self, ended: bool) -> Result<(), CanaryRollback> {
        let Some(f) = self.flight.as_ref() else {
            return Ok(());
        };
        let (Stage::Canary { since, base }, Some(c)) = (&f.stage, f.req.canary) else {
            return Ok(());
        };
        let (since, base) = (*since, *base);
        let name = self.ctx.job.nodes[f.node].name.clone();
        let now = self.ctx.metrics.node(&name);
        let seen = now.records_in.saturating_sub(base.0);
        let failed = now.rejected.saturating_sub(base.1);
        let budget = c.max_error_rate * c.records as f64;
        let timed_out = c
            .time_ms
            .is_some_and(|t| since.elapsed() >= std::time::Duration::from_millis(t));
        // More failures than the whole canary may have: no need to wait for the rest.
        let hopeless = failed as f64 > budget && failed > 0;
        if !(hopeless || seen >= c.records || timed_out || ended) {
            return Ok(());
        }
        let rate = if seen == 0 {
            0.0
        } else {
            failed as f64 / seen as f64
        };
        let f = self.flight.take().expect("just seen");
        let summary = format!(
            "{failed} of {seen} records failed ({:.1}%, at most {:.1}% allowed)",
            rate * 100.0,
            c.max_error_rate * 100.0
        );
        if hopeless || rate > c.max_error_rate {
            let why = format!("the new version failed the canary: {summary}");
            let logged = rolled_back(&f.record, &summary);
            self.finish_as(f.record.clone(), logged, Err(why.clone()), &f.reply);
            return Err(CanaryRollback {
                operator: name,
                why,
                unjudged: None,
            });
        }
        let (uid, version) = self.version_of(&f);
        self.versions.insert(uid, version);
        self.ctx.set_running(f.node, f.hash.clone(), f.path.clone());
        let outcome = format!("applied (canary passed: {summary})");
        self.finish(f.record.clone(), Ok(outcome), &f.reply);
        Ok(())
    }

    /// The run failed while a canary was watched: the rollback, to be answered with the
    /// failure (a failure of any task rolls a canary back).
    pub fn unjudged(&mut self) -> Option<CanaryRollback> {
        let f = self
            .flight
            .take_if(|f| matches!(f.stage, Stage::Canary { .. }))?;
        Some(CanaryRollback {
            operator: f.req.operator.clone(),
            why: "a task failed while the canary was watched".into(),
            unjudged: Some(Box::new(Unjudged {
                record: f.record,
                reply: f.reply,
                state_dir: self.ctx.job.state_dir.clone(),
                log: self.log.clone(),
            })),
        })
    }

    /// The run ends: a swap still in progress is answered.
    pub fn abandon(&mut self) {
        if let Some(f) = self.flight.take() {
            self.finish(
                f.record,
                Err("the job ended before the swap".into()),
                &f.reply,
            );
        }
    }
}

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

    fn finish(
        &mut self,
        mut record: SwapRecord,
        outcome: Result<String, String>,
        reply: &SwapReply,
    ) {
        match &outcome {
            Ok(o) => record.outcome = o.clone(),
            Err(e) => record.outcome = format!("refused: {e}"),
        }
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
        };
        if self.flight.is_some() {
            let _ = reply.send(Err("another swap is in progress".into()));
            return;
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
                self.finish(f.record, Err(why), &f.reply);
            }
            Ok(p) if f.req.dry_run => {
                f.record.new = p.hash;
                let outcome = format!(
                    "checked: compiles, exports the operator's world, and init ran on {} instance(s)",
                    p.functions.len()
                );
                self.finish(f.record, Ok(outcome), &f.reply);
            }
            Ok(p) => {
                f.record.new = p.hash.clone();
                f.hash = p.hash;
                f.path = p.path;
                let mut waiting = BTreeSet::new();
                for (task, function) in p.functions {
                    waiting.insert(task);
                    let _ = controls[task].send(Control::Stage {
                        swap: id,
                        node: p.node,
                        function,
                        hash: f.hash.clone(),
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
        if ok {
            let uid = self.ctx.job.nodes[f.node].uid.clone();
            let config = if f.config.is_empty() {
                match &self.ctx.job.nodes[f.node].kind {
                    crate::manifest::NodeKind::Operator(o) => o.config_json.clone(),
                    _ => String::new(),
                }
            } else {
                f.config.clone()
            };
            self.versions.insert(
                uid,
                Version {
                    hash: f.hash.clone(),
                    component: f.path.clone(),
                    config,
                },
            );
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

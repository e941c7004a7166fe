//! The loop of one task instance: read its source or its channels, drive its chain, keep
//! its watermark, align and pass on barriers, stop when everything upstream is done (or
//! the job is cancelled).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use crossbeam_channel::{Receiver, Select, Sender, TryRecvError};

use super::align::{Aligner, Arrival};
use super::chain::Chain;
use super::clock::Clock;
use super::coordinator::{Control, Report};
use super::exchange::Cancelled;
use super::message::{Barrier, BarrierKind, Data, Envelope, Message};
use super::stop::StopSignal;
use super::watermarks::{Change, WatermarkTracker};
use crate::checkpoint::{InstanceState, Role};
use crate::connector::{Source, SourceEvent};
use crate::manifest::CheckpointMode;
use crate::operator::{Finish, Input, OperatorReport};

/// How often operators hear about processing time.
const TICK: Duration = Duration::from_millis(20);

/// A channel into a task: one per sender, so a sender can be held back alone while a
/// barrier aligns.
pub struct Port {
    /// Which input.
    pub input: Input,
    /// One channel per upstream instance.
    pub rx: Vec<Receiver<Envelope>>,
}

/// The source a task starts with, and who it is in snapshots.
pub struct SourceHead {
    /// The reader.
    pub reader: Box<dyn Source>,
    /// Node name.
    pub node: String,
    /// Node uid.
    pub uid: String,
    /// Which instance, of how many.
    pub subtask: u32,
    /// Parallel instances.
    pub parallelism: u32,
    /// Its counters.
    pub metrics: Arc<super::NodeMetrics>,
}

impl SourceHead {
    fn state(&self) -> InstanceState {
        InstanceState {
            node: self.node.clone(),
            uid: self.uid.clone(),
            role: Role::Source,
            subtask: self.subtask,
            parallelism: self.parallelism,
            component: None,
            keyed: None,
            state: self.reader.positions(),
            counters: self.metrics.counts().to_map(),
            finished: false,
        }
    }
}

fn barrier_id(r: &Report) -> u64 {
    match r {
        Report::Ack { id, .. } => *id,
        _ => 0,
    }
}

/// What a task's wait for input brought (nearly always a message: boxing it would cost
/// an allocation per batch).
#[allow(clippy::large_enum_variant)]
enum Got {
    Message(usize, Envelope),
    Control(Control),
    ControlClosed,
    Disconnected,
    Tick,
}

/// One parallel instance of a task.
pub struct TaskInstance {
    /// `node[subtask]`, for errors and thread names.
    pub name: String,
    /// Its index among the job's task instances (in coordinator messages).
    pub index: usize,
    /// The source it reads, if it starts with one.
    pub source: Option<SourceHead>,
    /// Its channels.
    pub ports: Vec<Port>,
    /// Its operators and outlets.
    pub chain: Chain,
    /// Processing time.
    pub clock: Arc<dyn Clock>,
    /// Set when the job is cancelled: stop now.
    pub cancel: Arc<AtomicBool>,
    /// Set when the job is asked to stop or drain.
    pub stop: Arc<StopSignal>,
    /// Read the broadcast input until it has caught up before the main input.
    pub bootstrap: bool,
    /// Barriers and completions from the coordinator.
    pub control: Receiver<Control>,
    /// Acknowledgements to the coordinator.
    pub reports: Sender<Report>,
    /// Whether periodic checkpoints align (savepoints always do).
    pub mode: CheckpointMode,
    /// Its time waiting for input (and, through its outlets, on full channels).
    pub time: Arc<super::metrics::TaskTime>,
}

impl TaskInstance {
    /// Runs the task to its end.
    pub fn run(mut self) -> Result<Vec<(usize, OperatorReport)>> {
        let result = if self.source.is_some() {
            self.run_source()
        } else {
            self.run_ports()
        };
        if result.is_err() {
            // Cancel before this task's channel ends are dropped: its neighbours then
            // stop as cancelled, not with "a task stopped early" errors that could reach
            // the supervisor first and hide this one.
            self.cancel.store(true, Ordering::Relaxed);
        }
        result?;
        Ok(self.chain.reports())
    }

    fn cancelled(&self) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Cancelled.into());
        }
        Ok(())
    }

    /// Snapshots the task at `barrier` (the source's position first), passes the barrier
    /// on and acknowledges it.
    fn snapshot(&mut self, barrier: &Barrier) -> Result<()> {
        self.snapshot_held(barrier, None)
    }

    /// Snapshots at `barrier`; `since` is when its first copy arrived (alignment).
    fn snapshot_held(&mut self, barrier: &Barrier, since: Option<Instant>) -> Result<()> {
        let started = Instant::now();
        let save = !matches!(barrier.kind, BarrierKind::Swap { save: false, .. });
        let mut instances = Vec::new();
        let mut overlays = Vec::new();
        // Records before the barrier went to the old version, after it to the new one;
        // the snapshot names the new one, so a restore from it goes on with it.
        if let BarrierKind::Swap { swap, .. } = barrier.kind {
            self.chain.switch(swap)?;
            super::crash::crash_point("swap-switched");
        }
        if save {
            if let Some(s) = &self.source {
                instances.push(s.state());
            }
            let (links, o) = self.chain.snapshot(barrier)?;
            instances.extend(links);
            overlays = o;
        }
        self.chain.control(&Message::Barrier(barrier.clone()))?;
        let sync_ms = started.elapsed().as_secs_f64() * 1e3;
        let held_ms = since.unwrap_or(started).elapsed().as_secs_f64() * 1e3;
        let ack = Report::Ack {
            task: self.index,
            id: barrier.id,
            instances,
            sync_ms,
            held_ms,
        };
        // The coordinator may be gone (the job is ending): nothing to acknowledge then.
        if overlays.is_empty() {
            let _ = self.reports.send(ack);
            return Ok(());
        }
        // What operators held in memory is written while the task goes on; the
        // acknowledgement (and so the snapshot's completion) waits for it.
        let reports = self.reports.clone();
        let name = self.name.clone();
        std::thread::Builder::new()
            .name(format!("weir-snapshot-{}", barrier.id))
            .spawn(move || match overlays.iter().try_for_each(|o| o.write()) {
                Ok(()) => {
                    let _ = reports.send(ack);
                }
                Err(e) => tracing::warn!(
                    "task {name}: writing its snapshot {} failed, so the snapshot will not complete: {e:#}",
                    barrier_id(&ack)
                ),
            })?;
        Ok(())
    }

    /// Handles one message from the coordinator; returns a stop that a savepoint asked
    /// for.
    fn on_control(&mut self, c: Control) -> Result<Option<Finish>> {
        match c {
            Control::Trigger(b) => {
                self.snapshot(&b)?;
                if matches!(b.kind, BarrierKind::Savepoint { stop: true }) {
                    return Ok(Some(Finish::Stopped));
                }
            }
            Control::Complete(id) => {
                if let Some(s) = &mut self.source {
                    s.reader.checkpoint_complete(id)?;
                }
                self.chain.checkpoint_complete(id)?
            }
            Control::Stage {
                swap,
                node,
                function,
                hash,
                states,
            } => {
                self.chain.stage(node, swap, function, hash, states)?;
                let _ = self.reports.send(Report::Staged {
                    task: self.index,
                    swap,
                });
            }
        }
        Ok(None)
    }

    /// Finishes the chain and reports the task's final state.
    fn finish(&mut self, how: Finish) -> Result<()> {
        self.chain.finish(how)?;
        let mut instances = Vec::new();
        if let Some(s) = &self.source {
            let mut st = s.state();
            st.finished = true;
            instances.push(st);
        }
        instances.extend(self.chain.final_states()?);
        // From now on the coordinator commits what this task left pending.
        let _ = self.reports.send(Report::Finished {
            task: self.index,
            instances,
        });
        Ok(())
    }

    fn run_source(&mut self) -> Result<()> {
        let mut last_tick = Instant::now();
        let mut how = Finish::Drained;
        loop {
            self.cancelled()?;
            if let Some(h) = self.stop.requested() {
                how = h;
                break;
            }
            match self.control.try_recv() {
                Ok(c) => {
                    if let Some(h) = self.on_control(c)? {
                        how = h;
                        break;
                    }
                    continue;
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => {}
            }
            let src = &mut self.source.as_mut().expect("a source task").reader;
            match src.next_event()? {
                SourceEvent::Data(b) => {
                    self.chain.process(Input::Main, Data::Records(b))?;
                    let src = &mut self.source.as_mut().expect("a source task").reader;
                    if src.timestamps_from_function()
                        && let Some(t) = self.chain.take_first_link_max()
                    {
                        src.observe(t);
                    }
                }
                SourceEvent::Watermark(w) => {
                    let s = self.source.as_ref().expect("a source task");
                    s.metrics.live.set_watermark(w);
                    self.chain.watermark(w)?
                }
                SourceEvent::Idle => self.chain.control(&Message::Idle)?,
                SourceEvent::CaughtUp => {
                    self.chain.control(&Message::CaughtUp)?;
                }
                SourceEvent::End => break,
                SourceEvent::Pending => {
                    // Wait for data, or for the coordinator.
                    let waiting = Instant::now();
                    let got = self.control.recv_timeout(Duration::from_millis(10));
                    self.time.idle(waiting.elapsed());
                    if let Ok(c) = got
                        && let Some(h) = self.on_control(c)?
                    {
                        how = h;
                        break;
                    }
                }
            }
            if last_tick.elapsed() >= TICK {
                last_tick = Instant::now();
                self.chain.processing_time(self.clock.now_ms())?;
            }
        }
        self.finish(how)
    }

    fn run_ports(&mut self) -> Result<()> {
        // Senders are numbered across ports: port p's senders start at offsets[p].
        let offsets: Vec<usize> = self
            .ports
            .iter()
            .scan(0, |acc, p| {
                let o = *acc;
                *acc += p.rx.len();
                Some(o)
            })
            .collect();
        let total: usize = self.ports.iter().map(|p| p.rx.len()).sum();
        let senders: Vec<(usize, usize)> = self
            .ports
            .iter()
            .enumerate()
            .flat_map(|(p, port)| (0..port.rx.len()).map(move |s| (p, s)))
            .collect();
        let mut tracker = WatermarkTracker::new(total);
        let mut aligner = Aligner::new(total);
        let mut caught_up = vec![false; total];
        let mut forwarded_caught_up = false;
        let broadcast_port = self.ports.iter().position(|p| p.input == Input::Broadcast);
        let mut bootstrapping = self.bootstrap && broadcast_port.is_some();
        if !bootstrapping {
            let _ = self.reports.send(Report::Ready { task: self.index });
        }
        let mut last_tick = Instant::now();
        let mut control_open = true;
        // The barrier being aligned (its copy from the first sender that delivered it),
        // and when it came.
        let mut aligning: Option<(Barrier, Instant)> = None;
        loop {
            self.cancelled()?;
            // Listen to every sender that may be read now, and to the coordinator.
            let got = {
                let mut sel = Select::new();
                let mut map = Vec::new();
                for (k, &(p, s)) in senders.iter().enumerate() {
                    if bootstrapping && Some(p) != broadcast_port {
                        continue;
                    }
                    if !aligner.readable(k) {
                        continue;
                    }
                    map.push(k);
                    sel.recv(&self.ports[p].rx[s]);
                }
                let control_at = control_open.then(|| sel.recv(&self.control));
                let waiting = Instant::now();
                let selected = sel.select_timeout(TICK);
                self.time.idle(waiting.elapsed());
                match selected {
                    Ok(op) if Some(op.index()) == control_at => match op.recv(&self.control) {
                        Ok(c) => Got::Control(c),
                        Err(_) => Got::ControlClosed,
                    },
                    Ok(op) => {
                        let k = map[op.index()];
                        let (p, s) = senders[k];
                        match op.recv(&self.ports[p].rx[s]) {
                            Ok(env) => Got::Message(k, env),
                            Err(_) => Got::Disconnected,
                        }
                    }
                    Err(_) => Got::Tick,
                }
            };
            let (sender, env) = match got {
                Got::Message(k, env) => (k, env),
                Got::Control(c) => {
                    self.on_control(c)?;
                    continue;
                }
                Got::ControlClosed => {
                    control_open = false;
                    continue;
                }
                Got::Disconnected => {
                    self.cancelled()?;
                    anyhow::bail!("an upstream task stopped early")
                }
                Got::Tick => {
                    last_tick = Instant::now();
                    self.chain.processing_time(self.clock.now_ms())?;
                    continue;
                }
            };
            let input = self.ports[senders[sender].0].input;
            let mut done = false;
            match env.message {
                Message::Data(d) => {
                    tracker.active(sender);
                    self.chain.process(input, d)?;
                }
                Message::Watermark(w) => {
                    if let Change::Advanced(x) = tracker.watermark(sender, w) {
                        self.chain.watermark(x)?;
                    }
                }
                Message::Idle => match tracker.idle(sender) {
                    Change::Advanced(x) => self.chain.watermark(x)?,
                    Change::AllIdle => self.chain.control(&Message::Idle)?,
                    Change::None => {}
                },
                Message::CaughtUp => caught_up[sender] = true,
                Message::Barrier(b) => {
                    let aligned = b.always_aligned() || self.mode == CheckpointMode::ExactlyOnce;
                    match aligner.barrier(sender, b.id, aligned) {
                        Arrival::Snapshot => {
                            let since = aligning.take().map(|(_, t)| t);
                            self.snapshot_held(&b, since)?;
                        }
                        Arrival::Wait => {
                            if aligning.as_ref().is_none_or(|(a, _)| a.id != b.id) {
                                aligning = Some((b, Instant::now()));
                            }
                        }
                        Arrival::Ignore => {}
                    }
                    // A barrier from the broadcast input while the main input is held
                    // back waits for the bootstrap: the coordinator triggers none before
                    // every bootstrap is done.
                }
                Message::End | Message::Stopped => {
                    caught_up[sender] = true;
                    let change = if matches!(env.message, Message::Stopped) {
                        tracker.stopped(sender)
                    } else {
                        tracker.ended(sender)
                    };
                    if let Change::Advanced(x) = change {
                        self.chain.watermark(x)?;
                    }
                    if let Some(id) = aligner.ended(sender)
                        && let Some((b, since)) = aligning.take_if(|(b, _)| b.id == id)
                    {
                        self.snapshot_held(&b, Some(since))?;
                    }
                    done = tracker.all_ended();
                }
            }
            if bootstrapping {
                let p = broadcast_port.expect("bootstrapping needs a broadcast input");
                let range = offsets[p]..offsets[p] + self.ports[p].rx.len();
                if caught_up[range].iter().all(|&c| c) {
                    bootstrapping = false;
                    let _ = self.reports.send(Report::Ready { task: self.index });
                }
            }
            if !forwarded_caught_up && caught_up.iter().all(|&c| c) && !done {
                forwarded_caught_up = true;
                self.chain.control(&Message::CaughtUp)?;
            }
            if done {
                break;
            }
            if last_tick.elapsed() >= TICK {
                last_tick = Instant::now();
                self.chain.processing_time(self.clock.now_ms())?;
            }
        }
        self.finish(if tracker.any_stopped() {
            Finish::Stopped
        } else {
            Finish::Drained
        })
    }
}

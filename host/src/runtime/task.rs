//! The loop of one task instance: read its source or its channels, drive its chain, keep
//! its watermark, stop when everything upstream is done (or the job is cancelled).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use crossbeam_channel::{Receiver, Select};

use super::chain::Chain;
use super::clock::Clock;
use super::exchange::Cancelled;
use super::message::{Data, Envelope, Message};
use super::stop::StopSignal;
use super::watermarks::{Change, WatermarkTracker};
use crate::connector::{FileSource, SourceEvent};
use crate::operator::{Finish, Input, OperatorReport};

/// How often operators hear about processing time.
const TICK: Duration = Duration::from_millis(20);

/// A channel into a task.
pub struct Port {
    /// Which input.
    pub input: Input,
    /// The channel.
    pub rx: Receiver<Envelope>,
    /// How many upstream instances send on it.
    pub senders: usize,
}

/// One parallel instance of a task.
pub struct TaskInstance {
    /// `node[subtask]`, for errors and thread names.
    pub name: String,
    /// The source it reads, if it starts with one.
    pub source: Option<FileSource>,
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

    fn run_source(&mut self) -> Result<()> {
        let mut src = self.source.take().expect("a source task");
        let mut last_tick = Instant::now();
        let mut how = Finish::Drained;
        loop {
            self.cancelled()?;
            if let Some(h) = self.stop.requested() {
                how = h;
                break;
            }
            match src.next_event()? {
                SourceEvent::Data(b) => {
                    self.chain.process(Input::Main, Data::Records(b))?;
                    if src.timestamps_from_function()
                        && let Some(t) = self.chain.take_first_link_max()
                    {
                        src.observe(t);
                    }
                }
                SourceEvent::Watermark(w) => self.chain.watermark(w)?,
                SourceEvent::Idle => self.chain.control(&Message::Idle)?,
                SourceEvent::CaughtUp => self.chain.control(&Message::CaughtUp)?,
                SourceEvent::End => break,
                SourceEvent::Pending => std::thread::sleep(Duration::from_millis(10)),
            }
            if last_tick.elapsed() >= TICK {
                last_tick = Instant::now();
                self.chain.processing_time(self.clock.now_ms())?;
            }
        }
        self.chain.finish(how)
    }

    fn run_ports(&mut self) -> Result<()> {
        let offsets: Vec<usize> = self
            .ports
            .iter()
            .scan(0, |acc, p| {
                let o = *acc;
                *acc += p.senders;
                Some(o)
            })
            .collect();
        let total: usize = self.ports.iter().map(|p| p.senders).sum();
        let mut tracker = WatermarkTracker::new(total);
        let mut caught_up = vec![false; total];
        let mut ended = vec![false; total];
        let mut forwarded_caught_up = false;
        let broadcast_port = self.ports.iter().position(|p| p.input == Input::Broadcast);
        let mut bootstrapping = self.bootstrap && broadcast_port.is_some();
        let mut last_tick = Instant::now();
        loop {
            self.cancelled()?;
            let (port, env) = {
                let mut sel = Select::new();
                let mut map = Vec::new();
                for (i, p) in self.ports.iter().enumerate() {
                    if bootstrapping && Some(i) != broadcast_port {
                        continue;
                    }
                    // A port whose senders all ended is disconnected once drained, and
                    // would be ready forever: stop listening to it.
                    if ended[offsets[i]..offsets[i] + p.senders].iter().all(|&e| e) {
                        continue;
                    }
                    map.push(i);
                    sel.recv(&p.rx);
                }
                match sel.select_timeout(TICK) {
                    Ok(op) => {
                        let i = map[op.index()];
                        match op.recv(&self.ports[i].rx) {
                            Ok(env) => (i, env),
                            Err(_) => {
                                self.cancelled()?;
                                anyhow::bail!("an upstream task stopped early")
                            }
                        }
                    }
                    Err(_) => {
                        last_tick = Instant::now();
                        self.chain.processing_time(self.clock.now_ms())?;
                        continue;
                    }
                }
            };
            let sender = offsets[port] + env.from as usize;
            let input = self.ports[port].input;
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
                Message::End | Message::Stopped => {
                    caught_up[sender] = true;
                    ended[sender] = true;
                    let change = if matches!(env.message, Message::Stopped) {
                        tracker.stopped(sender)
                    } else {
                        tracker.ended(sender)
                    };
                    if let Change::Advanced(x) = change {
                        self.chain.watermark(x)?;
                    }
                    done = tracker.all_ended();
                }
            }
            if bootstrapping {
                let p = broadcast_port.expect("bootstrapping needs a broadcast input");
                let range = offsets[p]..offsets[p] + self.ports[p].senders;
                if caught_up[range].iter().all(|&c| c) {
                    bootstrapping = false;
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
        self.chain.finish(if tracker.any_stopped() {
            Finish::Stopped
        } else {
            Finish::Drained
        })
    }
}

//! Timers of the current key, for map functions on keyed input (Flink's
//! `KeyedProcessFunction`): register one while handling a record (or a timer), and
//! [`OnTimer::on_timer`] is called with the key when its time comes. Export the function
//! with `export_map!(T, timers)`.

use crate::batch::KeyTableView;
use crate::error::{Error, Result};
use crate::map::Map;
use crate::output::Output;
use crate::state;

/// Which clock a timer follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeDomain {
    /// The operator's watermark (event time).
    EventTime,
    /// The processing clock (wall-clock time).
    ProcessingTime,
}

/// A timer that came due.
#[derive(Debug, Clone, Copy)]
pub struct Timer<'a> {
    /// Its time (epoch milliseconds).
    pub time: i64,
    /// Its clock.
    pub domain: TimeDomain,
    /// Its key.
    pub key: &'a [u8],
}

impl Timer<'_> {
    /// The key as text.
    pub fn key_str(&self) -> Result<&str> {
        Ok(std::str::from_utf8(self.key)?)
    }
}

/// A map function with timers.
pub trait OnTimer: Map {
    /// A timer of `timer.key` came due: the key's state is reachable, as in
    /// [`Map::map`], and more timers may be registered. An error fails the job.
    fn on_timer(&mut self, timer: &Timer<'_>, out: &mut Output) -> Result<()>;
}

fn change(domain: TimeDomain, time: i64, delete: bool) -> Result<()> {
    let key = state::with_call(|c| c.current_key())
        .ok_or_else(|| Error::msg("timers need keyed input (`key_by` on the operator)"))?;
    crate::abi::timer_change(key, domain == TimeDomain::EventTime, time, delete).map_err(Error::msg)
}

/// Registers a timer of the current key at `time` (registering it again changes
/// nothing).
pub fn register(domain: TimeDomain, time: i64) -> Result<()> {
    change(domain, time, false)
}

/// Deletes the current key's timer at `time`, if there is one.
pub fn delete(domain: TimeDomain, time: i64) -> Result<()> {
    change(domain, time, true)
}

/// The operator's current watermark (`i64::MIN` before the first).
pub fn current_watermark() -> i64 {
    crate::abi::current_watermark()
}

/// The processing time of the call in progress (epoch milliseconds).
pub fn current_processing_time() -> i64 {
    crate::abi::current_processing_time()
}

/// Runs `on_timer` for each due timer of a call, each with its key's state, as the
/// host's `on-timer` call does.
pub fn fire_timers<M: OnTimer>(
    f: &mut M,
    keys: KeyTableView<'_>,
    timers: &[(i64, TimeDomain)],
    out: &mut Output,
) {
    state::begin_call(Some(crate::batch::offset(keys.len())), Vec::new());
    for (i, &(time, domain)) in timers.iter().enumerate() {
        out.set_current(i);
        let k = keys.of_record[i];
        state::with_call(|c| c.set_current(Some(k), None));
        let timer = Timer {
            time,
            domain,
            key: keys.key(k as usize),
        };
        if let Err(e) = f.on_timer(&timer, out) {
            out.fail_current(e);
        }
    }
    state::end_call();
}

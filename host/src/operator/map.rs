//! The map operator: calls its function once per batch and applies the error policy; a
//! function with timers (on keyed input) gets its due timers through `on-timer`.

use std::sync::Arc;

use anyhow::{Context, Result, bail};

use super::dead_letter::ErrorHandler;
use super::function::MapFunction;
use super::isolate::{count_isolation, host_failure, run_isolated};
use super::keyed_timers::KeyedTimers;
use super::{Collector, Finish, Input, Operator};
use crate::record::{Batch, HAS_TIMESTAMP, KeyTable};
use crate::runtime::{Clock, Data, NodeMetrics};
use crate::state::KeyedState;
use crate::wasm::bindings::timer_function::FiredTimer;
use crate::wasm::bindings::timers::TimeDomain;
use crate::wasm::bindings::types::Output;

/// Runs a map function.
pub struct MapOperator {
    function: Box<dyn MapFunction>,
    errors: ErrorHandler,
    clock: Arc<dyn Clock>,
    metrics: Arc<NodeMetrics>,
    /// The function's timers, when it has them.
    timers: Option<KeyedTimers>,
    watermark: i64,
}

impl MapOperator {
    /// An operator calling `function`.
    pub fn new(
        function: Box<dyn MapFunction>,
        errors: ErrorHandler,
        clock: Arc<dyn Clock>,
        metrics: Arc<NodeMetrics>,
    ) -> Self {
        Self {
            function,
            errors,
            clock,
            metrics,
            timers: None,
            watermark: i64::MIN,
        }
    }

    /// Gives the operator a timer service saved in `keyed` (its function has timers);
    /// `restored`: read back the timers of restored state.
    pub fn with_timers(mut self, keyed: KeyedState, restored: bool) -> Result<Self> {
        let mut timers = KeyedTimers::new(keyed)?;
        if restored {
            timers.load()?;
        }
        self.timers = Some(timers);
        Ok(self)
    }

    /// Calls `on-timer` for every timer of a clock due at `time`, one timer time after
    /// the other (timers an `on-timer` registers at or before `time` come in their turn).
    fn fire_timers(&mut self, event_time: bool, time: i64, out: &mut Collector) -> Result<()> {
        loop {
            let Some(timers) = self.timers.as_mut() else {
                return Ok(());
            };
            let Some(at) = timers.next_time(event_time).filter(|&t| t <= time) else {
                return Ok(());
            };
            let keys = timers.take_at(event_time, at);
            let mut table = crate::record::KeyTableBuilder::default();
            for k in &keys {
                table.push(k);
            }
            let table = table.finish();
            let domain = if event_time {
                TimeDomain::EventTime
            } else {
                TimeDomain::ProcessingTime
            };
            let fired = vec![FiredTimer { time: at, domain }; keys.len()];
            let now = self.clock.now_ms();
            self.metrics.calls.add(1);
            let mut o = match self.function.on_timer(&table, &fired, now) {
                Ok(o) => o,
                Err(f) => {
                    return Err(host_failure(self.function.label(), f)).with_context(|| {
                        format!(
                            "on-timer for {} timer(s) at {at} ({}), first key {}",
                            keys.len(),
                            if event_time {
                                "event time"
                            } else {
                                "processing time"
                            },
                            String::from_utf8_lossy(&keys[0])
                        )
                    });
                }
            };
            let changes = self.function.take_timer_changes();
            if let Some(t) = self.timers.as_mut() {
                t.apply(changes);
            }
            if let Some(e) = o.errors.first() {
                bail!(
                    "{}: on-timer failed for key {} at {at}: {}",
                    self.function.label(),
                    String::from_utf8_lossy(&keys[e.index as usize]),
                    e.message
                );
            }
            if event_time {
                for i in 0..o.records.len() {
                    if o.records.flags[i] & HAS_TIMESTAMP == 0 {
                        o.records.set_timestamp(i, at);
                    }
                }
            }
            self.metrics.timers_fired.add(keys.len() as u64);
            self.metrics.records_out.add(o.records.len() as u64);
            out.records(o.records);
        }
    }
}

/// Gives records without a timestamp the timestamp of the input they came from.
pub(crate) fn inherit_timestamps(out: &mut Output, input: &Batch) {
    for i in 0..out.records.len() {
        if out.records.flags[i] & HAS_TIMESTAMP == 0 {
            let origin = out.origins[i] as usize;
            if let Some(t) = input.get(origin).timestamp {
                out.records.set_timestamp(i, t);
            }
        }
    }
}

/// Handles what a batch call produced: emits records, applies the error policy to
/// failed inputs, and counts each input once: rejected (it has an error), produced (it
/// has output), or filtered. With `count_inputs` false only the output is counted.
pub(crate) fn emit_results(
    input: &Batch,
    isolated: super::Isolated,
    errors: &ErrorHandler,
    metrics: &NodeMetrics,
    count_inputs: bool,
    out: &mut Collector,
) -> Result<()> {
    let mut output = isolated.output;
    inherit_timestamps(&mut output, input);
    // 0: nothing yet, 1: produced, 2: rejected.
    let mut outcome = vec![0u8; input.len()];
    for &o in &output.origins {
        outcome[o as usize] = outcome[o as usize].max(1);
    }
    for e in &output.errors {
        outcome[e.index as usize] = 2;
        errors.failed(&input.get(e.index as usize), &e.message, out)?;
    }
    for (i, f) in &isolated.failures {
        outcome[*i as usize] = 2;
        errors.failed(&input.get(*i as usize), &f.to_string(), out)?;
    }
    if count_inputs {
        let count = |v: u8| outcome.iter().filter(|&&x| x == v).count() as u64;
        metrics.filtered.add(count(0));
        metrics.produced.add(count(1));
        metrics.rejected.add(count(2));
    }
    metrics.records_out.add(output.records.len() as u64);
    out.records(output.records);
    Ok(())
}

/// Sends records that could not be keyed to the error policy.
pub(crate) fn reject_unkeyed(
    data: &Data,
    errors: &ErrorHandler,
    out: &mut Collector,
) -> Result<()> {
    if let Data::Keyed(k) = data {
        for (i, why) in &k.unkeyed {
            errors.failed(&k.batch.get(*i as usize), why, out)?;
        }
        errors.count_rejected(k.unkeyed.len());
    }
    Ok(())
}

/// The records of `data` that can be processed, with their keys.
pub(crate) fn processable(data: Data) -> (Batch, Option<KeyTable>) {
    match data {
        Data::Records(b) => (b, None),
        Data::Keyed(k) if k.unkeyed.is_empty() => (k.batch, Some(k.keys)),
        Data::Keyed(k) => {
            let skip: std::collections::HashSet<u32> = k.unkeyed.iter().map(|(i, _)| *i).collect();
            let mut batch = Batch::default();
            let mut keys = crate::record::KeyTableBuilder::default();
            for i in 0..k.batch.len() {
                if !skip.contains(&(i as u32)) {
                    batch.push_record(&k.batch.get(i));
                    keys.push(k.keys.key_of(i));
                }
            }
            (batch, Some(keys.finish()))
        }
    }
}

impl Operator for MapOperator {
    fn replace_function(&mut self, f: super::Function) -> Result<()> {
        let super::Function::Map(f) = f else {
            anyhow::bail!("a map operator takes a map function");
        };
        self.errors.relabel(f.label().clone());
        self.function = f;
        Ok(())
    }

    fn process(&mut self, _input: Input, data: Data, out: &mut Collector) -> Result<()> {
        self.metrics.records_in.add(data.len() as u64);
        reject_unkeyed(&data, &self.errors, out)?;
        let (batch, keys) = processable(data);
        if batch.is_empty() {
            return Ok(());
        }
        let now = self.clock.now_ms();
        let f = &mut self.function;
        let metrics = &self.metrics;
        let before = f.reinstantiations();
        let isolated = run_isolated(&batch, keys.as_ref(), |b, k| {
            metrics.calls.add(1);
            f.process(b, k, now)
        })
        .map_err(|e| host_failure(f.label(), e))?;
        count_isolation(metrics, &isolated, before, f.reinstantiations());
        if let Some(t) = self.timers.as_mut() {
            t.apply(self.function.take_timer_changes());
        }
        emit_results(&batch, isolated, &self.errors, &self.metrics, true, out)
    }

    fn on_watermark(&mut self, wm: i64, out: &mut Collector) -> Result<()> {
        if self.timers.is_some() && wm > self.watermark {
            self.watermark = wm;
            self.function.set_watermark(wm);
            self.fire_timers(true, wm, out)?;
        }
        out.watermark(wm);
        Ok(())
    }

    fn on_processing_time(&mut self, now_ms: i64, out: &mut Collector) -> Result<()> {
        self.fire_timers(false, now_ms, out)
    }

    fn finish(&mut self, how: Finish, out: &mut Collector) -> Result<()> {
        let _ = (how, out);
        // Event-time timers fired at the final watermark; processing-time timers still
        // pending are counted, not fired as if their time had come.
        if let Some(t) = &self.timers {
            self.metrics
                .timers_pending
                .add((t.len(false) + t.len(true)) as u64);
        }
        Ok(())
    }

    fn prepare_snapshot(&mut self) -> Result<Vec<u8>> {
        if let Some(t) = &self.timers {
            t.save()?;
        }
        Ok(Vec::new())
    }
}

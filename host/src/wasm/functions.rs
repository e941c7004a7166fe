//! Typed calls of the three function kinds, with their output checked before the host
//! uses it (a function's output is untrusted input).

use super::bindings::timer_function::FiredTimer;
use super::bindings::types::{Output, TimeWindow};
use super::bindings::window_function::{FiredWindow, Fold, FoldOutput};
use super::bindings::{broadcast_function, window_function};
use super::failure::Failure;
use super::instance::{FunctionInstance, MapExports};
use crate::record::{Batch, KeyTable, Values};

/// Checks an output against the `inputs` it answers.
pub fn check_output(out: &Output, inputs: usize) -> Result<(), Failure> {
    let bad = |m: String| Err(Failure::Malformed(m));
    if let Err(e) = out.records.validate() {
        return bad(e.to_string());
    }
    if out.origins.len() != out.records.len() {
        return bad(format!(
            "{} records but {} origins",
            out.records.len(),
            out.origins.len()
        ));
    }
    if let Some(o) = out.origins.iter().find(|&&o| o as usize >= inputs) {
        return bad(format!("origin {o} of {inputs} inputs"));
    }
    if let Some(e) = out.errors.iter().find(|e| e.index as usize >= inputs) {
        return bad(format!("error for input {} of {inputs}", e.index));
    }
    Ok(())
}

/// Finishes a call: checks its output, then keeps or drops its state writes.
fn finish<E: super::instance::Exports, T>(
    inst: &mut FunctionInstance<E>,
    result: Result<T, Failure>,
    check: impl FnOnce(&T) -> Result<(), Failure>,
) -> Result<T, Failure> {
    let out = result?;
    if let Err(f) = check(&out) {
        inst.abort();
        return Err(f);
    }
    inst.commit()?;
    Ok(out)
}

/// A map function instance.
pub type MapInstance = FunctionInstance<MapExports>;

impl MapInstance {
    /// `process`: one batch, keyed or not, at processing time `now_ms` (for state TTL).
    pub fn process(
        &mut self,
        input: &Batch,
        keys: Option<&KeyTable>,
        now_ms: i64,
    ) -> Result<Output, Failure> {
        let r = self.call(
            input.len(),
            |d| {
                d.keyed.begin_call(keys, Vec::new(), now_ms);
                d.broadcast.begin_call(false);
            },
            |g, s| g.map.call_process(s, input, keys),
        );
        finish(self, r, |o| check_output(o, input.len()))
    }

    /// Whether the component exports `timer-function`.
    pub fn has_timers(&self) -> bool {
        self.prepared().has_timers()
    }

    /// `on-timer`: timers that came due, `keys.of-record` giving each one's key.
    pub fn on_timer(
        &mut self,
        keys: &KeyTable,
        timers: &[FiredTimer],
        now_ms: i64,
    ) -> Result<Output, Failure> {
        let r = self.call(
            timers.len(),
            |d| {
                d.keyed.begin_call(Some(keys), Vec::new(), now_ms);
                d.broadcast.begin_call(false);
            },
            |g, s| match &g.timers {
                Some(t) => t.call_on_timer(s, keys, timers),
                None => Err(wasmtime::Error::msg(
                    "the component exports no `timer-function` (world `timed-map`)",
                )),
            },
        );
        finish(self, r, |o| check_output(o, timers.len()))
    }
}

/// A process-window function instance.
pub type WindowInstance = FunctionInstance<window_function::Guest>;

impl WindowInstance {
    /// `process`: fired windows with their elements.
    pub fn process(
        &mut self,
        keys: &KeyTable,
        windows: &[FiredWindow],
        elements: &Batch,
        now_ms: i64,
    ) -> Result<Output, Failure> {
        let scopes = scopes(keys, windows.iter().map(|w| w.window));
        let r = self.call(
            elements.len().max(windows.len()),
            |d| {
                d.keyed.begin_call(Some(keys), scopes, now_ms);
                d.broadcast.begin_call(false);
            },
            |g, s| g.call_process(s, keys, windows, elements),
        );
        finish(self, r, |o| check_output(o, windows.len()))
    }

    /// `aggregate`: folds elements into window accumulators.
    pub fn aggregate(
        &mut self,
        keys: &KeyTable,
        folds: &[Fold],
        accumulators: &Values,
        elements: &Batch,
    ) -> Result<FoldOutput, Failure> {
        let r = self.call(
            elements.len(),
            |d| {
                d.keyed.begin_call(None, Vec::new(), 0);
                d.broadcast.begin_call(false);
            },
            |g, s| g.call_aggregate(s, keys, folds, accumulators, elements),
        );
        finish(self, r, |o| {
            o.accumulators
                .validate()
                .map_err(|e| Failure::Malformed(e.to_string()))?;
            if o.accumulators.len() != folds.len() {
                return Err(Failure::Malformed(format!(
                    "{} accumulators for {} folds",
                    o.accumulators.len(),
                    folds.len()
                )));
            }
            match o.errors.iter().find(|e| e.index as usize >= elements.len()) {
                Some(e) => Err(Failure::Malformed(format!(
                    "error for element {} of {}",
                    e.index,
                    elements.len()
                ))),
                None => Ok(()),
            }
        })
    }

    /// `merge`: combines accumulators of merging session windows.
    pub fn merge(&mut self, accumulators: &Values, groups: &[u32]) -> Result<Values, Failure> {
        let r = self.call(
            groups.len(),
            |d| {
                d.keyed.begin_call(None, Vec::new(), 0);
                d.broadcast.begin_call(false);
            },
            |g, s| g.call_merge(s, accumulators, groups),
        );
        let r = match r {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(m)) => Err(Failure::Malformed(format!("merge failed: {m}"))),
            Err(f) => Err(f),
        };
        finish(self, r, |v| {
            v.validate()
                .map_err(|e| Failure::Malformed(e.to_string()))?;
            if v.len() != groups.len() {
                return Err(Failure::Malformed(format!(
                    "{} merged accumulators for {} groups",
                    v.len(),
                    groups.len()
                )));
            }
            Ok(())
        })
    }
}

/// Scopes a process-window call may reach: each window with its key.
fn scopes(keys: &KeyTable, windows: impl Iterator<Item = TimeWindow>) -> Vec<(u32, TimeWindow)> {
    windows
        .enumerate()
        .map(|(i, w)| (keys.of_record[i], w))
        .collect()
}

/// A broadcast-process function instance.
pub type BroadcastInstance = FunctionInstance<broadcast_function::Guest>;

impl BroadcastInstance {
    /// `process-element`: main input, broadcast state read-only.
    pub fn process_element(
        &mut self,
        input: &Batch,
        keys: Option<&KeyTable>,
        now_ms: i64,
    ) -> Result<Output, Failure> {
        let r = self.call(
            input.len(),
            |d| {
                d.keyed.begin_call(keys, Vec::new(), now_ms);
                d.broadcast.begin_call(false);
            },
            |g, s| g.call_process_element(s, input, keys),
        );
        finish(self, r, |o| check_output(o, input.len()))
    }

    /// `process-broadcast`: broadcast input, broadcast state writable.
    pub fn process_broadcast(&mut self, input: &Batch, now_ms: i64) -> Result<Output, Failure> {
        let r = self.call(
            input.len(),
            |d| {
                d.keyed.begin_call(None, Vec::new(), now_ms);
                d.broadcast.begin_call(true);
            },
            |g, s| g.call_process_broadcast(s, input),
        );
        finish(self, r, |o| check_output(o, input.len()))
    }
}

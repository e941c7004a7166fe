//! Calling the process-window function for fired windows: many windows per call, and on
//! a failed call each window alone, so only the windows that fail go to the error policy.

use anyhow::Result;

use crate::operator::Collector;
use crate::operator::dead_letter::ErrorHandler;
use crate::operator::function::WindowFunction;
use crate::operator::isolate::host_failure;
use crate::record::{Batch, HAS_TIMESTAMP, KeyTableBuilder, RecordRef};
use crate::runtime::NodeMetrics;
use crate::time::{Timing, Window};
use crate::wasm::Failure;
use crate::wasm::bindings::types::{Output, TimeWindow};
use crate::wasm::bindings::window_function::FiredWindow;

/// The header `pane_header` puts on each record a firing emits: `early`, `on-time` or
/// `late`.
pub const PANE_HEADER: &str = "weir-pane";

/// Elements per call (windows are not split: one window's elements go in one call).
const CALL_ELEMENTS: usize = 8 * 1024;

/// A window to fire.
#[derive(Debug)]
pub struct Fired {
    /// Where its key is in the set's keys.
    key: (u32, u32),
    /// Its bounds.
    pub window: Window,
    /// Whether it fired before.
    pub update: bool,
    /// Where the firing stands relative to the window's end.
    pub timing: Timing,
    /// The timestamp its results carry when the function sets none: a time window's
    /// last instant (`end - 1`, as Flink), a count window's latest element.
    pub timestamp: Option<i64>,
    /// Where its elements (or its one accumulator) start in the set's elements.
    first: u32,
    /// How many there are.
    count: u32,
}

/// What a firing is: whether the window fired before, and where it stands relative to
/// the window's end.
#[derive(Debug, Clone, Copy)]
pub struct Pane {
    /// Whether the window fired before.
    pub update: bool,
    /// Early, on time or late.
    pub timing: Timing,
}

/// Windows to fire, their elements in one batch (not a batch per window: a firing of
/// many keys' windows allocates a few buffers, not a few per window).
#[derive(Debug, Default)]
pub struct FiredSet {
    windows: Vec<Fired>,
    elements: Batch,
    /// The windows' keys, one after the other.
    keys: Vec<u8>,
    /// Whether no key comes twice (one window of many keys).
    distinct_keys: bool,
}

impl FiredSet {
    /// An empty set whose windows all have different keys.
    pub fn distinct_keys() -> Self {
        Self {
            distinct_keys: true,
            ..Self::default()
        }
    }

    /// Adds a window with its elements.
    pub fn push<'a>(
        &mut self,
        key: &[u8],
        window: Window,
        pane: Pane,
        timestamp: Option<i64>,
        elements: impl Iterator<Item = RecordRef<'a>>,
    ) {
        let first = self.elements.len() as u32;
        for r in elements {
            self.elements.push_record(&r);
        }
        self.add(key, window, pane, timestamp, first);
    }

    /// Adds a window with its accumulator.
    pub fn push_accumulator(
        &mut self,
        key: &[u8],
        window: Window,
        pane: Pane,
        timestamp: Option<i64>,
        acc: &[u8],
    ) {
        let first = self.elements.len() as u32;
        self.elements.push(None, acc, timestamp);
        self.add(key, window, pane, timestamp, first);
    }

    /// Adds a window whose elements are those from `first` on.
    fn add(&mut self, key: &[u8], window: Window, pane: Pane, ts: Option<i64>, first: u32) {
        let start = self.keys.len() as u32;
        self.keys.extend_from_slice(key);
        self.windows.push(Fired {
            key: (start, self.keys.len() as u32),
            window,
            update: pane.update,
            timing: pane.timing,
            timestamp: ts,
            first,
            count: self.elements.len() as u32 - first,
        });
    }

    /// The key of `w`.
    fn key_of(&self, w: &Fired) -> &[u8] {
        &self.keys[w.key.0 as usize..w.key.1 as usize]
    }

    fn elements_of(&self, w: &Fired) -> impl Iterator<Item = RecordRef<'_>> + '_ {
        (w.first..w.first + w.count).map(|i| self.elements.get(i as usize))
    }
}

/// Fires the windows of `set` through `function`, emitting into `out`.
pub fn fire(
    set: FiredSet,
    function: &mut dyn WindowFunction,
    errors: &ErrorHandler,
    metrics: &NodeMetrics,
    now_ms: i64,
    pane_header: bool,
    out: &mut Collector,
) -> Result<()> {
    let windows = &set.windows;
    let mut start = 0;
    while start < windows.len() {
        let mut end = start;
        let mut n = 0;
        while end < windows.len()
            && (end == start || n + windows[end].count as usize <= CALL_ELEMENTS)
        {
            n += windows[end].count as usize;
            end += 1;
        }
        let chunk = &windows[start..end];
        metrics.windows_fired.add(chunk.len() as u64);
        match call(&set, chunk, function, metrics, now_ms) {
            Ok(o) => emit(&set, chunk, o, errors, metrics, pane_header, out)?,
            Err(f) if f.is_host() => return Err(host_failure(function.label(), f)),
            Err(_) if chunk.len() > 1 => {
                metrics.replays.add(1);
                for w in chunk {
                    let one = std::slice::from_ref(w);
                    match call(&set, one, function, metrics, now_ms) {
                        Ok(o) => emit(&set, one, o, errors, metrics, pane_header, out)?,
                        Err(f) if f.is_host() => return Err(host_failure(function.label(), f)),
                        Err(f) => failed(&set, w, &f.to_string(), errors, out)?,
                    }
                }
            }
            Err(f) => failed(&set, &chunk[0], &f.to_string(), errors, out)?,
        }
        start = end;
    }
    Ok(())
}

fn call(
    set: &FiredSet,
    chunk: &[Fired],
    function: &mut dyn WindowFunction,
    metrics: &NodeMetrics,
    now_ms: i64,
) -> Result<Output, Failure> {
    let mut keys = KeyTableBuilder::default();
    let mut elements = Batch::default();
    let mut fired = Vec::with_capacity(chunk.len());
    for w in chunk {
        if set.distinct_keys {
            keys.push_new(set.key_of(w));
        } else {
            keys.push(set.key_of(w));
        }
        let first = elements.len() as u32;
        for r in set.elements_of(w) {
            elements.push_record(&r);
        }
        fired.push(FiredWindow {
            window: TimeWindow {
                start: w.window.start,
                end: w.window.end,
            },
            first,
            count: w.count,
            update: w.update,
        });
    }
    metrics.calls.add(1);
    function.set_panes(chunk.iter().map(|w| w.timing).collect());
    function.process(&keys.finish(), &fired, &elements, now_ms)
}

#[allow(clippy::too_many_arguments)]
fn emit(
    set: &FiredSet,
    chunk: &[Fired],
    mut o: Output,
    errors: &ErrorHandler,
    metrics: &NodeMetrics,
    pane_header: bool,
    out: &mut Collector,
) -> Result<()> {
    for i in 0..o.records.len() {
        if o.records.flags[i] & HAS_TIMESTAMP == 0
            && let Some(t) = chunk[o.origins[i] as usize].timestamp
        {
            o.records.set_timestamp(i, t);
        }
    }
    for e in &o.errors {
        failed(set, &chunk[e.index as usize], &e.message, errors, out)?;
    }
    if pane_header {
        let origins = &o.origins;
        o.records.set_header_each(PANE_HEADER, |i| {
            chunk[origins[i] as usize].timing.as_str().as_bytes()
        });
    }
    metrics.records_out.add(o.records.len() as u64);
    out.records(o.records);
    Ok(())
}

/// A window the function failed on: each of its elements (or its accumulator) goes to
/// the error policy, with the window named in the error.
fn failed(
    set: &FiredSet,
    w: &Fired,
    message: &str,
    errors: &ErrorHandler,
    out: &mut Collector,
) -> Result<()> {
    let message = format!(
        "the window [{}, {}) of key {} failed ({} element{}): {message}",
        w.window.start,
        w.window.end,
        String::from_utf8_lossy(set.key_of(w)),
        w.count,
        if w.count == 1 { "" } else { "s" }
    );
    errors.window_failed();
    for r in set.elements_of(w) {
        let r = RecordRef {
            key: r.key.or(Some(set.key_of(w))),
            ..r
        };
        errors.failed(&r, &message, out)?;
    }
    Ok(())
}

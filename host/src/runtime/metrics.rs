//! Counters of a running job, read for its summary.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A counter shared by the parallel instances of a node.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counters per node.
///
/// Every record a node receives is counted once in exactly one of: `produced` (it
/// produced output), `filtered` (it produced none), `rejected` (it went to the error
/// policy), `late` (to the late output), `absorbed` (into window state) or `dropped` (by
/// a stated rule). The job report checks the sum.
#[derive(Debug, Default)]
pub struct NodeMetrics {
    /// Records received (operators, sinks) or read (sources).
    pub records_in: Counter,
    /// Records emitted on the main output.
    pub records_out: Counter,
    /// Records sent to the dead-letter output (inputs and failed windows' elements).
    pub dead_letters: Counter,
    /// Elements sent to the late output.
    pub late: Counter,
    /// Inputs that produced at least one output record (and no error).
    pub produced: Counter,
    /// Inputs the function handled without output or error (filtered out).
    pub filtered: Counter,
    /// Inputs sent to the error policy (their dead letters are in `dead_letters`).
    pub rejected: Counter,
    /// Elements taken into window state (they reach outputs when windows fire).
    pub absorbed: Counter,
    /// Elements dropped by a stated rule: between sliding windows whose slide is longer
    /// than their size.
    pub dropped: Counter,
    /// Windows fired.
    pub windows_fired: Counter,
    /// Windows the function failed on (their elements went to the error policy).
    pub windows_failed: Counter,
    /// Elements of count windows that had not filled when the input ended (a count
    /// window fires only when full, as Flink's count trigger).
    pub unfired: Counter,
    /// Windows still open when the job was stopped before the end of its input (not
    /// emitted: they are not complete).
    pub incomplete_windows: Counter,
    /// Lines of a file source that were blank (skipped; not records).
    pub blank_lines: Counter,
    /// Records of a source whose event-time field could not be read (they pass on
    /// without a timestamp).
    pub missing_timestamps: Counter,
    /// Calls into the function.
    pub calls: Counter,
    /// Calls that failed as a whole and were split to find the failing records.
    pub replays: Counter,
    /// Fresh instances made after a call trapped, ran out of time or memory.
    pub reinstantiations: Counter,
}

/// Counters of every node of a job.
#[derive(Debug, Default)]
pub struct Metrics {
    nodes: std::sync::Mutex<BTreeMap<String, Arc<NodeMetrics>>>,
}

impl Metrics {
    /// Every node's counters, by name.
    pub fn all(&self) -> BTreeMap<String, Arc<NodeMetrics>> {
        self.nodes.lock().expect("metrics lock").clone()
    }

    /// The counters of `node`.
    pub fn node(&self, node: &str) -> Arc<NodeMetrics> {
        self.nodes
            .lock()
            .expect("metrics lock")
            .entry(node.to_owned())
            .or_default()
            .clone()
    }
}

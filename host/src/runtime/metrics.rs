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
#[derive(Debug, Default)]
pub struct NodeMetrics {
    /// Records received (operators, sinks) or read (sources).
    pub records_in: Counter,
    /// Records emitted on the main output.
    pub records_out: Counter,
    /// Records sent to the dead-letter output.
    pub dead_letters: Counter,
    /// Elements sent to the late output.
    pub late: Counter,
    /// Windows fired.
    pub windows_fired: Counter,
    /// Calls into the function.
    pub calls: Counter,
}

/// Counters of every node of a job.
#[derive(Debug, Default)]
pub struct Metrics {
    nodes: std::sync::Mutex<BTreeMap<String, Arc<NodeMetrics>>>,
}

impl Metrics {
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

//! Counters of a running job: per parallel instance (so each instance's counts go into
//! checkpoints with its state, consistent with it), summed per node for reports; and
//! what a running instance shows besides: its watermark, its latest dead letters, and
//! how its task spends its time.
//!
//! - `live`: an instance's watermark and latest dead letters.
//! - `task_time`: a task's time waiting for input and waiting on full channels.
//! - `sample`: every instance's numbers at one moment, and rates between two moments.

mod live;
mod sample;
mod task_time;

pub use live::{DeadLetterEntry, Live};
pub use sample::{InstanceSample, NodeSample, Rates, Sample};
pub use task_time::{TaskTime, TimeReading};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A counter of one instance.
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

macro_rules! counters {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        /// Counters of one instance of a node.
        ///
        /// Every record a node receives is counted once in exactly one of: `produced` (it
        /// produced output), `filtered` (it produced none), `rejected` (it went to the error
        /// policy), `late` (to the late output), `absorbed` (into window state) or
        /// `dropped` (by a stated rule). The job report checks the sum.
        #[derive(Debug, Default)]
        pub struct NodeMetrics {
            $($(#[doc = $doc])* pub $name: Counter,)*
            /// Its watermark and latest dead letters (not kept in checkpoints).
            pub live: Live,
        }

        /// The counts of a node (or of one instance), as plain numbers.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct Counts {
            $($(#[doc = $doc])* pub $name: u64,)*
        }

        impl NodeMetrics {
            /// The counts now.
            pub fn counts(&self) -> Counts {
                Counts { $($name: self.$name.get(),)* }
            }

            /// Adds counts (restored from a checkpoint).
            pub fn add_counts(&self, c: &Counts) {
                $(self.$name.add(c.$name);)*
            }
        }

        impl Counts {
            /// The counts by name (how checkpoints keep them).
            pub fn to_map(&self) -> BTreeMap<String, u64> {
                let mut m = BTreeMap::new();
                $(if self.$name != 0 { m.insert(stringify!($name).to_owned(), self.$name); })*
                m
            }

            /// Counts from names (unknown names are ignored: a later version may count
            /// more).
            pub fn from_map(m: &BTreeMap<String, u64>) -> Self {
                Counts { $($name: m.get(stringify!($name)).copied().unwrap_or(0),)* }
            }

            /// Every count with its name and what it counts, zeros included.
            pub fn named(&self) -> Vec<(&'static str, &'static str, u64)> {
                vec![$((stringify!($name), concat!($($doc),*), self.$name),)*]
            }

            /// Adds another's counts.
            pub fn add(&mut self, o: &Counts) {
                $(self.$name += o.$name;)*
            }
        }
    };
}

counters! {
    /// Records received (operators, sinks) or read (sources).
    records_in,
    /// Records emitted on the main output.
    records_out,
    /// Records sent to the dead-letter output (inputs and failed windows' elements).
    dead_letters,
    /// Elements sent to the late output.
    late,
    /// Inputs that produced at least one output record (and no error).
    produced,
    /// Inputs the function handled without output or error (filtered out).
    filtered,
    /// Inputs sent to the error policy (their dead letters are in `dead_letters`).
    rejected,
    /// Elements taken into window state (they reach outputs when windows fire).
    absorbed,
    /// Elements dropped by a stated rule: between sliding windows whose slide is longer
    /// than their size.
    dropped,
    /// Windows fired.
    windows_fired,
    /// Windows the function failed on (their elements went to the error policy).
    windows_failed,
    /// Elements of count windows that had not filled when the input ended (a count
    /// window fires only when full, as Flink's count trigger).
    unfired,
    /// Windows still open when the job was stopped before the end of its input (not
    /// emitted: they are not complete).
    incomplete_windows,
    /// Lines of a file source that were blank (skipped; not records).
    blank_lines,
    /// Watermark markers a source took out of the stream (`watermark_markers`: they
    /// carry a watermark, not data).
    watermark_markers,
    /// Records of a source whose event-time field could not be read (they pass on
    /// without a timestamp).
    missing_timestamps,
    /// Timers of keys that fired (map functions with timers).
    timers_fired,
    /// Timers of keys still pending when the job ended (processing-time timers whose
    /// time had not come, or any timer of a stopped job).
    timers_pending,
    /// Calls into the function.
    calls,
    /// Calls that failed as a whole and were split to find the failing records.
    replays,
    /// Fresh instances made after a call trapped, ran out of time or memory.
    reinstantiations,
}

/// Counters of every instance of every node of a job.
#[derive(Debug, Default)]
pub struct Metrics {
    instances: Mutex<BTreeMap<(String, u32), Arc<NodeMetrics>>>,
    /// The time of the task each instance runs in (instances chained in one task share
    /// it).
    tasks: Mutex<BTreeMap<(String, u32), Arc<TaskTime>>>,
    /// Counts restored from a checkpoint, per node (they belong to no live instance).
    restored: Mutex<BTreeMap<String, Counts>>,
}

impl Metrics {
    /// The counters of instance `subtask` of `node`.
    pub fn instance(&self, node: &str, subtask: u32) -> Arc<NodeMetrics> {
        self.instances
            .lock()
            .expect("metrics lock")
            .entry((node.to_owned(), subtask))
            .or_default()
            .clone()
    }

    /// Forgets every live instance's counts and sets each node's restored counts: a
    /// job restarting from a checkpoint counts from what the checkpoint counted.
    pub fn restart_from(&self, restored: BTreeMap<String, Counts>) {
        self.instances.lock().expect("metrics lock").clear();
        self.tasks.lock().expect("metrics lock").clear();
        *self.restored.lock().expect("metrics lock") = restored;
    }

    /// The counts of `node`: its instances' and what was restored.
    pub fn node(&self, node: &str) -> Counts {
        let mut total = self
            .restored
            .lock()
            .expect("metrics lock")
            .get(node)
            .cloned()
            .unwrap_or_default();
        for ((n, _), m) in self.instances.lock().expect("metrics lock").iter() {
            if n == node {
                total.add(&m.counts());
            }
        }
        total
    }

    /// A new clock of the time of a task instance `subtask` that runs `nodes`.
    pub fn task_time(&self, nodes: &[&str], subtask: u32) -> Arc<TaskTime> {
        let t = Arc::new(TaskTime::default());
        let mut tasks = self.tasks.lock().expect("metrics lock");
        for n in nodes {
            tasks.insert(((*n).to_owned(), subtask), t.clone());
        }
        t
    }

    /// The counts of each live instance of `node`, by subtask.
    pub fn instances_of(&self, node: &str) -> Vec<(u32, Counts)> {
        self.instances
            .lock()
            .expect("metrics lock")
            .iter()
            .filter(|((n, _), _)| n == node)
            .map(|((_, s), m)| (*s, m.counts()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_counts_sum_instances_and_what_was_restored() {
        let m = Metrics::default();
        m.instance("op", 0).records_in.add(3);
        m.instance("op", 1).records_in.add(4);
        m.instance("other", 0).records_in.add(100);
        assert_eq!(m.node("op").records_in, 7);
        let mut restored = BTreeMap::new();
        restored.insert("op".to_owned(), Counts::from_map(&m.node("op").to_map()));
        m.restart_from(restored);
        m.instance("op", 0).records_in.add(1);
        assert_eq!(m.node("op").records_in, 8);
        assert_eq!(Counts::from_map(&m.node("op").to_map()), m.node("op"));
    }
}

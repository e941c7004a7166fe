//! Every instance's numbers at one moment, and what changed between two moments: records
//! per second, and the share of time each task was busy, back-pressured or idle.

use std::collections::BTreeMap;
use std::time::Instant;

use super::task_time::TimeReading;
use super::{Counts, Metrics};

/// One instance's numbers at one moment.
#[derive(Debug, Clone)]
pub struct InstanceSample {
    /// Which instance.
    pub subtask: u32,
    /// Its counts.
    pub counts: Counts,
    /// Its input watermark, if it has one.
    pub watermark: Option<i64>,
    /// Its task's time.
    pub time: TimeReading,
}

/// One node's numbers at one moment.
#[derive(Debug, Clone, Default)]
pub struct NodeSample {
    /// Its counts (all instances, and what was restored).
    pub total: Counts,
    /// Each live instance's.
    pub instances: Vec<InstanceSample>,
}

/// Every node's numbers at one moment.
#[derive(Debug, Clone)]
pub struct Sample {
    /// When.
    pub at: Instant,
    /// By node name.
    pub nodes: BTreeMap<String, NodeSample>,
}

/// Per second between two samples, and the share of each second a task spent in each
/// state (milliseconds per second, as Flink reports them).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Rates {
    /// Records in per second.
    pub records_in_per_s: f64,
    /// Records out per second.
    pub records_out_per_s: f64,
    /// Working.
    pub busy_ms_per_s: f64,
    /// Waiting on a full channel downstream.
    pub backpressured_ms_per_s: f64,
    /// Waiting for input.
    pub idle_ms_per_s: f64,
}

fn per_s(now: u64, before: u64, secs: f64) -> f64 {
    if secs <= 0.0 {
        return 0.0;
    }
    // Counts restart from a checkpoint after a failure: no negative rates.
    now.saturating_sub(before) as f64 / secs
}

impl InstanceSample {
    /// Its rates since `earlier` (the same instance in an earlier sample, or none: since
    /// its task started).
    pub fn rates_since(&self, earlier: Option<&InstanceSample>, secs: f64) -> Rates {
        let (c0, t0, secs) = match earlier {
            // The task restarted in between: count from its start.
            Some(e) if e.time.elapsed_ns <= self.time.elapsed_ns => {
                (e.counts.clone(), e.time, secs)
            }
            _ => (
                Counts::default(),
                TimeReading::default(),
                self.time.elapsed_ns as f64 / 1e9,
            ),
        };
        let wall = self.time.elapsed_ns.saturating_sub(t0.elapsed_ns) as f64;
        let share = |now: u64, before: u64| {
            if wall <= 0.0 {
                0.0
            } else {
                (now.saturating_sub(before) as f64 / wall * 1e3).min(1e3)
            }
        };
        Rates {
            records_in_per_s: per_s(self.counts.records_in, c0.records_in, secs),
            records_out_per_s: per_s(self.counts.records_out, c0.records_out, secs),
            busy_ms_per_s: share(self.time.busy_ns(), t0.busy_ns()),
            backpressured_ms_per_s: share(self.time.blocked_ns, t0.blocked_ns),
            idle_ms_per_s: share(self.time.idle_ns, t0.idle_ns),
        }
    }
}

impl Metrics {
    /// Every node's numbers now.
    pub fn sample(&self) -> Sample {
        let at = Instant::now();
        let mut nodes: BTreeMap<String, NodeSample> = BTreeMap::new();
        {
            let tasks = self.tasks.lock().expect("metrics lock");
            for ((node, subtask), m) in self.instances.lock().expect("metrics lock").iter() {
                let time = tasks
                    .get(&(node.clone(), *subtask))
                    .map(|t| t.read())
                    .unwrap_or_default();
                nodes
                    .entry(node.clone())
                    .or_default()
                    .instances
                    .push(InstanceSample {
                        subtask: *subtask,
                        counts: m.counts(),
                        watermark: m.live.watermark(),
                        time,
                    });
            }
        }
        for (name, n) in nodes.iter_mut() {
            n.total = self.node(name);
        }
        Sample { at, nodes }
    }

    /// The dead letters `node`'s instances kept, newest first, at most `limit`.
    pub fn dead_letters(&self, node: &str, limit: usize) -> Vec<super::DeadLetterEntry> {
        let mut all: Vec<_> = self
            .instances
            .lock()
            .expect("metrics lock")
            .iter()
            .filter(|((n, _), _)| n == node)
            .flat_map(|((_, s), m)| m.live.dead_letters(*s))
            .collect();
        all.sort_by_key(|e| std::cmp::Reverse(e.at_ms));
        all.truncate(limit);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rates_are_per_second_and_time_shares_add_up() {
        let m = Metrics::default();
        let t = m.task_time(&["a", "b"], 0);
        m.instance("a", 0).records_in.add(10);
        let s0 = m.sample();
        std::thread::sleep(Duration::from_millis(200));
        m.instance("a", 0).records_in.add(100);
        t.idle(Duration::from_millis(50));
        t.blocked(Duration::from_millis(100));
        let s1 = m.sample();
        let secs = s1.at.duration_since(s0.at).as_secs_f64();
        let a0 = &s0.nodes["a"].instances[0];
        let a1 = &s1.nodes["a"].instances[0];
        let r = a1.rates_since(Some(a0), secs);
        assert!((r.records_in_per_s - 100.0 / secs).abs() < 1e-6, "{r:?}");
        let total = r.busy_ms_per_s + r.backpressured_ms_per_s + r.idle_ms_per_s;
        assert!((total - 1000.0).abs() < 1.0, "{r:?}");
        // Blocked 100 of about 200 ms.
        assert!(
            r.backpressured_ms_per_s > 350.0 && r.backpressured_ms_per_s <= 500.0,
            "{r:?}"
        );
        // Chained nodes share their task's time.
        assert!(!s1.nodes.contains_key("b"));
        m.instance("b", 0);
        assert_eq!(
            m.sample().nodes["b"].instances[0].time.blocked_ns,
            100_000_000
        );
    }
}

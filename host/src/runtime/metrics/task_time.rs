//! How a task instance spends its time: waiting for input (idle), waiting to send on a
//! full channel (back-pressured), or working (busy: the rest). Flink reports the same
//! three as `idleTimeMsPerSecond`, `backPressuredTimeMsPerSecond` and
//! `busyTimeMsPerSecond`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The time of one task instance.
#[derive(Debug)]
pub struct TaskTime {
    since: Instant,
    idle_ns: AtomicU64,
    blocked_ns: AtomicU64,
}

impl Default for TaskTime {
    fn default() -> Self {
        Self {
            since: Instant::now(),
            idle_ns: AtomicU64::new(0),
            blocked_ns: AtomicU64::new(0),
        }
    }
}

/// A task's time at one moment (nanoseconds since it started).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeReading {
    /// Since the task started.
    pub elapsed_ns: u64,
    /// Waiting for input.
    pub idle_ns: u64,
    /// Waiting on a full channel downstream.
    pub blocked_ns: u64,
}

impl TimeReading {
    /// Working: neither idle nor blocked.
    pub fn busy_ns(&self) -> u64 {
        self.elapsed_ns
            .saturating_sub(self.idle_ns)
            .saturating_sub(self.blocked_ns)
    }
}

impl TaskTime {
    /// The task waited `d` for input.
    pub fn idle(&self, d: Duration) {
        self.idle_ns
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }

    /// The task waited `d` to send on a full channel.
    pub fn blocked(&self, d: Duration) {
        self.blocked_ns
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }

    /// The time now.
    pub fn read(&self) -> TimeReading {
        TimeReading {
            elapsed_ns: self.since.elapsed().as_nanos() as u64,
            idle_ns: self.idle_ns.load(Ordering::Relaxed),
            blocked_ns: self.blocked_ns.load(Ordering::Relaxed),
        }
    }
}

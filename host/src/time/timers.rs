//! Timers that fire and clean up windows, ordered by time.

use std::collections::BTreeSet;

use super::assign::Window;
use crate::hash::FastSet;

/// What a timer does when its time comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKind {
    /// Fire the window.
    Fire,
    /// Drop the window's state (its allowed lateness is over).
    Cleanup,
}

/// A window timer of one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timer {
    /// When.
    pub time: i64,
    /// Fire or clean up.
    pub kind: TimerKind,
    /// The key.
    pub key: Vec<u8>,
    /// The window.
    pub window: Window,
}

/// Pending timers, each at most once.
#[derive(Debug, Default)]
pub struct Timers {
    queue: BTreeSet<Timer>,
    index: FastSet<(Vec<u8>, Window, TimerKind)>,
}

impl Timers {
    /// Registers a timer (again registering the same one changes nothing).
    pub fn register(&mut self, timer: Timer) {
        if self
            .index
            .insert((timer.key.clone(), timer.window, timer.kind))
        {
            self.queue.insert(timer);
        }
    }

    /// Registers many timers at once (a restore): faster than one by one.
    pub fn extend(&mut self, mut timers: Vec<Timer>) {
        timers.sort_unstable();
        timers.dedup();
        self.index.reserve(timers.len());
        let mut fresh = Vec::with_capacity(timers.len());
        for t in timers {
            if self.index.insert((t.key.clone(), t.window, t.kind)) {
                fresh.push(t);
            }
        }
        if self.queue.is_empty() {
            // Built from sorted timers in one pass.
            self.queue = fresh.into_iter().collect();
        } else {
            self.queue.extend(fresh);
        }
    }

    /// Removes a window's timers (its session merged into another).
    pub fn remove(&mut self, key: &[u8], window: Window, at: &[(i64, TimerKind)]) {
        for &(time, kind) in at {
            if self.index.remove(&(key.to_vec(), window, kind)) {
                self.queue.remove(&Timer {
                    time,
                    kind,
                    key: key.to_vec(),
                    window,
                });
            }
        }
    }

    /// Takes every timer due at or before `time`, in time order.
    pub fn due(&mut self, time: i64) -> Vec<Timer> {
        let mut out = Vec::new();
        while let Some(t) = self.queue.first() {
            if t.time > time {
                break;
            }
            let t = self.queue.pop_first().expect("just seen");
            self.index.remove(&(t.key.clone(), t.window, t.kind));
            out.push(t);
        }
        out
    }

    /// Number of pending timers of one kind.
    pub fn count(&self, kind: TimerKind) -> usize {
        self.queue.iter().filter(|t| t.kind == kind).count()
    }

    /// Number of pending timers.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_registered_in_bulk_come_due_like_the_others() {
        let w = Window { start: 0, end: 10 };
        let timer = |time: i64, k: &str| Timer {
            time,
            kind: TimerKind::Fire,
            key: k.as_bytes().to_vec(),
            window: w,
        };
        let mut t = Timers::default();
        t.extend(vec![
            timer(30, "c"),
            timer(10, "a"),
            timer(10, "a"),
            timer(20, "b"),
        ]);
        t.register(timer(10, "a"));
        assert_eq!(t.len(), 3);
        let due: Vec<i64> = t.due(25).iter().map(|x| x.time).collect();
        assert_eq!(due, vec![10, 20]);
    }

    #[test]
    fn timers_come_due_in_order_once() {
        let mut t = Timers::default();
        let w = Window { start: 0, end: 10 };
        for time in [30, 10, 20, 10] {
            t.register(Timer {
                time,
                kind: TimerKind::Fire,
                key: format!("k{time}").into_bytes(),
                window: w,
            });
        }
        assert_eq!(t.len(), 3);
        let due: Vec<i64> = t.due(20).iter().map(|x| x.time).collect();
        assert_eq!(due, vec![10, 20]);
        t.remove(b"k30", w, &[(30, TimerKind::Fire)]);
        assert!(t.is_empty());
    }
}

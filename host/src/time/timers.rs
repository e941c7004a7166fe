//! Timers that fire and clean up windows, ordered by time.
//!
//! Timers are grouped by (time, kind, window): the windows of tumbling and sliding
//! assigners are shared by every key, so one entry holds the keys of thousands of
//! windows, and registering a timer is a hash-set insert instead of an ordered insert
//! comparing keys. Keys come due sorted, so a job fires its windows in the same order
//! on every run.

use std::collections::BTreeMap;

use super::assign::Window;
use crate::hash::FastSet;

/// What a timer does when its time comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKind {
    /// Fire the window early (a continuous trigger's next firing).
    Periodic,
    /// Fire the window (its end).
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
    queue: BTreeMap<(i64, TimerKind, Window), FastSet<Vec<u8>>>,
    len: usize,
}

impl Timers {
    /// Registers the timer of `key`'s `window` (again registering the same one changes
    /// nothing; the key is copied only when the timer is new).
    pub fn register(&mut self, time: i64, kind: TimerKind, window: Window, key: &[u8]) {
        let keys = self.queue.entry((time, kind, window)).or_default();
        if !keys.contains(key) {
            keys.insert(key.to_vec());
            self.len += 1;
        }
    }

    /// Registers many timers at once (a restore).
    pub fn extend(&mut self, timers: Vec<Timer>) {
        for t in timers {
            let keys = self.queue.entry((t.time, t.kind, t.window)).or_default();
            if keys.insert(t.key) {
                self.len += 1;
            }
        }
    }

    /// Removes a window's timers (its session merged into another).
    pub fn remove(&mut self, key: &[u8], window: Window, at: &[(i64, TimerKind)]) {
        for &(time, kind) in at {
            let slot = (time, kind, window);
            if let Some(keys) = self.queue.get_mut(&slot)
                && keys.remove(key)
            {
                self.len -= 1;
                if keys.is_empty() {
                    self.queue.remove(&slot);
                }
            }
        }
    }

    /// Takes every timer due at or before `time`, in order of time, kind, window and key.
    pub fn due(&mut self, time: i64) -> Vec<Timer> {
        let mut out = Vec::new();
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > time {
                break;
            }
            let ((time, kind, window), keys) = entry.remove_entry();
            self.len -= keys.len();
            let mut keys: Vec<Vec<u8>> = keys.into_iter().collect();
            keys.sort_unstable();
            out.extend(keys.into_iter().map(|key| Timer {
                time,
                kind,
                key,
                window,
            }));
        }
        out
    }

    /// The time of the earliest pending timer.
    pub fn next_time(&self) -> Option<i64> {
        self.queue.first_key_value().map(|((t, _, _), _)| *t)
    }

    /// Number of pending timers of one kind.
    pub fn count(&self, kind: TimerKind) -> usize {
        self.queue
            .iter()
            .filter(|((_, k, _), _)| *k == kind)
            .map(|(_, keys)| keys.len())
            .sum()
    }

    /// Number of pending timers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
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
        t.register(10, TimerKind::Fire, w, b"a");
        assert_eq!(t.len(), 3);
        let due: Vec<i64> = t.due(25).iter().map(|x| x.time).collect();
        assert_eq!(due, vec![10, 20]);
    }

    #[test]
    fn timers_come_due_in_order_once() {
        let mut t = Timers::default();
        let w = Window { start: 0, end: 10 };
        for time in [30, 10, 20, 10] {
            t.register(time, TimerKind::Fire, w, format!("k{time}").as_bytes());
        }
        assert_eq!(t.len(), 3);
        let due: Vec<i64> = t.due(20).iter().map(|x| x.time).collect();
        assert_eq!(due, vec![10, 20]);
        t.remove(b"k30", w, &[(30, TimerKind::Fire)]);
        assert!(t.is_empty());
    }

    #[test]
    fn keys_of_one_window_come_due_sorted_fire_before_cleanup() {
        let mut t = Timers::default();
        let w = Window { start: 0, end: 10 };
        for k in ["m", "b", "z", "a", "b"] {
            t.register(9, TimerKind::Cleanup, w, k.as_bytes());
            t.register(9, TimerKind::Fire, w, k.as_bytes());
        }
        assert_eq!((t.len(), t.count(TimerKind::Fire)), (8, 4));
        let due: Vec<(TimerKind, String)> = t
            .due(9)
            .into_iter()
            .map(|x| (x.kind, String::from_utf8(x.key).unwrap()))
            .collect();
        let mut expected = Vec::new();
        for kind in [TimerKind::Fire, TimerKind::Cleanup] {
            for k in ["a", "b", "m", "z"] {
                expected.push((kind, k.to_owned()));
            }
        }
        assert_eq!(due, expected);
        assert!(t.is_empty());
    }
}

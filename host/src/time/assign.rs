//! Assigning elements to tumbling, sliding and session windows, as Flink does.
//!
//! Timestamps are bounded to [`MIN_TIMESTAMP`, `MAX_TIMESTAMP`] (±2^61 ms, about ±73
//! million years) and durations to 100 years, so window bounds, firing times and
//! lateness never overflow; the window operator sends an element outside that range to
//! its error policy instead of placing it.

/// The latest event timestamp windows accept: 2^61 ms.
pub const MAX_TIMESTAMP: i64 = 1 << 61;
/// The earliest event timestamp windows accept.
pub const MIN_TIMESTAMP: i64 = -(1 << 61);

/// Whether windows can place an element at `t`.
pub fn in_range(t: i64) -> bool {
    (MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&t)
}

/// Window assigners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// Fixed, non-overlapping windows.
    Tumbling {
        /// Length.
        size_ms: i64,
        /// Boundary shift from the epoch.
        offset_ms: i64,
    },
    /// Fixed windows every `slide`.
    Sliding {
        /// Length.
        size_ms: i64,
        /// Step.
        slide_ms: i64,
        /// Boundary shift from the epoch.
        offset_ms: i64,
    },
    /// Windows that close after a gap of inactivity, merging as elements bridge them.
    Session {
        /// Inactivity gap.
        gap_ms: i64,
    },
    /// One window per key holding all its elements, `[i64::MIN, i64::MAX)`: it fires
    /// only as its trigger says (a count, a processing-time period).
    Global,
    /// Windows of a number of elements per key.
    Count {
        /// Elements per window.
        size: u64,
        /// Elements between window starts (= size for tumbling count windows).
        slide: u64,
    },
}

/// A time window, `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Window {
    /// First instant.
    pub start: i64,
    /// First instant after.
    pub end: i64,
}

impl Window {
    /// Whether two windows overlap or touch (session windows that do merge).
    pub fn touches(&self, other: &Window) -> bool {
        self.start <= other.end && self.end >= other.start
    }

    /// The smallest window covering both.
    pub fn cover(&self, other: &Window) -> Window {
        Window {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// The last instant in a window: it fires when the watermark reaches this.
pub fn max_timestamp(w: &Window) -> i64 {
    w.end.saturating_sub(1)
}

/// Whether a window can no longer take elements: its last instant plus the allowed
/// lateness is at or before the watermark.
pub fn is_late(w: &Window, allowed_lateness: i64, watermark: i64) -> bool {
    max_timestamp(w).saturating_add(allowed_lateness) <= watermark
}

/// The start of the window of length `size` (shifted by `offset`) holding `t`. Computed
/// wide, so it is right for every `i64` (and saturates where a start would not fit).
fn start_of(t: i64, offset: i64, size: i64) -> i64 {
    let (t, offset, size) = (i128::from(t), i128::from(offset), i128::from(size));
    let start = t - (t - offset).rem_euclid(size);
    start.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// The windows an element at time `t` belongs to (for sessions: its own proposed window,
/// before merging). Count windows have no time windows.
pub fn assign(kind: &WindowKind, t: i64, out: &mut Vec<Window>) {
    out.clear();
    match *kind {
        WindowKind::Tumbling { size_ms, offset_ms } => {
            let start = start_of(t, offset_ms, size_ms);
            out.push(Window {
                start,
                end: start.saturating_add(size_ms),
            });
        }
        WindowKind::Sliding {
            size_ms,
            slide_ms,
            offset_ms,
        } => {
            let last = start_of(t, offset_ms, slide_ms);
            let mut start = last;
            let earliest = t.saturating_sub(size_ms);
            while start > earliest {
                out.push(Window {
                    start,
                    end: start.saturating_add(size_ms),
                });
                match start.checked_sub(slide_ms) {
                    Some(s) => start = s,
                    None => break,
                }
            }
        }
        WindowKind::Session { gap_ms } => out.push(Window {
            start: t,
            end: t.saturating_add(gap_ms),
        }),
        WindowKind::Global => out.push(GLOBAL_WINDOW),
        WindowKind::Count { .. } => {}
    }
}

/// The one window of a global window assigner.
pub const GLOBAL_WINDOW: Window = Window {
    start: i64::MIN,
    end: i64::MAX,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(kind: WindowKind, t: i64) -> Vec<(i64, i64)> {
        let mut v = Vec::new();
        assign(&kind, t, &mut v);
        v.into_iter().map(|w| (w.start, w.end)).collect()
    }

    #[test]
    fn tumbling_windows_align_to_the_epoch_and_offset() {
        let k = WindowKind::Tumbling {
            size_ms: 10,
            offset_ms: 0,
        };
        assert_eq!(windows(k, 0), vec![(0, 10)]);
        assert_eq!(windows(k, 9), vec![(0, 10)]);
        assert_eq!(windows(k, 10), vec![(10, 20)]);
        assert_eq!(windows(k, -1), vec![(-10, 0)]);
        let k = WindowKind::Tumbling {
            size_ms: 10,
            offset_ms: 3,
        };
        assert_eq!(windows(k, 12), vec![(3, 13)]);
        assert_eq!(windows(k, 13), vec![(13, 23)]);
    }

    #[test]
    fn sliding_windows_overlap() {
        let k = WindowKind::Sliding {
            size_ms: 10,
            slide_ms: 5,
            offset_ms: 0,
        };
        assert_eq!(windows(k, 7), vec![(5, 15), (0, 10)]);
        assert_eq!(windows(k, 5), vec![(5, 15), (0, 10)]);
        assert_eq!(windows(k, 4), vec![(0, 10), (-5, 5)]);
        let k = WindowKind::Sliding {
            size_ms: 5,
            slide_ms: 10,
            offset_ms: 0,
        };
        assert_eq!(windows(k, 3), vec![(0, 5)]);
        assert_eq!(
            windows(k, 7),
            Vec::<(i64, i64)>::new(),
            "between windows when slide > size"
        );
    }

    #[test]
    fn windows_at_both_ends_of_the_timestamp_range_hold_their_element() {
        let kinds = [
            WindowKind::Tumbling {
                size_ms: 10_000,
                offset_ms: 3,
            },
            WindowKind::Sliding {
                size_ms: 10_000,
                slide_ms: 3_000,
                offset_ms: 7,
            },
            WindowKind::Session { gap_ms: 5_000 },
        ];
        for k in kinds {
            for t in [
                MIN_TIMESTAMP,
                MIN_TIMESTAMP + 1,
                -1,
                0,
                MAX_TIMESTAMP - 1,
                MAX_TIMESTAMP,
            ] {
                let mut v = Vec::new();
                assign(&k, t, &mut v);
                assert!(!v.is_empty(), "{k:?} at {t}");
                for w in v {
                    assert!(w.start <= t && t < w.end, "{k:?} at {t}: {w:?}");
                    assert!(max_timestamp(&w) >= t);
                    assert!(!is_late(&w, 0, t - 1));
                }
            }
        }
        // Past the range nothing wraps: windows still hold their element or saturate.
        let mut v = Vec::new();
        assign(&kinds[0], i64::MAX, &mut v);
        assert!(v[0].start <= v[0].end);
        assign(&kinds[1], i64::MIN, &mut v);
        assert!(v.iter().all(|w| w.start <= w.end));
        assert!(in_range(MAX_TIMESTAMP) && !in_range(i64::MAX) && !in_range(i64::MIN));
    }

    #[test]
    fn lateness() {
        let w = Window { start: 0, end: 10 };
        assert!(!is_late(&w, 0, 8));
        assert!(is_late(&w, 0, 9));
        assert!(!is_late(&w, 5, 13));
        assert!(is_late(&w, 5, 14));
    }
}

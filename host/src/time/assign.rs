//! Assigning elements to tumbling, sliding and session windows, as Flink does.

use crate::manifest::WindowKind;

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
    w.end - 1
}

/// Whether a window can no longer take elements: its last instant plus the allowed
/// lateness is at or before the watermark.
pub fn is_late(w: &Window, allowed_lateness: i64, watermark: i64) -> bool {
    max_timestamp(w).saturating_add(allowed_lateness) <= watermark
}

fn start_of(t: i64, offset: i64, size: i64) -> i64 {
    t - (t - offset + size).rem_euclid(size)
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
                end: start + size_ms,
            });
        }
        WindowKind::Sliding {
            size_ms,
            slide_ms,
            offset_ms,
        } => {
            let last = start_of(t, offset_ms, slide_ms);
            let mut start = last;
            while start > t - size_ms {
                out.push(Window {
                    start,
                    end: start + size_ms,
                });
                start -= slide_ms;
            }
        }
        WindowKind::Session { gap_ms } => out.push(Window {
            start: t,
            end: t + gap_ms,
        }),
        WindowKind::Count { .. } => {}
    }
}

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
    fn lateness() {
        let w = Window { start: 0, end: 10 };
        assert!(!is_late(&w, 0, 8));
        assert!(is_late(&w, 0, 9));
        assert!(!is_late(&w, 5, 13));
        assert!(is_late(&w, 5, 14));
    }
}

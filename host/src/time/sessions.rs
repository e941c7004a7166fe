//! Merging session windows: a new element's window swallows every session of its key it
//! overlaps or touches, so a late element can bridge two sessions into one.

use super::assign::Window;

/// What adding a window to a key's sessions did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    /// The session the new window ended up in.
    pub result: Window,
    /// Existing sessions that were merged into it (their state moves to `result`).
    pub merged: Vec<Window>,
}

/// Adds `new` to `sessions` (kept sorted and disjoint) and says what merged.
pub fn merge_session(sessions: &mut Vec<Window>, new: Window) -> Merge {
    let mut result = new;
    let mut merged = Vec::new();
    let mut kept = Vec::with_capacity(sessions.len() + 1);
    for s in sessions.drain(..) {
        if s.touches(&new) {
            result = result.cover(&s);
            merged.push(s);
        } else {
            kept.push(s);
        }
    }
    // Covering several sessions can make the result touch others: repeat until stable.
    loop {
        let before = merged.len();
        let mut rest = Vec::with_capacity(kept.len());
        for s in kept.drain(..) {
            if s.touches(&result) {
                result = result.cover(&s);
                merged.push(s);
            } else {
                rest.push(s);
            }
        }
        kept = rest;
        if merged.len() == before {
            break;
        }
    }
    kept.push(result);
    kept.sort();
    *sessions = kept;
    merged.sort();
    Merge { result, merged }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(start: i64, end: i64) -> Window {
        Window { start, end }
    }

    #[test]
    fn a_window_joins_what_it_overlaps() {
        let mut s = vec![w(0, 10)];
        let m = merge_session(&mut s, w(5, 15));
        assert_eq!(
            m,
            Merge {
                result: w(0, 15),
                merged: vec![w(0, 10)]
            }
        );
        assert_eq!(s, vec![w(0, 15)]);
    }

    #[test]
    fn a_bridging_element_merges_two_sessions() {
        let mut s = vec![w(0, 10), w(20, 30)];
        let m = merge_session(&mut s, w(10, 20));
        assert_eq!(m.result, w(0, 30));
        assert_eq!(m.merged, vec![w(0, 10), w(20, 30)]);
        assert_eq!(s, vec![w(0, 30)]);
    }

    #[test]
    fn separate_windows_stay_separate() {
        let mut s = vec![w(0, 10)];
        let m = merge_session(&mut s, w(11, 21));
        assert!(m.merged.is_empty());
        assert_eq!(s, vec![w(0, 10), w(11, 21)]);
    }
}

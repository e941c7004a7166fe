//! Evictors: which elements of a window a firing keeps, as Flink's `CountEvictor` and
//! `TimeEvictor` (windows that keep their elements only; an incremental aggregate has
//! none to evict).

/// What an evictor keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictorKind {
    /// The last `n` elements (in arrival order).
    Count(u64),
    /// Elements within `ms` of the window's latest timestamp: those with a timestamp
    /// above `max - ms`. A window whose elements have no timestamps keeps them all.
    Time(i64),
}

/// A window operator's evictor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evictor {
    /// What it keeps.
    pub kind: EvictorKind,
    /// Evict after the function ran (`true`) instead of before: the function sees every
    /// element, later firings only the kept ones.
    pub after: bool,
}

impl Evictor {
    /// For elements with these timestamps (in arrival order), which are kept.
    pub fn keeps(&self, timestamps: &[Option<i64>]) -> Vec<bool> {
        let n = timestamps.len();
        match self.kind {
            EvictorKind::Count(keep) => {
                let first = n.saturating_sub(keep as usize);
                (0..n).map(|i| i >= first).collect()
            }
            EvictorKind::Time(ms) => {
                let Some(max) = timestamps.iter().flatten().max() else {
                    return vec![true; n];
                };
                let cutoff = max.saturating_sub(ms);
                timestamps
                    .iter()
                    .map(|t| t.is_none_or(|t| t > cutoff))
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_evictor_keeps_the_last_elements_and_a_time_evictor_the_recent_ones() {
        let count = Evictor {
            kind: EvictorKind::Count(2),
            after: false,
        };
        assert_eq!(count.keeps(&[None; 3]), [false, true, true]);
        assert_eq!(count.keeps(&[None]), [true]);
        let time = Evictor {
            kind: EvictorKind::Time(1000),
            after: false,
        };
        // Latest 5000: the cutoff is 4000, which is evicted, as Flink's.
        let ts = [Some(3000), Some(5000), Some(4000), Some(4001)];
        assert_eq!(time.keeps(&ts), [false, true, false, true]);
        assert_eq!(time.keeps(&[None, None]), [true, true]);
    }
}

//! Barrier alignment of one task (Chandy–Lamport, as Flink does it): a task reading
//! several senders snapshots when every sender has delivered the barrier. Aligned, a
//! sender that delivered it is not read again until then, so the snapshot holds exactly
//! what came before the barrier on every input. Not aligned (at-least-once), the first
//! barrier snapshots at once and later records of slower senders may end up in the state
//! (and are replayed after a recovery).
//!
//! Pure bookkeeping: the task asks which senders it may read and tells what arrived.

/// What a barrier's arrival means for the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Keep reading (the other senders' barriers are still to come).
    Wait,
    /// Snapshot now and pass the barrier on.
    Snapshot,
    /// Nothing to do: the barrier was already snapshotted (a later sender's copy of it,
    /// not aligned).
    Ignore,
}

/// The alignment state of one task.
#[derive(Debug, Clone)]
pub struct Aligner {
    /// Per sender: it has ended (it delivers nothing more, barriers included).
    ended: Vec<bool>,
    /// Per sender: it delivered the barrier in alignment.
    arrived: Vec<bool>,
    /// The barrier being aligned, with whether it blocks senders.
    current: Option<(u64, bool)>,
    /// The last barrier snapshotted.
    last: u64,
}

impl Aligner {
    /// A task with `senders` senders.
    pub fn new(senders: usize) -> Self {
        Self {
            ended: vec![false; senders],
            arrived: vec![false; senders],
            current: None,
            last: 0,
        }
    }

    /// Whether `sender` may be read now.
    pub fn readable(&self, sender: usize) -> bool {
        let held = self.arrived[sender] && matches!(self.current, Some((_, true)));
        !(self.ended[sender] || held)
    }

    /// The barrier being aligned, if any.
    pub fn aligning(&self) -> Option<u64> {
        self.current.map(|(id, _)| id)
    }

    /// Barrier `id` arrived from `sender`; `aligned` says whether it blocks the senders
    /// that delivered it.
    pub fn barrier(&mut self, sender: usize, id: u64, aligned: bool) -> Arrival {
        if id <= self.last {
            return Arrival::Ignore;
        }
        match self.current {
            Some((cur, _)) if cur == id => {}
            // A newer barrier while an older one aligns: the older was abandoned upstream
            // (a source ended before injecting it everywhere); align the newer one.
            _ => {
                self.arrived.iter_mut().for_each(|a| *a = false);
                self.current = Some((id, aligned));
            }
        }
        self.arrived[sender] = true;
        if !aligned || self.complete() {
            self.finish(id);
            return Arrival::Snapshot;
        }
        Arrival::Wait
    }

    /// `sender` ended: it no longer holds an alignment back. Returns the barrier whose
    /// alignment this completes, if any.
    pub fn ended(&mut self, sender: usize) -> Option<u64> {
        self.ended[sender] = true;
        match self.current {
            Some((id, _)) if self.complete() => {
                self.finish(id);
                Some(id)
            }
            _ => None,
        }
    }

    fn complete(&self) -> bool {
        self.ended.iter().zip(&self.arrived).all(|(&e, &a)| e || a)
    }

    fn finish(&mut self, id: u64) {
        self.last = id;
        self.current = None;
        self.arrived.iter_mut().for_each(|a| *a = false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_barriers_block_senders_that_delivered_them_until_all_have() {
        let mut a = Aligner::new(3);
        assert_eq!(a.barrier(0, 1, true), Arrival::Wait);
        assert!(!a.readable(0) && a.readable(1) && a.readable(2));
        assert_eq!(a.barrier(2, 1, true), Arrival::Wait);
        assert!(!a.readable(2));
        assert_eq!(a.barrier(1, 1, true), Arrival::Snapshot);
        assert!((0..3).all(|s| a.readable(s)));
        assert_eq!(a.aligning(), None);
    }

    #[test]
    fn a_sender_that_ends_completes_the_alignment() {
        let mut a = Aligner::new(2);
        assert_eq!(a.barrier(0, 4, true), Arrival::Wait);
        assert_eq!(a.ended(1), Some(4));
        assert!(a.readable(0) && !a.readable(1));
        // An ended sender is aligned for every later barrier.
        assert_eq!(a.barrier(0, 5, true), Arrival::Snapshot);
    }

    #[test]
    fn unaligned_barriers_snapshot_at_the_first_and_ignore_the_rest() {
        let mut a = Aligner::new(2);
        assert_eq!(a.barrier(1, 2, false), Arrival::Snapshot);
        assert!(a.readable(0) && a.readable(1));
        assert_eq!(a.barrier(0, 2, false), Arrival::Ignore);
        assert_eq!(a.barrier(0, 3, false), Arrival::Snapshot);
    }

    #[test]
    fn a_newer_barrier_replaces_one_still_aligning() {
        let mut a = Aligner::new(2);
        assert_eq!(a.barrier(0, 1, true), Arrival::Wait);
        assert_eq!(a.barrier(1, 2, true), Arrival::Wait);
        assert!(a.readable(0), "the older alignment was given up");
        assert_eq!(a.barrier(0, 2, true), Arrival::Snapshot);
        assert_eq!(a.barrier(0, 1, true), Arrival::Ignore);
    }
}

//! Asking a running job to stop: how its sources end.

use std::sync::atomic::{AtomicU8, Ordering};

use crate::operator::Finish;

/// Set by whoever stops the job, read by its sources.
#[derive(Debug, Default)]
pub struct StopSignal(AtomicU8);

const RUNNING: u8 = 0;
const STOP: u8 = 1;
const DRAIN: u8 = 2;

impl StopSignal {
    /// Sources stop reading; windows that have not ended stay unfired (as Flink's
    /// `stop`).
    pub fn stop(&self) {
        let _ = self
            .0
            .compare_exchange(RUNNING, STOP, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Sources end as if their input ended: the watermark goes to the end of time and
    /// every window fires (as Flink's `stop --drain`).
    pub fn drain(&self) {
        self.0.store(DRAIN, Ordering::Relaxed);
    }

    /// How sources should end now, if they should.
    pub fn requested(&self) -> Option<Finish> {
        match self.0.load(Ordering::Relaxed) {
            STOP => Some(Finish::Stopped),
            DRAIN => Some(Finish::Drained),
            _ => None,
        }
    }
}

//! The watermark of a task input: the minimum over its senders, ignoring senders that
//! are idle or done.

/// Per-sender watermark bookkeeping of one input.
#[derive(Debug, Clone)]
pub struct WatermarkTracker {
    senders: Vec<SenderState>,
    current: i64,
}

#[derive(Debug, Clone, Copy)]
struct SenderState {
    watermark: i64,
    idle: bool,
    ended: bool,
    stopped: bool,
}

/// What a change of sender state means for the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing new.
    None,
    /// The input's watermark advanced to this.
    Advanced(i64),
    /// Every sender still running is idle.
    AllIdle,
}

impl WatermarkTracker {
    /// An input with `senders` senders.
    pub fn new(senders: usize) -> Self {
        Self {
            senders: vec![
                SenderState {
                    watermark: i64::MIN,
                    idle: false,
                    ended: false,
                    stopped: false,
                };
                senders
            ],
            current: i64::MIN,
        }
    }

    /// The input's watermark.
    pub fn current(&self) -> i64 {
        self.current
    }

    /// Whether every sender is done.
    pub fn all_ended(&self) -> bool {
        self.senders.iter().all(|s| s.ended)
    }

    /// A sender sent data (so it is not idle any more).
    pub fn active(&mut self, from: usize) {
        self.senders[from].idle = false;
    }

    /// A sender's watermark.
    pub fn watermark(&mut self, from: usize, wm: i64) -> Change {
        let s = &mut self.senders[from];
        s.idle = false;
        s.watermark = s.watermark.max(wm);
        self.recompute()
    }

    /// A sender went idle.
    pub fn idle(&mut self, from: usize) -> Change {
        self.senders[from].idle = true;
        match self.recompute() {
            Change::None if self.senders.iter().all(|s| s.idle || s.ended) && !self.all_ended() => {
                Change::AllIdle
            }
            other => other,
        }
    }

    /// A sender is done: it no longer holds the watermark back.
    pub fn ended(&mut self, from: usize) -> Change {
        let s = &mut self.senders[from];
        s.ended = true;
        if self.all_ended() && !self.any_stopped() {
            // Everything upstream is done: every window may fire.
            return self.advance(i64::MAX);
        }
        self.recompute()
    }

    /// A sender stopped before the end of its input: it sends nothing more, and its
    /// watermark stays where it was (the windows it holds back do not fire).
    pub fn stopped(&mut self, from: usize) -> Change {
        let s = &mut self.senders[from];
        s.ended = true;
        s.stopped = true;
        self.recompute()
    }

    /// Whether a sender stopped before the end of its input.
    pub fn any_stopped(&self) -> bool {
        self.senders.iter().any(|s| s.stopped)
    }

    fn recompute(&mut self) -> Change {
        let min = self
            .senders
            .iter()
            .filter(|s| (!s.idle && !s.ended) || s.stopped)
            .map(|s| s.watermark)
            .min();
        match min {
            Some(m) => self.advance(m),
            None => Change::None,
        }
    }

    fn advance(&mut self, to: i64) -> Change {
        if to > self.current {
            self.current = to;
            Change::Advanced(to)
        } else {
            Change::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_over_active_senders() {
        let mut t = WatermarkTracker::new(2);
        assert_eq!(t.watermark(0, 100), Change::None);
        assert_eq!(t.watermark(1, 50), Change::Advanced(50));
        assert_eq!(t.watermark(1, 200), Change::Advanced(100));
        assert_eq!(t.watermark(0, 90), Change::None, "watermarks never go back");
    }

    #[test]
    fn idle_senders_do_not_hold_back_and_resume_on_data() {
        let mut t = WatermarkTracker::new(2);
        t.watermark(0, 100);
        assert_eq!(t.idle(1), Change::Advanced(100));
        t.watermark(1, 40);
        assert_eq!(t.current(), 100);
        assert_eq!(
            t.watermark(0, 150),
            Change::None,
            "sender 1 is active again at 40"
        );
        assert_eq!(t.idle(0), Change::None);
        assert_eq!(t.idle(1), Change::AllIdle);
    }

    #[test]
    fn ended_senders_release_and_all_ended_is_the_end_of_time() {
        let mut t = WatermarkTracker::new(2);
        t.watermark(0, 10);
        t.watermark(1, 20);
        assert_eq!(t.ended(0), Change::Advanced(20));
        assert_eq!(t.ended(1), Change::Advanced(i64::MAX));
        assert!(t.all_ended());
    }
}

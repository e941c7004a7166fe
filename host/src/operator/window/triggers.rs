//! Triggers at work in the window operator: where a batch's elements fire their windows
//! (late elements, counts), the periodic firings of continuous triggers, and the state a
//! trigger keeps per window.

use super::WindowOperator;
use super::aggregate::Group;
use crate::record::Batch;
use crate::time::{TimerKind, Timing, TriggerKind, Window, first_periodic, max_timestamp};

/// What a trigger keeps for one window (checkpointed with the operator's state).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TriggerState {
    /// Elements since the last firing (`count` triggers).
    pub count: u64,
    /// The next periodic firing (continuous triggers), once the first element came.
    pub next: Option<i64>,
}

impl TriggerState {
    /// As stored: the count, then the next firing (`i64::MIN`: none), big-endian.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(16);
        b.extend_from_slice(&self.count.to_be_bytes());
        b.extend_from_slice(&self.next.unwrap_or(i64::MIN).to_be_bytes());
        b
    }

    /// The state stored as `b`, if well formed.
    pub fn decode(b: &[u8]) -> Option<Self> {
        let count = u64::from_be_bytes(b.get(..8)?.try_into().ok()?);
        let next = i64::from_be_bytes(b.get(8..16)?.try_into().ok()?);
        Some(Self {
            count,
            next: (next != i64::MIN).then_some(next),
        })
    }
}

/// Where a group's elements fire its window: after the group's first `n` elements, with
/// this timing.
pub type Cut = (usize, Timing);

impl WindowOperator {
    /// The timing of a firing that is not the window's end: late once the watermark
    /// passed the end, early before.
    pub(super) fn timing_now(&self, w: &Window) -> Timing {
        if self.event_time() && max_timestamp(w) <= self.watermark {
            Timing::Late
        } else {
            Timing::Early
        }
    }

    /// For each group of a batch, where its elements fire its window (as Flink's
    /// triggers fire per element: each late element, every `n`-th element); starts the
    /// periodic firings of continuous triggers for windows that get their first element.
    pub(super) fn cuts(&mut self, groups: &[Group], batch: &Batch, now: i64) -> Vec<Vec<Cut>> {
        let mut all = Vec::with_capacity(groups.len());
        for g in groups {
            let past_end = self.event_time() && max_timestamp(&g.window) <= self.watermark;
            let n = g.records.len();
            let cuts = match self.spec.trigger.kind {
                TriggerKind::EventTime | TriggerKind::ContinuousEventTime(_) if past_end => {
                    (1..=n).map(|e| (e, Timing::Late)).collect()
                }
                TriggerKind::Count(every) => {
                    let timing = self.timing_now(&g.window);
                    let st = self
                        .trig
                        .entry((g.key.bytes.clone(), g.window))
                        .or_default();
                    let mut cuts = Vec::new();
                    for e in 1..=n {
                        st.count += 1;
                        if st.count >= every {
                            st.count = 0;
                            cuts.push((e, timing));
                        }
                    }
                    cuts
                }
                TriggerKind::ContinuousEventTime(interval) => {
                    let first = batch.get(g.records[0] as usize).timestamp.unwrap_or(now);
                    self.start_periodic(&g.key.bytes, g.window, first, interval);
                    Vec::new()
                }
                TriggerKind::ContinuousProcessingTime(interval) => {
                    self.start_periodic(&g.key.bytes, g.window, now, interval);
                    Vec::new()
                }
                TriggerKind::EventTime | TriggerKind::ProcessingTime => Vec::new(),
            };
            all.push(cuts);
        }
        all
    }

    /// Starts a window's periodic firings at the first multiple of `interval` after `t`,
    /// unless they started.
    pub(super) fn start_periodic(&mut self, key: &[u8], w: Window, t: i64, interval: i64) {
        let st = self.trig.entry((key.to_vec(), w)).or_default();
        if st.next.is_some() {
            return;
        }
        let at = first_periodic(t, interval);
        st.next = Some(at);
        self.register_periodic(key, w, at);
    }

    /// Registers a periodic firing. In the window's own time it stops before the
    /// window's end (which fires anyway); processing-time firings of event-time windows
    /// go on until the window is cleaned up, as Flink's.
    pub(super) fn register_periodic(&mut self, key: &[u8], w: Window, at: i64) {
        let processing_of_event = self.event_time()
            && matches!(
                self.spec.trigger.kind,
                TriggerKind::ContinuousProcessingTime(_)
            );
        if processing_of_event {
            self.ptimers.register(at, TimerKind::Periodic, w, key);
        } else if at < max_timestamp(&w) {
            self.timers.register(at, TimerKind::Periodic, w, key);
        }
    }

    /// A periodic firing at `t` happened: the next one comes an interval later.
    pub(super) fn next_periodic(&mut self, key: &[u8], w: Window, t: i64) {
        let (TriggerKind::ContinuousEventTime(interval)
        | TriggerKind::ContinuousProcessingTime(interval)) = self.spec.trigger.kind
        else {
            return;
        };
        let Some(st) = self.trig.get_mut(&(key.to_vec(), w)) else {
            return;
        };
        let at = t.saturating_add(interval);
        st.next = Some(at);
        self.register_periodic(key, w, at);
    }

    /// Forgets a cleaned-up window's trigger state and its pending periodic firing.
    pub(super) fn drop_trigger_state(&mut self, key: &[u8], w: Window) {
        if self.trig.is_empty() {
            return;
        }
        if let Some(st) = self.trig.remove(&(key.to_vec(), w))
            && let Some(next) = st.next
        {
            self.ptimers.remove(key, w, &[(next, TimerKind::Periodic)]);
            self.timers.remove(key, w, &[(next, TimerKind::Periodic)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_state_round_trips() {
        for st in [
            TriggerState::default(),
            TriggerState {
                count: 7,
                next: Some(-5),
            },
        ] {
            assert_eq!(TriggerState::decode(&st.encode()), Some(st));
        }
        assert_eq!(TriggerState::decode(&[1, 2, 3]), None);
    }
}

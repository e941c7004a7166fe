//! Triggers: when a window fires besides (or instead of) the end of its time, as Flink's
//! `Trigger`s. A trigger decides; the window operator keeps its state and timers.

/// When a window fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerKind {
    /// When the watermark reaches the window's last instant, and again for each late
    /// element within the allowed lateness (the default of event-time windows).
    EventTime,
    /// When the processing clock reaches the window's last instant (the default of
    /// processing-time windows).
    ProcessingTime,
    /// Every `n`-th element of the window (the count restarts after each firing).
    Count(u64),
    /// Every `interval` of event time from the window's first element, and at the
    /// window's end and for late elements as `EventTime`.
    ContinuousEventTime(i64),
    /// Every `interval` of processing time from the window's first element, until the
    /// window's end.
    ContinuousProcessingTime(i64),
}

/// A window operator's trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trigger {
    /// When it fires.
    pub kind: TriggerKind,
    /// Whether a firing clears the window's contents (`FIRE_AND_PURGE`): each firing
    /// then holds what arrived since the one before.
    pub purging: bool,
}

impl Trigger {
    /// The default trigger of windows in event time (`event_time`) or processing time.
    pub fn default_for(event_time: bool) -> Self {
        Self {
            kind: if event_time {
                TriggerKind::EventTime
            } else {
                TriggerKind::ProcessingTime
            },
            purging: false,
        }
    }

    /// Whether the trigger keeps state per window (a count, the next periodic firing):
    /// the end-of-window triggers keep none.
    pub fn keeps_state(&self) -> bool {
        !matches!(
            self.kind,
            TriggerKind::EventTime | TriggerKind::ProcessingTime
        )
    }

    /// Whether windows in event time (`event_time`) or processing time fire at their end
    /// in their own time: all but count triggers, and continuous processing-time triggers
    /// of event-time windows (which fire only on the processing clock, as Flink's).
    pub fn fires_at_end(&self, event_time: bool) -> bool {
        match self.kind {
            TriggerKind::EventTime
            | TriggerKind::ProcessingTime
            | TriggerKind::ContinuousEventTime(_) => true,
            TriggerKind::ContinuousProcessingTime(_) => !event_time,
            TriggerKind::Count(_) => false,
        }
    }
}

/// Where a window's result stands relative to the window's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timing {
    /// Before the end: a partial result (count or continuous triggers).
    Early,
    /// At the end.
    OnTime,
    /// After the end: late elements updated it.
    Late,
}

impl Timing {
    /// The name of the timing (`early`, `on-time`, `late`).
    pub fn as_str(self) -> &'static str {
        match self {
            Timing::Early => "early",
            Timing::OnTime => "on-time",
            Timing::Late => "late",
        }
    }
}

/// The first periodic firing of a continuous trigger for a window whose first element
/// came at `t`: the next multiple of `interval` after `t`.
pub fn first_periodic(t: i64, interval: i64) -> i64 {
    t.saturating_sub(t.rem_euclid(interval))
        .saturating_add(interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_firings_start_at_the_next_multiple_of_the_interval() {
        assert_eq!(first_periodic(0, 1000), 1000);
        assert_eq!(first_periodic(999, 1000), 1000);
        assert_eq!(first_periodic(1000, 1000), 2000);
        assert_eq!(first_periodic(-1, 1000), 0);
    }
}

//! Time windows: which windows an element belongs to, how session windows merge, the
//! triggers that decide when they fire, and the timers that fire them.

mod assign;
mod sessions;
mod timers;
mod trigger;

pub use assign::{
    MAX_TIMESTAMP, MIN_TIMESTAMP, Window, WindowKind, assign, in_range, is_late, max_timestamp,
};
pub use sessions::{Merge, merge_session};
pub use timers::{Timer, TimerKind, Timers};
pub use trigger::{Timing, Trigger, TriggerKind, first_periodic};

//! Time windows: which windows an element belongs to, how session windows merge, the
//! triggers that decide when they fire, the evictors that thin them, and the timers that
//! fire them.

mod assign;
mod evictor;
mod sessions;
mod timers;
mod trigger;

pub use assign::{
    MAX_TIMESTAMP, MIN_TIMESTAMP, Window, WindowKind, assign, in_range, is_late, max_timestamp,
};
pub use evictor::{Evictor, EvictorKind};
pub use sessions::{Merge, merge_session};
pub use timers::{Timer, TimerKind, Timers};
pub use trigger::{Timing, Trigger, TriggerKind, first_periodic};

//! Time windows: which windows an element belongs to, how session windows merge, and the
//! timers that fire windows.

mod assign;
mod sessions;
mod timers;

pub use assign::{
    MAX_TIMESTAMP, MIN_TIMESTAMP, Window, WindowKind, assign, in_range, is_late, max_timestamp,
};
pub use sessions::{Merge, merge_session};
pub use timers::{Timer, TimerKind, Timers};

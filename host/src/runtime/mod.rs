//! Running a job: tasks on threads, bounded channels between them, watermarks, and the
//! summary at the end.
//!
//! - `plan`: which operators share a task (chaining) and how tasks connect.
//! - `task`: the loop of one task instance; `chain`: its operators in a row.
//! - `exchange`: output edges (forward, by key, broadcast, round robin).
//! - `message`, `watermarks`: what flows, and an input's watermark.
//! - `job`: starting, stopping and awaiting a job; its report.
//! - `clock`, `metrics`: processing time; counters.

mod chain;
mod clock;
mod exchange;
mod job;
mod message;
mod metrics;
mod plan;
mod report;
mod state_dir;
mod stop;
mod task;
mod watermarks;

pub use clock::{Clock, ManualClock, SystemClock};
pub use exchange::{Cancelled, Outlet, Partition, key_of, partition};
pub use job::{BackendWrapper, JobError, JobHandle, RunOptions, check_functions, run, start};
pub use message::{Data, Envelope, KeyedBatch, Message};
pub use metrics::{Counter, Metrics, NodeMetrics};
pub use report::{JobReport, NodeReport, SinkReport};
pub use state_dir::{StateDir, control_file};
pub use stop::StopSignal;
pub use watermarks::{Change, WatermarkTracker};

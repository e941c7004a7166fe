//! Running a job: tasks on threads, bounded channels between them, watermarks, barriers
//! and the checkpoint coordinator, restarts, and the summary at the end.
//!
//! - `plan`: which operators share a task (chaining) and how tasks connect.
//! - `task`: the loop of one task instance; `chain`: its operators in a row; `align`:
//!   barrier alignment (pure).
//! - `exchange`: output edges (forward, by key, broadcast, round robin).
//! - `message`, `watermarks`: what flows (records, watermarks, barriers), and an input's
//!   watermark.
//! - `functions`, `build`, `attempt`: preparing functions once; building the instances
//!   and channels of one run, fresh or restored.
//! - `coordinator`: triggering, collecting and completing snapshots.
//! - `supervisor`, `handle`: running attempts under the restart strategy; starting,
//!   stopping and awaiting a job.
//! - `options`, `report`, `state_dir`, `stop`, `crash`: how a job runs, what it reports,
//!   its locked folder, stop signals, crash points for recovery tests.
//! - `swap`, `swapping`: preparing a new version of a function; a swap's steps.
//! - `query`: reading one key's state of a running operator.
//! - `clock`, `metrics`: processing time; counters, watermarks, time shares, samples.

mod align;
mod attempt;
mod build;
mod chain;
mod clock;
mod coordinator;
mod crash;
mod exchange;
mod functions;
mod handle;
mod message;
mod metrics;
mod options;
mod plan;
pub mod query;
mod report;
mod state_dir;
mod stop;
mod supervisor;
pub mod swap;
mod swapping;
mod task;
mod watermarks;

pub use align::{Aligner, Arrival};
pub use clock::{Clock, ManualClock, SystemClock, epoch_ms};
pub use coordinator::{CheckpointStats, Request, SnapshotRecord};
pub use crash::crash_point;
pub use exchange::{Cancelled, NON_STRING_KEY, Outlet, Partition, key_of, partition};
pub use functions::check_functions;
pub use handle::{JobHandle, run, savepoint, start, time_of};
pub use message::{Barrier, BarrierKind, Data, Envelope, KeyedBatch, Message};
pub use metrics::{
    Counter, Counts, DeadLetterEntry, InstanceSample, Metrics, NodeMetrics, NodeSample, Rates,
    Sample, TaskTime, TimeReading,
};
pub use options::{BackendWrapper, JobError, RunOptions, StartFrom};
pub use report::{JobReport, NodeReport, SinkReport};
pub use state_dir::{StateDir, control_file};
pub use stop::StopSignal;
pub use watermarks::{Change, WatermarkTracker};

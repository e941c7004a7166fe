//! Checkpoints and savepoints: what they hold, where they are kept, how a job restores
//! from one, and when a failed job restarts.
//!
//! - `metadata`: the `_metadata` of a snapshot: every instance's state, by uid.
//! - `store`: the job's checkpoint folder: atomic completion, retention, the latest
//!   loadable checkpoint, retiring a finished job's checkpoints.
//! - `tracker`: the coordinator's bookkeeping (pure): in-flight snapshot, acknowledgements,
//!   finished tasks.
//! - `restore`: which saved state each new instance takes, at any parallelism (pure).
//! - `restart`: Flink's restart strategies (pure).
//!
//! The barriers, the coordinator thread and the snapshots of tasks are in
//! [`runtime`](crate::runtime); the state backends' own snapshots in
//! [`state`](crate::state).

pub mod metadata;
pub mod restart;
pub mod restore;
pub mod store;
pub mod tracker;

pub use metadata::{
    InstanceState, KafkaTxn, KeyedSnapshot, Metadata, OperatorState, PartitionState, PendingPart,
    Role, SnapshotKind, SplitState, StateId,
};
pub use restart::Restarter;
pub use restore::{KeyedPiece, Restore};
pub use store::{CheckpointStore, Found, load};
pub use tracker::{InFlight, Tracker};

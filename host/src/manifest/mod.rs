//! Job manifests: TOML files that wire sources through operators into sinks.
//!
//! Loading runs in three steps: [`load`] parses the TOML (keeping the position of every
//! value) and applies `--set` overrides; the [`model`] types mirror the file; [`resolve`]
//! checks everything that TOML cannot (names, references, units, combinations) and
//! produces a [`Job`], the validated plan. Every problem found along the way carries the
//! file, line and field it comes from, and all of them are reported at once.

mod diag;
mod job;
mod load;
pub mod model;
mod resolve;
mod units;

pub use diag::{Diagnostics, Problem};
pub use job::{
    CheckpointConfig, CheckpointMode, ComponentRef, ControlConfig, DEFAULT_RETAIN, Delivery,
    ErrorPolicy, EventTime, Evictor, EvictorKind, FileFormat, InputRef, Job, KafkaSink,
    KafkaSource, KafkaStart, KafkaTopics, KeyBy, Limits, Node, NodeKind, OperatorKind,
    OperatorNode, Output, PROVENANCE_HEADER, RecordWatermarks, RestartStrategy, SinkFormat,
    SinkKind, SourceKind, StateBackendKind, TimeDomain, TimestampFrom, Trigger, TriggerKind,
    WindowAggregateKind, WindowKind,
};
pub use load::{Override, load_file, load_str};
pub use units::{ByteSize, MAX_DURATION_MS, Millis};

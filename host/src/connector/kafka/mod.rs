//! Kafka sources and sinks (librdkafka, through `rdkafka`).
//!
//! - `source`, `partition`: a parallel reader of topics, each partition a split with
//!   its own watermark; offsets in every checkpoint.
//! - `sink`: a sink instance, at-least-once (flushed at barriers) or exactly-once
//!   (transactions committed when checkpoints complete); `producer`: its producer and
//!   the transaction calls; `spool`: the records of an open transaction, kept until it
//!   commits; `progress`: the checkpoint each transaction committed, in a compacted
//!   topic; `parked`: finished sinks' producers until the last snapshot completes;
//!   `recovery`: fencing, aborting and writing again before an attempt starts;
//!   `dead_letter`: records the producer refuses, to the sink's dead-letter topic.
//! - `client`, `error`: clients made from a manifest's settings; errors naming the source
//!   or sink, topic and partition.

mod client;
mod dead_letter;
mod error;
mod parked;
mod partition;
mod producer;
mod progress;
mod recovery;
mod sink;
mod source;
mod spool;

pub use error::KafkaFailure;
pub use parked::commit_finished;
pub use partition::owner;
pub use recovery::{prepare, spool_dir, transaction_timeout_ms};
pub use sink::{KafkaSink, SinkSetup};
pub use source::{KafkaSource, ReaderOf};

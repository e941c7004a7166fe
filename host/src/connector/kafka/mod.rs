//! Kafka sources and sinks (librdkafka, through `rdkafka`).
//!
//! - `source`, `partition`: a parallel reader of topics, each partition a split with
//!   its own watermark; offsets in every checkpoint.
//! - `client`, `error`: clients made from a manifest's settings; errors naming the source
//!   or sink, topic and partition.

mod client;
mod error;
mod partition;
mod source;

pub use error::KafkaFailure;
pub use partition::owner;
pub use source::{KafkaSource, ReaderOf};

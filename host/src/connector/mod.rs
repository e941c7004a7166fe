//! Where records come from and go to.
//!
//! - `source`: what every source reader does for its task ([`Source`]).
//! - `splits`, `file_source`: files and folders of lines, split for parallel readers, with
//!   a watermark per split.
//! - `sinks`: a file (written under a temporary name, renamed into place when the job
//!   ends well) and standard output.
//! - `kafka`: Kafka sources and sinks, exactly-once with transactions.
//! - `part_sink`: with checkpoints, a folder of parts committed by them (two-phase
//!   commit).

mod file_source;
pub mod kafka;
pub mod part_sink;
mod sinks;
mod source;
mod splits;

pub use file_source::FileSource;
pub use part_sink::{PartSink, clean_uncommitted, commit_parts, committed_parts};
pub use sinks::{FileSink, StdoutSink, part_path};
pub use source::{Source, SourceEvent};
pub use splits::{Split, list_files, plan_splits};

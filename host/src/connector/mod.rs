//! Where records come from and go to.
//!
//! - `splits`, `file_source`: files and folders of lines, split for parallel readers, with
//!   a watermark per split.
//! - `sinks`: a file (written under a temporary name, renamed into place when the job
//!   ends well) and standard output.

mod file_source;
mod sinks;
mod splits;

pub use file_source::{FileSource, SourceEvent};
pub use sinks::{FileSink, StdoutSink, part_path};
pub use splits::{Split, plan_splits};

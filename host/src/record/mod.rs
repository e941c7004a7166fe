//! Records as the host moves them: flat batches (the layout of `weir:udf/types`), key
//! tables for keyed calls, JSON field extraction for keys and timestamps, and records as
//! JSON envelopes.

mod batch;
pub mod envelope;
pub mod json_field;
mod key_table;

pub(crate) use batch::offset;
pub use batch::{Batch, BatchError, HAS_KEY, HAS_TIMESTAMP, Header, RecordRef, Values};
pub use key_table::{KeyTable, KeyTableBuilder};

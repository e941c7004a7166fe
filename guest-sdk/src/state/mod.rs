//! Keyed state: typed handles over the host's `weir:udf/keyed-state` interface.
//!
//! A function declares its states in `init` (through [`InitContext`](crate::InitContext))
//! and keeps the handles. While it processes a record (or a fired window) every handle
//! reads and writes the state of that record's key (and window), never another key's.
//!
//! Reads and writes are cached for the duration of one call: the first read of a value
//! state fetches it for every key of the call in one host call, and all writes go to the
//! host in one `apply` at the end of the call. A call that fails leaves state untouched.

mod cache;
mod key;
mod list;
mod map;
#[cfg(test)]
mod tests;
mod types;
mod value;

pub use key::{KeyBytes, StateKey};
pub use list::ListState;
pub use map::MapState;
pub use types::{Entries, Mutation, Op, Scope, StateError, StateKind, StateSpec, TimeWindow};
pub use value::{AggregatingState, Aggregator, ReducingState, ValueState};

pub(crate) use cache::{begin_call, end_call, with_call};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;

pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(value)?)
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    Ok(serde_json::from_slice(bytes)?)
}

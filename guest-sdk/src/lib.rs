//! # weir-sdk
//!
//! Write [weir](https://github.com/weir-streaming/weir) stream functions in Rust. A
//! function is a type implementing one trait — [`Map`], [`ProcessWindow`] (optionally
//! with [`WindowAggregate`]) or [`BroadcastProcess`] — exported with one macro, and built
//! for `wasm32-wasip2` into a Wasm component that a job manifest names.
//!
//! ```
//! use serde::Deserialize;
//! use weir_sdk::{InitContext, Map, Output, Record, Result};
//!
//! #[derive(Deserialize)]
//! struct Click<'a> {
//!     user: &'a str,
//!     kind: &'a str,
//! }
//!
//! /// Keeps purchases, keyed by user.
//! struct Purchases;
//!
//! impl Map for Purchases {
//!     fn init(_: &InitContext) -> Result<Self> {
//!         Ok(Purchases)
//!     }
//!
//!     fn map(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()> {
//!         let click: Click = record.json()?;
//!         if click.kind == "purchase" {
//!             out.emit_keyed(click.user, record.value);
//!         }
//!         Ok(())
//!     }
//! }
//!
//! weir_sdk::export_map!(Purchases);
//! ```
//!
//! A record the function cannot handle is an `Err` for that record: it goes to the
//! operator's error policy (a dead-letter output, or a job failure), never nowhere.
//!
//! The same crate builds natively too: the export macros expand to nothing off Wasm, and
//! [`native`] lets tests (or a host) call a function's trait methods directly.
//!
//! # Layout
//!
//! - [`record`], [`batch`], [`output`]: records in, the flat batch layout, records out.
//! - [`map`], [`window`], [`broadcast`]: one trait per function kind and its driver.
//! - [`context`]: what `init` receives; where keyed states are declared.
//! - [`migrate`]: rewriting state an earlier version wrote as another type.
//! - [`state`]: typed keyed-state handles and the per-call cache behind them.
//! - [`timers`]: timers of the current key and the `on_timer` of map functions.
//! - [`json`]: reading a few fields of a JSON object without parsing all of it.
//! - [`hash`]: hash maps faster than the standard library's for lookup tables.
//! - [`log`]: logging into the job's log.
//! - [`native`]: the host calls on non-Wasm targets.
//! - `abi`: the host calls in Wasm (generated WIT bindings) or natively.
//! - `macros`, `glue`: the export macros and what they call.

#![deny(missing_docs)]

mod abi;
pub mod batch;
pub mod broadcast;
pub mod context;
mod error;
#[cfg(target_arch = "wasm32")]
mod glue;
pub mod hash;
pub mod json;
pub mod log;
mod macros;
pub mod map;
pub mod migrate;
pub mod native;
pub mod output;
pub mod record;
pub mod state;
pub mod timers;
pub mod window;

pub use broadcast::{BroadcastProcess, BroadcastState};
pub use context::InitContext;
pub use error::{Context, Error, Result};
pub use map::Map;
pub use migrate::{Migrate, Migration};
pub use output::Output;
pub use record::Record;
pub use state::{ListState, MapState, TimeWindow, ValueState};
pub use timers::{OnTimer, TimeDomain, Timer};
pub use window::{Elements, FiredWindow, ProcessWindow, Timing, WindowAggregate};

/// Items the export macros use. Not part of the API.
#[doc(hidden)]
pub mod __private {
    #[cfg(target_arch = "wasm32")]
    pub use crate::abi::bindings;
    #[cfg(target_arch = "wasm32")]
    pub use crate::abi::bindings::broadcast::weir::udf::types as wit;
    #[cfg(target_arch = "wasm32")]
    pub use crate::glue::*;
}

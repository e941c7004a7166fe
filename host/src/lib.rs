//! # weir
//!
//! A stream processor whose user functions are WebAssembly components. A job is a TOML
//! manifest wiring sources through operators — map, process-window and
//! broadcast-process functions — into sinks; the host does the reading and writing,
//! partitioning by key, event time and watermarks, windows and keyed state.
//!
//! # Layout
//!
//! - [`manifest`]: job manifests — parsing with positions, `--set` overrides,
//!   validation into a [`manifest::Job`].
//! - [`runtime`]: planning tasks, running them on threads with bounded channels,
//!   watermarks, the job report.
//! - [`operator`]: what tasks do — map, window and broadcast operators, error policies.
//! - [`connector`]: file sources (split for parallel readers) and sinks.
//! - [`time`]: window assignment, session merging, timers.
//! - [`state`]: keyed state on RocksDB or in memory, key groups, per-call overlays, and
//!   their snapshots.
//! - [`checkpoint`]: snapshot metadata and storage, restore planning, restart strategies.
//! - [`wasm`]: the Wasm host — engine, component cache, sandbox, host imports, typed
//!   function instances.
//! - [`record`]: flat record batches (the WIT layout), key tables, JSON field reads.
//! - [`control`]: the control endpoint of a running job (HTTP), its dashboard, and its
//!   client.
//! - [`cli`]: the `weir` command.
//! - `hash`: the hash maps of the per-record paths.

pub mod checkpoint;
pub mod cli;
pub mod connector;
pub mod control;
mod hash;
pub mod manifest;
pub mod operator;
pub mod record;
pub mod runtime;
pub mod state;
pub mod time;
pub mod wasm;

//! The Wasm host: the engine, loading and caching components, the sandbox functions run
//! in, the host side of the WIT imports, and typed instances of each function kind.
//!
//! - `engine`: the engine configuration and the epoch ticker behind call deadlines.
//! - `component`, `build`: components from `.wasm` files or Rust crate folders, compiled
//!   once per content hash and cached on disk; `languages`: JavaScript and Python folders.
//! - `sandbox`: WASI that grants nothing, guest output into the log, the memory cap.
//! - `store`, `keyed_host`, `broadcast_host`, `timers_host`: what a store holds; the
//!   host sides of `log`, `keyed-state`, `broadcast-state` and `timers`.
//! - `instance`, `functions`: instances, calls, and their typed forms per kind.
//! - `migration`: a new version's `state-migration` export, called at a swap.
//! - `failure`: how a call failed.

pub mod bindings;
mod broadcast_host;
mod build;
mod component;
mod engine;
mod failure;
mod functions;
mod instance;
mod keyed_host;
mod languages;
mod log;
mod migration;
mod sandbox;
mod store;
mod timers_host;

pub use broadcast_host::BroadcastHost;
pub use build::build_crate;
pub use component::{ComponentLoader, LoadedComponent, default_cache_dir};
pub use engine::{EPOCH_TICK, WasmEngine, config};
pub use failure::{Failure, bytes};
pub use functions::{BroadcastInstance, MapInstance, WindowInstance, check_output};
pub use instance::{Exports, FunctionInfo, FunctionInstance, MapExports, Prepared, linker};
pub use keyed_host::{KeyedHost, MAX_ITEMS, MAX_READ_BYTES, MAX_VALUE_BYTES};
pub use languages::{Language, builds_dir, guest_sdk_dir};
pub use migration::Migrator;
pub use store::StoreData;
pub use timers_host::TimerChange;

//! Keyed state: a byte-level [`StateBackend`] (RocksDB or in memory), the key layout that
//! scopes every entry to an operator's state, a key group, a key and a namespace, and the
//! typed operations (value, list, map, with TTL) built on it.
//!
//! Keys hash into a fixed number of key groups ([`key_group`]); key groups, not keys, are
//! spread over parallel instances, so state can be redistributed when parallelism
//! changes, and every state key starts with its state id and key group, so one key
//! group's state is one contiguous range per state.
//!
//! A registry ([`StateRegistry`]) gives each declared state its id and remembers what it
//! was declared as; a swap that changes states ([`SwapStates`]) drops them or has the new
//! version migrate their values at the switch.

mod backend;
mod changes;
mod key_group;
mod keyed;
mod keys;
mod memory;
mod overlay;
mod registry;
mod rocks;
pub mod snapshot;

pub use backend::{StateBackend, WriteOp, open_backend, open_restored};
pub use changes::{Action, Applied, StateChange, SwapStates, apply as apply_changes};
pub use key_group::{KeyGroupRange, key_group, key_groups_of, owner_of};
pub use keyed::{KeyedState, Kind, StateDef, StateRead};
pub use keys::{Namespace, StateKeyPrefix, decode_list, encode_list_element};
pub use memory::MemoryBackend;
pub use overlay::Overlay;
pub use registry::{Declared, StateConflict, StateRegistry};
pub use rocks::RocksBackend;

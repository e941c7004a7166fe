//! Broadcast-process functions and broadcast state.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::abi;
use crate::batch::{BatchView, KeyTableView};
use crate::context::InitContext;
use crate::error::Result;
use crate::map::for_each_record;
use crate::output::Output;
use crate::record::Record;
use crate::state::{KeyBytes, StateKey};

/// A broadcast-process function (Flink's `BroadcastProcessFunction` and, on keyed main
/// input, `KeyedBroadcastProcessFunction`).
///
/// Every parallel instance receives every record of the broadcast input, in the same
/// order, and keeps what it needs in [`BroadcastState`]; records of the main input are
/// split among the instances and read that state.
pub trait BroadcastProcess: Sized + 'static {
    /// Creates the function instance: read config and files, name its states.
    fn init(ctx: &InitContext) -> Result<Self>;

    /// Handles one record of the main input. Broadcast state is read-only here.
    fn process_element(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()>;

    /// Handles one record of the broadcast input. Broadcast state is writable here.
    fn process_broadcast(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()>;
}

/// Why a broadcast-state operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BroadcastError {
    /// A write while processing the main input.
    ReadOnly,
    /// A key or value exceeds the host's limit.
    TooLarge(u64),
    /// The state backend failed.
    Backend(String),
}

impl fmt::Display for BroadcastError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReadOnly => f.write_str(
                "broadcast state is read-only while processing the main input \
                 (write it from process_broadcast)",
            ),
            Self::TooLarge(n) => write!(f, "{n} bytes exceed the host's limit"),
            Self::Backend(m) => write!(f, "state backend: {m}"),
        }
    }
}

impl std::error::Error for BroadcastError {}

/// Entries kept in the function's read cache before it starts over.
const CACHE_LIMIT: usize = 1 << 20;

/// A named broadcast map state from `K` to `V` (values stored as JSON).
///
/// Reads are cached inside the function: only this instance's own `process_broadcast`
/// calls change its broadcast state, so the cache is updated by its writes and never
/// goes stale (when the host drops a call's writes, it also replaces the instance).
pub struct BroadcastState<K, V> {
    name: String,
    cache: RefCell<HashMap<Vec<u8>, Option<Vec<u8>>>>,
    _t: PhantomData<fn() -> (K, V)>,
}

impl<K: StateKey, V: Serialize + DeserializeOwned> BroadcastState<K, V> {
    /// The broadcast state named `name`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            cache: RefCell::default(),
            _t: PhantomData,
        }
    }

    /// The value under `key` (a `&K`, or a borrowed form such as `&str` for `String`
    /// keys).
    pub fn get<Q: KeyBytes + ?Sized>(&self, key: &Q) -> Result<Option<V>> {
        let k = key.key_bytes();
        let mut cache = self.cache.borrow_mut();
        if !cache.contains_key(k.as_ref()) {
            let found = abi::broadcast_get(&self.name, &k)?;
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(k.to_vec(), found);
        }
        match &cache[k.as_ref()] {
            Some(bytes) => Ok(Some(serde_json::from_slice(bytes)?)),
            None => Ok(None),
        }
    }

    /// Whether there is a value under `key`.
    pub fn contains<Q: KeyBytes + ?Sized>(&self, key: &Q) -> Result<bool> {
        Ok(self.get(key)?.is_some())
    }

    /// Puts `value` under `key` (only from `process_broadcast`).
    pub fn put(&self, key: &K, value: &V) -> Result<(), BroadcastError> {
        let k = key.to_key_bytes();
        let v = serde_json::to_vec(value).map_err(|e| BroadcastError::Backend(e.to_string()))?;
        abi::broadcast_put(&self.name, &k, &v)?;
        self.cache.borrow_mut().insert(k, Some(v));
        Ok(())
    }

    /// Removes `key` (only from `process_broadcast`).
    pub fn remove(&self, key: &K) -> Result<(), BroadcastError> {
        let k = key.to_key_bytes();
        abi::broadcast_remove(&self.name, &k)?;
        self.cache.borrow_mut().insert(k, None);
        Ok(())
    }

    /// Removes every entry (only from `process_broadcast`).
    pub fn clear(&self) -> Result<(), BroadcastError> {
        abi::broadcast_clear(&self.name)?;
        self.cache.borrow_mut().clear();
        Ok(())
    }

    /// Number of entries.
    pub fn len(&self) -> Result<u64> {
        Ok(abi::broadcast_len(&self.name)?)
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// All entries, in key byte order.
    pub fn entries(&self) -> Result<Vec<(K, V)>> {
        let mut out = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = abi::broadcast_scan(&self.name, after.as_deref(), 1024)?;
            for (k, v) in page.iter() {
                out.push((K::from_key_bytes(k)?, serde_json::from_slice(v)?));
                after = Some(k.to_vec());
            }
            if !page.more || after.is_none() {
                return Ok(out);
            }
        }
    }
}

/// Runs `f` over one batch of the main input, as the host's `process-element` does.
pub fn process_elements<B: BroadcastProcess>(
    f: &mut B,
    input: BatchView<'_>,
    keys: Option<KeyTableView<'_>>,
    out: &mut Output,
) {
    for_each_record(input, keys, out, |record, out| {
        f.process_element(record, out)
    });
}

/// Runs `f` over one batch of the broadcast input, as the host's `process-broadcast` does.
pub fn process_broadcasts<B: BroadcastProcess>(f: &mut B, input: BatchView<'_>, out: &mut Output) {
    for_each_record(input, None, out, |record, out| {
        f.process_broadcast(record, out)
    });
}

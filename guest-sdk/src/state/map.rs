//! Map state.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::cache::{fetch_entries, with_call};
use super::key::StateKey;
use super::types::{Op, Scope};
use super::{decode, encode};
use crate::abi;
use crate::error::Result;

/// Entries fetched per host call while iterating.
const PAGE: u32 = 1024;

/// A map from `K` to `V` per key (or per key and window), ordered by the bytes of `K`.
#[derive(Debug)]
pub struct MapState<K, V> {
    id: u32,
    per_window: bool,
    _t: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for MapState<K, V> {
    fn clone(&self) -> Self {
        Self::new(self.id, self.per_window)
    }
}

impl<K, V> MapState<K, V> {
    pub(crate) fn new(id: u32, per_window: bool) -> Self {
        Self {
            id,
            per_window,
            _t: PhantomData,
        }
    }
}

impl<K: StateKey, V: Serialize + DeserializeOwned> MapState<K, V> {
    /// The value under `user_key` in the current key's map.
    pub fn get(&self, user_key: &K) -> Result<Option<V>> {
        let uk = user_key.to_key_bytes();
        with_call(|c| {
            let scope = c.scope(self.per_window)?;
            let slot = c.map(self.id, scope);
            if let Some(written) = slot.written.get(&uk) {
                return written.as_deref().map(decode).transpose();
            }
            if slot.cleared {
                return Ok(None);
            }
            if !slot.read.contains_key(&uk) {
                let found = fetch_entries(self.id, scope, std::slice::from_ref(&uk))?;
                let value = (!found.is_empty()).then(|| found.get(0)).flatten();
                slot.read.insert(uk.clone(), value.map(<[u8]>::to_vec));
            }
            slot.read[&uk].as_deref().map(decode).transpose()
        })
    }

    /// Whether the current key's map has `user_key`.
    pub fn contains(&self, user_key: &K) -> Result<bool> {
        Ok(self.get(user_key)?.is_some())
    }

    /// Puts `value` under `user_key` in the current key's map.
    pub fn put(&self, user_key: &K, value: &V) -> Result<()> {
        let uk = user_key.to_key_bytes();
        let bytes = encode(value)?;
        with_call(|c| {
            let scope = c.scope(self.per_window)?;
            c.log(Op::PutEntry, self.id, scope, &uk, &bytes);
            c.map(self.id, scope).written.insert(uk, Some(bytes));
            Ok(())
        })
    }

    /// Removes `user_key` from the current key's map.
    pub fn remove(&self, user_key: &K) -> Result<()> {
        let uk = user_key.to_key_bytes();
        with_call(|c| {
            let scope = c.scope(self.per_window)?;
            c.log(Op::RemoveEntry, self.id, scope, &uk, &[]);
            c.map(self.id, scope).written.insert(uk, None);
            Ok(())
        })
    }

    /// Empties the current key's map.
    pub fn clear(&self) -> Result<()> {
        with_call(|c| {
            let scope = c.scope(self.per_window)?;
            c.log(Op::Clear, self.id, scope, &[], &[]);
            let slot = c.map(self.id, scope);
            slot.cleared = true;
            slot.written.clear();
            slot.read.clear();
            Ok(())
        })
    }

    /// All entries of the current key's map, in user-key byte order.
    pub fn entries(&self) -> Result<Vec<(K, V)>> {
        let (scope, cleared, written) = with_call(|c| -> Result<_> {
            let scope = c.scope(self.per_window)?;
            let slot = c.map(self.id, scope);
            Ok((scope, slot.cleared, slot.written.clone()))
        })?;
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        if !cleared {
            self.scan_host(scope, &mut merged)?;
        }
        for (uk, v) in written {
            match v {
                Some(v) => merged.insert(uk, v),
                None => merged.remove(&uk),
            };
        }
        merged
            .into_iter()
            .map(|(k, v)| Ok((K::from_key_bytes(&k)?, decode(&v)?)))
            .collect()
    }

    /// The user keys of the current key's map, in byte order.
    pub fn keys(&self) -> Result<Vec<K>> {
        Ok(self.entries()?.into_iter().map(|(k, _)| k).collect())
    }

    fn scan_host(&self, scope: Scope, into: &mut BTreeMap<Vec<u8>, Vec<u8>>) -> Result<()> {
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = abi::scan_entries(self.id, scope, after.as_deref(), PAGE)?;
            let mut last = None;
            for (k, v) in page.iter() {
                into.insert(k.to_vec(), v.to_vec());
                last = Some(k.to_vec());
            }
            match (page.more, last) {
                (true, Some(k)) => after = Some(k),
                _ => return Ok(()),
            }
        }
    }
}

//! A write-back cache of window accumulators in front of the state backend.
//!
//! An aggregating window updates its accumulator with every batch that reaches it, and is
//! deleted when it fires; sending each update to RocksDB costs a lookup and a memtable
//! insert per window per batch for state that usually lives a few seconds. The cache keeps
//! accumulators in memory, reads through to the backend on a miss, and writes back when it
//! grows past its capacity (and on `flush`). An accumulator created and deleted between
//! two write-backs never reaches the backend at all.

use anyhow::Result;

use crate::hash::FastMap;
use crate::state::{StateBackend, WriteOp};

/// Accumulators kept before writing back.
pub const CAPACITY: usize = 1 << 18;

#[derive(Debug)]
struct Entry {
    value: Option<Vec<u8>>,
    dirty: bool,
    /// Whether the backend holds a value for the key.
    persisted: bool,
}

/// The cache.
#[derive(Debug, Default)]
pub struct AccCache {
    entries: FastMap<Vec<u8>, Entry>,
    /// Whether the backend may hold accumulators (some were written back, or the
    /// operator was restored); until then a miss is a new accumulator, with no read.
    backend_has_some: bool,
}

impl AccCache {
    /// The accumulators under `keys`, reading the ones not cached from `backend`.
    pub fn get(
        &mut self,
        backend: &dyn StateBackend,
        keys: &[&[u8]],
    ) -> Result<Vec<Option<Vec<u8>>>> {
        if self.backend_has_some {
            let missing: Vec<Vec<u8>> = keys
                .iter()
                .filter(|k| !self.entries.contains_key(**k))
                .map(|k| k.to_vec())
                .collect();
            if !missing.is_empty() {
                let found = backend.multi_get(&missing)?;
                for (k, value) in missing.into_iter().zip(found) {
                    let persisted = value.is_some();
                    self.entries.insert(
                        k,
                        Entry {
                            value,
                            dirty: false,
                            persisted,
                        },
                    );
                }
            }
        }
        Ok(keys
            .iter()
            .map(|k| self.entries.get(*k).and_then(|e| e.value.clone()))
            .collect())
    }

    /// The backend may hold accumulators written before this cache was made (a restore).
    pub fn backend_may_have_some(&mut self) {
        self.backend_has_some = true;
    }

    /// Sets an accumulator (the key is copied only when it is not cached).
    pub fn put(&mut self, key: &[u8], value: Vec<u8>) {
        match self.entries.get_mut(key) {
            Some(e) => {
                e.value = Some(value);
                e.dirty = true;
            }
            None => {
                self.entries.insert(
                    key.to_vec(),
                    Entry {
                        value: Some(value),
                        dirty: true,
                        persisted: false,
                    },
                );
            }
        }
    }

    /// Deletes an accumulator.
    pub fn delete(&mut self, key: &[u8]) {
        match self.entries.get_mut(key) {
            Some(e) if e.persisted => {
                e.value = None;
                e.dirty = true;
            }
            Some(_) => {
                self.entries.remove(key);
            }
            None if !self.backend_has_some => {}
            // Not cached: the backend may hold it.
            None => {
                self.entries.insert(
                    key.to_vec(),
                    Entry {
                        value: None,
                        dirty: true,
                        persisted: true,
                    },
                );
            }
        }
    }

    /// The entries the backend does not have yet, encoded as a snapshot overlay (one
    /// buffer: no allocation per entry).
    pub fn dirty(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, e) in self.entries.iter().filter(|(_, e)| e.dirty) {
            crate::state::snapshot::encode_overlay_entry(&mut out, k, e.value.as_deref());
        }
        out
    }

    /// Writes back if the cache is over capacity.
    pub fn maybe_flush(&mut self, backend: &dyn StateBackend) -> Result<()> {
        if self.entries.len() > CAPACITY {
            self.flush(backend)?;
            self.entries.clear();
            backend.settle();
        }
        Ok(())
    }

    /// Writes every changed accumulator to the backend (they stay cached, now clean).
    pub fn flush(&mut self, backend: &dyn StateBackend) -> Result<()> {
        let mut ops = Vec::new();
        for (k, e) in &mut self.entries {
            if !e.dirty {
                continue;
            }
            e.dirty = false;
            match &e.value {
                Some(v) => {
                    ops.push(WriteOp::Put(k.clone(), v.clone()));
                    e.persisted = true;
                    self.backend_has_some = true;
                }
                None => {
                    ops.push(WriteOp::Delete(k.clone()));
                    e.persisted = false;
                }
            }
        }
        self.entries.retain(|_, e| e.value.is_some() || e.dirty);
        if ops.is_empty() {
            return Ok(());
        }
        backend.write(ops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MemoryBackend;

    #[test]
    fn reads_through_writes_back_and_skips_short_lived_entries() {
        let b = MemoryBackend::default();
        b.write(vec![WriteOp::Put(b"old".to_vec(), b"1".to_vec())])
            .unwrap();
        let mut c = AccCache::default();
        c.backend_may_have_some();
        assert_eq!(
            c.get(&b, &[b"old", b"new"]).unwrap(),
            vec![Some(b"1".to_vec()), None]
        );
        c.put(b"old", b"2".to_vec());
        c.put(b"new", b"5".to_vec());
        c.put(b"brief", b"9".to_vec());
        c.delete(b"brief");
        assert_eq!(
            b.get(b"old").unwrap(),
            Some(b"1".to_vec()),
            "nothing written before a flush"
        );
        c.flush(&b).unwrap();
        assert_eq!(b.get(b"old").unwrap(), Some(b"2".to_vec()));
        assert_eq!(b.get(b"new").unwrap(), Some(b"5".to_vec()));
        assert_eq!(b.get(b"brief").unwrap(), None);
        c.delete(b"old");
        c.delete(b"never-cached");
        assert_eq!(c.get(&b, &[b"old"]).unwrap(), vec![None]);
        c.flush(&b).unwrap();
        assert_eq!(b.get(b"old").unwrap(), None);
    }
}

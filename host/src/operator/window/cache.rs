//! A write-back cache of window state in front of the state backend: accumulators,
//! window contents and session sets.
//!
//! A window's state is updated by every batch that reaches it and deleted when the window
//! is cleaned up; sending each change to RocksDB costs a lookup and a memtable insert per
//! window per batch for state that usually lives a few seconds. The cache keeps values in
//! memory, reads through to the backend on a miss, and writes back when it grows past its
//! capacity in bytes (the instance's share of the manifest's `job.window_cache`) and on
//! `flush`; a snapshot takes what the backend lacks as an overlay. State created and
//! deleted between two write-backs never reaches the backend at all.
//!
//! Window contents are lists that grow by appends: an append to a list the cache does not
//! hold is kept as an append (written back as one, RocksDB's merge) rather than read first;
//! reading the list, or a snapshot, joins it to what the backend has.

use anyhow::Result;

use crate::hash::FastMap;
use crate::state::{StateBackend, WriteOp};

/// What an entry costs besides its key and value: the hash table's slot and the
/// buffers' headers (an estimate, to bound memory, not an exact count).
const ENTRY_OVERHEAD: usize = 64;

fn cost(key: &[u8], value: Option<&Vec<u8>>) -> usize {
    key.len() + value.map_or(0, Vec::len) + ENTRY_OVERHEAD
}

#[derive(Debug)]
struct Entry {
    /// The value (`None`: deleted), or, with `appends`, what to add to the backend's.
    value: Option<Vec<u8>>,
    /// `value` holds only appends to the backend's value, which was not read.
    appends: bool,
    dirty: bool,
    /// Whether the backend holds a value for the key.
    persisted: bool,
}

/// The cache.
#[derive(Debug)]
pub struct StateCache {
    entries: FastMap<Vec<u8>, Entry>,
    /// Bytes the entries take (estimated).
    bytes: usize,
    /// Bytes past which it writes back.
    capacity: usize,
    /// Whether the backend may hold accumulators (some were written back, or the
    /// operator was restored); until then a miss is a new accumulator, with no read.
    backend_has_some: bool,
}

impl StateCache {
    /// An empty cache that writes back past `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: FastMap::default(),
            bytes: 0,
            capacity,
            backend_has_some: false,
        }
    }

    /// The values under `keys`, reading the ones not cached (and the lists only
    /// appended to) from `backend`.
    pub fn get(
        &mut self,
        backend: &dyn StateBackend,
        keys: &[&[u8]],
    ) -> Result<Vec<Option<Vec<u8>>>> {
        if self.backend_has_some {
            let missing: Vec<Vec<u8>> = keys
                .iter()
                .filter(|k| self.entries.get(**k).is_none_or(|e| e.appends))
                .map(|k| k.to_vec())
                .collect();
            if !missing.is_empty() {
                let found = backend.multi_get(&missing)?;
                self.settle_reads(missing, found);
            }
        }
        Ok(keys
            .iter()
            .map(|k| self.entries.get(*k).and_then(|e| e.value.clone()))
            .collect())
    }

    /// Takes values read from the backend for `keys`: new entries, or the base of lists
    /// only appended to.
    fn settle_reads(&mut self, keys: Vec<Vec<u8>>, found: Vec<Option<Vec<u8>>>) {
        for (k, value) in keys.into_iter().zip(found) {
            let persisted = value.is_some();
            match self.entries.get_mut(&k) {
                Some(e) if e.appends => {
                    let mut base = value.unwrap_or_default();
                    self.bytes += base.len();
                    base.extend_from_slice(e.value.as_deref().unwrap_or_default());
                    e.value = Some(base);
                    e.appends = false;
                    e.persisted = persisted;
                }
                Some(_) => {}
                None => {
                    self.bytes += cost(&k, value.as_ref());
                    self.entries.insert(
                        k,
                        Entry {
                            value,
                            appends: false,
                            dirty: false,
                            persisted,
                        },
                    );
                }
            }
        }
    }

    /// The backend may hold state written before this cache was made (a restore).
    pub fn backend_may_have_some(&mut self) {
        self.backend_has_some = true;
    }

    /// Sets a value (the key is copied only when it is not cached).
    pub fn put(&mut self, key: &[u8], value: Vec<u8>) {
        match self.entries.get_mut(key) {
            Some(e) => {
                self.bytes = self.bytes + value.len() - e.value.as_ref().map_or(0, Vec::len);
                e.value = Some(value);
                e.appends = false;
                e.dirty = true;
            }
            None => {
                self.bytes += cost(key, Some(&value));
                self.entries.insert(
                    key.to_vec(),
                    Entry {
                        value: Some(value),
                        appends: false,
                        dirty: true,
                        persisted: false,
                    },
                );
            }
        }
    }

    /// Appends to a list (the encoded element `bytes`), without reading it.
    pub fn append(&mut self, key: &[u8], bytes: &[u8]) {
        self.bytes += bytes.len();
        match self.entries.get_mut(key) {
            Some(e) => {
                // A deleted list starts again from nothing.
                e.value
                    .get_or_insert_with(Vec::new)
                    .extend_from_slice(bytes);
                e.dirty = true;
            }
            None => {
                self.bytes += cost(key, None);
                // With nothing in the backend, the appends are the whole list.
                let appends = self.backend_has_some;
                self.entries.insert(
                    key.to_vec(),
                    Entry {
                        value: Some(bytes.to_vec()),
                        appends,
                        dirty: true,
                        persisted: appends,
                    },
                );
            }
        }
    }

    /// Deletes a value.
    pub fn delete(&mut self, key: &[u8]) {
        match self.entries.get_mut(key) {
            Some(e) if e.persisted => {
                self.bytes -= e.value.take().map_or(0, |v| v.len());
                e.appends = false;
                e.dirty = true;
            }
            Some(_) => {
                if let Some(e) = self.entries.remove(key) {
                    self.bytes -= cost(key, e.value.as_ref());
                }
            }
            None if !self.backend_has_some => {}
            // Not cached: the backend may hold it.
            None => {
                self.bytes += cost(key, None);
                self.entries.insert(
                    key.to_vec(),
                    Entry {
                        value: None,
                        appends: false,
                        dirty: true,
                        persisted: true,
                    },
                );
            }
        }
    }

    /// The entries the backend does not have yet, encoded as a snapshot overlay (one
    /// buffer: no allocation per entry); lists only appended to are joined to the
    /// backend's first.
    pub fn dirty(&mut self, backend: &dyn StateBackend) -> Result<Vec<u8>> {
        let appended: Vec<Vec<u8>> = self
            .entries
            .iter()
            .filter(|(_, e)| e.appends)
            .map(|(k, _)| k.clone())
            .collect();
        if !appended.is_empty() {
            let found = backend.multi_get(&appended)?;
            self.settle_reads(appended, found);
        }
        let mut out = Vec::new();
        for (k, e) in self.entries.iter().filter(|(_, e)| e.dirty) {
            crate::state::snapshot::encode_overlay_entry(&mut out, k, e.value.as_deref());
        }
        Ok(out)
    }

    /// Writes back and empties the cache if it is over capacity.
    pub fn maybe_flush(&mut self, backend: &dyn StateBackend) -> Result<()> {
        if self.bytes > self.capacity {
            self.flush(backend)?;
            self.entries.clear();
            self.bytes = 0;
            backend.settle();
        }
        Ok(())
    }

    /// Bytes the cached entries take (estimated).
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.bytes
    }

    /// Writes every change to the backend (values stay cached, now clean; appends are
    /// written as appends and dropped from the cache).
    pub fn flush(&mut self, backend: &dyn StateBackend) -> Result<()> {
        let mut ops = Vec::new();
        for (k, e) in &mut self.entries {
            if !e.dirty {
                continue;
            }
            e.dirty = false;
            match &e.value {
                Some(v) if e.appends => {
                    self.bytes -= v.len();
                    ops.push(WriteOp::Append(k.clone(), v.clone()));
                    e.value = None;
                    e.appends = false;
                    self.backend_has_some = true;
                }
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
        let mut freed = 0;
        self.entries.retain(|k, e| {
            let keep = e.value.is_some() || e.dirty;
            if !keep {
                freed += cost(k, None);
            }
            keep
        });
        self.bytes = self.bytes.saturating_sub(freed);
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
        let mut c = StateCache::new(usize::MAX);
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

    #[test]
    fn past_its_capacity_it_writes_back_and_reads_back_what_it_wrote() {
        let b = MemoryBackend::default();
        let key = |i: u32| format!("key-{i:04}").into_bytes();
        let one = cost(&key(0), Some(&b"12".to_vec()));
        let mut c = StateCache::new(10 * one);
        for i in 0..10 {
            c.put(&key(i), b"12".to_vec());
        }
        assert_eq!(c.bytes(), 10 * one);
        c.maybe_flush(&b).unwrap();
        assert_eq!(
            b.get(&key(3)).unwrap(),
            None,
            "at capacity: nothing written"
        );
        c.put(&key(10), b"12".to_vec());
        c.delete(&key(10));
        assert_eq!(
            c.bytes(),
            10 * one,
            "an entry never written back costs nothing"
        );
        c.put(&key(10), b"7".to_vec());
        c.maybe_flush(&b).unwrap();
        assert_eq!(c.bytes(), 0, "past capacity: written back and emptied");
        assert_eq!(b.get(&key(3)).unwrap(), Some(b"12".to_vec()));
        assert_eq!(b.get(&key(10)).unwrap(), Some(b"7".to_vec()));
        let k3 = key(3);
        let missing = key(99);
        assert_eq!(
            c.get(&b, &[k3.as_slice(), missing.as_slice()]).unwrap(),
            vec![Some(b"12".to_vec()), None],
            "read back from the backend"
        );
        c.delete(&key(3));
        c.flush(&b).unwrap();
        assert_eq!(b.get(&key(3)).unwrap(), None);
    }

    #[test]
    fn appends_to_lists_not_read_are_written_as_appends_and_joined_when_read() {
        let b = MemoryBackend::default();
        b.write(vec![WriteOp::Put(b"list".to_vec(), b"ab".to_vec())])
            .unwrap();
        let mut c = StateCache::new(usize::MAX);
        c.backend_may_have_some();
        c.append(b"list", b"c");
        c.append(b"list", b"d");
        assert_eq!(
            b.get(b"list").unwrap(),
            Some(b"ab".to_vec()),
            "not read, not written"
        );
        assert_eq!(c.get(&b, &[b"list"]).unwrap(), vec![Some(b"abcd".to_vec())]);
        c.append(b"list", b"e");
        c.append(b"other", b"x");
        let overlay = c.dirty(&b).unwrap();
        let mut expected = Vec::new();
        crate::state::snapshot::encode_overlay_entry(&mut expected, b"list", Some(b"abcde"));
        let mut other = Vec::new();
        crate::state::snapshot::encode_overlay_entry(&mut other, b"other", Some(b"x"));
        let either = [
            [expected.clone(), other.clone()].concat(),
            [other, expected].concat(),
        ];
        assert!(either.contains(&overlay), "whole lists in a snapshot");
        c.flush(&b).unwrap();
        assert_eq!(b.get(b"list").unwrap(), Some(b"abcde".to_vec()));
        assert_eq!(b.get(b"other").unwrap(), Some(b"x".to_vec()));
        // Past a flush that emptied the cache: appended without a read, then deleted.
        let mut c = StateCache::new(0);
        c.backend_may_have_some();
        c.append(b"list", b"f");
        c.flush(&b).unwrap();
        assert_eq!(
            b.get(b"list").unwrap(),
            Some(b"abcdef".to_vec()),
            "an append"
        );
        c.append(b"list", b"g");
        c.delete(b"list");
        c.append(b"list", b"h");
        assert_eq!(c.get(&b, &[b"list"]).unwrap(), vec![Some(b"h".to_vec())]);
        c.flush(&b).unwrap();
        assert_eq!(b.get(b"list").unwrap(), Some(b"h".to_vec()));
        // A snapshot of a list only appended to holds the whole list.
        let mut c = StateCache::new(usize::MAX);
        c.backend_may_have_some();
        c.append(b"list", b"i");
        let mut whole = Vec::new();
        crate::state::snapshot::encode_overlay_entry(&mut whole, b"list", Some(b"hi"));
        assert_eq!(c.dirty(&b).unwrap(), whole);
    }
}

//! The writes of one function call, held back until the call succeeds.
//!
//! Reads inside the call see the backend with the call's own writes on top; if the call
//! fails (trap, deadline, memory cap) the overlay is dropped and state is as it was, so a
//! call can be retried record by record without applying anything twice.

use std::collections::BTreeMap;

use anyhow::Result;

use super::backend::{StateBackend, WriteOp};
use super::keys::{StateKeyPrefix, decode_list, encode_list_element};
use crate::hash::FastMap;

/// A map entry: full entry key and value.
pub type Entry = (Vec<u8>, Vec<u8>);

#[derive(Debug, Default)]
struct PendingList {
    cleared: bool,
    appended: Vec<Vec<u8>>,
}

/// Pending writes of one call.
#[derive(Debug, Default)]
pub struct Overlay {
    values: FastMap<Vec<u8>, Option<Vec<u8>>>,
    lists: FastMap<Vec<u8>, PendingList>,
    /// Map entries written, by full entry key (`None` = removed).
    entries: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Map prefixes cleared, in the order cleared.
    cleared_maps: Vec<Vec<u8>>,
}

impl Overlay {
    /// Whether the call wrote nothing.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
            && self.lists.is_empty()
            && self.entries.is_empty()
            && self.cleared_maps.is_empty()
    }

    /// A value (as stored), seen through the call's writes.
    pub fn get_values(
        &self,
        backend: &dyn StateBackend,
        keys: &[Vec<u8>],
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let missing: Vec<Vec<u8>> = keys
            .iter()
            .filter(|k| !self.values.contains_key(*k))
            .cloned()
            .collect();
        let mut fetched = backend.multi_get(&missing)?.into_iter();
        Ok(keys
            .iter()
            .map(|k| match self.values.get(k) {
                Some(v) => v.clone(),
                None => fetched.next().flatten(),
            })
            .collect())
    }

    /// Sets a value.
    pub fn set_value(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.values.insert(key, Some(value));
    }

    /// Removes a value.
    pub fn delete_value(&mut self, key: Vec<u8>) {
        self.values.insert(key, None);
    }

    /// A list's elements (as stored), seen through the call's writes.
    pub fn get_list(&self, backend: &dyn StateBackend, key: &[u8]) -> Result<Vec<Vec<u8>>> {
        let pending = self.lists.get(key);
        let mut out: Vec<Vec<u8>> = Vec::new();
        if !pending.is_some_and(|p| p.cleared)
            && let Some(bytes) = backend.get(key)?
        {
            out.extend(decode_list(&bytes)?.into_iter().map(<[u8]>::to_vec));
        }
        if let Some(p) = pending {
            out.extend(p.appended.iter().cloned());
        }
        Ok(out)
    }

    /// Appends to a list.
    pub fn append(&mut self, key: Vec<u8>, element: Vec<u8>) {
        self.lists.entry(key).or_default().appended.push(element);
    }

    /// Empties a list.
    pub fn clear_list(&mut self, key: Vec<u8>) {
        let p = self.lists.entry(key).or_default();
        p.cleared = true;
        p.appended.clear();
    }

    fn map_cleared(&self, entry_key: &[u8]) -> bool {
        self.cleared_maps.iter().any(|p| entry_key.starts_with(p))
    }

    /// A map entry (as stored), seen through the call's writes.
    pub fn get_entries(
        &self,
        backend: &dyn StateBackend,
        keys: &[Vec<u8>],
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let unknown: Vec<Vec<u8>> = keys
            .iter()
            .filter(|k| !self.entries.contains_key(*k) && !self.map_cleared(k))
            .cloned()
            .collect();
        let mut fetched = backend.multi_get(&unknown)?.into_iter();
        Ok(keys
            .iter()
            .map(|k| match self.entries.get(k) {
                Some(v) => v.clone(),
                None if self.map_cleared(k) => None,
                None => fetched.next().flatten(),
            })
            .collect())
    }

    /// Puts a map entry.
    pub fn put_entry(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.entries.insert(key, Some(value));
    }

    /// Removes a map entry.
    pub fn remove_entry(&mut self, key: Vec<u8>) {
        self.entries.insert(key, None);
    }

    /// Empties a map.
    pub fn clear_map(&mut self, prefix: &StateKeyPrefix) {
        let doomed: Vec<Vec<u8>> = self
            .entries
            .range(prefix.0.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix.0))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.entries.remove(&k);
        }
        self.cleared_maps.push(prefix.0.clone());
    }

    /// Up to `limit` entries of a map after `after` (full entry keys), seen through the
    /// call's writes; the flag says whether more remain.
    pub fn scan_entries(
        &self,
        backend: &dyn StateBackend,
        prefix: &StateKeyPrefix,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<(Vec<Entry>, bool)> {
        let p = &prefix.0;
        let pending: Vec<(&Vec<u8>, &Option<Vec<u8>>)> = self
            .entries
            .range(p.clone()..)
            .take_while(|(k, _)| k.starts_with(p))
            .filter(|(k, _)| after.is_none_or(|a| k.as_slice() > a))
            .collect();
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut backend_more = false;
        if !self.cleared_maps.iter().any(|c| p.starts_with(c)) {
            // Removed entries may hide backend entries: fetch enough to fill the page.
            let want = limit + pending.len() + 1;
            let found = backend.scan(p, after, want)?;
            backend_more = found.len() == want;
            merged.extend(found);
        }
        for (k, v) in pending {
            match v {
                Some(v) => merged.insert(k.clone(), v.clone()),
                None => merged.remove(k),
            };
        }
        let more = backend_more || merged.len() > limit;
        Ok((merged.into_iter().take(limit).collect(), more))
    }

    /// The writes, in an order that applies them correctly.
    pub fn into_writes(self) -> Vec<WriteOp> {
        let mut ops = Vec::new();
        for (k, v) in self.values {
            ops.push(match v {
                Some(v) => WriteOp::Put(k, v),
                None => WriteOp::Delete(k),
            });
        }
        for (k, p) in self.lists {
            if p.cleared {
                let mut all = Vec::new();
                for e in &p.appended {
                    all.extend(encode_list_element(e));
                }
                ops.push(if all.is_empty() {
                    WriteOp::Delete(k)
                } else {
                    WriteOp::Put(k, all)
                });
            } else {
                for e in p.appended {
                    ops.push(WriteOp::Append(k.clone(), encode_list_element(&e)));
                }
            }
        }
        ops.extend(self.cleared_maps.into_iter().map(WriteOp::DeletePrefix));
        for (k, v) in self.entries {
            ops.push(match v {
                Some(v) => WriteOp::Put(k, v),
                None => WriteOp::Delete(k),
            });
        }
        ops
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{MemoryBackend, Namespace};

    #[test]
    fn reads_see_the_calls_writes_and_commit_applies_them() {
        let b = MemoryBackend::default();
        b.write(vec![
            WriteOp::Put(b"v".to_vec(), b"old".to_vec()),
            WriteOp::Append(b"l".to_vec(), encode_list_element(b"a")),
        ])
        .unwrap();
        let mut o = Overlay::default();
        o.set_value(b"v".to_vec(), b"new".to_vec());
        o.append(b"l".to_vec(), b"b".to_vec());
        assert_eq!(
            o.get_values(&b, &[b"v".to_vec(), b"w".to_vec()]).unwrap(),
            vec![Some(b"new".to_vec()), None]
        );
        assert_eq!(
            o.get_list(&b, b"l").unwrap(),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
        o.clear_list(b"l".to_vec());
        o.append(b"l".to_vec(), b"c".to_vec());
        assert_eq!(o.get_list(&b, b"l").unwrap(), vec![b"c".to_vec()]);
        b.write(o.into_writes()).unwrap();
        assert_eq!(b.get(b"v").unwrap(), Some(b"new".to_vec()));
        assert_eq!(
            decode_list(&b.get(b"l").unwrap().unwrap()).unwrap(),
            vec![&b"c"[..]]
        );
    }

    #[test]
    fn maps_merge_pending_entries_removals_and_clears() {
        let b = MemoryBackend::default();
        let p = StateKeyPrefix::new(1, 0, b"k", Namespace::Global);
        b.write(
            (0..5u8)
                .map(|i| WriteOp::Put(p.entry(&[i]), vec![i]))
                .collect(),
        )
        .unwrap();
        let mut o = Overlay::default();
        o.remove_entry(p.entry(&[1]));
        o.put_entry(p.entry(&[9]), vec![99]);
        let (page, more) = o.scan_entries(&b, &p, None, 3).unwrap();
        let users: Vec<u8> = page.iter().map(|(k, _)| *k.last().unwrap()).collect();
        assert_eq!((users, more), (vec![0, 2, 3], true));
        let (page, more) = o.scan_entries(&b, &p, Some(&p.entry(&[3])), 3).unwrap();
        let users: Vec<u8> = page.iter().map(|(k, _)| *k.last().unwrap()).collect();
        assert_eq!((users, more), (vec![4, 9], false));
        o.clear_map(&p);
        o.put_entry(p.entry(&[7]), vec![7]);
        assert_eq!(
            o.get_entries(&b, &[p.entry(&[0]), p.entry(&[7])]).unwrap(),
            vec![None, Some(vec![7])]
        );
        b.write(o.into_writes()).unwrap();
        let all: Vec<Vec<u8>> = b
            .scan(&p.0, None, 10)
            .unwrap()
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        assert_eq!(all, vec![vec![7]]);
    }
}

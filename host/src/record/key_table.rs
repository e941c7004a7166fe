//! Key tables: the distinct keys of a keyed call, and which record has which.

use xxhash_rust::xxh3::xxh3_64;

use super::batch::offset;
use crate::hash::FastMap;

pub use crate::wasm::bindings::types::KeyTable;

impl KeyTable {
    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Distinct key `i`.
    pub fn key(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.data[start..self.ends[i] as usize]
    }

    /// The key of record `i`.
    pub fn key_of(&self, i: usize) -> &[u8] {
        self.key(self.of_record[i] as usize)
    }
}

/// Builds a [`KeyTable`] record by record, interning equal keys.
#[derive(Debug, Default)]
pub struct KeyTableBuilder {
    table: KeyTable,
    by_hash: FastMap<u64, u32>,
    /// Keys whose hash collided with another key's.
    collided: Vec<u32>,
}

impl KeyTableBuilder {
    /// Adds the next record with key `key` and returns the key's index.
    pub fn push(&mut self, key: &[u8]) -> u32 {
        let index = self.intern(key);
        self.table.of_record.push(index);
        index
    }

    /// Adds the next record with a key the table does not hold (the caller knows: the
    /// keys of one window's firing are distinct), without looking it up; returns its
    /// index. A later [`KeyTableBuilder::push`] of the same key would add it again.
    pub fn push_new(&mut self, key: &[u8]) -> u32 {
        let index = self.add(key);
        self.table.of_record.push(index);
        index
    }

    /// The index of `key`, adding it if new (without adding a record).
    pub fn intern(&mut self, key: &[u8]) -> u32 {
        let hash = xxh3_64(key);
        match self.by_hash.get(&hash) {
            Some(&i) if self.table.key(i as usize) == key => i,
            Some(_) => {
                if let Some(&i) = self
                    .collided
                    .iter()
                    .find(|&&i| self.table.key(i as usize) == key)
                {
                    return i;
                }
                let i = self.add(key);
                self.collided.push(i);
                i
            }
            None => {
                let i = self.add(key);
                self.by_hash.insert(hash, i);
                i
            }
        }
    }

    fn add(&mut self, key: &[u8]) -> u32 {
        let i = offset(self.table.ends.len());
        self.table.data.extend_from_slice(key);
        self.table.ends.push(offset(self.table.data.len()));
        i
    }

    /// Number of distinct keys so far.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether no key was added.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The finished table.
    pub fn finish(self) -> KeyTable {
        self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_share_an_index() {
        let mut b = KeyTableBuilder::default();
        assert_eq!(b.push(b"a"), 0);
        assert_eq!(b.push(b"b"), 1);
        assert_eq!(b.push(b"a"), 0);
        assert_eq!(b.push(b""), 2);
        let t = b.finish();
        assert_eq!(t.len(), 3);
        assert_eq!(t.of_record, vec![0, 1, 0, 2]);
        assert_eq!(t.key_of(2), b"a");
        assert_eq!(t.key(2), b"");
    }
}

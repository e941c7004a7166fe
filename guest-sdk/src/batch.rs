//! The flat batch layout of `weir:udf/types`, as borrowed views and an owned builder.
//!
//! A batch keeps the key and value bytes of all its records in one buffer and their
//! boundaries in one offset list (see `wit/types.wit` for why). These types are the
//! target-independent form of it: the Wasm glue borrows them from the lifted WIT values,
//! and native callers build them from their own buffers.

use crate::record::{Header, Record};

/// Flag bit of a record that has a key.
pub const HAS_KEY: u8 = 1;
/// Flag bit of a record that has an event timestamp.
pub const HAS_TIMESTAMP: u8 = 2;

/// A borrowed batch of records.
#[derive(Debug, Clone, Copy)]
pub struct BatchView<'a> {
    /// Key bytes then value bytes of every record, back to back.
    pub data: &'a [u8],
    /// Two offsets per record: where its key ends and where its value ends.
    pub ends: &'a [u32],
    /// One byte per record: [`HAS_KEY`] and [`HAS_TIMESTAMP`] bits.
    pub flags: &'a [u8],
    /// One timestamp per record (meaningful when its flag is set).
    pub timestamps: &'a [i64],
    /// Headers, ordered by record index.
    pub headers: &'a [Header],
}

impl<'a> BatchView<'a> {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.flags.len()
    }

    /// Whether the batch has no records.
    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }

    /// Record `i`.
    ///
    /// # Panics
    /// If `i` is out of range or the batch's offsets are inconsistent.
    #[inline]
    pub fn get(&self, i: usize) -> Record<'a> {
        let start = if i == 0 {
            0
        } else {
            self.ends[2 * i - 1] as usize
        };
        let key_end = self.ends[2 * i] as usize;
        let end = self.ends[2 * i + 1] as usize;
        let flags = self.flags[i];
        let headers = if self.headers.is_empty() {
            &[][..]
        } else {
            let lo = self.headers.partition_point(|h| (h.record as usize) < i);
            let hi = self.headers.partition_point(|h| (h.record as usize) <= i);
            &self.headers[lo..hi]
        };
        Record {
            key: (flags & HAS_KEY != 0).then(|| &self.data[start..key_end]),
            value: &self.data[key_end..end],
            timestamp: (flags & HAS_TIMESTAMP != 0).then(|| self.timestamps[i]),
            headers,
        }
    }

    /// The records in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Record<'a>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// An owned batch under construction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchBuf {
    /// Key bytes then value bytes of every record, back to back.
    pub data: Vec<u8>,
    /// Two offsets per record: where its key ends and where its value ends.
    pub ends: Vec<u32>,
    /// One byte per record: [`HAS_KEY`] and [`HAS_TIMESTAMP`] bits.
    pub flags: Vec<u8>,
    /// One timestamp per record (0 where absent).
    pub timestamps: Vec<i64>,
    /// Headers, ordered by record index.
    pub headers: Vec<Header>,
}

impl BatchBuf {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.flags.len()
    }

    /// Whether the batch has no records.
    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }

    /// A borrowed view of this batch.
    pub fn view(&self) -> BatchView<'_> {
        BatchView {
            data: &self.data,
            ends: &self.ends,
            flags: &self.flags,
            timestamps: &self.timestamps,
            headers: &self.headers,
        }
    }

    /// Appends a record.
    pub fn push(&mut self, key: Option<&[u8]>, value: &[u8], timestamp: Option<i64>) {
        let mut flags = 0;
        if let Some(key) = key {
            self.data.extend_from_slice(key);
            flags |= HAS_KEY;
        }
        self.ends.push(offset(self.data.len()));
        self.data.extend_from_slice(value);
        self.ends.push(offset(self.data.len()));
        if timestamp.is_some() {
            flags |= HAS_TIMESTAMP;
        }
        self.flags.push(flags);
        self.timestamps.push(timestamp.unwrap_or(0));
    }
}

/// A buffer offset as the WIT layout stores it.
///
/// # Panics
/// If a batch grows past 4 GiB, which the host's batch limits rule out.
pub(crate) fn offset(n: usize) -> u32 {
    u32::try_from(n).expect("batch larger than 4 GiB")
}

/// Byte strings, one slot per item, some absent (`weir:udf/types.values`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Values {
    /// Bytes of the present items, back to back.
    pub data: Vec<u8>,
    /// Where each slot ends in `data`.
    pub ends: Vec<u32>,
    /// Whether each slot holds an item.
    pub present: Vec<bool>,
}

impl Values {
    /// Number of slots.
    pub fn len(&self) -> usize {
        self.present.len()
    }

    /// Whether there are no slots.
    pub fn is_empty(&self) -> bool {
        self.present.is_empty()
    }

    /// Slot `i`.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if !self.present[i] {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        Some(&self.data[start..self.ends[i] as usize])
    }

    /// Appends a slot.
    pub fn push(&mut self, item: Option<&[u8]>) {
        if let Some(item) = item {
            self.data.extend_from_slice(item);
        }
        self.ends.push(offset(self.data.len()));
        self.present.push(item.is_some());
    }

    /// The slots in order.
    pub fn iter(&self) -> impl Iterator<Item = Option<&[u8]>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// The keys of a call on keyed input (`weir:udf/types.key-table`).
#[derive(Debug, Clone, Copy)]
pub struct KeyTableView<'a> {
    /// The distinct keys, back to back.
    pub data: &'a [u8],
    /// Where each distinct key ends.
    pub ends: &'a [u32],
    /// For each input, the index of its key.
    pub of_record: &'a [u32],
}

impl<'a> KeyTableView<'a> {
    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the table has no keys.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Distinct key `i`.
    pub fn key(&self, i: usize) -> &'a [u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.data[start..self.ends[i] as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_then_view_round_trips() {
        let mut b = BatchBuf::default();
        b.push(Some(b"k1"), b"v1", Some(5));
        b.push(None, b"", None);
        b.push(Some(b""), b"value", None);
        let v = b.view();
        assert_eq!(v.len(), 3);
        let r = v.get(0);
        assert_eq!(
            (r.key, r.value, r.timestamp),
            (Some(&b"k1"[..]), &b"v1"[..], Some(5))
        );
        let r = v.get(1);
        assert_eq!((r.key, r.value, r.timestamp), (None, &b""[..], None));
        let r = v.get(2);
        assert_eq!((r.key, r.value), (Some(&b""[..]), &b"value"[..]));
    }

    #[test]
    fn headers_are_found_per_record() {
        let mut b = BatchBuf::default();
        for _ in 0..3 {
            b.push(None, b"x", None);
        }
        b.headers = vec![
            Header::new(1, "a", b"1"),
            Header::new(1, "b", b"2"),
            Header::new(2, "c", b"3"),
        ];
        let v = b.view();
        assert!(v.get(0).headers.is_empty());
        assert_eq!(v.get(1).header("b"), Some(&b"2"[..]));
        assert_eq!(v.get(2).headers.len(), 1);
    }

    #[test]
    fn values_keep_absent_slots() {
        let mut v = Values::default();
        v.push(Some(b"a"));
        v.push(None);
        v.push(Some(b""));
        assert_eq!(
            v.iter().collect::<Vec<_>>(),
            vec![Some(&b"a"[..]), None, Some(&b""[..])]
        );
    }
}

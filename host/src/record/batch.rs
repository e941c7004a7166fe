//! The flat batch: many records in one buffer, exactly as `weir:udf/types.batch` lays
//! them out, so a batch crosses into a Wasm function with a few `memcpy`s.
//!
//! [`Batch`], [`Header`] and [`Values`] are the types generated from the WIT package;
//! this module gives them their methods.

pub use crate::wasm::bindings::types::{Batch, Header, Values};

/// Flag bit of a record that has a key.
pub const HAS_KEY: u8 = 1;
/// Flag bit of a record that has an event timestamp.
pub const HAS_TIMESTAMP: u8 = 2;

/// One record of a batch, borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecordRef<'a> {
    /// The key, if any.
    pub key: Option<&'a [u8]>,
    /// The value.
    pub value: &'a [u8],
    /// Event time in epoch milliseconds, if any.
    pub timestamp: Option<i64>,
    /// The record's headers.
    pub headers: &'a [Header],
}

/// Why a batch received from a function is not well formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The per-record lists disagree on the number of records.
    #[error("batch lists disagree: {flags} flags, {timestamps} timestamps, {ends} offsets")]
    Lengths {
        /// Number of flags.
        flags: usize,
        /// Number of timestamps.
        timestamps: usize,
        /// Number of offsets.
        ends: usize,
    },
    /// An offset goes backwards or past the data.
    #[error("batch offset {index} ({offset}) is out of order or past the data ({len} bytes)")]
    Offset {
        /// Index in `ends`.
        index: usize,
        /// The offset.
        offset: u32,
        /// Data length.
        len: usize,
    },
    /// A header names a record that does not exist, or headers are out of order.
    #[error("header {index} names record {record}, out of order or beyond the batch")]
    Header {
        /// Index of the header.
        index: usize,
        /// The record it names.
        record: u32,
    },
}

impl Batch {
    /// An empty batch with room for `records` records of about `bytes` bytes in all.
    pub fn with_capacity(records: usize, bytes: usize) -> Self {
        Self {
            data: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(2 * records),
            flags: Vec::with_capacity(records),
            timestamps: Vec::with_capacity(records),
            headers: Vec::new(),
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.flags.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }

    /// Bytes of key and value data.
    pub fn data_len(&self) -> usize {
        self.data.len()
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

    /// Appends a copy of `record` (headers included).
    pub fn push_record(&mut self, record: &RecordRef<'_>) {
        let index = offset(self.len());
        self.push(record.key, record.value, record.timestamp);
        for h in record.headers {
            self.headers.push(Header {
                record: index,
                name: h.name.clone(),
                value: h.value.clone(),
            });
        }
    }

    /// Record `i`.
    ///
    /// # Panics
    /// If `i` is out of range or the batch is not well formed (see [`Batch::validate`]).
    pub fn get(&self, i: usize) -> RecordRef<'_> {
        let start = if i == 0 {
            0
        } else {
            self.ends[2 * i - 1] as usize
        };
        let key_end = self.ends[2 * i] as usize;
        let end = self.ends[2 * i + 1] as usize;
        let flags = self.flags[i];
        RecordRef {
            key: (flags & HAS_KEY != 0).then(|| &self.data[start..key_end]),
            value: &self.data[key_end..end],
            timestamp: (flags & HAS_TIMESTAMP != 0).then(|| self.timestamps[i]),
            headers: self.headers_of(i),
        }
    }

    fn headers_of(&self, i: usize) -> &[Header] {
        if self.headers.is_empty() {
            return &[];
        }
        let lo = self.headers.partition_point(|h| (h.record as usize) < i);
        let hi = self.headers.partition_point(|h| (h.record as usize) <= i);
        &self.headers[lo..hi]
    }

    /// The records in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = RecordRef<'_>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Gives every record the header `name` = `value` (replacing a header of that name).
    pub fn set_header_all(&mut self, name: &str, value: &[u8]) {
        self.set_header_each(name, |_| value);
    }

    /// Sets header `name` of every record to `value(i)` for record `i`, replacing any
    /// header of that name.
    pub fn set_header_each<'v>(&mut self, name: &str, value: impl Fn(usize) -> &'v [u8]) {
        let n = self.len();
        let old = std::mem::take(&mut self.headers);
        let mut kept = old.into_iter().filter(|h| h.name != name).peekable();
        let mut out = Vec::with_capacity(n + kept.size_hint().0);
        for i in 0..n {
            while let Some(h) = kept.next_if(|h| (h.record as usize) <= i) {
                out.push(h);
            }
            out.push(Header {
                record: offset(i),
                name: name.to_owned(),
                value: value(i).to_vec(),
            });
        }
        out.extend(kept);
        self.headers = out;
    }

    /// Sets the timestamp of record `i`.
    pub fn set_timestamp(&mut self, i: usize, timestamp: i64) {
        self.flags[i] |= HAS_TIMESTAMP;
        self.timestamps[i] = timestamp;
    }

    /// Checks that a batch a function returned is well formed, so that [`Batch::get`]
    /// cannot panic on it.
    pub fn validate(&self) -> Result<(), BatchError> {
        let n = self.flags.len();
        if self.timestamps.len() != n || self.ends.len() != 2 * n {
            return Err(BatchError::Lengths {
                flags: n,
                timestamps: self.timestamps.len(),
                ends: self.ends.len(),
            });
        }
        let mut prev = 0u32;
        for (index, &offset) in self.ends.iter().enumerate() {
            if offset < prev || offset as usize > self.data.len() {
                return Err(BatchError::Offset {
                    index,
                    offset,
                    len: self.data.len(),
                });
            }
            prev = offset;
        }
        let mut prev = 0u32;
        for (index, h) in self.headers.iter().enumerate() {
            if h.record < prev || h.record as usize >= n {
                return Err(BatchError::Header {
                    index,
                    record: h.record,
                });
            }
            prev = h.record;
        }
        Ok(())
    }

    /// Removes every record, keeping the allocations.
    pub fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
        self.flags.clear();
        self.timestamps.clear();
        self.headers.clear();
    }
}

/// A buffer offset in the WIT layout.
///
/// # Panics
/// Past 4 GiB, which batch size limits rule out.
pub(crate) fn offset(n: usize) -> u32 {
    u32::try_from(n).expect("batch larger than 4 GiB")
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

    /// Appends a slot.
    pub fn push(&mut self, item: Option<&[u8]>) {
        if let Some(item) = item {
            self.data.extend_from_slice(item);
        }
        self.ends.push(offset(self.data.len()));
        self.present.push(item.is_some());
    }

    /// Slot `i`, if present.
    ///
    /// # Panics
    /// If `i` is out of range or the offsets are inconsistent (see [`Values::validate`]).
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if !self.present[i] {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        Some(&self.data[start..self.ends[i] as usize])
    }

    /// Checks slots returned by a function.
    pub fn validate(&self) -> Result<(), BatchError> {
        if self.ends.len() != self.present.len() {
            return Err(BatchError::Lengths {
                flags: self.present.len(),
                timestamps: self.present.len(),
                ends: self.ends.len(),
            });
        }
        let mut prev = 0u32;
        for (index, &offset) in self.ends.iter().enumerate() {
            if offset < prev || offset as usize > self.data.len() {
                return Err(BatchError::Offset {
                    index,
                    offset,
                    len: self.data.len(),
                });
            }
            prev = offset;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let mut b = Batch::default();
        b.push(Some(b"k"), b"v", Some(7));
        b.push(None, b"second", None);
        assert_eq!(b.len(), 2);
        assert_eq!(
            b.get(0),
            RecordRef {
                key: Some(b"k"),
                value: b"v",
                timestamp: Some(7),
                headers: &[]
            }
        );
        assert_eq!(b.get(1).key, None);
        assert_eq!(b.get(1).value, b"second");
        b.validate().unwrap();
    }

    #[test]
    fn a_header_for_every_record_keeps_the_others_in_order() {
        let mut b = Batch::default();
        for v in [b"a", b"b", b"c"] {
            b.push(None, v, None);
        }
        b.headers.push(Header {
            record: 1,
            name: "x".into(),
            value: b"1".to_vec(),
        });
        b.set_header_all("fn", b"op@h1");
        b.set_header_all("fn", b"op@h2");
        assert!(b.validate().is_ok());
        for i in 0..3 {
            let r = b.get(i);
            let fns: Vec<&[u8]> = r
                .headers
                .iter()
                .filter(|h| h.name == "fn")
                .map(|h| h.value.as_slice())
                .collect();
            assert_eq!(fns, vec![&b"op@h2"[..]]);
            assert_eq!(r.headers.iter().any(|h| h.name == "x"), i == 1);
        }
    }

    #[test]
    fn validation_rejects_what_get_would_panic_on() {
        let mut b = Batch::default();
        b.push(None, b"abc", None);
        let mut bad = b.clone();
        bad.ends[1] = 99;
        assert!(matches!(bad.validate(), Err(BatchError::Offset { .. })));
        let mut bad = b.clone();
        bad.timestamps.clear();
        assert!(matches!(bad.validate(), Err(BatchError::Lengths { .. })));
        let mut bad = b.clone();
        bad.ends = vec![2, 1];
        assert!(bad.validate().is_err());
        let mut bad = b;
        bad.headers.push(Header {
            record: 5,
            name: "h".into(),
            value: vec![],
        });
        assert!(matches!(bad.validate(), Err(BatchError::Header { .. })));
    }
}

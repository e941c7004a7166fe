//! What a function emits: records, and the inputs it could not handle.

use serde::Serialize;

use crate::batch::{BatchBuf, HAS_KEY, HAS_TIMESTAMP, offset};
use crate::error::{Error, Result};
use crate::record::Header;

/// An input the function could not handle, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Index of the input (record, or fired window) in its call.
    pub index: u32,
    /// The reason.
    pub message: String,
}

/// Collects the records a function emits for its inputs.
///
/// Each emitted record remembers which input it came from, so the host can give it the
/// input's timestamp when the function sets none, and trace it back on failure.
#[derive(Debug, Default)]
pub struct Output {
    pub(crate) batch: BatchBuf,
    pub(crate) origins: Vec<u32>,
    pub(crate) errors: Vec<RecordError>,
    pub(crate) current: u32,
}

impl Output {
    /// Emits a record with this value and no key.
    pub fn emit(&mut self, value: impl AsRef<[u8]>) {
        self.record().value(value);
    }

    /// Emits a record with this key and value.
    pub fn emit_keyed(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.record().key(key).value(value);
    }

    /// Emits a record whose value is `value` serialized as JSON.
    pub fn emit_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.record().json(value)
    }

    /// Emits a record with this key whose value is `value` serialized as JSON.
    pub fn emit_keyed_json<T: Serialize + ?Sized>(
        &mut self,
        key: impl AsRef<[u8]>,
        value: &T,
    ) -> Result<()> {
        self.record().key(key).json(value)
    }

    /// Starts a record with more than a value: a key, a timestamp, headers.
    #[inline]
    pub fn record(&mut self) -> RecordBuilder<'_> {
        let start = self.batch.data.len();
        RecordBuilder {
            out: self,
            start,
            flags: 0,
            timestamp: 0,
            headers: Vec::new(),
            done: false,
        }
    }

    /// Number of records emitted so far in this call.
    pub fn len(&self) -> usize {
        self.batch.len()
    }

    /// Whether nothing was emitted yet in this call.
    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }

    /// The records emitted so far.
    pub fn records(&self) -> &BatchBuf {
        &self.batch
    }

    /// The inputs reported as failed so far.
    pub fn errors(&self) -> &[RecordError] {
        &self.errors
    }

    /// For each emitted record, the index of the input it came from.
    pub fn origins(&self) -> &[u32] {
        &self.origins
    }

    #[inline]
    pub(crate) fn set_current(&mut self, index: usize) {
        self.current = offset(index);
    }

    /// Records that the current input failed; what it emitted so far stays emitted.
    pub(crate) fn fail_current(&mut self, error: Error) {
        self.errors.push(RecordError {
            index: self.current,
            message: error.message().to_owned(),
        });
    }

    /// Takes the collected batch, origins and errors, leaving this output empty.
    pub fn take(&mut self) -> (BatchBuf, Vec<u32>, Vec<RecordError>) {
        (
            std::mem::take(&mut self.batch),
            std::mem::take(&mut self.origins),
            std::mem::take(&mut self.errors),
        )
    }
}

/// A record being emitted; finish it with [`value`](Self::value) or
/// [`json`](Self::json). Set the key before the value.
#[must_use = "a record is emitted only by `value` or `json`"]
pub struct RecordBuilder<'o> {
    out: &'o mut Output,
    start: usize,
    flags: u8,
    timestamp: i64,
    headers: Vec<(String, Vec<u8>)>,
    done: bool,
}

impl RecordBuilder<'_> {
    /// Sets the key (by which a later `key_by = "key"` partitions).
    #[inline]
    pub fn key(mut self, key: impl AsRef<[u8]>) -> Self {
        let data = &mut self.out.batch.data;
        data.truncate(self.start);
        append(data, key.as_ref());
        self.flags |= HAS_KEY;
        self
    }

    /// Sets the event timestamp (epoch milliseconds); without one the record keeps the
    /// timestamp of the input it came from.
    #[inline]
    pub fn timestamp(mut self, epoch_ms: i64) -> Self {
        self.flags |= HAS_TIMESTAMP;
        self.timestamp = epoch_ms;
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    /// Emits the record with this value.
    #[inline]
    pub fn value(mut self, value: impl AsRef<[u8]>) {
        self.begin_value();
        append(&mut self.out.batch.data, value.as_ref());
        self.finish();
    }

    /// Emits the record with `value` serialized as JSON as its value. On a
    /// serialization error nothing is emitted.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Result<()> {
        self.begin_value();
        serde_json::to_writer(&mut self.out.batch.data, value)?;
        self.finish();
        Ok(())
    }

    #[inline]
    fn begin_value(&mut self) {
        if self.flags & HAS_KEY == 0 {
            self.out.batch.data.truncate(self.start);
        }
        let key_end = offset(self.out.batch.data.len());
        self.out.batch.ends.push(key_end);
    }

    #[inline]
    fn finish(&mut self) {
        let out = &mut *self.out;
        let index = offset(out.batch.flags.len());
        out.batch.ends.push(offset(out.batch.data.len()));
        out.batch.flags.push(self.flags);
        out.batch.timestamps.push(self.timestamp);
        for (name, value) in self.headers.drain(..) {
            out.batch.headers.push(Header {
                record: index,
                name,
                value,
            });
        }
        out.origins.push(out.current);
        self.done = true;
    }
}

impl Drop for RecordBuilder<'_> {
    fn drop(&mut self) {
        if !self.done {
            // Unfinished (or failed to serialize): undo its key and half-pushed offsets.
            let batch = &mut self.out.batch;
            batch.data.truncate(self.start);
            batch.ends.truncate(2 * batch.flags.len());
        }
    }
}

/// Appends `bytes` to `buf`. In Wasm a copy of a length known only at run time is a
/// `memory.copy`, which the runtime performs as a call out of the guest: costly for the few
/// bytes of a key or an id. Short ones are copied here eight bytes at a time instead.
#[inline]
fn append(buf: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.len() > 64 {
        buf.extend_from_slice(bytes);
        return;
    }
    buf.reserve(bytes.len());
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let w: [u8; 8] = w.try_into().expect("eight bytes");
        buf.extend_from_slice(&w);
    }
    for &b in words.remainder() {
        buf.push(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_copies_every_length() {
        let source: Vec<u8> = (0..100).collect();
        for len in 0..100 {
            let mut buf = vec![7u8];
            append(&mut buf, &source[..len]);
            assert_eq!(buf[0], 7);
            assert_eq!(&buf[1..], &source[..len]);
        }
    }

    #[test]
    fn builder_sets_key_timestamp_headers_and_origin() {
        let mut out = Output::default();
        out.set_current(3);
        out.record()
            .key("k")
            .timestamp(42)
            .header("h", "v")
            .value("body");
        out.set_current(4);
        out.emit_json(&serde_json::json!({"a": 1})).unwrap();
        let view = out.batch.view();
        let r = view.get(0);
        assert_eq!(r.key, Some(&b"k"[..]));
        assert_eq!(r.timestamp, Some(42));
        assert_eq!(r.header("h"), Some(&b"v"[..]));
        assert_eq!(r.value, b"body");
        assert_eq!(view.get(1).value, br#"{"a":1}"#);
        assert_eq!(view.get(1).key, None);
        assert_eq!(out.origins, vec![3, 4]);
    }

    #[test]
    fn a_failed_serialization_emits_nothing() {
        struct Bad;
        impl Serialize for Bad {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("no"))
            }
        }
        let mut out = Output::default();
        out.emit("first");
        assert!(out.record().key("k").json(&Bad).is_err());
        out.emit("second");
        let view = out.batch.view();
        assert_eq!(view.len(), 2);
        assert_eq!(view.get(1).value, b"second");
        assert_eq!(view.get(1).key, None);
    }

    #[test]
    fn an_abandoned_builder_leaves_no_trace() {
        let mut out = Output::default();
        drop(out.record().key("dangling"));
        out.emit("x");
        assert_eq!(out.batch.data, b"x");
        assert_eq!(out.batch.ends, vec![0, 1]);
    }
}

//! One record as a function sees it.

use serde::Deserialize;

use crate::error::Result;

/// A record header (Kafka-style).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Index of the record, within its batch, that carries this header.
    pub record: u32,
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: Vec<u8>,
}

impl Header {
    /// A header of record `record`.
    pub fn new(record: u32, name: &str, value: &[u8]) -> Self {
        Self {
            record,
            name: name.to_owned(),
            value: value.to_vec(),
        }
    }
}

/// One input record, borrowed from its batch.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The record's key, if it has one (a Kafka key, or one a function set).
    pub key: Option<&'a [u8]>,
    /// The record's value (for JSON-lines input, one JSON document).
    pub value: &'a [u8],
    /// Event time in epoch milliseconds, if the record has one.
    pub timestamp: Option<i64>,
    /// The record's headers.
    pub headers: &'a [Header],
}

impl<'a> Record<'a> {
    /// The value as UTF-8 text.
    pub fn text(&self) -> Result<&'a str> {
        Ok(std::str::from_utf8(self.value)?)
    }

    /// The value parsed as JSON into `T` (which may borrow from the record).
    pub fn json<T: Deserialize<'a>>(&self) -> Result<T> {
        Ok(serde_json::from_slice(self.value)?)
    }

    /// Top-level fields of the JSON value, without parsing the rest of it (see
    /// [`json::fields`](crate::json::fields)).
    #[inline]
    pub fn fields<const N: usize>(
        &self,
        names: [&str; N],
    ) -> Result<[Option<crate::json::Field<'a>>; N]> {
        crate::json::fields(self.value, names)
    }

    /// The value of the first header named `name`.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|h| h.name == name)
            .map(|h| h.value.as_slice())
    }
}

//! # weir-json
//!
//! Reads a few fields of a JSON document without parsing all of it: one pass over the
//! document, skipping the values that are not asked for. The host reads one field per
//! record (a key or an event timestamp) with [`FieldPath::find`]; guest functions read
//! several top-level fields at once with [`fields()`] (through `weir_sdk::json`).
//!
//! ```
//! use weir_json::{Field, FieldPath};
//!
//! let doc = br#"{"user": {"id": "u1"}, "kind": "view", "at": 1700000000000, "x": [1, "}"]}"#;
//! let path = FieldPath::parse("user.id").unwrap();
//! assert_eq!(path.find(doc).unwrap(), Field::String(b"u1"[..].into()));
//!
//! let [kind, at] = weir_json::fields(doc, ["kind", "at"]).unwrap();
//! assert_eq!(kind.unwrap().key_bytes(), b"view");
//! assert_eq!(at.unwrap().epoch_millis(), Ok(1_700_000_000_000));
//! ```
//!
//! # What is checked
//!
//! The scanner checks the structure it walks through (the objects on the way to a field:
//! their braces, quotes, colons and commas) and unescapes the strings it reads and the
//! names of the members it compares. It does not validate what it skips or returns as
//! written: a skipped value is delimited (strings by their closing quote, objects and
//! arrays by counting brackets, other values by the next `,`, `}`, `]` or whitespace), and
//! a number or a literal is returned as that run of bytes. Past the field it reads (or the
//! last of the fields asked for) it reads nothing. So a valid document always reads as
//! `serde_json` reads it (the differential tests check this); an invalid one may be an
//! error or a value, never a panic.
//!
//! A name that occurs twice in one object reads as its **first** occurrence (serde_json's
//! `Value` keeps the last).
//!
//! # Speed
//!
//! Events are small objects whose strings are short, so the work is done in words rather
//! than in loops over bytes or library calls (in Wasm, every call and every loop entered
//! costs an interruption check, and a `memcmp` is a call):
//!
//! - a string's end is found sixteen bytes at a time, with Wasm's 128-bit SIMD (guests
//!   are built with `+simd128`), SSE2 on x86_64, or a scalar loop elsewhere;
//! - a member's name is compared with a wanted name of up to sixteen bytes as two 64-bit
//!   words;
//! - UTF-8 is checked eight ASCII bytes at a time, and integers of 8 to 16 digits (epoch
//!   milliseconds, ids) are read eight digits at a time.
//!
//! Every version of the sixteen-byte search compiles natively under `cfg(test)` (the Wasm
//! one over an emulation of the four Wasm instructions it uses), and the tests check them
//! against each other and against a byte-by-byte search.
//!
//! # Layout
//!
//! One concept per file, all private; the items are re-exported here.
//!
//! - `path`: [`FieldPath`], one dotted path, read with [`FieldPath::find`].
//! - `fields`: [`fields()`], several top-level fields in one pass ([`fields_with`]:
//!   converting each as it is read).
//! - `field`: [`Field`], what a read returns, and its conversions
//!   ([`Field::epoch_millis`]).
//! - `error`: [`FieldError`], why a read failed.
//! - `scan`: the cursor both reads walk a document with (whitespace, strings, values,
//!   skips, the members of an object).
//! - `name`: wanted names, compared as words.
//! - `find`: the end of a string, sixteen bytes at a time.
//! - `block`: the three versions of that sixteen-byte step (Wasm SIMD, SSE2, scalar), and
//!   under `cfg(test)` the emulation that runs the Wasm one natively.
//! - `unescape`: a string's escapes.
//! - `text`: [`utf8`], UTF-8 checked eight bytes at a time.
//! - `digits`: [`integer`], integers read eight digits at a time.

#![deny(missing_docs)]

mod block;
mod digits;
mod error;
mod field;
mod fields;
mod find;
mod name;
mod path;
mod scan;
mod text;
mod unescape;

pub use digits::integer;
pub use error::FieldError;
pub use field::Field;
pub use fields::{fields, fields_with};
pub use path::FieldPath;
pub use text::utf8;

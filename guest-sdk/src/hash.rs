//! Hash maps for a function's own tables (an id → name lookup loaded in `init`, say).
//!
//! The standard `HashMap` hashes with SipHash, which guards against keys chosen to
//! collide at several times the cost of a fast hash; in a function that looks up every
//! record's field in a table of hundreds of thousands of entries, that hash is a good
//! part of the function's time. [`FastMap`] and [`FastSet`] use `foldhash` with a
//! random seed per instance: as fast as the fastest common hashes, and still seeded, so
//! a stream cannot pick keys that all land in one bucket.
//!
//! ```
//! use weir_sdk::hash::FastMap;
//!
//! let mut campaigns: FastMap<String, String> = FastMap::default();
//! campaigns.insert("ad-1".into(), "campaign-7".into());
//! assert_eq!(campaigns.get("ad-1").map(String::as_str), Some("campaign-7"));
//! ```

use std::collections::{HashMap, HashSet};

/// The hasher of [`FastMap`] and [`FastSet`].
pub type FastState = foldhash::fast::RandomState;

/// A `HashMap` hashed with `foldhash`; make one with `FastMap::default()`.
pub type FastMap<K, V> = HashMap<K, V, FastState>;

/// A `HashSet` hashed with `foldhash`; make one with `FastSet::default()`.
pub type FastSet<T> = HashSet<T, FastState>;

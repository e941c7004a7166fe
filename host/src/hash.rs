//! Hash maps for the per-record paths (window indexes, accumulator caches, key tables,
//! timers): `foldhash` instead of the standard SipHash, which cost several percent of a
//! windowed job's time. Seeds are still random per process, so a stream cannot choose
//! keys that collide.

use std::collections::{HashMap, HashSet};

/// The hasher of [`FastMap`] and [`FastSet`].
pub(crate) type FastState = foldhash::fast::RandomState;

/// A `HashMap` with [`FastState`]; make one with `FastMap::default()`.
pub(crate) type FastMap<K, V> = HashMap<K, V, FastState>;

/// A `HashSet` with [`FastState`]; make one with `FastSet::default()`.
pub(crate) type FastSet<T> = HashSet<T, FastState>;

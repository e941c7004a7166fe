//! Accumulators of aligned windows (tumbling and sliding), held window by window.
//!
//! Every key's window of an aligned assigner has the same bounds, so the operator keeps
//! its accumulators as window → key → accumulator: a window fires by taking its whole
//! map (no timer per key and window, no lookup per firing), and a count is a number, not
//! text. This is the path of aggregating windows whose trigger fires once, at their
//! end, with no allowed lateness: each window fires once and is gone. Other windows keep
//! a timer per key and window (see the operator).
//!
//! Accumulators reach the backend only in a snapshot (as an overlay), at the end of the
//! input, and when the entries in memory grow past the cache's capacity: then every
//! value is written back and only its key stays in memory, in one buffer per window, to
//! read the value back when the window fires (or an element comes for it).

use std::collections::BTreeMap;
use std::hash::BuildHasher;

use anyhow::{Context, Result};

use hashbrown::HashTable;

use crate::hash::FastState;
use crate::state::{StateBackend, WriteOp};
use crate::time::Window;

/// An accumulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acc {
    /// The host's count (stored as decimal text).
    Count(u64),
    /// A function's accumulator.
    Bytes(Vec<u8>),
}

impl Acc {
    /// Reads a stored accumulator.
    fn decode(counting: bool, bytes: Vec<u8>) -> Result<Self> {
        if !counting {
            return Ok(Acc::Bytes(bytes));
        }
        let n = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|s| s.parse().ok())
            .context("corrupt count accumulator")?;
        Ok(Acc::Count(n))
    }

    /// The stored form, written into `buf` (cleared first).
    pub fn encode<'a>(&'a self, buf: &'a mut Vec<u8>) -> &'a [u8] {
        match self {
            Acc::Count(n) => {
                use std::io::Write;
                buf.clear();
                let _ = write!(buf, "{n}");
                buf
            }
            Acc::Bytes(b) => b,
        }
    }

    fn heap(&self) -> usize {
        match self {
            Acc::Count(_) => 0,
            Acc::Bytes(b) => b.len(),
        }
    }
}

#[derive(Debug)]
struct Entry {
    acc: Acc,
    /// Whether the backend lacks this value.
    dirty: bool,
    /// Whether the backend holds a value for the key (to delete when the window goes).
    in_backend: bool,
}

/// Keys (with their key groups) in one buffer.
#[derive(Debug, Default)]
struct KeyList {
    bytes: Vec<u8>,
    ends: Vec<u32>,
    groups: Vec<u16>,
}

impl KeyList {
    fn push(&mut self, key: &[u8], group: u16) {
        self.bytes.extend_from_slice(key);
        self.ends.push(self.bytes.len() as u32);
        self.groups.push(group);
    }

    fn key(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], u16)> + '_ {
        (0..self.len()).map(|i| (self.key(i), self.groups[i]))
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// One window's accumulators: keys in one buffer, an index over them (no allocation
/// per key).
#[derive(Debug, Default)]
struct Slot {
    index: HashTable<u32>,
    live: KeyList,
    entries: Vec<Entry>,
    /// Keys whose accumulator was written back and dropped from memory (some may have
    /// been read back into `live` since).
    spilled: KeyList,
}

impl Slot {
    fn find(&self, hash: u64, key: &[u8]) -> Option<usize> {
        self.index
            .find(hash, |&i| self.live.key(i as usize) == key)
            .map(|&i| i as usize)
    }

    fn insert(&mut self, hasher: &FastState, hash: u64, key: &[u8], group: u16, e: Entry) {
        let Slot {
            index,
            live,
            entries,
            ..
        } = self;
        let i = live.len() as u32;
        live.push(key, group);
        entries.push(e);
        index.insert_unique(hash, i, |&j| hasher.hash_one(live.key(j as usize)));
    }

    /// Bytes it takes besides the entries' heap values (estimated).
    fn heap(&self) -> usize {
        self.live.bytes.capacity()
            + 6 * self.live.ends.capacity()
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.index.capacity() * 5
    }
}

/// A fired window's accumulators, in order of their keys.
#[derive(Debug, Default)]
pub struct Firing {
    keys: KeyList,
    accs: Vec<Acc>,
    order: Vec<u32>,
}

impl Firing {
    /// Keys and accumulators, in order of the keys.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Acc)> + '_ {
        self.order
            .iter()
            .map(|&i| (self.keys.key(i as usize), &self.accs[i as usize]))
    }
}

/// How accumulators are keyed in the backend: the state key of (key, key group, window).
pub trait AccKeys {
    /// Appends the state key of `key`'s accumulator in `w` to `out`.
    fn acc_key_into(&self, out: &mut Vec<u8>, key: &[u8], group: u16, w: &Window);
}

/// The accumulators of every open window of one operator instance.
#[derive(Debug)]
pub struct Aligned {
    /// By (end, start): windows fire in order of their end.
    windows: BTreeMap<(i64, i64), Slot>,
    hasher: FastState,
    counting: bool,
    /// Bytes the values take beyond their entries (estimated).
    values: usize,
    capacity: usize,
    /// Whether some window has keys only in the backend.
    spilled: bool,
}

fn slot_of(w: &Window) -> (i64, i64) {
    (w.end, w.start)
}

fn window_of(&(end, start): &(i64, i64)) -> Window {
    Window { start, end }
}

impl Aligned {
    /// Empty; `counting` for the host's count, writing back past `capacity` bytes.
    pub fn new(counting: bool, capacity: usize) -> Self {
        Self {
            windows: BTreeMap::new(),
            hasher: FastState::default(),
            counting,
            values: 0,
            capacity,
            spilled: false,
        }
    }

    /// Whether some accumulators are only in the backend: a key missing from memory
    /// must be looked up there ([`Aligned::load`]) before it is folded into.
    pub fn has_spilled(&self) -> bool {
        self.spilled
    }

    /// Adds `n` to the count of `key` in `w`.
    pub fn count(&mut self, w: &Window, key: &[u8], group: u16, n: u64) {
        let hash = self.hasher.hash_one(key);
        let slot = self.windows.entry(slot_of(w)).or_default();
        match slot.find(hash, key) {
            Some(i) => {
                let e = &mut slot.entries[i];
                if let Acc::Count(c) = &mut e.acc {
                    *c += n;
                }
                e.dirty = true;
            }
            None => {
                let e = Entry {
                    acc: Acc::Count(n),
                    dirty: true,
                    in_backend: false,
                };
                slot.insert(&self.hasher, hash, key, group, e);
            }
        }
    }

    /// The accumulator of `key` in `w`, if it has one in memory.
    pub fn get(&self, w: &Window, key: &[u8]) -> Option<&Acc> {
        let slot = self.windows.get(&slot_of(w))?;
        let i = slot.find(self.hasher.hash_one(key), key)?;
        Some(&slot.entries[i].acc)
    }

    /// Sets the accumulator of `key` in `w`.
    pub fn put(&mut self, w: &Window, key: &[u8], group: u16, acc: Vec<u8>) {
        let hash = self.hasher.hash_one(key);
        let slot = self.windows.entry(slot_of(w)).or_default();
        self.values += acc.len();
        match slot.find(hash, key) {
            Some(i) => {
                let e = &mut slot.entries[i];
                self.values -= e.acc.heap();
                e.acc = Acc::Bytes(acc);
                e.dirty = true;
            }
            None => {
                let e = Entry {
                    acc: Acc::Bytes(acc),
                    dirty: true,
                    in_backend: false,
                };
                slot.insert(&self.hasher, hash, key, group, e);
            }
        }
    }

    /// Reads back from `backend` the accumulators of `wanted` (window, key, group) that
    /// were written back and are not in memory.
    pub fn load<'a>(
        &mut self,
        backend: &dyn StateBackend,
        keys: &dyn AccKeys,
        wanted: impl Iterator<Item = (Window, &'a [u8], u16)>,
    ) -> Result<()> {
        let mut missing: Vec<(Window, &[u8], u16)> = wanted
            .filter(|(w, k, _)| {
                self.windows.get(&slot_of(w)).is_some_and(|s| {
                    !s.spilled.is_empty() && s.find(self.hasher.hash_one(k), k).is_none()
                })
            })
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if missing.is_empty() {
            return Ok(());
        }
        let at: Vec<Vec<u8>> = missing
            .iter()
            .map(|(w, k, g)| {
                let mut b = Vec::new();
                keys.acc_key_into(&mut b, k, *g, w);
                b
            })
            .collect();
        for ((w, k, g), value) in missing.into_iter().zip(backend.multi_get(&at)?) {
            let Some(value) = value else { continue };
            let acc = Acc::decode(self.counting, value)?;
            self.values += acc.heap();
            let e = Entry {
                acc,
                dirty: false,
                in_backend: true,
            };
            let hash = self.hasher.hash_one(k);
            let slot = self.windows.entry(slot_of(&w)).or_default();
            slot.insert(&self.hasher, hash, k, g, e);
        }
        Ok(())
    }

    /// A window restored from a snapshot: its accumulator of `key` is in the backend.
    pub fn restored(&mut self, w: &Window, key: &[u8], group: u16) {
        self.windows
            .entry(slot_of(w))
            .or_default()
            .spilled
            .push(key, group);
        self.spilled = true;
    }

    /// Takes the earliest window if its last instant (`end - 1`) is at or before `time`:
    /// its accumulators (read back from `backend` where written back; the backend's
    /// copies are deleted).
    pub fn take_due(
        &mut self,
        time: i64,
        backend: &dyn StateBackend,
        keys: &dyn AccKeys,
    ) -> Result<Option<(Window, Firing)>> {
        let Some(entry) = self.windows.first_entry() else {
            return Ok(None);
        };
        if entry.key().0.saturating_sub(1) > time {
            return Ok(None);
        }
        let (at, slot) = entry.remove_entry();
        let w = window_of(&at);
        let mut deletes = Vec::new();
        let mut accs = Vec::with_capacity(slot.entries.len());
        for (i, e) in slot.entries.into_iter().enumerate() {
            self.values -= e.acc.heap();
            if e.in_backend {
                let mut b = Vec::new();
                keys.acc_key_into(&mut b, slot.live.key(i), slot.live.groups[i], &w);
                deletes.push(WriteOp::Delete(b));
            }
            accs.push(e.acc);
        }
        let mut fired = slot.live;
        if !slot.spilled.is_empty() {
            let mut seen = crate::hash::FastSet::default();
            let rest: Vec<(&[u8], u16)> = slot
                .spilled
                .iter()
                .filter(|(k, _)| {
                    let hash = self.hasher.hash_one(k);
                    slot.index
                        .find(hash, |&i| fired.key(i as usize) == *k)
                        .is_none()
                        && seen.insert(*k)
                })
                .collect();
            let state_keys: Vec<Vec<u8>> = rest
                .iter()
                .map(|(k, g)| {
                    let mut b = Vec::new();
                    keys.acc_key_into(&mut b, k, *g, &w);
                    b
                })
                .collect();
            let values = backend.multi_get(&state_keys)?;
            for (((k, g), value), sk) in rest.into_iter().zip(values).zip(state_keys) {
                if let Some(v) = value {
                    fired.push(k, g);
                    accs.push(Acc::decode(self.counting, v)?);
                }
                deletes.push(WriteOp::Delete(sk));
            }
        }
        if self.windows.values().all(|s| s.spilled.is_empty()) {
            self.spilled = false;
        }
        if !deletes.is_empty() {
            backend.write(deletes)?;
        }
        let mut order: Vec<u32> = (0..fired.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| fired.key(a as usize).cmp(fired.key(b as usize)));
        Ok(Some((
            w,
            Firing {
                keys: fired,
                accs,
                order,
            },
        )))
    }

    /// The values the backend lacks, as a snapshot overlay appended to `out`.
    pub fn overlay(&self, keys: &dyn AccKeys, out: &mut Vec<u8>) {
        let (mut at, mut buf) = (Vec::new(), Vec::new());
        for (s, slot) in &self.windows {
            let w = window_of(s);
            for (i, e) in slot.entries.iter().enumerate().filter(|(_, e)| e.dirty) {
                at.clear();
                keys.acc_key_into(&mut at, slot.live.key(i), slot.live.groups[i], &w);
                let value = e.acc.encode(&mut buf);
                crate::state::snapshot::encode_overlay_entry(out, &at, Some(value));
            }
        }
    }

    /// Writes every value the backend lacks to it (they stay in memory).
    pub fn flush(&mut self, backend: &dyn StateBackend, keys: &dyn AccKeys) -> Result<()> {
        let mut ops = Vec::new();
        let mut buf = Vec::new();
        for (s, slot) in &mut self.windows {
            let w = window_of(s);
            for (i, e) in slot.entries.iter_mut().enumerate().filter(|(_, e)| e.dirty) {
                let mut at = Vec::new();
                keys.acc_key_into(&mut at, slot.live.key(i), slot.live.groups[i], &w);
                ops.push(WriteOp::Put(at, e.acc.encode(&mut buf).to_vec()));
                e.dirty = false;
                e.in_backend = true;
            }
        }
        if ops.is_empty() {
            return Ok(());
        }
        backend.write(ops)
    }

    /// Bytes the entries in memory take (estimated).
    fn bytes(&self) -> usize {
        self.values + self.windows.values().map(Slot::heap).sum::<usize>()
    }

    /// Past its capacity: writes every value back and keeps only the keys.
    pub fn maybe_spill(&mut self, backend: &dyn StateBackend, keys: &dyn AccKeys) -> Result<()> {
        // Checked every batch: the estimate walks the windows (a few), not the entries.
        if self.bytes() <= self.capacity {
            return Ok(());
        }
        self.flush(backend, keys)?;
        for slot in self.windows.values_mut() {
            let live = std::mem::take(&mut slot.live);
            for (k, g) in live.iter() {
                slot.spilled.push(k, g);
            }
            slot.entries = Vec::new();
            slot.index = HashTable::new();
        }
        self.values = 0;
        self.spilled = true;
        backend.settle();
        Ok(())
    }

    /// Open windows (key and window pairs) in memory or written back.
    pub fn open(&self) -> usize {
        self.windows
            .values()
            .map(|s| {
                let written_back: crate::hash::FastSet<&[u8]> = s
                    .spilled
                    .iter()
                    .map(|(k, _)| k)
                    .filter(|k| s.find(self.hasher.hash_one(k), k).is_none())
                    .collect();
                s.live.len() + written_back.len()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MemoryBackend;

    /// State keys as `window-start/key`.
    struct Plain;
    impl AccKeys for Plain {
        fn acc_key_into(&self, out: &mut Vec<u8>, key: &[u8], _group: u16, w: &Window) {
            out.extend_from_slice(format!("{}/", w.start).as_bytes());
            out.extend_from_slice(key);
        }
    }

    const W0: Window = Window { start: 0, end: 10 };
    const W1: Window = Window { start: 10, end: 20 };

    fn counts(f: &Firing) -> Vec<(String, u64)> {
        f.iter()
            .map(|(k, a)| match a {
                Acc::Count(n) => (String::from_utf8(k.to_vec()).unwrap(), *n),
                Acc::Bytes(_) => panic!("a count"),
            })
            .collect()
    }

    #[test]
    fn windows_fire_in_order_of_their_ends_with_keys_sorted() {
        let b = MemoryBackend::default();
        let mut a = Aligned::new(true, usize::MAX);
        for k in ["b", "a", "b"] {
            a.count(&W1, k.as_bytes(), 0, 1);
        }
        a.count(&W0, b"c", 0, 2);
        assert!(
            a.take_due(8, &b, &Plain).unwrap().is_none(),
            "9 is W0's last instant"
        );
        let (w, f) = a.take_due(9, &b, &Plain).unwrap().unwrap();
        assert_eq!((w, counts(&f)), (W0, vec![("c".into(), 2)]));
        assert!(a.take_due(9, &b, &Plain).unwrap().is_none());
        let (w, f) = a.take_due(100, &b, &Plain).unwrap().unwrap();
        assert_eq!(
            (w, counts(&f)),
            (W1, vec![("a".into(), 1), ("b".into(), 2)])
        );
        assert_eq!(
            b.scan(b"", None, 100).unwrap(),
            vec![],
            "nothing ever written"
        );
    }

    #[test]
    fn past_its_capacity_it_writes_back_reads_back_and_deletes_what_it_wrote() {
        let b = MemoryBackend::default();
        let mut a = Aligned::new(true, usize::MAX);
        for k in ["a", "b", "c"] {
            a.count(&W0, k.as_bytes(), 0, 1);
        }
        a.capacity = a.bytes();
        a.maybe_spill(&b, &Plain).unwrap();
        assert!(!a.has_spilled(), "at capacity: kept");
        a.count(&W1, b"d", 0, 5);
        a.maybe_spill(&b, &Plain).unwrap();
        assert!(a.has_spilled());
        assert_eq!(b.get(b"0/b").unwrap(), Some(b"1".to_vec()));
        assert_eq!(b.get(b"10/d").unwrap(), Some(b"5".to_vec()));
        // "b" comes again: read back before it is counted; "e" is new.
        let wanted = [(W0, &b"b"[..], 0), (W0, &b"e"[..], 0)];
        a.load(&b, &Plain, wanted.into_iter()).unwrap();
        a.count(&W0, b"b", 0, 1);
        a.count(&W0, b"e", 0, 1);
        let mut overlay = Vec::new();
        a.overlay(&Plain, &mut overlay);
        let mut expected = Vec::new();
        for (k, v) in [("0/b", "2"), ("0/e", "1")] {
            crate::state::snapshot::encode_overlay_entry(
                &mut expected,
                k.as_bytes(),
                Some(v.as_bytes()),
            );
        }
        let other_order = {
            let mut e = Vec::new();
            for (k, v) in [("0/e", "1"), ("0/b", "2")] {
                crate::state::snapshot::encode_overlay_entry(
                    &mut e,
                    k.as_bytes(),
                    Some(v.as_bytes()),
                );
            }
            e
        };
        assert!(
            overlay == expected || overlay == other_order,
            "only what the backend lacks"
        );
        assert_eq!(a.open(), 5);
        let (_, f) = a.take_due(9, &b, &Plain).unwrap().unwrap();
        assert_eq!(
            counts(&f),
            vec![
                ("a".into(), 1),
                ("b".into(), 2),
                ("c".into(), 1),
                ("e".into(), 1)
            ]
        );
        assert_eq!(b.get(b"0/a").unwrap(), None, "deleted as the window fired");
        assert_eq!(b.get(b"0/b").unwrap(), None);
        assert!(a.has_spilled(), "W1 is still written back");
        let (_, f) = a.take_due(19, &b, &Plain).unwrap().unwrap();
        assert_eq!(counts(&f), vec![("d".into(), 5)]);
        assert!(!a.has_spilled());
        assert_eq!(b.scan(b"", None, 100).unwrap(), vec![]);
    }

    #[test]
    fn a_restored_window_reads_its_accumulators_from_the_backend() {
        let b = MemoryBackend::default();
        b.write(vec![WriteOp::Put(b"0/k".to_vec(), b"acc".to_vec())])
            .unwrap();
        let mut a = Aligned::new(false, usize::MAX);
        a.restored(&W0, b"k", 7);
        a.load(&b, &Plain, [(W0, &b"k"[..], 7)].into_iter())
            .unwrap();
        assert_eq!(a.get(&W0, b"k"), Some(&Acc::Bytes(b"acc".to_vec())));
        a.put(&W0, b"k", 7, b"acc+1".to_vec());
        a.flush(&b, &Plain).unwrap();
        assert_eq!(b.get(b"0/k").unwrap(), Some(b"acc+1".to_vec()));
        let (_, f) = a.take_due(9, &b, &Plain).unwrap().unwrap();
        let f: Vec<(Vec<u8>, Acc)> = f.iter().map(|(k, a)| (k.to_vec(), a.clone())).collect();
        assert_eq!(f, vec![(b"k".to_vec(), Acc::Bytes(b"acc+1".to_vec()))]);
        assert_eq!(b.get(b"0/k").unwrap(), None);
    }
}

//! The window operator's own state: window contents, accumulators, session sets and
//! element counters, in the operator's keyed state under reserved names.

use std::cell::RefCell;

use anyhow::{Context, Result};

use super::cache::StateCache;
use super::elements;
use super::triggers::TriggerState;
use crate::record::Batch;
use crate::state::{KeyedState, Kind, Namespace, StateDef, StateKeyPrefix, WriteOp, decode_list};
use crate::time::Window;

/// Reserved prefix of state names the host itself uses.
pub const RESERVED: &str = "__weir/";

/// The window operator's states.
pub struct WindowState {
    /// The operator's keyed state.
    pub keyed: KeyedState,
    contents: StateDef,
    acc: StateDef,
    sessions: StateDef,
    counter: StateDef,
    fired: StateDef,
    trigger: StateDef,
    /// Accumulators, contents and session sets, written back to the backend in bulk.
    cache: RefCell<StateCache>,
}

/// A key and its key group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// Key bytes.
    pub bytes: Vec<u8>,
    /// Key group.
    pub group: u16,
}

/// The namespace of a window's state.
pub(super) fn ns(w: &Window) -> Namespace {
    Namespace::Window {
        start: w.start,
        end: w.end,
    }
}

impl WindowState {
    /// Declares the states in `keyed`; accumulators past `cache_bytes` are written back.
    pub fn new(keyed: KeyedState, cache_bytes: usize) -> Result<Self> {
        let def = |name: &str, kind| keyed.define(&format!("{RESERVED}{name}"), kind, None, None);
        Ok(Self {
            contents: def("contents", Kind::List)?,
            acc: def("accumulator", Kind::Value)?,
            sessions: def("sessions", Kind::Value)?,
            counter: def("count", Kind::Value)?,
            fired: def("fired", Kind::Value)?,
            trigger: def("trigger", Kind::Value)?,
            cache: RefCell::new(StateCache::new(cache_bytes)),
            keyed,
        })
    }

    /// The key with its group, taking the bytes.
    pub fn owned_key(&self, bytes: Vec<u8>) -> Key {
        Key {
            group: self.keyed.group(&bytes),
            bytes,
        }
    }

    /// The id of the accumulators' state.
    pub fn acc_id(&self) -> u32 {
        self.acc.id
    }

    /// Where a window's elements are.
    pub fn contents_key(&self, key: &Key, w: &Window) -> Vec<u8> {
        StateKeyPrefix::new(self.contents.id, key.group, &key.bytes, ns(w)).0
    }

    /// Where a window's accumulator is.
    pub fn acc_key(&self, key: &Key, w: &Window) -> Vec<u8> {
        StateKeyPrefix::new(self.acc.id, key.group, &key.bytes, ns(w)).0
    }

    fn sessions_key(&self, key: &Key) -> Vec<u8> {
        StateKeyPrefix::new(self.sessions.id, key.group, &key.bytes, Namespace::Global).0
    }

    fn count_key(&self, key: &Key) -> Vec<u8> {
        StateKeyPrefix::new(self.counter.id, key.group, &key.bytes, Namespace::Global).0
    }

    /// Whether a state key is one the cache holds (accumulators, contents, sessions).
    fn is_cached(&self, key: &[u8]) -> bool {
        [self.acc.id, self.contents.id, self.sessions.id]
            .iter()
            .any(|id| key.starts_with(&id.to_be_bytes()))
    }

    /// The value under one cached state key.
    fn cached_value(&self, at: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut v = self.cache.borrow_mut().get(self.keyed.backend(), &[at])?;
        Ok(v.pop().flatten())
    }

    /// The state keys of many windows' accumulators, in one buffer.
    fn acc_keys<'a>(&self, windows: impl IntoIterator<Item = (&'a Key, &'a Window)>) -> KeyBuf {
        let mut b = KeyBuf::default();
        for (key, w) in windows {
            StateKeyPrefix::encode_into(&mut b.bytes, self.acc.id, key.group, &key.bytes, ns(w));
            b.ends.push(b.bytes.len());
        }
        b
    }

    /// The accumulators of many windows (`None`: the window has none yet).
    pub fn accumulators_of<'a>(
        &self,
        windows: impl IntoIterator<Item = (&'a Key, &'a Window)>,
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let keys = self.acc_keys(windows);
        self.cache
            .borrow_mut()
            .get(self.keyed.backend(), &keys.slices())
    }

    /// Sets the accumulators of many windows (in the write-back cache).
    pub fn put_accumulators<'a>(
        &self,
        windows: impl IntoIterator<Item = ((&'a Key, &'a Window), Vec<u8>)>,
    ) -> Result<()> {
        let mut accs = self.cache.borrow_mut();
        let mut at = Vec::new();
        for ((key, w), value) in windows {
            at.clear();
            StateKeyPrefix::encode_into(&mut at, self.acc.id, key.group, &key.bytes, ns(w));
            accs.put(&at, value);
        }
        accs.maybe_flush(self.keyed.backend())
    }

    /// Drops the accumulators of many windows.
    pub fn drop_accumulators<'a>(
        &self,
        windows: impl IntoIterator<Item = (&'a Key, &'a Window)>,
    ) -> Result<()> {
        let mut accs = self.cache.borrow_mut();
        let mut at = Vec::new();
        for (key, w) in windows {
            at.clear();
            StateKeyPrefix::encode_into(&mut at, self.acc.id, key.group, &key.bytes, ns(w));
            accs.delete(&at);
        }
        accs.maybe_flush(self.keyed.backend())
    }

    /// Applies writes (accumulators, contents and session sets go to the write-back
    /// cache).
    pub fn write(&self, ops: Vec<WriteOp>) -> Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        let mut cache = self.cache.borrow_mut();
        let mut rest = Vec::with_capacity(ops.len());
        for op in ops {
            match op {
                WriteOp::Put(k, v) if self.is_cached(&k) => cache.put(&k, v),
                WriteOp::Delete(k) if self.is_cached(&k) => cache.delete(&k),
                WriteOp::Append(k, v) if self.is_cached(&k) => cache.append(&k, &v),
                other => rest.push(other),
            }
        }
        cache.maybe_flush(self.keyed.backend())?;
        if rest.is_empty() {
            return Ok(());
        }
        self.keyed.backend().write(rest)
    }

    /// The cached state the backend does not have (changed or deleted), encoded
    /// as a snapshot overlay.
    pub fn cached(&self) -> Result<Vec<u8>> {
        self.cache.borrow_mut().dirty(self.keyed.backend())
    }

    /// The backend holds restored state: accumulators not cached are read from it.
    pub fn restored(&self) {
        self.cache.borrow_mut().backend_may_have_some();
    }

    /// Writes cached accumulators back to the backend.
    pub fn flush(&self) -> Result<()> {
        self.cache.borrow_mut().flush(self.keyed.backend())
    }

    /// A window's elements.
    pub fn elements(&self, key: &Key, w: &Window) -> Result<Batch> {
        let mut b = Batch::default();
        if let Some(bytes) = self.cached_value(&self.contents_key(key, w))? {
            for e in decode_list(&bytes)? {
                elements::decode_into(e, &mut b)?;
            }
        }
        Ok(b)
    }

    /// Replaces a window's elements (what an evictor kept).
    pub fn put_elements<'a>(
        &self,
        key: &Key,
        w: &Window,
        elements: impl Iterator<Item = crate::record::RecordRef<'a>>,
    ) -> WriteOp {
        let mut list = Vec::new();
        for r in elements {
            list.extend(crate::state::encode_list_element(&elements::encode(&r)));
        }
        if list.is_empty() {
            WriteOp::Delete(self.contents_key(key, w))
        } else {
            WriteOp::Put(self.contents_key(key, w), list)
        }
    }

    /// Drops a window's accumulator (`aggregating`) or elements: a window holds one or
    /// the other, and a delete of what was never written would cost the backend a
    /// tombstone.
    pub fn clear(&self, key: &Key, w: &Window, aggregating: bool) -> WriteOp {
        WriteOp::Delete(if aggregating {
            self.acc_key(key, w)
        } else {
            self.contents_key(key, w)
        })
    }

    /// A key's session windows.
    pub fn sessions(&self, key: &Key) -> Result<Vec<Window>> {
        let Some(bytes) = self.cached_value(&self.sessions_key(key))? else {
            return Ok(Vec::new());
        };
        bytes
            .chunks(16)
            .map(|c| {
                let c: &[u8; 16] = c.try_into().context("corrupt session state")?;
                Ok(Window {
                    start: i64::from_be_bytes(c[..8].try_into()?),
                    end: i64::from_be_bytes(c[8..].try_into()?),
                })
            })
            .collect()
    }

    /// Stores a key's session windows.
    pub fn put_sessions(&self, key: &Key, sessions: &[Window]) -> WriteOp {
        if sessions.is_empty() {
            return WriteOp::Delete(self.sessions_key(key));
        }
        let mut bytes = Vec::with_capacity(16 * sessions.len());
        for w in sessions {
            bytes.extend_from_slice(&w.start.to_be_bytes());
            bytes.extend_from_slice(&w.end.to_be_bytes());
        }
        WriteOp::Put(self.sessions_key(key), bytes)
    }

    /// A key's element count and its retained elements (count windows).
    pub fn counted(&self, key: &Key) -> Result<(u64, Vec<Vec<u8>>)> {
        let count = match self.keyed.backend().get(&self.count_key(key))? {
            Some(b) => u64::from_be_bytes(b.as_slice().try_into().context("corrupt count state")?),
            None => 0,
        };
        let elements = match self.cached_value(&self.contents_key(key, &COUNT_WINDOW))? {
            Some(b) => decode_list(&b)?.into_iter().map(<[u8]>::to_vec).collect(),
            None => Vec::new(),
        };
        Ok((count, elements))
    }

    /// Elements of count windows that have not fired (every `slide` elements fire one),
    /// over the keys of this instance.
    pub fn unfired(&self, slide: u64) -> Result<u64> {
        self.flush()?;
        let mut n = 0;
        self.keyed.for_each(&self.counter, |_, v| {
            let count = u64::from_be_bytes(v.try_into().context("corrupt count state")?);
            n += count % slide;
            Ok(())
        })?;
        Ok(n)
    }

    /// Records the windows that fired and keep their state (for late elements) in keyed
    /// state, replacing what was recorded before: a snapshot holds them, so a restored
    /// operator knows a late element's firing is an update.
    pub fn record_fired<'a>(
        &self,
        fired: impl Iterator<Item = &'a (Vec<u8>, Window)>,
    ) -> Result<()> {
        let groups = self.keyed.groups();
        let mut ops: Vec<WriteOp> = (groups.start..=groups.end)
            .map(|g| WriteOp::DeletePrefix(StateKeyPrefix::group_prefix(self.fired.id, g)))
            .collect();
        for (key, w) in fired {
            let group = self.keyed.group(key);
            ops.push(WriteOp::Put(
                StateKeyPrefix::new(self.fired.id, group, key, ns(w)).0,
                Vec::new(),
            ));
        }
        self.keyed.backend().write(ops)
    }

    /// Records what the trigger keeps per window, replacing what was recorded before.
    pub fn record_triggers<'a>(
        &self,
        states: impl ExactSizeIterator<Item = (&'a (Vec<u8>, Window), &'a TriggerState)>,
    ) -> Result<()> {
        let groups = self.keyed.groups();
        let mut ops: Vec<WriteOp> = Vec::with_capacity(states.len() + 1);
        ops.extend(
            (groups.start..=groups.end)
                .map(|g| WriteOp::DeletePrefix(StateKeyPrefix::group_prefix(self.trigger.id, g))),
        );
        for ((key, w), st) in states {
            let group = self.keyed.group(key);
            ops.push(WriteOp::Put(
                StateKeyPrefix::new(self.trigger.id, group, key, ns(w)).0,
                st.encode(),
            ));
        }
        self.keyed.backend().write(ops)
    }

    /// What the trigger kept per window of this instance's keys.
    pub fn saved_triggers(&self) -> Result<Vec<(KeyWindow, TriggerState)>> {
        let mut out = Vec::new();
        self.keyed.for_each(&self.trigger, |k, v| {
            let (_, _, key, namespace, _) = StateKeyPrefix::decode(k)?;
            if let Namespace::Window { start, end } = namespace {
                let st = TriggerState::decode(v).context("corrupt trigger state")?;
                out.push(((key.to_vec(), Window { start, end }), st));
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Every window of this instance's keys that holds state (elements or an
    /// accumulator), and the windows recorded as fired.
    pub fn saved_windows(&self) -> Result<(Vec<KeyWindow>, Vec<KeyWindow>)> {
        let read = |def: &StateDef, out: &mut Vec<(Vec<u8>, Window)>| {
            self.keyed.for_each(def, |k, _| {
                let (_, _, key, namespace, _) = StateKeyPrefix::decode(k)?;
                if let Namespace::Window { start, end } = namespace
                    && (start, end) != (COUNT_WINDOW.start, COUNT_WINDOW.end)
                {
                    out.push((key.to_vec(), Window { start, end }));
                }
                Ok(())
            })
        };
        let mut windows = Vec::new();
        read(&self.contents, &mut windows)?;
        read(&self.acc, &mut windows)?;
        windows.sort();
        windows.dedup();
        let mut fired = Vec::new();
        read(&self.fired, &mut fired)?;
        Ok((windows, fired))
    }

    /// Stores a key's element count and retained elements (count windows).
    pub fn put_counted(&self, key: &Key, count: u64, retained: &[Vec<u8>]) -> Vec<WriteOp> {
        let mut list = Vec::new();
        for e in retained {
            list.extend(crate::state::encode_list_element(e));
        }
        vec![
            WriteOp::Put(self.count_key(key), count.to_be_bytes().to_vec()),
            if list.is_empty() {
                WriteOp::Delete(self.contents_key(key, &COUNT_WINDOW))
            } else {
                WriteOp::Put(self.contents_key(key, &COUNT_WINDOW), list)
            },
        ]
    }
}

/// Many state keys in one buffer.
#[derive(Debug, Default)]
struct KeyBuf {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl KeyBuf {
    fn slices(&self) -> Vec<&[u8]> {
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let s = &self.bytes[start..end];
                start = end;
                s
            })
            .collect()
    }
}

/// A key's window.
pub type KeyWindow = (Vec<u8>, Window);

/// The namespace count windows keep their elements under.
const COUNT_WINDOW: Window = Window {
    start: i64::MIN,
    end: i64::MIN,
};

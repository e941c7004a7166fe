//! The host side of `weir:udf/broadcast-state`: named maps per instance, writable only
//! while the instance processes its broadcast input, rolled back if that call fails.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::ops::Bound;

use super::bindings::broadcast_state::{self, BroadcastError, Entries};
use super::keyed_host::{MAX_ITEMS, MAX_READ_BYTES, MAX_VALUE_BYTES};

type StateMap = BTreeMap<Vec<u8>, Vec<u8>>;

enum Undo {
    /// Restore an entry's previous value (or absence).
    Entry(String, Vec<u8>, Option<Vec<u8>>),
    /// Restore a cleared map.
    Map(String, StateMap),
}

/// The broadcast state of one function instance.
#[derive(Default)]
pub struct BroadcastHost {
    states: BTreeMap<String, StateMap>,
    writable: bool,
    undo: Vec<Undo>,
}

impl BroadcastHost {
    /// A call begins; writes are allowed only when `writable` (process-broadcast).
    pub fn begin_call(&mut self, writable: bool) {
        self.writable = writable;
        self.undo.clear();
    }

    /// The call succeeded: keep its writes.
    pub fn commit(&mut self) {
        self.writable = false;
        self.undo.clear();
    }

    /// The call failed: undo its writes.
    pub fn abort(&mut self) {
        self.writable = false;
        while let Some(u) = self.undo.pop() {
            match u {
                Undo::Entry(state, key, Some(v)) => {
                    self.states.entry(state).or_default().insert(key, v);
                }
                Undo::Entry(state, key, None) => {
                    if let Some(m) = self.states.get_mut(&state) {
                        m.remove(&key);
                    }
                }
                Undo::Map(state, map) => {
                    self.states.insert(state, map);
                }
            }
        }
    }

    /// Saves every state to `path`: each entry as its state's name, key and value.
    pub fn save(&self, path: &std::path::Path) -> anyhow::Result<u64> {
        use crate::state::encode_list_element as element;
        use std::io::Write;
        let file = std::fs::File::create(path)?;
        let mut out = std::io::BufWriter::new(file);
        let mut n = 0;
        for (name, map) in &self.states {
            for (k, v) in map {
                out.write_all(&element(name.as_bytes()))?;
                out.write_all(&element(k))?;
                out.write_all(&element(v))?;
                n += 1;
            }
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok(n)
    }

    /// The states saved at `path` (see [`save`](Self::save)).
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        use anyhow::Context;
        let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let items = crate::state::decode_list(&data)
            .with_context(|| format!("{} is not saved broadcast state", path.display()))?;
        if items.len() % 3 != 0 {
            anyhow::bail!("{} is truncated", path.display());
        }
        let mut host = Self::default();
        for t in items.chunks(3) {
            let name = String::from_utf8(t[0].to_vec())?;
            host.states
                .entry(name)
                .or_default()
                .insert(t[1].to_vec(), t[2].to_vec());
        }
        Ok(host)
    }

    /// Number of entries over all states.
    pub fn entries(&self) -> usize {
        self.states.values().map(BTreeMap::len).sum()
    }

    /// A digest of all contents: equal on instances with equal broadcast state.
    pub fn digest(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for (name, map) in &self.states {
            if map.is_empty() {
                continue;
            }
            name.hash(&mut h);
            map.hash(&mut h);
        }
        h.finish()
    }

    fn write_check(&self, state: &str, key: &[u8], value: &[u8]) -> Result<(), BroadcastError> {
        if !self.writable {
            return Err(BroadcastError::ReadOnly);
        }
        for n in [state.len(), key.len(), value.len()] {
            if n > MAX_VALUE_BYTES {
                return Err(BroadcastError::TooLarge(n as u64));
            }
        }
        Ok(())
    }
}

impl broadcast_state::Host for BroadcastHost {
    fn get(&mut self, state: String, key: Vec<u8>) -> Result<Option<Vec<u8>>, BroadcastError> {
        Ok(self.states.get(&state).and_then(|m| m.get(&key)).cloned())
    }

    fn scan(
        &mut self,
        state: String,
        start_after: Option<Vec<u8>>,
        limit: u32,
    ) -> Result<Entries, BroadcastError> {
        let mut out = Entries {
            data: Vec::new(),
            ends: Vec::new(),
            more: false,
        };
        let Some(map) = self.states.get(&state) else {
            return Ok(out);
        };
        let lower = start_after.map_or(Bound::Unbounded, Bound::Excluded);
        let limit = (limit as usize).clamp(1, MAX_ITEMS);
        for (n, (k, v)) in map.range((lower, Bound::Unbounded)).enumerate() {
            if n == limit || out.data.len() > MAX_READ_BYTES {
                out.more = true;
                break;
            }
            out.data.extend_from_slice(k);
            out.ends.push(crate::record::offset(out.data.len()));
            out.data.extend_from_slice(v);
            out.ends.push(crate::record::offset(out.data.len()));
        }
        Ok(out)
    }

    fn len(&mut self, state: String) -> Result<u64, BroadcastError> {
        Ok(self.states.get(&state).map_or(0, |m| m.len() as u64))
    }

    fn put(&mut self, state: String, key: Vec<u8>, value: Vec<u8>) -> Result<(), BroadcastError> {
        self.write_check(&state, &key, &value)?;
        let prev = self
            .states
            .entry(state.clone())
            .or_default()
            .insert(key.clone(), value);
        self.undo.push(Undo::Entry(state, key, prev));
        Ok(())
    }

    fn remove(&mut self, state: String, key: Vec<u8>) -> Result<(), BroadcastError> {
        self.write_check(&state, &key, &[])?;
        if let Some(prev) = self.states.get_mut(&state).and_then(|m| m.remove(&key)) {
            self.undo.push(Undo::Entry(state, key, Some(prev)));
        }
        Ok(())
    }

    fn clear(&mut self, state: String) -> Result<(), BroadcastError> {
        self.write_check(&state, &[], &[])?;
        if let Some(prev) = self.states.remove(&state) {
            self.undo.push(Undo::Map(state, prev));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::broadcast_state::Host;
    use super::*;

    #[test]
    fn writes_need_the_broadcast_side_and_roll_back_on_failure() {
        let mut h = BroadcastHost::default();
        h.begin_call(false);
        assert_eq!(
            h.put("s".into(), b"k".to_vec(), b"v".to_vec()),
            Err(BroadcastError::ReadOnly)
        );
        h.begin_call(true);
        h.put("s".into(), b"k".to_vec(), b"v".to_vec()).unwrap();
        h.commit();
        let before = h.digest();
        h.begin_call(true);
        h.put("s".into(), b"k".to_vec(), b"changed".to_vec())
            .unwrap();
        h.put("s".into(), b"k2".to_vec(), b"new".to_vec()).unwrap();
        h.clear("s".into()).unwrap();
        h.abort();
        assert_eq!(
            h.get("s".into(), b"k".to_vec()).unwrap(),
            Some(b"v".to_vec())
        );
        assert_eq!(broadcast_state::Host::len(&mut h, "s".into()).unwrap(), 1);
        assert_eq!(h.digest(), before);
    }
}

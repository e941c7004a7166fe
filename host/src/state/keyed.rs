//! One operator's view of keyed state: its states by name, and the TTL encoding of
//! stored values.

use std::sync::Arc;

use anyhow::Result;

use super::backend::StateBackend;
use super::changes::SwapStates;
use super::key_group::{KeyGroupRange, key_group};
use super::keys::{Namespace, StateKeyPrefix};
use super::overlay::Overlay;
use super::registry::StateRegistry;

/// What a state holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One value per scope.
    Value,
    /// A list per scope.
    List,
    /// A map per scope.
    Map,
}

impl Kind {
    /// Its name in checkpoints and answers.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Value => "value",
            Kind::List => "list",
            Kind::Map => "map",
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "value" => Some(Kind::Value),
            "list" => Some(Kind::List),
            "map" => Some(Kind::Map),
            _ => None,
        }
    }

    pub(super) fn article(self) -> &'static str {
        match self {
            Kind::Value => "a value",
            Kind::List => "a list",
            Kind::Map => "a map",
        }
    }
}

/// A declared state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDef {
    /// Stable id (the first bytes of its keys).
    pub id: u32,
    /// Name within the operator.
    pub name: String,
    /// What it holds.
    pub kind: Kind,
    /// Time to live of entries, in processing-time milliseconds.
    pub ttl_ms: Option<u64>,
}

/// One key's entries of one state, as a reader outside the function sees them (expired
/// entries left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateRead {
    /// A value state's value.
    Value(Option<Vec<u8>>),
    /// A list state's elements.
    List(Vec<Vec<u8>>),
    /// A map state's entries (user key, value), in key order; `true` if there are more
    /// than were read.
    Map(Vec<(Vec<u8>, Vec<u8>)>, bool),
}

/// The keyed state of one parallel instance of an operator: the key groups it owns.
#[derive(Clone)]
pub struct KeyedState {
    backend: Arc<dyn StateBackend>,
    registry: Arc<StateRegistry>,
    uid: String,
    max_parallelism: u32,
    groups: KeyGroupRange,
    /// The changes a swap may make, for the instances of the swap's new version.
    swap: Option<Arc<SwapStates>>,
}

impl KeyedState {
    /// The state of operator `uid` in the key groups `groups`.
    pub fn new(
        backend: Arc<dyn StateBackend>,
        registry: Arc<StateRegistry>,
        uid: &str,
        max_parallelism: u32,
        groups: KeyGroupRange,
    ) -> Self {
        Self {
            backend,
            registry,
            uid: uid.to_owned(),
            max_parallelism,
            groups,
            swap: None,
        }
    }

    /// The same state, seen by a swap's new version: its declarations go through
    /// `swap` (which may drop or migrate states) instead of straight to the registry.
    pub fn for_swap(&self, swap: Arc<SwapStates>) -> Self {
        Self {
            swap: Some(swap),
            ..self.clone()
        }
    }

    /// The job's state registry.
    pub fn registry(&self) -> &StateRegistry {
        &self.registry
    }

    /// The key groups this instance owns.
    pub fn groups(&self) -> KeyGroupRange {
        self.groups
    }

    /// Every entry of state `def` in this instance's key groups, page by page: `visit`
    /// gets each stored key and value.
    pub fn for_each(
        &self,
        def: &StateDef,
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<()>,
    ) -> Result<()> {
        for g in self.groups.start..=self.groups.end {
            let prefix = super::StateKeyPrefix::group_prefix(def.id, g);
            let mut after: Option<Vec<u8>> = None;
            loop {
                let page = self.backend.scan(&prefix, after.as_deref(), 4096)?;
                for (k, v) in &page {
                    visit(k, v)?;
                }
                match page.last() {
                    Some((k, _)) if page.len() == 4096 => after = Some(k.clone()),
                    _ => break,
                }
            }
        }
        Ok(())
    }

    /// The backend.
    pub fn backend(&self) -> &dyn StateBackend {
        &*self.backend
    }

    /// What state `name` of this operator was declared as.
    pub fn declared(&self, name: &str) -> Option<StateDef> {
        let (id, d) = self.registry.declared(&self.uid, name)?;
        Some(StateDef {
            id,
            name: name.to_owned(),
            kind: d.kind,
            ttl_ms: d.ttl_ms,
        })
    }

    /// The names of the states this operator declared.
    pub fn declared_names(&self) -> Vec<String> {
        self.registry.names_of(&self.uid)
    }

    /// What `key` holds in state `def` (outside any window), at processing time
    /// `now_ms`; at most `limit` map entries.
    pub fn read(&self, def: &StateDef, key: &[u8], now_ms: i64, limit: usize) -> Result<StateRead> {
        let prefix = StateKeyPrefix::new(def.id, self.group(key), key, Namespace::Global);
        let live = |v: &[u8]| Self::unwrap(def, v, now_ms).map(<[u8]>::to_vec);
        let none = Overlay::default();
        Ok(match def.kind {
            Kind::Value => StateRead::Value(self.backend.get(&prefix.0)?.and_then(|v| live(&v))),
            Kind::List => StateRead::List(
                none.get_list(&*self.backend, &prefix.0)?
                    .iter()
                    .filter_map(|e| live(e))
                    .collect(),
            ),
            Kind::Map => {
                let (page, more) = none.scan_entries(&*self.backend, &prefix, None, limit)?;
                let entries = page
                    .iter()
                    .filter_map(|(k, v)| Some((k[prefix.0.len()..].to_vec(), live(v)?)))
                    .collect();
                StateRead::Map(entries, more)
            }
        })
    }

    /// The operator's uid.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// Declares (or finds) the state `name`; with a type tag when the function gives
    /// one. Fails with a [`StateConflict`](super::StateConflict) if it exists otherwise.
    pub fn define(
        &self,
        name: &str,
        kind: Kind,
        ttl_ms: Option<u64>,
        type_tag: Option<String>,
    ) -> Result<StateDef> {
        let declared = super::Declared {
            kind,
            ttl_ms,
            type_tag,
        };
        let id = match &self.swap {
            Some(swap) => swap.declare(&self.registry, name, declared)?,
            None => self.registry.declare(&self.uid, name, declared)?,
        };
        Ok(StateDef {
            id,
            name: name.to_owned(),
            kind,
            ttl_ms,
        })
    }

    /// The key group of `key`.
    pub fn group(&self, key: &[u8]) -> u16 {
        key_group(key, self.max_parallelism)
    }

    /// `payload` as stored: with TTL, prefixed by its expiry time.
    pub fn wrap(def: &StateDef, payload: &[u8], now_ms: i64) -> Vec<u8> {
        match def.ttl_ms {
            None => payload.to_vec(),
            Some(ttl) => {
                let expires = now_ms.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX));
                let mut out = Vec::with_capacity(8 + payload.len());
                out.extend_from_slice(&expires.to_be_bytes());
                out.extend_from_slice(payload);
                out
            }
        }
    }

    /// The payload of a stored value, or `None` if it expired.
    pub fn unwrap<'a>(def: &StateDef, stored: &'a [u8], now_ms: i64) -> Option<&'a [u8]> {
        match def.ttl_ms {
            None => Some(stored),
            Some(_) => {
                let expires = i64::from_be_bytes(stored.get(..8)?.try_into().ok()?);
                (expires > now_ms).then(|| &stored[8..])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_values_expire() {
        let def = StateDef {
            id: 1,
            name: "s".into(),
            kind: Kind::Value,
            ttl_ms: Some(100),
        };
        let stored = KeyedState::wrap(&def, b"x", 1_000);
        assert_eq!(KeyedState::unwrap(&def, &stored, 1_099), Some(&b"x"[..]));
        assert_eq!(KeyedState::unwrap(&def, &stored, 1_100), None);
        let plain = StateDef {
            ttl_ms: None,
            ..def
        };
        assert_eq!(KeyedState::unwrap(&plain, b"x", i64::MAX), Some(&b"x"[..]));
    }
}

//! One operator's view of keyed state: its states by name, and the TTL encoding of
//! stored values.

use std::sync::Arc;

use anyhow::Result;

use super::backend::StateBackend;
use super::key_group::{KeyGroupRange, key_group};
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

/// The keyed state of one parallel instance of an operator: the key groups it owns.
#[derive(Clone)]
pub struct KeyedState {
    backend: Arc<dyn StateBackend>,
    registry: Arc<StateRegistry>,
    uid: String,
    max_parallelism: u32,
    groups: KeyGroupRange,
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
        }
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

    /// The operator's uid.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// Declares (or finds) the state `name`.
    pub fn define(&self, name: &str, kind: Kind, ttl_ms: Option<u64>) -> Result<StateDef> {
        Ok(StateDef {
            id: self.registry.id(&self.uid, name)?,
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

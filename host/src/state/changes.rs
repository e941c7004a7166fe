//! What a swap changes in an operator's states: states the user asked to drop, and
//! states whose values the new version migrates to another type.
//!
//! While the new version's instances run `init` (before the switch), their
//! declarations go through a [`SwapStates`]: a declaration that would conflict with the
//! state as it exists is accepted if the state is to be dropped, or if the new version
//! offers a migration from the state's current type tag, and noted as a pending change.
//! Nothing changes in the registry or the backend then: the old version keeps running
//! with the state as it is. At the switch, each task applies the changes to its key
//! groups ([`apply`]) and the registry takes the new declarations.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use anyhow::{Result, bail};

use super::backend::WriteOp;
use super::keyed::{KeyedState, Kind, StateDef};
use super::keys::{StateKeyPrefix, decode_list, encode_list_element};
use super::registry::{Declared, StateRegistry};

/// What happens to one state at the switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Its entries are deleted.
    Drop,
    /// Its values are rewritten by the new version, from type tag `from`.
    Migrate {
        /// The tag the values were written with.
        from: String,
    },
}

/// One state a swap changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    /// Its name.
    pub name: String,
    /// Its id (kept: only its entries and declaration change).
    pub id: u32,
    /// What it was declared as.
    pub old: Declared,
    /// What the new version declares it as (`None`: it does not declare it).
    pub new: Option<Declared>,
    /// What happens to it.
    pub action: Action,
}

impl std::fmt::Display for StateChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.action {
            Action::Drop => write!(f, "state `{}` ({}) is dropped", self.name, self.old),
            Action::Migrate { .. } => write!(
                f,
                "state `{}` is migrated from {} to {}",
                self.name,
                self.old,
                self.new
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ),
        }
    }
}

/// The changes a swap may make to one operator's states, and those it makes.
#[derive(Debug)]
pub struct SwapStates {
    uid: String,
    drop: BTreeSet<String>,
    migrations: BTreeSet<(String, String)>,
    pending: Mutex<BTreeMap<String, StateChange>>,
}

impl SwapStates {
    /// A swap of operator `uid` that drops the states `drop` and whose new version
    /// offers `migrations` (state, from type tag).
    pub fn new(
        uid: &str,
        drop: impl IntoIterator<Item = String>,
        migrations: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        Self {
            uid: uid.to_owned(),
            drop: drop.into_iter().collect(),
            migrations: migrations.into_iter().collect(),
            pending: Mutex::new(BTreeMap::new()),
        }
    }

    /// Declares state `name` for the new version: its id, or a conflict no drop or
    /// migration covers.
    pub(super) fn declare(
        &self,
        registry: &StateRegistry,
        name: &str,
        new: Declared,
    ) -> Result<u32> {
        let old = registry.declared(&self.uid, name);
        if self.drop.contains(name) {
            let Some((id, old)) = old else {
                bail!("cannot drop state `{name}`: it does not exist yet");
            };
            self.note(StateChange {
                name: name.to_owned(),
                id,
                old,
                new: Some(new),
                action: Action::Drop,
            });
            return Ok(id);
        }
        match registry.declare_checked(&self.uid, name, &new) {
            Ok(()) => registry.declare(&self.uid, name, new),
            Err(c) => {
                let from = c.had.type_tag.clone();
                let offered = from
                    .as_ref()
                    .is_some_and(|f| self.migrations.contains(&(name.to_owned(), f.clone())));
                let same_shape =
                    c.had.kind == new.kind && c.had.ttl_ms.is_some() == new.ttl_ms.is_some();
                let Some((id, _)) = old.filter(|_| offered && same_shape) else {
                    return Err(c.into());
                };
                self.note(StateChange {
                    name: name.to_owned(),
                    id,
                    old: c.had,
                    new: Some(new),
                    action: Action::Migrate {
                        from: from.unwrap_or_default(),
                    },
                });
                Ok(id)
            }
        }
    }

    fn note(&self, change: StateChange) {
        self.pending
            .lock()
            .expect("swap states")
            .insert(change.name.clone(), change);
    }

    /// Every change, once every new instance ran `init`: states to drop that the new
    /// version does not declare are dropped too. Fails if a state to drop does not
    /// exist.
    pub fn changes(&self, registry: &StateRegistry) -> Result<Vec<StateChange>> {
        let mut pending = self.pending.lock().expect("swap states").clone();
        for name in &self.drop {
            if pending.contains_key(name) {
                continue;
            }
            let Some((id, old)) = registry.declared(&self.uid, name) else {
                let names = registry.names_of(&self.uid);
                bail!(
                    "cannot drop state `{name}`: the operator has no such state (its states: {})",
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                );
            };
            pending.insert(
                name.clone(),
                StateChange {
                    name: name.clone(),
                    id,
                    old,
                    new: None,
                    action: Action::Drop,
                },
            );
        }
        Ok(pending.into_values().collect())
    }
}

/// What applying changes did in one task.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Values handed to the new version's migration.
    pub migrated: u64,
    /// Values the migration removed.
    pub removed: u64,
}

/// Values handed to one migration call, at most.
const MIGRATE_BATCH: usize = 4096;

/// Applies `changes` to the key groups of `state`, migrating values with `migrate`
/// (state, from tag, values → new values), then gives the registry the new
/// declarations. Each task applies them to its own key groups; the registry update is
/// the same in every task.
pub fn apply(
    state: &KeyedState,
    registry: &StateRegistry,
    changes: &[StateChange],
    mut migrate: impl FnMut(&str, &str, &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>>,
) -> Result<Applied> {
    let mut applied = Applied::default();
    let groups = state.groups();
    for c in changes {
        match &c.action {
            Action::Drop => {
                let ops = (groups.start..=groups.end)
                    .map(|g| WriteOp::DeletePrefix(StateKeyPrefix::group_prefix(c.id, g)))
                    .collect();
                state.backend().write(ops)?;
            }
            Action::Migrate { from } => {
                let def = StateDef {
                    id: c.id,
                    name: c.name.clone(),
                    kind: c.old.kind,
                    ttl_ms: c.old.ttl_ms,
                };
                let mut page: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
                let mut flush = |page: &mut Vec<(Vec<u8>, Vec<u8>)>| -> Result<()> {
                    let n = migrate_page(state, &def, from, page, &mut migrate)?;
                    applied.migrated += n.migrated;
                    applied.removed += n.removed;
                    page.clear();
                    Ok(())
                };
                state.for_each(&def, |k, v| {
                    page.push((k.to_vec(), v.to_vec()));
                    if page.len() >= MIGRATE_BATCH {
                        flush(&mut page)?;
                    }
                    Ok(())
                })?;
                flush(&mut page)?;
            }
        }
    }
    for c in changes {
        registry.redeclare(state.uid(), &c.name, c.new.clone());
    }
    Ok(applied)
}

/// A stored value split into what the time to live keeps (its expiry) and the payload.
fn split(def: &StateDef, stored: &[u8]) -> Result<(usize, usize)> {
    let head = if def.ttl_ms.is_some() { 8 } else { 0 };
    if stored.len() < head {
        bail!(
            "state `{}`: a stored value is shorter than its expiry",
            def.name
        );
    }
    Ok((head, stored.len()))
}

/// Migrates one page of entries (stored key, stored value) and writes the results.
fn migrate_page(
    state: &KeyedState,
    def: &StateDef,
    from: &str,
    page: &[(Vec<u8>, Vec<u8>)],
    migrate: &mut impl FnMut(&str, &str, &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>>,
) -> Result<Applied> {
    if page.is_empty() {
        return Ok(Applied::default());
    }
    // Every payload of the page, with the entry and the expiry prefix it came with.
    let mut payloads: Vec<&[u8]> = Vec::new();
    let mut owners: Vec<(usize, &[u8])> = Vec::new();
    for (i, (_, v)) in page.iter().enumerate() {
        let elements = match def.kind {
            Kind::List => decode_list(v)?,
            Kind::Value | Kind::Map => vec![v.as_slice()],
        };
        for e in elements {
            let (head, end) = split(def, e)?;
            payloads.push(&e[head..end]);
            owners.push((i, &e[..head]));
        }
    }
    let out = migrate(&def.name, from, &payloads)?;
    let mut applied = Applied {
        migrated: payloads.len() as u64,
        removed: 0,
    };
    // New stored values per entry (lists gather their elements).
    let mut rebuilt: Vec<Option<Vec<u8>>> = vec![None; page.len()];
    for ((i, head), new) in owners.into_iter().zip(out) {
        let Some(payload) = new else {
            applied.removed += 1;
            continue;
        };
        let mut stored = head.to_vec();
        stored.extend_from_slice(&payload);
        match def.kind {
            Kind::List => rebuilt[i]
                .get_or_insert_with(Vec::new)
                .extend(encode_list_element(&stored)),
            Kind::Value | Kind::Map => rebuilt[i] = Some(stored),
        }
    }
    let ops = page
        .iter()
        .zip(rebuilt)
        .map(|((k, _), v)| match v {
            Some(v) => WriteOp::Put(k.clone(), v),
            None => WriteOp::Delete(k.clone()),
        })
        .collect();
    state.backend().write(ops)?;
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::state::{KeyGroupRange, MemoryBackend, Namespace};

    fn decl(kind: Kind, ttl_ms: Option<u64>, tag: &str) -> Declared {
        Declared {
            kind,
            ttl_ms,
            type_tag: Some(tag.to_owned()),
        }
    }

    #[test]
    fn values_list_elements_and_map_entries_are_migrated_and_dropped_states_emptied() {
        let registry = Arc::new(StateRegistry::default());
        let state = KeyedState::new(
            Arc::new(MemoryBackend::default()),
            registry.clone(),
            "op",
            128,
            KeyGroupRange { start: 0, end: 127 },
        );
        let old = [
            ("v", decl(Kind::Value, None, "a")),
            ("l", decl(Kind::List, Some(1_000), "a")),
            ("m", decl(Kind::Map, None, "a")),
            ("d", decl(Kind::Value, None, "a")),
            ("kept", decl(Kind::Value, None, "a")),
        ];
        let mut ids = BTreeMap::new();
        for (name, d) in &old {
            ids.insert(*name, registry.declare("op", name, d.clone()).unwrap());
        }
        let at = |name: &str, key: &str| {
            StateKeyPrefix::new(
                ids[name],
                state.group(key.as_bytes()),
                key.as_bytes(),
                Namespace::Global,
            )
        };
        let ttl = |expires: i64, v: &[u8]| [&expires.to_be_bytes()[..], v].concat();
        let mut list = encode_list_element(&ttl(7, b"one"));
        list.extend(encode_list_element(&ttl(8, b"x")));
        list.extend(encode_list_element(&ttl(9, b"two")));
        state
            .backend()
            .write(vec![
                WriteOp::Put(at("v", "k1").0, b"one".to_vec()),
                WriteOp::Put(at("v", "k2").0, b"x".to_vec()),
                WriteOp::Put(at("l", "k1").0, list),
                WriteOp::Put(at("m", "k1").entry(b"u1"), b"one".to_vec()),
                WriteOp::Put(at("m", "k1").entry(b"u2"), b"x".to_vec()),
                WriteOp::Put(at("d", "k1").0, b"one".to_vec()),
                WriteOp::Put(at("kept", "k1").0, b"one".to_vec()),
            ])
            .unwrap();

        let swap = SwapStates::new(
            "op",
            ["d".to_owned()],
            ["v", "l", "m"].map(|s| (s.to_owned(), "a".to_owned())),
        );
        // The new version: b instead of a for v, l and m; d as a list; kept as it is.
        let new = [
            ("v", decl(Kind::Value, None, "b")),
            ("l", decl(Kind::List, Some(1_000), "b")),
            ("m", decl(Kind::Map, None, "b")),
            ("d", decl(Kind::List, None, "c")),
            ("kept", decl(Kind::Value, None, "a")),
        ];
        for (name, d) in &new {
            assert_eq!(swap.declare(&registry, name, d.clone()).unwrap(), ids[name]);
        }
        // Another shape is not a migration.
        let e = swap
            .declare(&registry, "v", decl(Kind::Map, None, "b"))
            .unwrap_err();
        assert!(e.downcast_ref::<crate::state::StateConflict>().is_some());
        // Nothing changed before the switch.
        assert_eq!(registry.declared("op", "v").unwrap().1, old[0].1);

        let changes = swap.changes(&registry).unwrap();
        let names: Vec<&str> = changes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["d", "l", "m", "v"]);
        let mut calls = Vec::new();
        let applied = apply(&state, &registry, &changes, |s, from, values| {
            calls.push((s.to_owned(), from.to_owned(), values.len()));
            Ok(values
                .iter()
                .map(|v| (*v != b"x").then(|| v.to_ascii_uppercase()))
                .collect())
        })
        .unwrap();
        assert_eq!(
            applied,
            Applied {
                migrated: 7,
                removed: 3
            }
        );
        calls.sort();
        assert_eq!(
            calls,
            [
                ("l".into(), "a".into(), 3),
                ("m".into(), "a".into(), 2),
                ("v".into(), "a".into(), 2)
            ]
        );

        let get = |k: Vec<u8>| state.backend().get(&k).unwrap();
        assert_eq!(get(at("v", "k1").0), Some(b"ONE".to_vec()));
        assert_eq!(get(at("v", "k2").0), None, "removed by the migration");
        let mut want = encode_list_element(&ttl(7, b"ONE"));
        want.extend(encode_list_element(&ttl(9, b"TWO")));
        assert_eq!(get(at("l", "k1").0), Some(want), "expiry times kept");
        assert_eq!(get(at("m", "k1").entry(b"u1")), Some(b"ONE".to_vec()));
        assert_eq!(get(at("m", "k1").entry(b"u2")), None);
        assert_eq!(get(at("d", "k1").0), None, "dropped");
        assert_eq!(get(at("kept", "k1").0), Some(b"one".to_vec()), "untouched");
        for (name, d) in &new {
            assert_eq!(&registry.declared("op", name).unwrap().1, d, "{name}");
        }
    }

    #[test]
    fn a_state_that_does_not_exist_cannot_be_dropped_and_an_undeclared_one_is_forgotten() {
        let registry = StateRegistry::default();
        registry
            .declare("op", "old", decl(Kind::Value, None, "a"))
            .unwrap();
        let swap = SwapStates::new("op", ["nope".to_owned()], []);
        let e = swap.changes(&registry).unwrap_err().to_string();
        assert_eq!(
            e,
            "cannot drop state `nope`: the operator has no such state (its states: old)"
        );
        let e = swap
            .declare(&registry, "nope", decl(Kind::Value, None, "a"))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "cannot drop state `nope`: it does not exist yet");
        let swap = SwapStates::new("op", ["old".to_owned()], []);
        let changes = swap.changes(&registry).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].new, None);
        assert_eq!(
            changes[0].to_string(),
            "state `old` (a value state of type `a`) is dropped"
        );
    }
}

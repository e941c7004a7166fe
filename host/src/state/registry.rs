//! Stable ids for states: each (operator uid, state name) gets a `u32` once per job. The
//! table is the job's, shared by every instance (so the instances of an operator agree on
//! ids and their databases can be merged when parallelism changes), and saved in every
//! checkpoint, so the same state keeps its id across runs. It also keeps what each state
//! was declared as, so a new version of a function (or a restored job) that declares a
//! state as another kind is refused with both declarations shown.

use std::collections::HashMap;
use std::sync::Mutex;

use anyhow::{Result, bail};

use super::keyed::Kind;
use crate::checkpoint::StateId;

/// What a state was declared as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// Its kind.
    pub kind: Kind,
    /// The time to live of its entries, if they expire.
    pub ttl_ms: Option<u64>,
    /// The type of its values and their serialisation, if the function named it.
    pub type_tag: Option<String>,
}

impl std::fmt::Display for Declared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} state", self.kind.article())?;
        if let Some(t) = &self.type_tag {
            write!(f, " of type `{t}`")?;
        }
        if let Some(ms) = self.ttl_ms {
            write!(f, " with a time to live ({ms} ms)")?;
        }
        Ok(())
    }
}

/// A declaration that conflicts with the state as it exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state `{name}` exists as {had}; this function declares it as {new}")]
pub struct StateConflict {
    /// The state.
    pub name: String,
    /// What it exists as.
    pub had: Declared,
    /// What the function declares.
    pub new: Declared,
}

#[derive(Debug, Default)]
struct Table {
    ids: HashMap<(String, String), u32>,
    kinds: HashMap<(String, String), Declared>,
    next: u32,
}

impl Table {
    fn id(&mut self, uid: &str, name: &str) -> Result<u32> {
        if let Some(&id) = self.ids.get(&(uid.to_owned(), name.to_owned())) {
            return Ok(id);
        }
        // Ids start at 1; the top of the range is never handed out, so no state key
        // starts with 0xffffffff.
        if self.next >= u32::MAX - 2 {
            bail!("the job has run out of state ids");
        }
        self.next += 1;
        let id = self.next;
        self.ids.insert((uid.to_owned(), name.to_owned()), id);
        Ok(id)
    }

    fn check(
        &self,
        name: &str,
        key: &(String, String),
        new: &Declared,
    ) -> Result<(), StateConflict> {
        let Some(had) = self.kinds.get(key) else {
            return Ok(());
        };
        let tags_differ = matches!((&had.type_tag, &new.type_tag), (Some(a), Some(b)) if a != b);
        if had.kind != new.kind || had.ttl_ms.is_some() != new.ttl_ms.is_some() || tags_differ {
            return Err(StateConflict {
                name: name.to_owned(),
                had: had.clone(),
                new: new.clone(),
            });
        }
        Ok(())
    }
}

/// Hands out state ids.
#[derive(Debug, Default)]
pub struct StateRegistry {
    table: Mutex<Table>,
}

impl StateRegistry {
    /// A registry holding the ids of a checkpoint.
    pub fn restored(ids: &[StateId]) -> Result<Self> {
        let mut t = Table::default();
        for s in ids {
            if s.id == 0 || s.id >= u32::MAX - 1 {
                bail!("state id {} of `{}` is out of range", s.id, s.name);
            }
            t.ids.insert((s.uid.clone(), s.name.clone()), s.id);
            if let Some(k) = &s.kind {
                let kind = Kind::parse(k)
                    .ok_or_else(|| anyhow::anyhow!("state `{}` has unknown kind `{k}`", s.name))?;
                t.kinds.insert(
                    (s.uid.clone(), s.name.clone()),
                    Declared {
                        kind,
                        ttl_ms: s.ttl_ms,
                        type_tag: s.type_tag.clone(),
                    },
                );
            }
            t.next = t.next.max(s.id);
        }
        Ok(Self {
            table: Mutex::new(t),
        })
    }

    /// The id of state `name` of operator `uid`, assigning one if new.
    pub fn id(&self, uid: &str, name: &str) -> Result<u32> {
        self.table.lock().expect("registry lock").id(uid, name)
    }

    /// Declares state `name` of operator `uid`: its id, or a [`StateConflict`] if it
    /// exists as another kind, with expiring entries where these do not expire (or the
    /// other way round: they are stored differently), or with another type tag. A
    /// declaration without a tag (from a component that cannot give one) matches any
    /// tag; one with a tag gives an untagged state its tag. Check and record are one
    /// step: of two instances declaring a state at once, the second sees the first.
    pub fn declare(&self, uid: &str, name: &str, new: Declared) -> Result<u32> {
        let key = (uid.to_owned(), name.to_owned());
        let mut t = self.table.lock().expect("registry lock");
        t.check(name, &key, &new)?;
        let mut keep = new;
        if keep.type_tag.is_none() {
            keep.type_tag = t.kinds.get(&key).and_then(|d| d.type_tag.clone());
        }
        let id = t.id(uid, name)?;
        t.kinds.insert(key, keep);
        Ok(id)
    }

    /// Whether declaring state `name` of operator `uid` as `new` conflicts with what it
    /// exists as (see [`declare`](Self::declare)); changes nothing.
    pub fn declare_checked(
        &self,
        uid: &str,
        name: &str,
        new: &Declared,
    ) -> Result<(), StateConflict> {
        let key = (uid.to_owned(), name.to_owned());
        self.table
            .lock()
            .expect("registry lock")
            .check(name, &key, new)
    }

    /// State `name` of operator `uid` is declared as `new` from now on (a swap changed
    /// it), or not declared at all (`None`: a swap dropped it and the new version does
    /// not declare it). Its id stays.
    pub fn redeclare(&self, uid: &str, name: &str, new: Option<Declared>) {
        let key = (uid.to_owned(), name.to_owned());
        let mut t = self.table.lock().expect("registry lock");
        match new {
            Some(d) => t.kinds.insert(key, d),
            None => t.kinds.remove(&key),
        };
    }

    /// What state `name` of operator `uid` was declared as, with its id.
    pub fn declared(&self, uid: &str, name: &str) -> Option<(u32, Declared)> {
        let t = self.table.lock().expect("registry lock");
        let key = (uid.to_owned(), name.to_owned());
        Some((*t.ids.get(&key)?, t.kinds.get(&key)?.clone()))
    }

    /// The names of the states operator `uid` declared.
    pub fn names_of(&self, uid: &str) -> Vec<String> {
        let t = self.table.lock().expect("registry lock");
        let mut out: Vec<String> = t
            .kinds
            .keys()
            .filter(|(u, _)| u == uid)
            .map(|(_, n)| n.clone())
            .collect();
        out.sort();
        out
    }

    /// Every id handed out (what a checkpoint saves), in id order.
    pub fn snapshot(&self) -> Vec<StateId> {
        let t = self.table.lock().expect("registry lock");
        let declared = |uid: &String, name: &String| t.kinds.get(&(uid.clone(), name.clone()));
        let mut out: Vec<StateId> = t
            .ids
            .iter()
            .map(|((uid, name), &id)| StateId {
                uid: uid.clone(),
                name: name.clone(),
                id,
                kind: declared(uid, name).map(|d| d.kind.name().to_owned()),
                ttl_ms: declared(uid, name).and_then(|d| d.ttl_ms),
                type_tag: declared(uid, name).and_then(|d| d.type_tag.clone()),
            })
            .collect();
        out.sort_by_key(|s| s.id);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_distinct_and_survive_a_snapshot() {
        let r = StateRegistry::default();
        let a = r.id("op", "count").unwrap();
        let b = r.id("op", "seen").unwrap();
        let c = r.id("other", "count").unwrap();
        assert!(a != b && b != c && a != c);
        assert_eq!(r.id("op", "count").unwrap(), a);
        let again = StateRegistry::restored(&r.snapshot()).unwrap();
        assert_eq!(again.id("op", "seen").unwrap(), b);
        let d = again.id("new", "x").unwrap();
        assert!(![a, b, c].contains(&d));
    }

    fn decl(kind: Kind, ttl_ms: Option<u64>, tag: Option<&str>) -> Declared {
        Declared {
            kind,
            ttl_ms,
            type_tag: tag.map(str::to_owned),
        }
    }

    #[test]
    fn a_state_keeps_its_declaration_across_snapshots() {
        let r = StateRegistry::default();
        let id = r
            .declare("op", "count", decl(Kind::Value, None, Some("json:u64")))
            .unwrap();
        assert_eq!(
            r.declare("op", "count", decl(Kind::Value, None, Some("json:u64")))
                .unwrap(),
            id
        );
        r.declare("op", "seen", decl(Kind::Map, Some(1000), None))
            .unwrap();
        let again = StateRegistry::restored(&r.snapshot()).unwrap();
        assert_eq!(
            again.declared("op", "count"),
            Some((id, decl(Kind::Value, None, Some("json:u64"))))
        );
        let conflict = |e: anyhow::Error| e.downcast::<StateConflict>().unwrap().to_string();
        let e = conflict(
            again
                .declare("op", "count", decl(Kind::Map, None, None))
                .unwrap_err(),
        );
        assert!(
            e.contains("exists as a value state of type `json:u64`;")
                && e.contains("as a map state"),
            "{e}"
        );
        let e = conflict(
            again
                .declare("op", "count", decl(Kind::Value, None, Some("json:String")))
                .unwrap_err(),
        );
        assert!(e.contains("of type `json:String`"), "{e}");
        // Without a tag (an older component) the state's tag is kept.
        again
            .declare("op", "count", decl(Kind::Value, None, None))
            .unwrap();
        assert_eq!(
            again.declared("op", "count").unwrap().1.type_tag.as_deref(),
            Some("json:u64")
        );
        // A new time to live is fine; dropping it is not (entries are stored with it).
        again
            .declare("op", "seen", decl(Kind::Map, Some(5), Some("json:u8")))
            .unwrap();
        let e = conflict(
            again
                .declare("op", "seen", decl(Kind::Map, None, None))
                .unwrap_err(),
        );
        assert!(e.contains("with a time to live"), "{e}");
        assert!(
            again
                .declare("op2", "count", decl(Kind::Map, None, None))
                .is_ok()
        );
        assert_eq!(
            again.names_of("op"),
            vec!["count".to_owned(), "seen".to_owned()]
        );
    }

    #[test]
    fn of_instances_declaring_one_state_at_once_with_other_tags_one_wins() {
        for _ in 0..200 {
            let r = std::sync::Arc::new(StateRegistry::default());
            let start = std::sync::Arc::new(std::sync::Barrier::new(4));
            let threads: Vec<_> = (0..4)
                .map(|i| {
                    let (r, start) = (r.clone(), start.clone());
                    std::thread::spawn(move || {
                        let tag = format!("json:t{i}");
                        start.wait();
                        r.declare("op", "count", decl(Kind::Value, None, Some(&tag)))
                            .is_ok()
                    })
                })
                .collect();
            let won = threads
                .into_iter()
                .map(|t| t.join().unwrap())
                .filter(|&ok| ok)
                .count();
            assert_eq!(won, 1);
        }
    }
}

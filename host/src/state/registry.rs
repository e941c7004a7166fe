//! Stable ids for states: each (operator uid, state name) gets a `u32` once per job. The
//! table is the job's, shared by every instance (so the instances of an operator agree on
//! ids and their databases can be merged when parallelism changes), and saved in every
//! checkpoint, so the same state keeps its id across runs.

use std::collections::HashMap;
use std::sync::Mutex;

use anyhow::{Result, bail};

use crate::checkpoint::StateId;

#[derive(Debug, Default)]
struct Table {
    ids: HashMap<(String, String), u32>,
    next: u32,
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
            t.next = t.next.max(s.id);
        }
        Ok(Self {
            table: Mutex::new(t),
        })
    }

    /// The id of state `name` of operator `uid`, assigning one if new.
    pub fn id(&self, uid: &str, name: &str) -> Result<u32> {
        let mut t = self.table.lock().expect("registry lock");
        if let Some(&id) = t.ids.get(&(uid.to_owned(), name.to_owned())) {
            return Ok(id);
        }
        // Ids start at 1; the top of the range is never handed out, so no state key
        // starts with 0xffffffff.
        if t.next >= u32::MAX - 2 {
            bail!("the job has run out of state ids");
        }
        t.next += 1;
        let id = t.next;
        t.ids.insert((uid.to_owned(), name.to_owned()), id);
        Ok(id)
    }

    /// Every id handed out (what a checkpoint saves), in id order.
    pub fn snapshot(&self) -> Vec<StateId> {
        let t = self.table.lock().expect("registry lock");
        let mut out: Vec<StateId> = t
            .ids
            .iter()
            .map(|((uid, name), &id)| StateId {
                uid: uid.clone(),
                name: name.clone(),
                id,
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
}

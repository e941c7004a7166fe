//! Stable ids for states: each (operator uid, state name) gets a `u32` once, recorded in
//! the backend itself, so the same state keeps its id across runs of a job.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};

use super::backend::{StateBackend, WriteOp};

/// Backend keys starting with this hold the registry (no state id reaches it).
const META: [u8; 4] = [0xff; 4];

/// Hands out state ids.
pub struct StateRegistry {
    backend: Arc<dyn StateBackend>,
    ids: Mutex<HashMap<(String, String), u32>>,
}

impl StateRegistry {
    /// The registry kept in `backend`.
    pub fn new(backend: Arc<dyn StateBackend>) -> Self {
        Self {
            backend,
            ids: Mutex::default(),
        }
    }

    fn meta(parts: &[&[u8]]) -> Vec<u8> {
        let mut k = META.to_vec();
        for p in parts {
            k.extend_from_slice(p);
            k.push(0);
        }
        k
    }

    /// The id of state `name` of operator `uid`, assigning one if new.
    pub fn id(&self, uid: &str, name: &str) -> Result<u32> {
        let mut ids = self.ids.lock().expect("registry lock");
        if let Some(&id) = ids.get(&(uid.to_owned(), name.to_owned())) {
            return Ok(id);
        }
        let key = Self::meta(&[b"state", uid.as_bytes(), name.as_bytes()]);
        let id = match self.backend.get(&key)? {
            Some(v) => {
                u32::from_be_bytes(v.as_slice().try_into().context("corrupt state registry")?)
            }
            None => {
                let counter = Self::meta(&[b"next"]);
                let next = match self.backend.get(&counter)? {
                    Some(v) => u32::from_be_bytes(
                        v.as_slice().try_into().context("corrupt state registry")?,
                    ),
                    None => 1,
                };
                self.backend.write(vec![
                    WriteOp::Put(key, next.to_be_bytes().to_vec()),
                    WriteOp::Put(counter, (next + 1).to_be_bytes().to_vec()),
                ])?;
                next
            }
        };
        ids.insert((uid.to_owned(), name.to_owned()), id);
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MemoryBackend;

    #[test]
    fn ids_are_stable_and_distinct() {
        let backend: Arc<dyn StateBackend> = Arc::new(MemoryBackend::default());
        let r = StateRegistry::new(backend.clone());
        let a = r.id("op", "count").unwrap();
        let b = r.id("op", "seen").unwrap();
        let c = r.id("other", "count").unwrap();
        assert!(a != b && b != c && a != c);
        assert_eq!(r.id("op", "count").unwrap(), a);
        let again = StateRegistry::new(backend);
        assert_eq!(again.id("op", "seen").unwrap(), b);
    }
}

//! The in-memory backend: a sorted map behind a lock.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::RwLock;

use anyhow::Result;

use super::backend::{StateBackend, WriteOp, prefix_end};

/// Keyed state in memory, lost when the job ends.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    map: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl StateBackend for MemoryBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.map.read().expect("state lock").get(key).cloned())
    }

    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let map = self.map.read().expect("state lock");
        let lower = match after {
            Some(a) if a >= prefix => Bound::Excluded(a.to_vec()),
            _ => Bound::Included(prefix.to_vec()),
        };
        Ok(map
            .range((lower, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn write(&self, ops: Vec<WriteOp>) -> Result<()> {
        let mut map = self.map.write().expect("state lock");
        for op in ops {
            match op {
                WriteOp::Put(k, v) => {
                    map.insert(k, v);
                }
                WriteOp::Delete(k) => {
                    map.remove(&k);
                }
                WriteOp::DeletePrefix(p) => {
                    let upper = prefix_end(&p).map_or(Bound::Unbounded, Bound::Excluded);
                    let doomed: Vec<Vec<u8>> = map
                        .range((Bound::Included(p), upper))
                        .map(|(k, _)| k.clone())
                        .collect();
                    for k in doomed {
                        map.remove(&k);
                    }
                }
                WriteOp::Append(k, element) => {
                    map.entry(k).or_default().extend_from_slice(&element)
                }
            }
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        "memory"
    }

    fn snapshot(&self, path: &Path) -> Result<()> {
        let map = self.map.read().expect("state lock");
        super::snapshot::write_entries(path, map.iter())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn meets_the_backend_contract() {
        super::super::backend::contract::check(&super::MemoryBackend::default());
    }
}

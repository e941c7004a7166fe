//! The byte-level storage interface every state backend implements.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;

use crate::manifest::StateBackendKind;

/// One write of a batch, applied atomically with the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// Sets `key` to `value`.
    Put(Vec<u8>, Vec<u8>),
    /// Removes `key`.
    Delete(Vec<u8>),
    /// Removes every key starting with the prefix.
    DeletePrefix(Vec<u8>),
    /// Appends an encoded list element (see [`encode_list_element`]) to the list under
    /// `key` without reading it.
    ///
    /// [`encode_list_element`]: super::encode_list_element
    Append(Vec<u8>, Vec<u8>),
}

/// Ordered key-value storage of keyed state. Shared by the parallel instances of a job,
/// which touch disjoint key groups.
pub trait StateBackend: Send + Sync {
    /// The value under `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// The values under many keys, in order.
    fn multi_get(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        keys.iter().map(|k| self.get(k)).collect()
    }

    /// Up to `limit` entries whose keys start with `prefix` and sort after `after` (when
    /// given), in key order.
    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;

    /// Applies writes atomically, in order.
    fn write(&self, ops: Vec<WriteOp>) -> Result<()>;

    /// A short name for logs: `rocksdb` or `memory`.
    fn name(&self) -> &'static str;

    /// A large write has just been applied: start moving it out of memory in the
    /// background (so a checkpoint, which must, has less to do while the task waits).
    fn settle(&self) {}

    /// Saves everything the backend holds at `path` (which must not exist): a RocksDB
    /// checkpoint folder, or a file of entries. This is the synchronous part of a
    /// checkpoint: the task does not write while it runs.
    fn snapshot(&self, path: &Path) -> Result<()> {
        let _ = path;
        anyhow::bail!("the `{}` state backend cannot be checkpointed", self.name())
    }
}

/// Opens the backend a job's manifest asks for; RocksDB lives under `dir` (which must be
/// new or empty).
pub fn open_backend(kind: StateBackendKind, dir: &Path) -> Result<Arc<dyn StateBackend>> {
    Ok(match kind {
        StateBackendKind::RocksDb => Arc::new(super::RocksBackend::open(dir)?),
        StateBackendKind::Memory => Arc::new(super::MemoryBackend::default()),
    })
}

/// Opens a backend holding the key groups `groups` of the saved `pieces` (see
/// [`super::snapshot`]): at the same key groups from one RocksDB checkpoint, its files
/// are linked in; otherwise the entries of `groups` are copied over.
pub fn open_restored(
    kind: StateBackendKind,
    dir: &Path,
    pieces: &[crate::checkpoint::KeyedPiece],
    groups: super::KeyGroupRange,
) -> Result<Arc<dyn StateBackend>> {
    if kind == StateBackendKind::RocksDb
        && let [one] = pieces
        && one.snapshot.backend == "rocksdb"
        && one.snapshot.first_group == groups.start
        && one.snapshot.last_group == groups.end
    {
        super::snapshot::link_checkpoint(&one.path, dir)?;
        let backend: Arc<dyn StateBackend> = Arc::new(super::RocksBackend::open(dir)?);
        apply_overlays(pieces, groups, &*backend)?;
        return Ok(backend);
    }
    let backend = open_backend(kind, dir)?;
    for p in pieces {
        super::snapshot::copy_groups(p, groups, &*backend)?;
    }
    apply_overlays(pieces, groups, &*backend)?;
    Ok(backend)
}

/// Applies the in-memory entries saved beside each piece (they are newer than its files).
fn apply_overlays(
    pieces: &[crate::checkpoint::KeyedPiece],
    groups: super::KeyGroupRange,
    into: &dyn StateBackend,
) -> Result<()> {
    for p in pieces {
        if let Some(o) = &p.overlay {
            super::snapshot::apply_overlay(o, groups, into)?;
        }
    }
    Ok(())
}

/// The smallest key greater than every key starting with `prefix` (none if the prefix is
/// all `0xff`).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
pub(crate) mod contract {
    //! Behaviour every backend must have; each backend's tests run it.

    use super::*;
    use crate::state::decode_list;
    use crate::state::encode_list_element;

    pub(crate) fn check(b: &dyn StateBackend) {
        b.write(vec![
            WriteOp::Put(b"a/1".to_vec(), b"one".to_vec()),
            WriteOp::Put(b"a/2".to_vec(), b"two".to_vec()),
            WriteOp::Put(b"a/3".to_vec(), b"three".to_vec()),
            WriteOp::Put(b"b/1".to_vec(), b"other".to_vec()),
        ])
        .unwrap();
        assert_eq!(b.get(b"a/2").unwrap(), Some(b"two".to_vec()));
        assert_eq!(b.get(b"a/9").unwrap(), None);
        assert_eq!(
            b.multi_get(&[b"a/1".to_vec(), b"zz".to_vec()]).unwrap(),
            vec![Some(b"one".to_vec()), None]
        );
        let keys = |v: Vec<(Vec<u8>, Vec<u8>)>| v.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(
            keys(b.scan(b"a/", None, 10).unwrap()),
            vec![b"a/1".to_vec(), b"a/2".to_vec(), b"a/3".to_vec()]
        );
        assert_eq!(
            keys(b.scan(b"a/", Some(b"a/1"), 1).unwrap()),
            vec![b"a/2".to_vec()]
        );
        b.write(vec![
            WriteOp::DeletePrefix(b"a/".to_vec()),
            WriteOp::Put(b"a/2".to_vec(), b"again".to_vec()),
        ])
        .unwrap();
        assert_eq!(
            keys(b.scan(b"a/", None, 10).unwrap()),
            vec![b"a/2".to_vec()]
        );
        assert_eq!(b.get(b"b/1").unwrap(), Some(b"other".to_vec()));
        b.write(vec![WriteOp::Delete(b"b/1".to_vec())]).unwrap();
        assert_eq!(b.get(b"b/1").unwrap(), None);

        let e = |s: &[u8]| encode_list_element(s);
        b.write(vec![
            WriteOp::Append(b"l".to_vec(), e(b"x")),
            WriteOp::Append(b"l".to_vec(), e(b"")),
        ])
        .unwrap();
        b.write(vec![WriteOp::Append(b"l".to_vec(), e(b"zz"))])
            .unwrap();
        let list = b.get(b"l").unwrap().unwrap();
        assert_eq!(decode_list(&list).unwrap(), vec![&b"x"[..], b"", b"zz"]);
        // Keys ending in 0xff still bound their prefix.
        b.write(vec![
            WriteOp::Put(vec![7, 0xff], b"1".to_vec()),
            WriteOp::Put(vec![8], b"2".to_vec()),
        ])
        .unwrap();
        b.write(vec![WriteOp::DeletePrefix(vec![7])]).unwrap();
        assert_eq!(b.get(&[8]).unwrap(), Some(b"2".to_vec()));
        assert_eq!(b.get(&[7, 0xff]).unwrap(), None);
    }

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff]), None);
    }
}

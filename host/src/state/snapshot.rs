//! Saved keyed state: writing the memory backend's entries to a file, linking a RocksDB
//! checkpoint in as a working database, and copying the entries of some key groups out of
//! either into a backend (a restore at another parallelism).

use std::io::{BufWriter, Read, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::backend::{StateBackend, WriteOp};
use super::keys::{decode_list, encode_list_element};
use super::{KeyGroupRange, RocksBackend};
use crate::checkpoint::KeyedPiece;

/// Bytes of writes gathered before they are applied, when copying entries.
const COPY_CHUNK: usize = 4 << 20;

/// Writes entries to `path`: each key and value as a length-prefixed element.
pub fn write_entries<'a>(
    path: &Path,
    entries: impl Iterator<Item = (&'a Vec<u8>, &'a Vec<u8>)>,
) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::new(file);
    for (k, v) in entries {
        out.write_all(&encode_list_element(k))?;
        out.write_all(&encode_list_element(v))?;
    }
    out.into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()
        .with_context(|| format!("writing {}", path.display()))
}

/// Appends one entry held in memory at a barrier to an overlay (`None`: deleted): the key,
/// then the value behind a tag byte, each length-prefixed.
pub fn encode_overlay_entry(out: &mut Vec<u8>, key: &[u8], value: Option<&[u8]>) {
    super::keys::put_len(out, key.len());
    out.extend_from_slice(key);
    match value {
        Some(v) => {
            super::keys::put_len(out, v.len() + 1);
            out.push(1);
            out.extend_from_slice(v);
        }
        None => {
            super::keys::put_len(out, 1);
            out.push(0);
        }
    }
}

/// Applies the entries of an overlay file (see [`write_overlay`]) that fall in `groups`.
pub fn apply_overlay(path: &Path, groups: KeyGroupRange, into: &dyn StateBackend) -> Result<()> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let items =
        decode_list(&data).with_context(|| format!("{} is not saved state", path.display()))?;
    if items.len() % 2 != 0 {
        bail!("{} is truncated", path.display());
    }
    let mut ops = Vec::new();
    for kv in items.chunks(2) {
        if !group_of(kv[0]).is_some_and(|g| groups.contains(g)) {
            continue;
        }
        ops.push(match kv[1].split_first() {
            Some((1, v)) => WriteOp::Put(kv[0].to_vec(), v.to_vec()),
            Some((0, _)) => WriteOp::Delete(kv[0].to_vec()),
            _ => bail!("{} is corrupt", path.display()),
        });
        if ops.len() >= 65_536 {
            into.write(std::mem::take(&mut ops))?;
        }
    }
    if !ops.is_empty() {
        into.write(ops)?;
    }
    Ok(())
}

/// The key group of a stored key (every state key starts with its state id and group).
fn group_of(key: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(key.get(4..6)?.try_into().ok()?))
}

/// Copies the entries of `groups` from a saved piece into `into`.
pub fn copy_groups(
    piece: &KeyedPiece,
    groups: KeyGroupRange,
    into: &dyn StateBackend,
) -> Result<()> {
    let mut ops = Vec::new();
    let mut bytes = 0;
    let mut visit = |k: &[u8], v: &[u8]| -> Result<()> {
        if group_of(k).is_some_and(|g| groups.contains(g)) {
            bytes += k.len() + v.len();
            ops.push(WriteOp::Put(k.to_vec(), v.to_vec()));
            if bytes >= COPY_CHUNK {
                into.write(std::mem::take(&mut ops))?;
                bytes = 0;
            }
        }
        Ok(())
    };
    match piece.snapshot.backend.as_str() {
        "rocksdb" => RocksBackend::for_each_saved(&piece.path, &mut visit)?,
        "memory" => {
            let mut data = Vec::new();
            std::fs::File::open(&piece.path)
                .and_then(|mut f| f.read_to_end(&mut data))
                .with_context(|| format!("reading {}", piece.path.display()))?;
            let items = decode_list(&data)
                .with_context(|| format!("{} is not saved state", piece.path.display()))?;
            if items.len() % 2 != 0 {
                bail!("{} is truncated", piece.path.display());
            }
            for kv in items.chunks(2) {
                visit(kv[0], kv[1])?;
            }
        }
        other => bail!("unknown state backend `{other}` in a snapshot"),
    }
    if !ops.is_empty() {
        into.write(ops)?;
    }
    Ok(())
}

/// Makes `dir` a working copy of the RocksDB checkpoint `from`: its SST files (never
/// changed once written) are hard-linked, the rest copied, so the checkpoint stays as it
/// was whatever the database does next.
pub fn link_checkpoint(from: &Path, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for e in std::fs::read_dir(from).with_context(|| format!("listing {}", from.display()))? {
        let e = e?;
        let src = e.path();
        let dst = dir.join(e.file_name());
        let is_sst = src.extension().is_some_and(|x| x == "sst");
        if !is_sst || std::fs::hard_link(&src, &dst).is_err() {
            std::fs::copy(&src, &dst)
                .with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}

/// Replaces every hard-linked file under `dir` by its own copy, so the folder stands
/// alone (a savepoint must survive the deletion of the checkpoints it shares files with).
pub fn unlink_shared(dir: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    for e in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let e = e?;
        let p = e.path();
        let meta = std::fs::symlink_metadata(&p)?;
        if meta.is_dir() {
            unlink_shared(&p)?;
        } else if meta.nlink() > 1 {
            let tmp = p.with_extension("copying");
            std::fs::copy(&p, &tmp).with_context(|| format!("copying {}", p.display()))?;
            std::fs::rename(&tmp, &p)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::checkpoint::KeyedSnapshot;
    use crate::manifest::StateBackendKind;
    use crate::state::{MemoryBackend, StateKeyPrefix, key_groups_of, open_restored};

    fn key(group: u16, k: &str) -> Vec<u8> {
        StateKeyPrefix::new(1, group, k.as_bytes(), super::super::Namespace::Global).0
    }

    fn fill(b: &dyn StateBackend, groups: std::ops::RangeInclusive<u16>) {
        let ops = groups
            .map(|g| WriteOp::Put(key(g, "k"), format!("v{g}").into_bytes()))
            .collect();
        b.write(ops).unwrap();
    }

    /// Two instances' databases (groups 0..=63 and 64..=127), saved, restored as three
    /// fresh, separate databases: each holds exactly its own groups' entries.
    #[test]
    fn key_group_ranges_restore_into_fresh_separate_databases_at_another_parallelism() {
        let dir = tempfile::tempdir().unwrap();
        for (kind, name) in [
            (StateBackendKind::RocksDb, "rocksdb"),
            (StateBackendKind::Memory, "memory"),
        ] {
            let mut pieces = Vec::new();
            for sub in 0..2u32 {
                let groups = key_groups_of(sub, 2, 128);
                let work = dir.path().join(format!("{name}-work-{sub}"));
                let b: Arc<dyn StateBackend> = match kind {
                    StateBackendKind::RocksDb => Arc::new(RocksBackend::open(&work).unwrap()),
                    StateBackendKind::Memory => Arc::new(MemoryBackend::default()),
                };
                fill(&*b, groups.start..=groups.end);
                let saved = dir.path().join(format!("{name}-saved-{sub}"));
                b.snapshot(&saved).unwrap();
                // Writes after the snapshot are not in it.
                b.write(vec![WriteOp::Put(key(groups.start, "late"), b"x".to_vec())])
                    .unwrap();
                pieces.push(KeyedPiece {
                    overlay: None,
                    path: saved,
                    snapshot: KeyedSnapshot {
                        backend: name.into(),
                        path: String::new(),
                        first_group: groups.start,
                        last_group: groups.end,
                        overlay: None,
                    },
                });
            }
            for (p, sub) in [(3u32, 0u32), (3, 1), (3, 2), (2, 1), (1, 0)] {
                let groups = key_groups_of(sub, p, 128);
                let work = dir.path().join(format!("{name}-restored-{p}-{sub}"));
                let b = open_restored(kind, &work, &pieces, groups).unwrap();
                let got: Vec<(Vec<u8>, Vec<u8>)> = b.scan(&1u32.to_be_bytes(), None, 1000).unwrap();
                let want: Vec<(Vec<u8>, Vec<u8>)> = (groups.start..=groups.end)
                    .map(|g| (key(g, "k"), format!("v{g}").into_bytes()))
                    .collect();
                assert_eq!(got, want, "{name}: instance {sub} of {p}");
            }
        }
    }

    #[test]
    fn a_savepoint_folder_stands_alone_after_unlinking() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, b"data").unwrap();
        std::fs::create_dir(dir.path().join("sp")).unwrap();
        let b = dir.path().join("sp/b");
        std::fs::hard_link(&a, &b).unwrap();
        unlink_shared(&dir.path().join("sp")).unwrap();
        std::fs::write(&a, b"changed").unwrap();
        assert_eq!(std::fs::read(&b).unwrap(), b"data");
    }
}

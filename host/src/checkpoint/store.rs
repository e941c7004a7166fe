//! A job's checkpoints on disk.
//!
//! ```text
//! <dir>/chk-<id>/_metadata       complete: written last, atomically (temp, fsync, rename)
//! <dir>/chk-<id>/<uid>-<n>/...   an instance's keyed state (a RocksDB checkpoint: its SST
//!                                files hard-linked, so a checkpoint copies only what changed)
//! <dir>/finished.json            the job ran to its end at this snapshot (its
//!                                checkpoints are retired)
//! ```
//!
//! A folder without `_metadata` is a checkpoint that never completed. Old checkpoints are
//! deleted beyond the number retained; since files shared between checkpoints are hard
//! links, deleting one never breaks another.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::metadata::Metadata;

/// Name of the file that completes a snapshot.
pub const METADATA: &str = "_metadata";
const FINISHED: &str = "finished.json";

/// The checkpoints of one job.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    dir: PathBuf,
}

/// A snapshot found on disk, and where its files are.
#[derive(Debug, Clone)]
pub struct Found {
    /// What it holds.
    pub metadata: Metadata,
    /// The folder its relative paths start from.
    pub base: PathBuf,
}

impl CheckpointStore {
    /// The store in `dir` (created when first written).
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
        }
    }

    /// Its folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder of checkpoint `id`.
    pub fn path_of(&self, id: u64) -> PathBuf {
        self.dir.join(format!("chk-{id}"))
    }

    /// Every checkpoint folder, complete or not, with its id, in id order.
    fn folders(&self) -> Result<Vec<(u64, PathBuf)>> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).with_context(|| format!("listing {}", self.dir.display())),
        };
        for e in entries {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_prefix("chk-").and_then(|n| n.parse().ok()) {
                out.push((id, e.path()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Ids of complete checkpoints (those with metadata), oldest first.
    pub fn complete(&self) -> Result<Vec<u64>> {
        Ok(self
            .folders()?
            .into_iter()
            .filter(|(_, p)| p.join(METADATA).is_file())
            .map(|(id, _)| id)
            .collect())
    }

    /// The id for a new snapshot: past every one taken before, complete or not.
    pub fn next_id(&self) -> Result<u64> {
        let folders = self.folders()?.last().map_or(0, |(id, _)| *id);
        let finished = self.finished()?.map_or(0, |m| m.id);
        Ok(folders.max(finished) + 1)
    }

    /// Creates the (empty) folder of snapshot `id`.
    pub fn begin(&self, id: u64) -> Result<PathBuf> {
        let p = self.path_of(id);
        if p.exists() {
            std::fs::remove_dir_all(&p).with_context(|| format!("clearing {}", p.display()))?;
        }
        std::fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        Ok(p)
    }

    /// Completes a snapshot: its metadata is written into `folder` atomically, and
    /// checkpoints past `retain` are deleted. Returns the checkpoints deleted.
    pub fn complete_in(&self, folder: &Path, m: &Metadata, retain: usize) -> Result<Vec<u64>> {
        write_atomically(&folder.join(METADATA), &serde_json::to_vec_pretty(m)?)?;
        self.retain(retain)
    }

    /// Deletes complete checkpoints past the newest `retain`, and incomplete ones older
    /// than the newest complete one.
    pub fn retain(&self, retain: usize) -> Result<Vec<u64>> {
        let complete = self.complete()?;
        let Some(&newest) = complete.last() else {
            return Ok(Vec::new());
        };
        let keep: Vec<u64> = complete.iter().rev().take(retain.max(1)).copied().collect();
        let mut deleted = Vec::new();
        for (id, path) in self.folders()? {
            let is_complete = complete.contains(&id);
            if (is_complete && !keep.contains(&id)) || (!is_complete && id < newest) {
                std::fs::remove_dir_all(&path)
                    .with_context(|| format!("deleting {}", path.display()))?;
                deleted.push(id);
            }
        }
        Ok(deleted)
    }

    /// Deletes a snapshot that will not complete.
    pub fn abandon(&self, id: u64) {
        let _ = std::fs::remove_dir_all(self.path_of(id));
    }

    /// The newest complete checkpoint that loads, with the ones skipped on the way
    /// (corrupt or missing files) and why.
    pub fn latest(&self) -> Result<(Option<Found>, Skipped)> {
        let mut skipped = Vec::new();
        for id in self.complete()?.into_iter().rev() {
            match load(&self.path_of(id)) {
                Ok(found) => return Ok((Some(found), skipped)),
                Err(e) => skipped.push((id, format!("{e:#}"))),
            }
        }
        Ok((None, skipped))
    }

    /// Marks the job as having run to its end at `m`, and deletes its checkpoints: a
    /// new run starts over.
    pub fn retire(&self, m: &Metadata) -> Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let summary = serde_json::json!({
            "id": m.id,
            "job": m.job,
            "taken_at_ms": m.taken_at_ms,
        });
        write_atomically(
            &self.dir.join(FINISHED),
            &serde_json::to_vec_pretty(&summary)?,
        )?;
        for (_, path) in self.folders()? {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("deleting {}", path.display()))?;
        }
        Ok(())
    }

    /// The snapshot at which the job last ran to its end, if it did and started no run
    /// since.
    pub fn finished(&self) -> Result<Option<FinishedRun>> {
        let p = self.dir.join(FINISHED);
        match std::fs::read(&p) {
            Ok(b) => Ok(Some(
                serde_json::from_slice(&b).with_context(|| format!("reading {}", p.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
        }
    }

    /// Forgets that the job ran to its end (a new run begins).
    pub fn clear_finished(&self) -> Result<()> {
        match std::fs::remove_file(self.dir.join(FINISHED)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// Checkpoints passed over, with why.
pub type Skipped = Vec<(u64, String)>;

/// What `finished.json` says.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct FinishedRun {
    /// The final snapshot's id.
    pub id: u64,
    /// When it was taken.
    pub taken_at_ms: i64,
}

/// Loads the snapshot in `folder` (a checkpoint or a savepoint folder, or its
/// `_metadata` file), following an entry that points to a savepoint elsewhere, and checks
/// that every file it names exists.
pub fn load(folder: &Path) -> Result<Found> {
    let folder = if folder.file_name().is_some_and(|n| n == METADATA) {
        folder.parent().unwrap_or(folder)
    } else {
        folder
    };
    let file = folder.join(METADATA);
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let metadata: Metadata = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not snapshot metadata", file.display()))?;
    if metadata.format > super::metadata::FORMAT {
        bail!(
            "{} has format {}, newer than this weir reads ({})",
            file.display(),
            metadata.format,
            super::metadata::FORMAT
        );
    }
    if let Some(ext) = &metadata.external {
        let found = load(ext).with_context(|| {
            format!(
                "checkpoint {} is the savepoint {}, which cannot be loaded",
                metadata.id,
                ext.display()
            )
        })?;
        return Ok(found);
    }
    for i in &metadata.instances {
        let mut files: Vec<&str> = Vec::new();
        if let Some(k) = &i.keyed {
            files.push(&k.path);
            if let Some(o) = &k.overlay {
                files.push(o);
            }
        }
        if let super::metadata::OperatorState::Broadcast { path, .. } = &i.state {
            files.push(path);
        }
        for f in files {
            let p = folder.join(f);
            if !p.exists() {
                bail!("{} names {}, which is missing", file.display(), p.display());
            }
            if p.is_dir() && !p.join("CURRENT").is_file() {
                bail!(
                    "{} names the RocksDB checkpoint {}, which is incomplete (no CURRENT)",
                    file.display(),
                    p.display()
                );
            }
        }
    }
    Ok(Found {
        metadata,
        base: folder.to_owned(),
    })
}

/// Writes `bytes` to `path` so that a reader sees the old file or the whole new one:
/// a temporary file, synced, renamed over, and the folder synced.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().context("a file has a folder")?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().context("a file name")?.to_string_lossy()
    ));
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::metadata::{FORMAT, SnapshotKind};

    fn meta(id: u64) -> Metadata {
        Metadata {
            format: FORMAT,
            id,
            kind: SnapshotKind::Checkpoint,
            job: "j".into(),
            manifest_hash: String::new(),
            taken_at_ms: 0,
            duration_ms: 0,
            max_parallelism: 128,
            states: Vec::new(),
            instances: Vec::new(),
            finished: false,
            external: None,
            versions: Default::default(),
        }
    }

    #[test]
    fn retains_the_newest_and_falls_back_past_a_corrupt_one() {
        let dir = tempfile::tempdir().unwrap();
        let s = CheckpointStore::new(dir.path());
        assert_eq!(s.next_id().unwrap(), 1);
        for id in 1..=4 {
            let f = s.begin(id).unwrap();
            s.complete_in(&f, &meta(id), 2).unwrap();
        }
        assert_eq!(s.complete().unwrap(), vec![3, 4]);
        s.begin(5).unwrap();
        assert_eq!(
            s.next_id().unwrap(),
            6,
            "an incomplete one still takes its id"
        );
        // Truncate the newest's metadata: the one before is used.
        std::fs::write(s.path_of(4).join(METADATA), b"{\"format\":1,").unwrap();
        let (found, skipped) = s.latest().unwrap();
        assert_eq!(found.unwrap().metadata.id, 3);
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].0, 4);
        s.retire(&meta(5)).unwrap();
        assert!(s.complete().unwrap().is_empty());
        assert_eq!(s.finished().unwrap().unwrap().id, 5);
        assert_eq!(s.next_id().unwrap(), 6);
    }
}

//! The file sink with checkpoints: a folder of parts, committed by checkpoints (two-phase
//! commit).
//!
//! Records go to an in-progress part (hidden). At a barrier the part is flushed, synced
//! and renamed to a pending name: it is now part of the snapshot. When the snapshot
//! completes, its pending parts are renamed to their committed names. After a failure,
//! the pending parts of the snapshot restored from are committed and every other
//! uncommitted file is removed, so a committed part is never taken back and no record is
//! committed twice. With at-least-once delivery, parts are committed at the barrier.
//!
//! ```text
//! <path>/part-<snapshot id>-<subtask>.jsonl     committed, read in name order
//! <path>/.part-<snapshot id>-<subtask>.pending  flushed, waiting for its snapshot
//! <path>/.part-<subtask>.inprogress             being written
//! ```

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};

use crate::checkpoint::{OperatorState, PendingPart};
use crate::manifest::{Delivery, SinkFormat};
use crate::operator::{Collector, Finish, Input, Operator, SnapshotContext};
use crate::runtime::{Data, NodeMetrics};

/// Writes record values, one per line, into parts committed by checkpoints.
pub struct PartSink {
    dir: PathBuf,
    subtask: u32,
    delivery: Delivery,
    format: SinkFormat,
    out: Option<BufWriter<File>>,
    records: u64,
    /// Parts waiting for a snapshot, with its id.
    pending: Vec<(u64, PendingPart)>,
    /// The id the next snapshot will have (shared with the coordinator): names the last
    /// part, written when the input ends.
    next_id: Arc<AtomicU64>,
    metrics: Arc<NodeMetrics>,
}

impl PartSink {
    /// A sink writing parts into `dir`, as instance `subtask`.
    pub fn create(
        dir: &Path,
        subtask: u32,
        delivery: Delivery,
        format: SinkFormat,
        next_id: Arc<AtomicU64>,
        metrics: Arc<NodeMetrics>,
    ) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self {
            dir: dir.to_owned(),
            subtask,
            delivery,
            format,
            out: None,
            records: 0,
            pending: Vec::new(),
            next_id,
            metrics,
        })
    }

    fn in_progress(&self) -> PathBuf {
        self.dir
            .join(format!(".part-{:04}.inprogress", self.subtask))
    }

    /// Closes the part being written (if it has records) as pending for snapshot `id`.
    fn seal(&mut self, id: u64) -> Result<()> {
        let Some(out) = self.out.take() else {
            return Ok(());
        };
        let file = out
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("writing {}", self.in_progress().display()))?;
        file.sync_all()?;
        let pending = self
            .dir
            .join(format!(".part-{id:010}-{:04}.pending", self.subtask));
        let committed = self
            .dir
            .join(format!("part-{id:010}-{:04}.jsonl", self.subtask));
        std::fs::rename(self.in_progress(), &pending)
            .with_context(|| format!("sealing {}", pending.display()))?;
        self.pending.push((
            id,
            PendingPart {
                pending,
                committed,
                records: std::mem::take(&mut self.records),
            },
        ));
        Ok(())
    }

    fn pending_state(&self) -> OperatorState {
        OperatorState::Sink {
            pending: self.pending.iter().map(|(_, p)| p.clone()).collect(),
        }
    }
}

/// Commits parts: each pending file is renamed to its committed name, unless that was
/// done already (a commit repeated after a failure). Syncs the folders.
pub fn commit_parts<'a>(parts: impl IntoIterator<Item = &'a PendingPart>) -> Result<()> {
    let mut dirs = std::collections::BTreeSet::new();
    for p in parts {
        if p.pending.exists() {
            std::fs::rename(&p.pending, &p.committed)
                .with_context(|| format!("committing {}", p.committed.display()))?;
        } else if !p.committed.exists() {
            anyhow::bail!(
                "the part {} to commit is gone (neither {} nor its committed name exists)",
                p.committed.display(),
                p.pending.display()
            );
        }
        crate::runtime::crash_point("commit-part");
        if let Some(d) = p.committed.parent() {
            dirs.insert(d.to_owned());
        }
    }
    for d in dirs {
        File::open(&d)?.sync_all()?;
    }
    Ok(())
}

/// Removes what no snapshot will commit from a sink folder: in-progress parts, and
/// pending parts other than `keep` (a restored snapshot's, committed by the caller).
pub fn clean_uncommitted(dir: &Path, keep: &[&PendingPart]) -> Result<usize> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    let mut removed = 0;
    for e in entries {
        let p = e?.path();
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        let ours = name.starts_with(".part-")
            && (name.ends_with(".inprogress") || name.ends_with(".pending"));
        if ours && !keep.iter().any(|k| k.pending == p) {
            std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The committed parts of a sink folder, in order.
pub fn committed_parts(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("part-"))
        })
        .collect();
    out.sort();
    Ok(out)
}

impl Operator for PartSink {
    fn process(&mut self, _input: Input, data: Data, _out: &mut Collector) -> Result<()> {
        if self.out.is_none() {
            let path = self.in_progress();
            let file =
                File::create(&path).with_context(|| format!("creating {}", path.display()))?;
            self.out = Some(BufWriter::with_capacity(1 << 20, file));
        }
        let out = self.out.as_mut().expect("just opened");
        super::sinks::write_records(out, &data, self.format)?;
        self.records += data.len() as u64;
        self.metrics.records_in.add(data.len() as u64);
        Ok(())
    }

    fn snapshot(&mut self, cx: &SnapshotContext<'_>) -> Result<OperatorState> {
        self.seal(cx.id)?;
        crate::runtime::crash_point("part-pending");
        if self.delivery == Delivery::AtLeastOnce {
            commit_parts(self.pending.iter().map(|(_, p)| p))?;
            self.pending.clear();
        }
        Ok(self.pending_state())
    }

    fn checkpoint_complete(&mut self, id: u64) -> Result<()> {
        let (done, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|(i, _)| *i <= id);
        self.pending = rest;
        commit_parts(done.iter().map(|(_, p)| p))
    }

    fn finish(&mut self, _how: Finish, _out: &mut Collector) -> Result<()> {
        // The last part waits for the snapshot that ends the job (or for any taken before
        // the job's other tasks finish): it gets that snapshot's id.
        let id = self.next_id.load(Ordering::SeqCst);
        self.seal(id)
    }

    fn final_state(&mut self) -> Result<OperatorState> {
        Ok(self.pending_state())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_committed_once_and_leftovers_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let part = |id: u64| PendingPart {
            pending: d.join(format!(".part-{id:010}-0000.pending")),
            committed: d.join(format!("part-{id:010}-0000.jsonl")),
            records: 1,
        };
        for id in [1, 2] {
            std::fs::write(part(id).pending, format!("{id}\n")).unwrap();
        }
        std::fs::write(d.join(".part-0000.inprogress"), "x\n").unwrap();
        commit_parts([&part(1)]).unwrap();
        commit_parts([&part(1)]).unwrap();
        assert_eq!(clean_uncommitted(d, &[]).unwrap(), 2);
        let committed = committed_parts(d).unwrap();
        assert_eq!(committed, vec![part(1).committed]);
        assert!(
            commit_parts([&part(2)]).is_err(),
            "a vanished part is an error"
        );
    }
}

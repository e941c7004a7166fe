//! The RocksDB backend: one embedded database per job under its state directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rocksdb::{
    DB, Direction, IteratorMode, MergeOperands, Options, ReadOptions, WriteBatch, WriteOptions,
};

use super::backend::{StateBackend, WriteOp, prefix_end};

/// Keyed state in an embedded RocksDB.
///
/// List state appends through a merge operator (concatenating encoded elements), so
/// adding to a list never reads it. Writes skip the write-ahead log: state is made durable
/// by checkpoints, not by individual writes.
pub struct RocksBackend {
    db: DB,
    path: PathBuf,
}

fn concat(_key: &[u8], existing: Option<&[u8]>, operands: &MergeOperands) -> Option<Vec<u8>> {
    let len = existing.map_or(0, <[u8]>::len) + operands.iter().map(<[u8]>::len).sum::<usize>();
    let mut out = Vec::with_capacity(len);
    if let Some(e) = existing {
        out.extend_from_slice(e);
    }
    for op in operands {
        out.extend_from_slice(op);
    }
    Some(out)
}

impl RocksBackend {
    /// Opens (creating if needed) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the state directory {}", dir.display()))?;
        let db = DB::open(&Self::options(), dir)
            .with_context(|| format!("opening RocksDB state in {}", dir.display()))?;
        Ok(Self {
            db,
            path: dir.to_owned(),
        })
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_options() -> WriteOptions {
        let mut w = WriteOptions::default();
        w.disable_wal(true);
        w
    }
}

impl StateBackend for RocksBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(key)?)
    }

    fn multi_get(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        self.db
            .multi_get(keys)
            .into_iter()
            .map(|r| r.map_err(Into::into))
            .collect()
    }

    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut ro = ReadOptions::default();
        if let Some(end) = prefix_end(prefix) {
            ro.set_iterate_upper_bound(end);
        }
        let start = match after {
            Some(a) if a >= prefix => a,
            _ => prefix,
        };
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_opt(IteratorMode::From(start, Direction::Forward), ro)
        {
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            if after.is_some_and(|a| &*k <= a) {
                continue;
            }
            if out.len() == limit {
                break;
            }
            out.push((k.into_vec(), v.into_vec()));
        }
        Ok(out)
    }

    fn write(&self, ops: Vec<WriteOp>) -> Result<()> {
        let mut batch = WriteBatch::default();
        for op in ops {
            match op {
                WriteOp::Put(k, v) => batch.put(k, v),
                WriteOp::Delete(k) => batch.delete(k),
                WriteOp::DeletePrefix(p) => match prefix_end(&p) {
                    Some(end) => batch.delete_range(p, end),
                    None => batch.delete_range(p, vec![0xff; 64]),
                },
                WriteOp::Append(k, element) => batch.merge(k, element),
            }
        }
        self.db.write_opt(batch, &Self::write_options())?;
        Ok(())
    }

    fn name(&self) -> &'static str {
        "rocksdb"
    }

    fn settle(&self) {
        let mut f = rocksdb::FlushOptions::default();
        f.set_wait(false);
        if let Err(e) = self.db.flush_opt(&f) {
            tracing::debug!("background flush not started: {e}");
        }
    }

    fn snapshot(&self, path: &Path) -> Result<()> {
        // Flushes the memtable (writes skip the WAL), then hard-links the SST files and
        // copies the small rest: only what changed since the last checkpoint is new.
        rocksdb::checkpoint::Checkpoint::new(&self.db)?
            .create_checkpoint(path)
            .with_context(|| format!("checkpointing RocksDB into {}", path.display()))
    }
}

impl RocksBackend {
    /// The options every weir database is opened with.
    pub(crate) fn options() -> Options {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.set_merge_operator_associative("weir-list-append", concat);
        opts.increase_parallelism(2);
        // Small memtables: a checkpoint flushes the memtable while the task waits.
        opts.set_write_buffer_size(8 << 20);
        opts.set_max_write_buffer_number(2);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        // Most reads are point lookups, many of keys that have no state yet (a new
        // user's session set, a window's first accumulator): a Bloom filter per file
        // answers those without reading a data block.
        let mut table = rocksdb::BlockBasedOptions::default();
        table.set_bloom_filter(10.0, false);
        table.set_block_cache(&rocksdb::Cache::new_lru_cache(32 << 20));
        opts.set_block_based_table_factory(&table);
        opts
    }

    /// Every entry of a saved database (a checkpoint folder), in key order, read-only.
    pub(crate) fn for_each_saved(
        dir: &Path,
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<()>,
    ) -> Result<()> {
        let db = DB::open_for_read_only(&Self::options(), dir, false)
            .with_context(|| format!("opening the saved state in {}", dir.display()))?;
        for item in db.iterator(IteratorMode::Start) {
            let (k, v) = item?;
            visit(&k, &v)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn meets_the_backend_contract() {
        let dir = tempfile::tempdir().unwrap();
        let b = super::RocksBackend::open(dir.path()).unwrap();
        super::super::backend::contract::check(&b);
    }
}

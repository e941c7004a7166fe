//! The records of an open Kafka transaction, kept in a local file until the transaction
//! is committed: if the process dies after the transaction's checkpoint completed and
//! before the commit, recovery writes them again (librdkafka cannot commit another
//! producer's transaction).
//!
//! Each record: key length (`u32::MAX`: no key), key, value length, value, timestamp
//! (`i64::MIN`: none), header count, then each header's name length, name, value
//! length, value. Little-endian.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::record::{Batch, RecordRef};

/// Appends records to a spool file.
pub struct SpoolWriter {
    path: PathBuf,
    out: BufWriter<File>,
    bytes: u64,
    records: u64,
}

impl SpoolWriter {
    /// A new, empty spool file.
    pub fn create(path: &Path) -> Result<Self> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            out: BufWriter::with_capacity(1 << 20, f),
            bytes: 0,
            records: 0,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes written.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Records written.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Appends a record.
    pub fn append(&mut self, r: &RecordRef<'_>) -> Result<()> {
        let mut n = 0u64;
        let mut put = |b: &[u8]| -> std::io::Result<()> {
            n += b.len() as u64;
            self.out.write_all(b)
        };
        (|| -> std::io::Result<()> {
            match r.key {
                Some(k) => {
                    put(&len32(k.len()).to_le_bytes())?;
                    put(k)?;
                }
                None => put(&u32::MAX.to_le_bytes())?,
            }
            put(&len32(r.value.len()).to_le_bytes())?;
            put(r.value)?;
            put(&r.timestamp.unwrap_or(i64::MIN).to_le_bytes())?;
            put(&(r.headers.len().min(u16::MAX as usize) as u16).to_le_bytes())?;
            for h in r.headers.iter().take(u16::MAX as usize) {
                put(&len32(h.name.len()).to_le_bytes())?;
                put(h.name.as_bytes())?;
                put(&len32(h.value.len()).to_le_bytes())?;
                put(&h.value)?;
            }
            Ok(())
        })()
        .with_context(|| format!("writing {}", self.path.display()))?;
        self.bytes += n;
        self.records += 1;
        Ok(())
    }

    /// Writes what is buffered and syncs it to disk: what a checkpoint records is there
    /// after a crash.
    pub fn sync(&mut self) -> Result<()> {
        self.out
            .flush()
            .and_then(|()| self.out.get_ref().sync_data())
            .with_context(|| format!("syncing {}", self.path.display()))
    }
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).expect("records are under 4 GiB")
}

/// Reads the first `bytes` bytes of a spool file back into batches of at most `batch`
/// records, handing each to `f`.
pub fn read(
    path: &Path,
    bytes: u64,
    batch: usize,
    mut f: impl FnMut(&Batch) -> Result<()>,
) -> Result<u64> {
    let mut data = Vec::with_capacity(bytes as usize);
    File::open(path)
        .with_context(|| format!("opening {}", path.display()))?
        .take(bytes)
        .read_to_end(&mut data)
        .with_context(|| format!("reading {}", path.display()))?;
    if (data.len() as u64) < bytes {
        bail!(
            "{} holds {} bytes, fewer than the {bytes} its checkpoint recorded",
            path.display(),
            data.len()
        );
    }
    let mut cur = Cursor { data: &data, at: 0 };
    let mut out = Batch::default();
    let mut records = 0;
    while cur.at < data.len() {
        let key = match cur.u32()? {
            u32::MAX => None,
            n => Some(cur.take(n as usize)?),
        };
        let n = cur.u32()? as usize;
        let value = cur.take(n)?;
        let ts = i64::from_le_bytes(cur.take(8)?.try_into().expect("8 bytes"));
        let index = out.len() as u32;
        out.push(key, value, (ts != i64::MIN).then_some(ts));
        let headers = u16::from_le_bytes(cur.take(2)?.try_into().expect("2 bytes"));
        for _ in 0..headers {
            let n = cur.u32()? as usize;
            let name = String::from_utf8_lossy(cur.take(n)?).into_owned();
            let n = cur.u32()? as usize;
            let value = cur.take(n)?.to_vec();
            out.headers.push(crate::record::Header {
                record: index,
                name,
                value,
            });
        }
        records += 1;
        if out.len() >= batch {
            f(&out)?;
            out.clear();
        }
    }
    if !out.is_empty() {
        f(&out)?;
    }
    Ok(records)
}

struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            bail!("the spool file is cut short at byte {}", self.at);
        };
        let s = &self.data[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Header;

    #[test]
    fn records_come_back_as_written_up_to_the_recorded_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.spool");
        let mut w = SpoolWriter::create(&path).unwrap();
        let headers = [Header {
            record: 0,
            name: "h".into(),
            value: b"v".to_vec(),
        }];
        w.append(&RecordRef {
            key: Some(b"k"),
            value: b"one",
            timestamp: Some(7),
            headers: &headers,
        })
        .unwrap();
        w.append(&RecordRef {
            key: None,
            value: b"",
            timestamp: None,
            headers: &[],
        })
        .unwrap();
        w.sync().unwrap();
        let upto = w.bytes();
        w.append(&RecordRef {
            key: None,
            value: b"after the barrier",
            timestamp: None,
            headers: &[],
        })
        .unwrap();
        w.sync().unwrap();
        let mut got = Vec::new();
        let n = read(&path, upto, 1, |b| {
            for r in b.iter() {
                got.push((
                    r.key.map(<[u8]>::to_vec),
                    r.value.to_vec(),
                    r.timestamp,
                    r.headers.iter().map(|h| h.name.clone()).collect::<Vec<_>>(),
                ));
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 2);
        assert_eq!(
            got,
            vec![
                (
                    Some(b"k".to_vec()),
                    b"one".to_vec(),
                    Some(7),
                    vec!["h".to_owned()]
                ),
                (None, Vec::new(), None, vec![]),
            ]
        );
        assert!(read(&path, w.bytes() + 1, 10, |_| Ok(())).is_err());
    }
}

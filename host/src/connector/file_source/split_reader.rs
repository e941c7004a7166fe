//! One split of a file, read line by line: where its lines start and end, and where
//! the reader is (what a checkpoint records, and where a restored reader resumes).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use anyhow::{Context, Result};
use memchr::memchr;

use super::super::splits::Split;
use crate::checkpoint::SplitState;

/// Bytes read from a file at a time.
const CHUNK: usize = 1 << 20;

/// One split being read.
pub(super) struct SplitReader {
    pub(super) split: Split,
    pub(super) file: Option<File>,
    pub(super) buf: Vec<u8>,
    /// File offset of `buf[0]`.
    pub(super) buf_offset: u64,
    pub(super) cursor: usize,
    pub(super) skip_partial: bool,
    pub(super) done: bool,
    pub(super) at_eof: bool,
    /// The largest timestamp read (with watermarks carried by records: the largest
    /// watermark read).
    pub(super) max_ts: i64,
    pub(super) idle: bool,
    pub(super) last_data_ms: i64,
    /// Where to resume reading (a restored split): a line start.
    resume: Option<u64>,
}

impl SplitReader {
    pub(super) fn new(split: Split, now_ms: i64) -> Self {
        Self {
            skip_partial: split.start > 0,
            split,
            file: None,
            buf: Vec::new(),
            buf_offset: 0,
            cursor: 0,
            done: false,
            at_eof: false,
            max_ts: i64::MIN,
            idle: false,
            last_data_ms: now_ms,
            resume: None,
        }
    }

    /// A split restored from a checkpoint: it resumes at the saved position, with the
    /// saved largest timestamp.
    pub(super) fn restored(state: &SplitState, now_ms: i64) -> Self {
        let split = Split {
            path: state.path.clone(),
            start: state.start,
            end: state.end,
        };
        let mut r = Self::new(split, now_ms);
        r.max_ts = state.max_ts;
        r.done = state.done;
        if state.position > state.start {
            r.resume = Some(state.position);
            r.skip_partial = false;
        }
        r
    }

    /// What a checkpoint records of the split.
    pub(super) fn state(&self) -> SplitState {
        SplitState {
            path: self.split.path.clone(),
            start: self.split.start,
            end: self.split.end,
            position: match (&self.file, self.resume) {
                (None, Some(p)) => p,
                (None, None) => self.split.start,
                (Some(_), _) => self.position(),
            },
            max_ts: self.max_ts,
            done: self.done,
        }
    }

    /// Byte offset of the next unread line (what a checkpoint records).
    pub(super) fn position(&self) -> u64 {
        self.buf_offset + self.cursor as u64
    }

    fn open(&mut self) -> Result<bool> {
        if self.file.is_some() {
            return Ok(true);
        }
        let mut f = match File::open(&self.split.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => {
                return Err(e).with_context(|| format!("opening {}", self.split.path.display()));
            }
        };
        // Start one byte early: if that byte ends a line, the split's first line is whole.
        // A resumed split starts where it stopped, at a line start.
        let from = match self.resume {
            Some(p) => p,
            None => self.split.start.saturating_sub(1),
        };
        f.seek(SeekFrom::Start(from))?;
        self.buf_offset = from;
        self.file = Some(f);
        Ok(true)
    }

    /// Hands up to `max` lines to `push`, stopping early after a line for which it
    /// returns false; returns how many.
    pub(super) fn read_lines(
        &mut self,
        max: usize,
        follow: bool,
        mut push: impl FnMut(&[u8]) -> bool,
    ) -> Result<usize> {
        if !self.open()? {
            self.at_eof = true;
            return Ok(0);
        }
        let mut n = 0;
        while n < max && !self.done {
            match memchr(b'\n', &self.buf[self.cursor..]) {
                Some(j) => {
                    let line_start = self.buf_offset + self.cursor as u64;
                    let line = &self.buf[self.cursor..self.cursor + j];
                    self.cursor += j + 1;
                    if self.skip_partial {
                        self.skip_partial = false;
                        continue;
                    }
                    if line_start >= self.split.end {
                        self.done = true;
                        break;
                    }
                    n += 1;
                    if !push(line.strip_suffix(b"\r").unwrap_or(line)) {
                        break;
                    }
                }
                None => {
                    if self.refill()? == 0 {
                        self.at_eof = true;
                        if !follow {
                            let line_start = self.buf_offset + self.cursor as u64;
                            if self.cursor < self.buf.len()
                                && line_start < self.split.end
                                && !self.skip_partial
                            {
                                push(&self.buf[self.cursor..]);
                                n += 1;
                            }
                            self.cursor = self.buf.len();
                            self.done = true;
                        }
                        break;
                    }
                }
            }
        }
        Ok(n)
    }

    fn refill(&mut self) -> Result<usize> {
        if self.cursor > 0 {
            self.buf.drain(..self.cursor);
            self.buf_offset += self.cursor as u64;
            self.cursor = 0;
        }
        // Read into the spare capacity: no zeroing of a chunk the read overwrites anyway.
        self.buf.reserve(CHUNK);
        let file = self.file.as_mut().expect("opened");
        let read = file
            .take(CHUNK as u64)
            .read_to_end(&mut self.buf)
            .with_context(|| format!("reading {}", self.split.path.display()))?;
        if read > 0 {
            self.at_eof = false;
        }
        Ok(read)
    }

    /// Its watermark: `max_ts` less the source's lag (see `watermark_lag`).
    pub(super) fn watermark(&self, lag: i64) -> i64 {
        if self.max_ts == i64::MIN {
            i64::MIN
        } else {
            self.max_ts.saturating_sub(lag)
        }
    }
}

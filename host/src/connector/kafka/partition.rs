//! One Kafka partition being read: where the reader is, its end (bounded sources), its
//! watermark and idleness. Pure bookkeeping; the consumer is in `source`.

use crate::checkpoint::PartitionState;

/// Which reader of a source owns a partition: the topic's partitions are dealt out in
/// turn, starting at a reader chosen by the topic's name, so partitions added later go
/// to the same readers at any time and several topics spread over all readers.
pub fn owner(topic: &str, partition: i32, parallelism: u32) -> u32 {
    let p = u64::from(parallelism.max(1));
    let start = xxhash_rust::xxh3::xxh3_64(topic.as_bytes()) % p;
    ((start + partition.max(0) as u64) % p) as u32
}

/// A partition being read.
#[derive(Debug, Clone)]
pub(super) struct PartitionReader {
    pub(super) topic: String,
    pub(super) partition: i32,
    /// The offset of the next record to read.
    pub(super) offset: i64,
    /// Bounded sources: read up to here.
    pub(super) end: Option<i64>,
    /// The largest event timestamp read so far (with watermarks carried by records: the
    /// largest watermark read).
    pub(super) max_ts: i64,
    /// Silent past the idle timeout: not holding the watermark back.
    pub(super) idle: bool,
    /// At the end of what the partition holds (until more arrives).
    pub(super) at_eof: bool,
    /// Has been at its end at least once since the start.
    pub(super) caught_up: bool,
    /// When its last record was read (processing time).
    pub(super) last_data_ms: i64,
}

impl PartitionReader {
    pub(super) fn new(
        topic: String,
        partition: i32,
        offset: i64,
        end: Option<i64>,
        now: i64,
    ) -> Self {
        Self {
            topic,
            partition,
            offset,
            end,
            max_ts: i64::MIN,
            idle: false,
            at_eof: false,
            caught_up: false,
            last_data_ms: now,
        }
    }

    /// A partition resuming from a checkpoint.
    pub(super) fn restored(s: &PartitionState, now: i64) -> Self {
        let mut p = Self::new(s.topic.clone(), s.partition, s.offset, s.end, now);
        p.max_ts = s.max_ts;
        p
    }

    /// What a checkpoint records.
    pub(super) fn state(&self) -> PartitionState {
        PartitionState {
            topic: self.topic.clone(),
            partition: self.partition,
            offset: self.offset,
            max_ts: self.max_ts,
            end: self.end,
        }
    }

    /// Whether a bounded source has read it to its end.
    pub(super) fn done(&self) -> bool {
        self.end.is_some_and(|e| self.offset >= e)
    }

    /// Its watermark: `max_ts` less the source's lag (see `watermark_lag`).
    pub(super) fn watermark(&self, lag: i64) -> i64 {
        if self.max_ts == i64::MIN {
            i64::MIN
        } else {
            self.max_ts.saturating_sub(lag)
        }
    }

    /// A record at `offset` advancing the watermark's base to `ts` was read at `now`.
    pub(super) fn read(&mut self, offset: i64, ts: Option<i64>, now: i64) {
        self.offset = offset + 1;
        if let Some(t) = ts {
            self.max_ts = self.max_ts.max(t);
        }
        self.idle = false;
        self.at_eof = false;
        self.last_data_ms = now;
    }

    /// Whether it should go idle at `now`.
    pub(super) fn goes_idle(&self, now: i64, timeout_ms: u64) -> bool {
        !self.done() && !self.idle && self.at_eof && now - self.last_data_ms >= timeout_ms as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_stay_with_their_reader_as_topics_grow() {
        for p in 1..5 {
            let owners: Vec<u32> = (0..12).map(|i| owner("orders", i, p)).collect();
            // Consecutive partitions go to consecutive readers: an even spread.
            for w in owners.windows(2) {
                assert_eq!(w[1], (w[0] + 1) % p);
            }
            for k in 0..p {
                assert_eq!(owners.iter().filter(|&&o| o == k).count(), 12 / p as usize);
            }
        }
        assert_eq!(owner("t", 3, 1), 0);
    }

    #[test]
    fn a_partition_goes_idle_only_at_its_end_and_after_the_timeout() {
        let mut p = PartitionReader::new("t".into(), 0, 0, None, 0);
        p.read(0, Some(100), 0);
        assert!(!p.goes_idle(1_000, 10), "not at its end");
        p.at_eof = true;
        assert!(!p.goes_idle(5, 10));
        assert!(p.goes_idle(10, 10));
        // Out-of-orderness 20: the watermark lags the largest timestamp by 21.
        assert_eq!(p.watermark(21), 79);
        let bounded = PartitionReader::new("t".into(), 0, 5, Some(5), 0);
        assert!(bounded.done());
    }
}

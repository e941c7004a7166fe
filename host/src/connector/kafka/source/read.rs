//! Reading batches, each of one partition; partitions reaching their end.

use std::time::Duration;

use anyhow::Result;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use super::{HEALTH_CHECK, KafkaSource, POLL_WAIT};
use crate::connector::kafka::partition::PartitionReader;
use crate::connector::source::carried_watermark;
use crate::manifest::{EventTime, TimestampFrom};
use crate::record::{Batch, Header};

impl KafkaSource {
    pub(super) fn index_of(&self, topic: &str, partition: i32) -> Option<usize> {
        if let Some(i) = self.last
            && let Some(p) = self.parts.get(i)
            && p.partition == partition
            && p.topic == topic
        {
            return Some(i);
        }
        self.parts
            .iter()
            .position(|p| p.partition == partition && p.topic == topic)
    }

    /// Reads a batch of records of one partition (empty when none is waiting).
    pub(super) fn read(&mut self, now: i64) -> Result<Batch> {
        let mut batch = Batch::with_capacity(self.batch_size, self.batch_size * 256);
        let mut part: Option<usize> = None;
        let mut counts = Counts::default();
        let mut cut = false;
        if let Some(m) = self.lookahead.take() {
            let i = self.index_of(m.topic(), m.partition());
            if let Some(i) = i {
                part = Some(i);
                let et = self.event_time.as_ref();
                cut = !push(&mut self.parts[i], et, &mut batch, &m, now, &mut counts);
            }
        }
        while !cut && batch.len() < self.batch_size {
            let wait = if batch.is_empty() {
                POLL_WAIT
            } else {
                Duration::ZERO
            };
            let polled = match self.consumer.poll(wait) {
                None => break,
                Some(Ok(m)) => Ok(m),
                Some(Err(e)) => Err(e),
            };
            match polled {
                Ok(m) => {
                    self.failing = None;
                    let Some(i) = self.index_of(m.topic(), m.partition()) else {
                        continue;
                    };
                    if part.is_some_and(|p| p != i) {
                        self.lookahead = Some(m.detach());
                        break;
                    }
                    part = Some(i);
                    let et = self.event_time.as_ref();
                    let go_on = push(&mut self.parts[i], et, &mut batch, &m, now, &mut counts);
                    self.last = Some(i);
                    if !go_on {
                        // The watermark this record carries goes out before what follows.
                        break;
                    }
                }
                Err(KafkaError::PartitionEOF(p)) => self.at_end(p)?,
                Err(e) => self.on_error(e)?,
            }
        }
        if batch.is_empty()
            && let Some((since, _)) = &self.failing
            && self.last_health_check.elapsed() >= HEALTH_CHECK
        {
            let since = *since;
            self.check_health(since)?;
        }
        if let Some(i) = part {
            self.last = Some(i);
            if self.cfg.bounded && self.parts[i].done() {
                self.pause(i);
            }
        }
        self.count(counts);
        if !batch.is_empty() {
            self.idle = false;
        }
        Ok(batch)
    }

    fn count(&mut self, counts: Counts) {
        self.metrics.watermark_markers.add(counts.markers);
        if counts.missing > 0 {
            if self.missing_timestamps == 0 {
                tracing::warn!(
                    "{}: records without a readable event time pass on without a timestamp",
                    self.who
                );
            }
            self.missing_timestamps += counts.missing;
            self.metrics.missing_timestamps.add(counts.missing);
        }
    }

    /// Stops fetching partition `i` (a bounded source read it to its end).
    pub(super) fn pause(&self, i: usize) {
        let p = &self.parts[i];
        let mut list = TopicPartitionList::new();
        list.add_partition(&p.topic, p.partition);
        if let Err(e) = self.consumer.pause(&list) {
            tracing::debug!("{}: pausing {}[{}]: {e}", self.who, p.topic, p.partition);
        }
    }

    /// A partition numbered `p` is at its end. librdkafka does not say of which topic:
    /// every partition with that number takes the consumer's position (past transaction
    /// markers) and counts as at its end until it reads again.
    pub(super) fn at_end(&mut self, p: i32) -> Result<()> {
        let positions = self.consumer.position().map_err(|e| self.client_error(e))?;
        for e in positions.elements() {
            if e.partition() != p {
                continue;
            }
            if let Some(i) = self.index_of(e.topic(), p)
                && let Offset::Offset(o) = e.offset()
            {
                let r = &mut self.parts[i];
                if o > r.offset {
                    r.offset = o.min(r.end.unwrap_or(i64::MAX).max(r.offset));
                }
            }
        }
        let mut done = Vec::new();
        for (i, r) in self.parts.iter_mut().enumerate() {
            if r.partition == p {
                r.at_eof = true;
                r.caught_up = true;
                if r.done() {
                    done.push(i);
                }
            }
        }
        for i in done {
            self.pause(i);
        }
        Ok(())
    }
}

/// Records of a batch counted apart.
#[derive(Default, Clone, Copy)]
struct Counts {
    /// Without a readable timestamp.
    missing: u64,
    /// Watermark markers (taken out).
    markers: u64,
}

/// Appends record `m` to `batch` and advances its partition `p` (unless a bounded
/// source is past its end). Returns false when the record moved the partition's
/// watermark (a watermark carried by records): the batch ends there.
fn push<M: Message>(
    p: &mut PartitionReader,
    event_time: Option<&EventTime>,
    batch: &mut Batch,
    m: &M,
    now: i64,
    counts: &mut Counts,
) -> bool {
    if p.done() {
        // Fetched past a bounded source's end: not part of what it reads.
        return true;
    }
    let value = m.payload().unwrap_or_default();
    if event_time.is_some_and(|e| e.record_watermarks.is_some()) {
        let carried = carried_watermark(event_time, value);
        let moved = carried.is_some_and(|(w, _)| p.max_ts == i64::MIN || w > p.max_ts);
        if let Some((w, true)) = carried {
            counts.markers += 1;
            p.read(m.offset(), Some(w), now);
            return !moved;
        }
        push_record(event_time, batch, m, now, counts);
        p.read(m.offset(), carried.map(|(w, _)| w), now);
        return !moved;
    }
    let ts = push_record(event_time, batch, m, now, counts);
    p.read(m.offset(), ts, now);
    true
}

/// Appends record `m` to `batch` with its timestamp, which it returns.
fn push_record<M: Message>(
    event_time: Option<&EventTime>,
    batch: &mut Batch,
    m: &M,
    now: i64,
    counts: &mut Counts,
) -> Option<i64> {
    let value = m.payload().unwrap_or_default();
    let ts = match event_time.map(|e| &e.from) {
        None | Some(TimestampFrom::Function) => None,
        Some(TimestampFrom::Ingestion) => Some(now),
        Some(TimestampFrom::Kafka) => m.timestamp().to_millis(),
        Some(TimestampFrom::Field(path)) => {
            path.find(value).ok().and_then(|f| f.epoch_millis().ok())
        }
    };
    if ts.is_none() && event_time.is_some_and(|e| !matches!(e.from, TimestampFrom::Function)) {
        counts.missing += 1;
    }
    let record = batch.len() as u32;
    batch.push(m.key(), value, ts);
    if let Some(hs) = m.headers() {
        for h in hs.iter() {
            batch.headers.push(Header {
                record,
                name: h.key.to_owned(),
                value: h.value.map(<[u8]>::to_vec).unwrap_or_default(),
            });
        }
    }
    ts
}

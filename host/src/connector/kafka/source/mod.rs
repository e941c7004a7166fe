//! A parallel reader of a Kafka source: the partitions it owns, each a split with its own
//! watermark and idleness, read through one consumer with manual assignment (no group
//! membership: checkpoints, not the group, say where the reader is).
//!
//! A batch holds records of one partition, so a function that sets timestamps advances
//! the partition they came from. The reader's watermark is the minimum over its
//! partitions that are neither finished nor idle.
//!
//! - `discovery`: which partitions the reader owns and where each starts;
//! - `read`: batches of one partition, and partitions reaching their end;
//! - `health`: the consumer's errors, and waiting for brokers out of reach.

mod discovery;
mod health;
mod read;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::Offset;
use rdkafka::TopicPartitionList;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedMessage;

use super::client;
use super::error::KafkaFailure;
use super::partition::{PartitionReader, owner};
use crate::checkpoint::{OperatorState, PartitionState};
use crate::connector::source::advance_watermark;
use crate::connector::{Source, SourceEvent};
use crate::manifest::{EventTime, KafkaSource as Config, KafkaStart, KafkaTopics, TimestampFrom};
use crate::runtime::{Clock, NodeMetrics};

/// How long a poll for the first record of a batch may wait.
const POLL_WAIT: Duration = Duration::from_millis(1);
/// While the brokers fail, how often the reader checks whether they are back.
const HEALTH_CHECK: Duration = Duration::from_secs(1);

/// Who a reader is: its source, its instance, and how many there are.
pub struct ReaderOf<'a> {
    /// The source's name.
    pub name: &'a str,
    /// The job's name (the default consumer group is named after it).
    pub job: &'a str,
    /// This reader.
    pub subtask: u32,
    /// Readers in all.
    pub parallelism: u32,
}

/// One parallel reader of a Kafka source.
pub struct KafkaSource {
    who: String,
    cfg: Config,
    subtask: u32,
    parallelism: u32,
    consumer: client::Reader,
    parts: Vec<PartitionReader>,
    pattern: Option<regex::Regex>,
    event_time: Option<EventTime>,
    batch_size: usize,
    clock: Arc<dyn Clock>,
    metrics: Arc<NodeMetrics>,
    queue: VecDeque<SourceEvent>,
    started: bool,
    emitted: i64,
    idle: bool,
    caught_up: bool,
    /// A record of another partition than the batch being read: it starts the next one.
    lookahead: Option<OwnedMessage>,
    /// The partition of the last batch (for timestamps set by the function).
    last: Option<usize>,
    next_discovery: Instant,
    /// Since when the brokers fail, and how.
    failing: Option<(Instant, String)>,
    last_health_check: Instant,
    /// Offsets of the last snapshot, committed to the group when it completes.
    snapshot: RefCell<Vec<PartitionState>>,
    missing_timestamps: u64,
}

impl KafkaSource {
    /// A reader of the partitions reader `of.subtask` owns: resumed where `restored` says
    /// (the positions of every old reader of the source), new partitions from their start.
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        of: ReaderOf<'_>,
        cfg: &Config,
        event_time: Option<EventTime>,
        restored: Option<Vec<PartitionState>>,
        batch_size: usize,
        clock: Arc<dyn Clock>,
        metrics: Arc<NodeMetrics>,
    ) -> Result<Self> {
        let who = format!("Kafka source `{}`", of.name);
        let group = cfg
            .group_id
            .clone()
            .unwrap_or_else(|| format!("weir-{}-{}", of.job, of.name));
        let consumer = client::consumer(&who, &cfg.brokers, &group, &cfg.properties)?;
        let pattern = match &cfg.topics {
            KafkaTopics::Pattern(p) => {
                Some(regex::Regex::new(&format!("^(?:{p})$")).context("the topic pattern")?)
            }
            KafkaTopics::Names(_) => None,
        };
        let now = clock.now_ms();
        let mut s = Self {
            who,
            cfg: cfg.clone(),
            subtask: of.subtask,
            parallelism: of.parallelism,
            consumer,
            parts: Vec::new(),
            pattern,
            event_time,
            batch_size,
            clock,
            metrics,
            queue: VecDeque::new(),
            started: false,
            emitted: i64::MIN,
            idle: false,
            caught_up: false,
            lookahead: None,
            last: None,
            next_discovery: Instant::now() + Duration::from_millis(cfg.discovery_interval_ms),
            failing: None,
            last_health_check: Instant::now(),
            snapshot: RefCell::new(Vec::new()),
            missing_timestamps: 0,
        };
        let wait = Duration::from_millis(cfg.connect_timeout_ms);
        let found = s.discover(wait, true)?;
        let restoring = restored.is_some();
        if let Some(old) = restored {
            for p in old {
                if owner(&p.topic, p.partition, s.parallelism) == s.subtask {
                    let mut r = PartitionReader::restored(&p, now);
                    if cfg.bounded && r.end.is_none() {
                        r.end = Some(s.high(&r.topic, r.partition, wait)?);
                    }
                    s.parts.push(r);
                }
            }
        }
        let new: Vec<(String, i32)> = found.into_iter().filter(|(t, p)| !s.has(t, *p)).collect();
        // Partitions a checkpoint does not know appeared after it: read from their start.
        let start = if restoring {
            KafkaStart::Earliest
        } else {
            cfg.start
        };
        let added = s.resolve(&new, start, wait)?;
        s.parts.extend(added);
        s.parts
            .sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        s.assign(0, false)?;
        *s.snapshot.borrow_mut() = s.parts.iter().map(PartitionReader::state).collect();
        Ok(s)
    }

    fn has(&self, topic: &str, partition: i32) -> bool {
        self.parts
            .iter()
            .any(|p| p.partition == partition && p.topic == topic)
    }

    fn client_error(&self, e: KafkaError) -> KafkaFailure {
        KafkaFailure::Client {
            who: self.who.clone(),
            cause: e.to_string(),
        }
    }

    fn lag(&self) -> i64 {
        crate::connector::source::watermark_lag(self.event_time.as_ref())
    }

    fn next(&mut self) -> Result<SourceEvent> {
        if let Some(e) = self.queue.pop_front() {
            return Ok(e);
        }
        if !self.started {
            self.started = true;
            if self.event_time.is_none() {
                // No timestamps, so nothing from here can be late: never hold others back.
                self.emitted = i64::MAX;
                return Ok(SourceEvent::Watermark(i64::MAX));
            }
            self.advance_watermark();
            if let Some(e) = self.queue.pop_front() {
                return Ok(e);
            }
        }
        if self.cfg.bounded && self.parts.iter().all(PartitionReader::done) {
            if !self.caught_up {
                self.caught_up = true;
                self.queue.push_back(SourceEvent::End);
                return Ok(SourceEvent::CaughtUp);
            }
            return Ok(SourceEvent::End);
        }
        if !self.cfg.bounded && Instant::now() >= self.next_discovery {
            self.rediscover()?;
        }
        let now = self.clock.now_ms();
        let batch = self.read(now)?;
        if batch.is_empty() {
            // Watermark markers alone still move the watermark.
            self.advance_watermark();
            self.check_caught_up();
            self.check_idle(now);
            return Ok(self.queue.pop_front().unwrap_or(SourceEvent::Pending));
        }
        self.metrics.records_in.add(batch.len() as u64);
        self.queue.push_back(SourceEvent::Data(batch));
        self.advance_watermark();
        Ok(self.queue.pop_front().expect("just queued"))
    }

    fn check_caught_up(&mut self) {
        if !self.caught_up && self.parts.iter().all(|p| p.caught_up || p.done()) {
            self.caught_up = true;
            self.queue.push_back(SourceEvent::CaughtUp);
        }
    }

    fn check_idle(&mut self, now: i64) {
        let timeout = self.event_time.as_ref().and_then(|e| e.idle_timeout_ms);
        let mut changed = false;
        if let Some(timeout) = timeout {
            for p in &mut self.parts {
                if p.goes_idle(now, timeout) {
                    p.idle = true;
                    changed = true;
                }
            }
        }
        if changed {
            self.advance_watermark();
        }
        // A reader with nothing open (no partition of its own, or all idle) does not
        // hold the watermark downstream back.
        let open: Vec<&PartitionReader> = self.parts.iter().filter(|p| !p.done()).collect();
        let all_idle = open.iter().all(|p| p.idle);
        if !self.idle && all_idle && (timeout.is_some() || open.is_empty()) {
            self.idle = true;
            self.queue.push_back(SourceEvent::Idle);
        }
    }

    fn advance_watermark(&mut self) {
        if self.event_time.is_none() {
            return;
        }
        let lag = self.lag();
        let active = self
            .parts
            .iter()
            .filter(|p| !p.done() && !p.idle)
            .map(|p| p.watermark(lag));
        if let Some(wm) = advance_watermark(active, &mut self.emitted) {
            self.queue.push_back(SourceEvent::Watermark(wm));
        }
    }
}

impl Source for KafkaSource {
    fn next_event(&mut self) -> Result<SourceEvent> {
        self.next()
    }

    fn positions(&self) -> OperatorState {
        let partitions: Vec<PartitionState> =
            self.parts.iter().map(PartitionReader::state).collect();
        *self.snapshot.borrow_mut() = partitions.clone();
        OperatorState::KafkaSource { partitions }
    }

    fn timestamps_from_function(&self) -> bool {
        self.event_time
            .as_ref()
            .is_some_and(|e| e.from == TimestampFrom::Function)
    }

    fn observe(&mut self, max_timestamp: i64) {
        if let Some(i) = self.last {
            let p = &mut self.parts[i];
            p.max_ts = p.max_ts.max(max_timestamp);
            self.advance_watermark();
        }
    }

    fn checkpoint_complete(&mut self, _id: u64) -> Result<()> {
        // For lag monitoring only (as Flink): the checkpoint, not the group, is where a
        // restored reader resumes.
        if self.cfg.group_id.is_none() {
            return Ok(());
        }
        let mut list = TopicPartitionList::new();
        for p in self.snapshot.borrow().iter() {
            list.add_partition_offset(&p.topic, p.partition, Offset::Offset(p.offset))
                .map_err(|e| self.client_error(e))?;
        }
        if list.count() > 0
            && let Err(e) = self.consumer.commit(&list, CommitMode::Async)
        {
            tracing::warn!("{}: committing offsets to the group: {e}", self.who);
        }
        Ok(())
    }
}

//! A parallel reader of a Kafka source: the partitions it owns, each a split with its own
//! watermark and idleness, read through one consumer with manual assignment (no group
//! membership: checkpoints, not the group, say where the reader is).
//!
//! A batch holds records of one partition, so a function that sets timestamps advances
//! the partition they came from. The reader's watermark is the minimum over its
//! partitions that are neither finished nor idle.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::Offset;
use rdkafka::TopicPartitionList;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message, OwnedMessage};

use super::client::{self, CALL_TIMEOUT};
use super::error::{KafkaFailure, is_transient, is_unauthorized};
use super::partition::{PartitionReader, owner};
use crate::checkpoint::{OperatorState, PartitionState};
use crate::connector::{Source, SourceEvent};
use crate::manifest::{EventTime, KafkaSource as Config, KafkaStart, KafkaTopics, TimestampFrom};
use crate::record::{Batch, Header};
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
    consumer: BaseConsumer,
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

    /// The partitions of the source this reader owns, as the brokers know them now.
    fn discover(&self, wait: Duration, first: bool) -> Result<Vec<(String, i32)>, KafkaFailure> {
        let counts = match &self.cfg.topics {
            KafkaTopics::Names(names) => {
                let found = client::partitions(
                    &self.who,
                    &self.cfg.brokers,
                    &self.consumer,
                    Some(names),
                    wait,
                )?;
                if first
                    && let Some(missing) =
                        names.iter().find(|n| !found.iter().any(|(t, _)| t == *n))
                {
                    return Err(KafkaFailure::MissingTopic {
                        who: self.who.clone(),
                        topic: missing.clone(),
                    });
                }
                found
            }
            KafkaTopics::Pattern(_) => {
                let re = self.pattern.as_ref().expect("patterns are compiled");
                client::partitions(&self.who, &self.cfg.brokers, &self.consumer, None, wait)?
                    .into_iter()
                    .filter(|(t, _)| !t.starts_with("__") && re.is_match(t))
                    .collect()
            }
        };
        Ok(counts
            .into_iter()
            .flat_map(|(t, n)| (0..n).map(move |p| (t.clone(), p)))
            .filter(|(t, p)| owner(t, *p, self.parallelism) == self.subtask)
            .collect())
    }

    /// The end of a partition: the last stable offset (what a read-committed reader can
    /// read now).
    fn high(&self, topic: &str, partition: i32, wait: Duration) -> Result<i64, KafkaFailure> {
        Ok(self.watermarks(topic, partition, wait)?.1)
    }

    fn watermarks(
        &self,
        topic: &str,
        partition: i32,
        wait: Duration,
    ) -> Result<(i64, i64), KafkaFailure> {
        client::with_wait(&self.who, &self.cfg.brokers, wait, |t| {
            self.consumer.fetch_watermarks(topic, partition, t)
        })
        .map_err(|e| self.in_partition(e, topic, partition))
    }

    fn in_partition(&self, e: KafkaFailure, topic: &str, partition: i32) -> KafkaFailure {
        match e {
            KafkaFailure::Client { who, cause } => KafkaFailure::Partition {
                who,
                topic: topic.to_owned(),
                partition,
                cause,
            },
            other => other,
        }
    }

    /// Readers of `new` partitions, starting where `start` says.
    fn resolve(
        &self,
        new: &[(String, i32)],
        start: KafkaStart,
        wait: Duration,
    ) -> Result<Vec<PartitionReader>, KafkaFailure> {
        let now = self.clock.now_ms();
        let mut out = Vec::new();
        let mut list = TopicPartitionList::new();
        for (t, p) in new {
            let (low, high) = self.watermarks(t, *p, wait)?;
            let offset = match start {
                KafkaStart::Earliest | KafkaStart::Committed | KafkaStart::Timestamp(_) => low,
                KafkaStart::Latest => high,
            };
            let end = self.cfg.bounded.then_some(high);
            out.push(PartitionReader::new(t.clone(), *p, offset, end, now));
            let o = match start {
                KafkaStart::Timestamp(ts) => Offset::Offset(ts),
                _ => Offset::Invalid,
            };
            list.add_partition_offset(t, *p, o)
                .map_err(|e| self.client_error(e))?;
        }
        if out.is_empty() {
            return Ok(out);
        }
        let answer = match start {
            KafkaStart::Committed => Some(client::with_wait(
                &self.who,
                &self.cfg.brokers,
                wait,
                |t| self.consumer.committed_offsets(list.clone(), t),
            )?),
            KafkaStart::Timestamp(_) => Some(client::with_wait(
                &self.who,
                &self.cfg.brokers,
                wait,
                |t| self.consumer.offsets_for_times(list.clone(), t),
            )?),
            _ => None,
        };
        if let Some(answer) = answer {
            for e in answer.elements() {
                let Some(r) = out
                    .iter_mut()
                    .find(|r| r.partition == e.partition() && r.topic == e.topic())
                else {
                    continue;
                };
                match (start, e.offset()) {
                    (_, Offset::Offset(o)) => r.offset = o.max(r.offset),
                    // No record at or after the time: from the end.
                    (KafkaStart::Timestamp(_), Offset::End) => {
                        r.offset = self.high(&r.topic, r.partition, wait)?
                    }
                    // No committed offset: from the start.
                    _ => {}
                }
            }
        }
        Ok(out)
    }

    fn client_error(&self, e: KafkaError) -> KafkaFailure {
        KafkaFailure::Client {
            who: self.who.clone(),
            cause: e.to_string(),
        }
    }

    /// Assigns partitions `from..` (all of them at the start, new ones when discovered).
    fn assign(&self, from: usize, incremental: bool) -> Result<(), KafkaFailure> {
        let mut list = TopicPartitionList::new();
        for p in self.parts[from..].iter().filter(|p| !p.done()) {
            list.add_partition_offset(&p.topic, p.partition, Offset::Offset(p.offset))
                .map_err(|e| self.client_error(e))?;
        }
        if incremental {
            self.consumer.incremental_assign(&list)
        } else {
            self.consumer.assign(&list)
        }
        .map_err(|e| self.client_error(e))
    }

    fn out_of_orderness(&self) -> i64 {
        self.event_time
            .as_ref()
            .map_or(0, |e| e.max_out_of_orderness_ms as i64)
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
            self.check_caught_up();
            self.check_idle(now);
            return Ok(self.queue.pop_front().unwrap_or(SourceEvent::Pending));
        }
        self.metrics.records_in.add(batch.len() as u64);
        self.queue.push_back(SourceEvent::Data(batch));
        self.advance_watermark();
        Ok(self.queue.pop_front().expect("just queued"))
    }

    /// Looks up topics and partitions again; new ones this reader owns are read from
    /// their start.
    fn rediscover(&mut self) -> Result<()> {
        self.next_discovery =
            Instant::now() + Duration::from_millis(self.cfg.discovery_interval_ms);
        let found = match self.discover(CALL_TIMEOUT, false) {
            Ok(f) => f,
            Err(e @ KafkaFailure::Unauthorized { .. }) => return Err(e.into()),
            Err(e) => {
                tracing::warn!("{e}: looking for new partitions again later");
                return Ok(());
            }
        };
        let new: Vec<(String, i32)> = found
            .into_iter()
            .filter(|(t, p)| !self.has(t, *p))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let added = self.resolve(&new, KafkaStart::Earliest, CALL_TIMEOUT)?;
        let from = self.parts.len();
        for p in &added {
            tracing::info!(
                "{}: reading new partition {}[{}] from offset {}",
                self.who,
                p.topic,
                p.partition,
                p.offset
            );
        }
        self.parts.extend(added);
        self.assign(from, true)?;
        Ok(())
    }

    fn index_of(&self, topic: &str, partition: i32) -> Option<usize> {
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
    fn read(&mut self, now: i64) -> Result<Batch> {
        let mut batch = Batch::with_capacity(self.batch_size, self.batch_size * 256);
        let mut part: Option<usize> = None;
        let mut missing = 0u64;
        if let Some(m) = self.lookahead.take() {
            let i = self.index_of(m.topic(), m.partition());
            if let Some(i) = i {
                part = Some(i);
                let et = self.event_time.as_ref();
                push(&mut self.parts[i], et, &mut batch, &m, now, &mut missing);
            }
        }
        while batch.len() < self.batch_size {
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
                    push(&mut self.parts[i], et, &mut batch, &m, now, &mut missing);
                    self.last = Some(i);
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
        if missing > 0 {
            if self.missing_timestamps == 0 {
                tracing::warn!(
                    "{}: records without a readable event time pass on without a timestamp",
                    self.who
                );
            }
            self.missing_timestamps += missing;
            self.metrics.missing_timestamps.add(missing);
        }
        if !batch.is_empty() {
            self.idle = false;
        }
        Ok(batch)
    }
}

/// Appends record `m` to `batch` and advances its partition `p` (unless a bounded
/// source is past its end).
fn push<M: Message>(
    p: &mut PartitionReader,
    event_time: Option<&EventTime>,
    batch: &mut Batch,
    m: &M,
    now: i64,
    missing: &mut u64,
) {
    if p.done() {
        // Fetched past a bounded source's end: not part of what it reads.
        return;
    }
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
        *missing += 1;
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
    p.read(m.offset(), ts, now);
}

impl KafkaSource {
    /// Stops fetching partition `i` (a bounded source read it to its end).
    fn pause(&self, i: usize) {
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
    fn at_end(&mut self, p: i32) -> Result<()> {
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

    /// An error from the consumer: brokers out of reach are waited for (librdkafka
    /// reconnects) up to the connect timeout; anything else fails the reader.
    fn on_error(&mut self, e: KafkaError) -> Result<()> {
        if is_transient(&e) {
            if self.failing.is_none() {
                tracing::warn!("{}: {e} (retrying)", self.who);
            }
            let since = self.failing.as_ref().map_or_else(Instant::now, |(t, _)| *t);
            self.failing = Some((since, e.to_string()));
            return self.check_failing();
        }
        if matches!(
            e.rdkafka_error_code(),
            Some(rdkafka::error::RDKafkaErrorCode::OffsetOutOfRange)
        ) {
            tracing::warn!(
                "{}: {e}: records were deleted before they were read (retention); reading on from the oldest kept",
                self.who
            );
            return Ok(());
        }
        let topics = self
            .parts
            .iter()
            .map(|p| p.topic.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
            .join(", ");
        if is_unauthorized(&e) {
            return Err(KafkaFailure::Unauthorized {
                who: self.who.clone(),
                topic: topics,
                action: "reading",
                cause: e.to_string(),
            }
            .into());
        }
        Err(KafkaFailure::Client {
            who: self.who.clone(),
            cause: format!("reading {topics}: {e}"),
        }
        .into())
    }

    fn check_failing(&self) -> Result<()> {
        if let Some((since, cause)) = &self.failing
            && since.elapsed() >= Duration::from_millis(self.cfg.connect_timeout_ms)
        {
            return Err(KafkaFailure::Unreachable {
                who: self.who.clone(),
                brokers: self.cfg.brokers.clone(),
                waited_ms: since.elapsed().as_millis() as u64,
                cause: cause.clone(),
            }
            .into());
        }
        Ok(())
    }

    /// While the brokers fail and nothing is read: whether they answer again.
    fn check_health(&mut self, since: Instant) -> Result<()> {
        self.last_health_check = Instant::now();
        match self
            .consumer
            .fetch_metadata(None, Duration::from_millis(500))
        {
            Ok(_) => {
                tracing::info!(
                    "{}: the brokers answer again after {} ms",
                    self.who,
                    since.elapsed().as_millis()
                );
                self.failing = None;
                Ok(())
            }
            Err(_) => self.check_failing(),
        }
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
        let ooo = self.out_of_orderness();
        // With no partition active the watermark stays where it is: idle partitions may
        // resume with data it must not have passed (the reader reports itself idle).
        let Some(wm) = self
            .parts
            .iter()
            .filter(|p| !p.done() && !p.idle)
            .map(|p| p.watermark(ooo))
            .min()
        else {
            return;
        };
        if wm > self.emitted {
            self.emitted = wm;
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

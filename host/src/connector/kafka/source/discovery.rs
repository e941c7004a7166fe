//! Which partitions a reader owns (discovered at the start, and again while it runs),
//! and where each starts reading.

use std::time::{Duration, Instant};

use anyhow::Result;
use rdkafka::Offset;
use rdkafka::TopicPartitionList;
use rdkafka::consumer::Consumer;

use super::KafkaSource;
use crate::connector::kafka::client::{self, CALL_TIMEOUT};
use crate::connector::kafka::error::KafkaFailure;
use crate::connector::kafka::partition::{PartitionReader, owner};
use crate::manifest::{KafkaStart, KafkaTopics};

impl KafkaSource {
    /// The partitions of the source this reader owns, as the brokers know them now.
    pub(super) fn discover(
        &self,
        wait: Duration,
        first: bool,
    ) -> Result<Vec<(String, i32)>, KafkaFailure> {
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
    pub(super) fn high(
        &self,
        topic: &str,
        partition: i32,
        wait: Duration,
    ) -> Result<i64, KafkaFailure> {
        Ok(self.watermarks(topic, partition, wait)?.1)
    }

    pub(super) fn watermarks(
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

    pub(super) fn in_partition(
        &self,
        e: KafkaFailure,
        topic: &str,
        partition: i32,
    ) -> KafkaFailure {
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
    pub(super) fn resolve(
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

    /// Assigns partitions `from..` (all of them at the start, new ones when discovered).
    pub(super) fn assign(&self, from: usize, incremental: bool) -> Result<(), KafkaFailure> {
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

    /// Looks up topics and partitions again; new ones this reader owns are read from
    /// their start.
    pub(super) fn rediscover(&mut self) -> Result<()> {
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
}

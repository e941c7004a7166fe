//! The consumer's errors: brokers out of reach are waited for (librdkafka reconnects)
//! up to the connect timeout; an offset out of range is checked against the broker's;
//! anything else fails the reader with a named error.

use std::time::{Duration, Instant};

use anyhow::Result;
use rdkafka::consumer::Consumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::KafkaSource;
use crate::connector::kafka::client::CALL_TIMEOUT;
use crate::connector::kafka::error::{KafkaFailure, is_transient, is_unauthorized};

impl KafkaSource {
    /// An error from the consumer: brokers out of reach are waited for (librdkafka
    /// reconnects) up to the connect timeout; anything else fails the reader.
    pub(super) fn on_error(&mut self, e: KafkaError) -> Result<()> {
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
            Some(RDKafkaErrorCode::AutoOffsetReset | RDKafkaErrorCode::OffsetOutOfRange)
        ) {
            return self.out_of_range(&e);
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

    /// The broker said a partition's offset is out of range, and librdkafka stopped
    /// fetching it (`auto.offset.reset = error`: it does not jump to an end of the
    /// partition on its own, and does not say which partition it was). Each partition's
    /// offset is checked against what the broker holds now: one whose records were
    /// deleted before they were read (retention) goes on from the oldest kept, with a
    /// warning; one past the partition's end (the log was truncated) fails the reader;
    /// one in range goes on where it was (the error was a passing one). Every partition
    /// is then fetched again from where the reader is.
    fn out_of_range(&mut self, e: &KafkaError) -> Result<()> {
        for i in 0..self.parts.len() {
            if self.parts[i].done() {
                continue;
            }
            let (topic, partition, offset) = {
                let p = &self.parts[i];
                (p.topic.clone(), p.partition, p.offset)
            };
            let (low, high) = self.watermarks(&topic, partition, CALL_TIMEOUT)?;
            if offset < low {
                tracing::warn!(
                    "{}: topic `{topic}` partition {partition}: records {offset}..{low} were deleted before they were read (retention); reading on from offset {low}",
                    self.who
                );
                self.parts[i].offset = low;
            } else if offset > high {
                return Err(KafkaFailure::Partition {
                    who: self.who.clone(),
                    topic,
                    partition,
                    cause: format!(
                        "the reader is at offset {offset}, past the partition's end ({high}): records it read are gone (was the log truncated?): {e}"
                    ),
                }
                .into());
            }
        }
        // A record fetched for the next batch is fetched again.
        self.lookahead = None;
        self.assign(0, false)?;
        Ok(())
    }

    pub(super) fn check_failing(&self) -> Result<()> {
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
    pub(super) fn check_health(&mut self, since: Instant) -> Result<()> {
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
}

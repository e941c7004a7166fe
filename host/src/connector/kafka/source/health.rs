//! The consumer's errors: brokers out of reach are waited for (librdkafka reconnects)
//! up to the connect timeout; anything else fails the reader with a named error.

use std::time::{Duration, Instant};

use anyhow::Result;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;

use super::KafkaSource;
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

//! Making librdkafka clients from a manifest's settings, and the calls every client
//! makes against the brokers (metadata, watermarks), with errors named.

use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::error::{KafkaFailure, is_transient, is_unauthorized};

/// How long one call to the brokers may take once they answered (metadata, offsets).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A configuration with weir's settings first and the manifest's properties over them.
pub fn config(
    brokers: &str,
    defaults: &[(&str, &str)],
    properties: &[(String, String)],
) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers);
    for (k, v) in defaults {
        c.set(*k, *v);
    }
    for (k, v) in properties {
        c.set(k, v);
    }
    c
}

/// What weir's consumers tell librdkafka: its global errors are logged, except the end
/// of a partition. With `enable.partition.eof`, librdkafka reports a partition's end as
/// an error event, which `poll` also returns to the reader (where it is no error); logged,
/// a bounded source would print an error at every partition's end.
pub struct ReaderContext;

impl ClientContext for ReaderContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if worth_logging(&error) {
            tracing::error!(target: "librdkafka", "librdkafka: {error}: {reason}");
        }
    }
}

/// Whether a global error of a consumer is logged (all but a partition's end).
fn worth_logging(e: &KafkaError) -> bool {
    e.rdkafka_error_code() != Some(RDKafkaErrorCode::PartitionEOF)
}

impl ConsumerContext for ReaderContext {}

/// A consumer of weir's.
pub type Reader = BaseConsumer<ReaderContext>;

/// A consumer that reads assigned partitions (it never joins its group; `group` is where
/// offsets are committed, or only a name librdkafka requires).
pub fn consumer(
    who: &str,
    brokers: &str,
    group: &str,
    properties: &[(String, String)],
) -> Result<Reader, KafkaFailure> {
    config(
        brokers,
        &[
            ("group.id", group),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("enable.partition.eof", "true"),
            ("isolation.level", "read_committed"),
            // An offset out of range is the reader's to look into (`source::health`), not
            // a jump to the start of the partition, which would read its records again.
            ("auto.offset.reset", "error"),
        ],
        properties,
    )
    .create_with_context(ReaderContext)
    .map_err(|e| KafkaFailure::Client {
        who: who.to_owned(),
        cause: format!("cannot create the consumer: {e}"),
    })
}

/// The partition counts of `topics` (`None`: every topic of the cluster), waiting up to
/// `wait` for the brokers. Topics that do not exist are left out.
pub fn partitions(
    who: &str,
    brokers: &str,
    c: &Reader,
    topics: Option<&[String]>,
    wait: Duration,
) -> Result<Vec<(String, i32)>, KafkaFailure> {
    let mut out = Vec::new();
    let lookups: Vec<Option<&str>> = match topics {
        Some(t) => t.iter().map(|t| Some(t.as_str())).collect(),
        None => vec![None],
    };
    for topic in lookups {
        let md = with_wait(who, brokers, wait, |t| c.fetch_metadata(topic, t))?;
        for t in md.topics() {
            match t.error() {
                None => out.push((t.name().to_owned(), t.partitions().len() as i32)),
                Some(e) => {
                    let e = KafkaError::MetadataFetch(e.into());
                    if is_unauthorized(&e) {
                        return Err(KafkaFailure::Unauthorized {
                            who: who.to_owned(),
                            topic: t.name().to_owned(),
                            action: "describing",
                            cause: e.to_string(),
                        });
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Runs `call` (given how long it may take) until it succeeds, fails for a reason other
/// than unreachable brokers, or `wait` has passed (then the brokers are named
/// unreachable), backing off between tries.
pub fn with_wait<T>(
    who: &str,
    brokers: &str,
    wait: Duration,
    mut call: impl FnMut(Duration) -> Result<T, KafkaError>,
) -> Result<T, KafkaFailure> {
    let started = Instant::now();
    let mut backoff = Duration::from_millis(100);
    loop {
        let left = wait.saturating_sub(started.elapsed());
        match call(left.clamp(Duration::from_millis(100), CALL_TIMEOUT)) {
            Ok(v) => return Ok(v),
            Err(e) if is_transient(&e) => {
                if started.elapsed() + backoff >= wait {
                    return Err(KafkaFailure::Unreachable {
                        who: who.to_owned(),
                        brokers: brokers.to_owned(),
                        waited_ms: started.elapsed().as_millis() as u64,
                        cause: e.to_string(),
                    });
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            Err(e) => {
                return Err(KafkaFailure::Client {
                    who: who.to_owned(),
                    cause: e.to_string(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_end_is_not_logged_as_an_error_but_real_errors_are() {
        assert!(!worth_logging(&KafkaError::Global(
            RDKafkaErrorCode::PartitionEOF
        )));
        for code in [
            RDKafkaErrorCode::AllBrokersDown,
            RDKafkaErrorCode::TopicAuthorizationFailed,
            RDKafkaErrorCode::BrokerTransportFailure,
        ] {
            assert!(worth_logging(&KafkaError::Global(code)), "{code:?}");
        }
    }
}

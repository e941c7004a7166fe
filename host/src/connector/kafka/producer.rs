//! Producers of Kafka sinks: made from the manifest's settings, sending records with
//! backpressure, collecting failed deliveries, and the transaction calls with their
//! errors told apart (retried while the brokers are out of reach, named otherwise).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

use super::client;
use super::error::{KafkaFailure, is_transient, is_unauthorized};
use crate::operator::RecordSummary;
use crate::record::RecordRef;

/// The first delivery that failed (after librdkafka's own retries), and how many did.
#[derive(Debug, Default)]
pub struct Failures {
    first: Option<KafkaFailure>,
    count: u64,
}

/// What a sink's producer reports back from its polling thread.
pub struct SinkContext {
    who: String,
    failures: Mutex<Failures>,
}

impl ClientContext for SinkContext {}

impl ProducerContext for SinkContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, m)) = result {
            let record = RecordSummary::of(&RecordRef {
                key: m.key(),
                value: m.payload().unwrap_or_default(),
                timestamp: m.timestamp().to_millis(),
                headers: &[],
            });
            let failure = classify(&self.who, m.topic(), Some(m.partition()), e, &record.0);
            let mut f = self.failures.lock().expect("failures");
            f.count += 1;
            f.first.get_or_insert(failure);
        }
    }
}

/// A failed write as the error the sink reports.
fn classify(
    who: &str,
    topic: &str,
    partition: Option<i32>,
    e: &KafkaError,
    record: &str,
) -> KafkaFailure {
    if is_unauthorized(e) {
        return KafkaFailure::Unauthorized {
            who: who.to_owned(),
            topic: topic.to_owned(),
            action: "writing",
            cause: e.to_string(),
        };
    }
    KafkaFailure::Record {
        who: who.to_owned(),
        topic: topic.to_owned(),
        partition: partition.filter(|p| *p >= 0),
        cause: e.to_string(),
        record: record.to_owned(),
    }
}

/// A sink's producer.
pub type SinkProducer = ThreadedProducer<SinkContext>;

/// The settings of a sink's producer.
pub struct ProducerConfig<'a> {
    /// The sink, for errors.
    pub who: &'a str,
    /// Bootstrap brokers.
    pub brokers: &'a str,
    /// The manifest's properties.
    pub properties: &'a [(String, String)],
    /// The transactional id (exactly-once).
    pub transactional_id: Option<&'a str>,
    /// `transaction.timeout.ms` when the manifest does not set it.
    pub transaction_timeout_ms: u64,
}

/// Makes a producer (transactional when it has an id; `init_transactions` is the
/// caller's).
pub fn producer(c: &ProducerConfig<'_>) -> Result<SinkProducer, KafkaFailure> {
    let timeout = c.transaction_timeout_ms.to_string();
    let mut defaults: Vec<(&str, &str)> = vec![
        // Java's default partitioner: keys land where Java producers put them.
        ("partitioner", "murmur2_random"),
        ("linger.ms", "5"),
        ("enable.idempotence", "true"),
    ];
    if let Some(id) = c.transactional_id {
        defaults.push(("transactional.id", id));
        defaults.push(("transaction.timeout.ms", &timeout));
    }
    let context = SinkContext {
        who: c.who.to_owned(),
        failures: Mutex::new(Failures::default()),
    };
    client::config(c.brokers, &defaults, c.properties)
        .create_with_context(context)
        .map_err(|e| KafkaFailure::Client {
            who: c.who.to_owned(),
            cause: format!("cannot create the producer: {e}"),
        })
}

/// The first failed delivery since the last call, if any.
pub fn take_failure(p: &SinkProducer) -> Option<KafkaFailure> {
    let mut f = p.context().failures.lock().expect("failures");
    let first = f.first.take()?;
    if f.count > 1 {
        tracing::warn!("{} more record(s) failed as well", f.count - 1);
    }
    f.count = 0;
    Some(first)
}

/// Sends one record to `topic`, waiting while librdkafka's queue is full (for at most
/// `wait`: then the brokers are out of reach).
pub fn send(
    p: &SinkProducer,
    who: &str,
    brokers: &str,
    topic: &str,
    r: &RecordRef<'_>,
    wait: Duration,
) -> Result<(), KafkaFailure> {
    let mut rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).payload(r.value);
    if let Some(k) = r.key {
        rec = rec.key(k);
    }
    if let Some(t) = r.timestamp {
        rec = rec.timestamp(t);
    }
    if !r.headers.is_empty() {
        let mut hs = OwnedHeaders::new_with_capacity(r.headers.len());
        for h in r.headers {
            hs = hs.insert(Header {
                key: &h.name,
                value: Some(&h.value),
            });
        }
        rec = rec.headers(hs);
    }
    let mut full_since: Option<Instant> = None;
    loop {
        match p.send(rec) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                let since = *full_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= wait {
                    return Err(KafkaFailure::Unreachable {
                        who: who.to_owned(),
                        brokers: brokers.to_owned(),
                        waited_ms: since.elapsed().as_millis() as u64,
                        cause: "the producer's queue stayed full".into(),
                    });
                }
                // Backpressure: wait for deliveries to make room.
                let _ = p.flush(Duration::from_millis(10));
                rec = back;
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge), _)) => {
                return Err(KafkaFailure::Refused {
                    who: who.to_owned(),
                    topic: topic.to_owned(),
                    cause: format!(
                        "too large: {} bytes, over the producer's `message.max.bytes`",
                        r.value.len() + r.key.map_or(0, <[u8]>::len)
                    ),
                    record: RecordSummary::of(r).0,
                });
            }
            Err((e, _)) => {
                return Err(classify(who, topic, None, &e, &RecordSummary::of(r).0));
            }
        }
    }
}

/// Waits until every record sent is delivered (at most `wait`), then reports the first
/// that failed.
pub fn flush(
    p: &SinkProducer,
    who: &str,
    brokers: &str,
    wait: Duration,
) -> Result<(), KafkaFailure> {
    let started = Instant::now();
    if let Err(e) = p.flush(wait) {
        return Err(if is_transient(&e) {
            KafkaFailure::Unreachable {
                who: who.to_owned(),
                brokers: brokers.to_owned(),
                waited_ms: started.elapsed().as_millis() as u64,
                cause: format!("{} record(s) not delivered: {e}", p.in_flight_count()),
            }
        } else {
            KafkaFailure::Client {
                who: who.to_owned(),
                cause: format!("flushing: {e}"),
            }
        });
    }
    match take_failure(p) {
        Some(f) => Err(f),
        None => Ok(()),
    }
}

/// What a transaction call that failed means.
#[derive(Debug)]
pub enum TxnError {
    /// The transaction cannot be committed: abort it (its records are written again on
    /// recovery).
    Abort(KafkaFailure),
    /// The producer cannot go on (fenced, or a fatal error).
    Fatal(KafkaFailure),
}

impl TxnError {
    /// The error to report.
    pub fn into_failure(self) -> KafkaFailure {
        match self {
            TxnError::Abort(f) | TxnError::Fatal(f) => f,
        }
    }
}

/// Runs transaction call `what` until it succeeds, retrying what librdkafka says is
/// retriable (and timeouts while the brokers are out of reach) for at most `wait`.
pub fn txn_call(
    p: &SinkProducer,
    who: &str,
    brokers: &str,
    id: &str,
    what: &str,
    wait: Duration,
    mut call: impl FnMut(&SinkProducer, Duration) -> Result<(), KafkaError>,
) -> Result<(), TxnError> {
    let started = Instant::now();
    let mut backoff = Duration::from_millis(50);
    loop {
        let left = wait.saturating_sub(started.elapsed());
        let e = match call(
            p,
            left.clamp(Duration::from_millis(100), client::CALL_TIMEOUT),
        ) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        let failure = |cause: String| KafkaFailure::Client {
            who: who.to_owned(),
            cause: format!("{what} of transactional id `{id}`: {cause}"),
        };
        match &e {
            KafkaError::Transaction(t) if t.code() == RDKafkaErrorCode::Fenced => {
                return Err(TxnError::Fatal(KafkaFailure::Fenced {
                    who: who.to_owned(),
                    id: id.to_owned(),
                }));
            }
            KafkaError::Transaction(t) if t.is_fatal() => {
                return Err(TxnError::Fatal(failure(e.to_string())));
            }
            KafkaError::Transaction(t) if t.txn_requires_abort() => {
                let cause = match take_failure(p) {
                    Some(f) => format!("{e}, because {f}"),
                    None => e.to_string(),
                };
                return Err(TxnError::Abort(failure(cause)));
            }
            KafkaError::Transaction(t) if t.is_retriable() => {}
            e if is_transient(e) => {}
            KafkaError::Flush(_) => {}
            _ => return Err(TxnError::Fatal(failure(e.to_string()))),
        }
        if started.elapsed() + backoff >= wait {
            return Err(TxnError::Abort(KafkaFailure::Unreachable {
                who: who.to_owned(),
                brokers: brokers.to_owned(),
                waited_ms: started.elapsed().as_millis() as u64,
                cause: format!("{what} of transactional id `{id}`: {e}"),
            }));
        }
        tracing::debug!("{who}: {what} of `{id}`: {e} (retrying)");
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

/// Initialises transactional producer `p`: fences every earlier producer with its id and
/// aborts the transaction such a producer left open.
pub fn init(
    p: &SinkProducer,
    who: &str,
    brokers: &str,
    id: &str,
    wait: Duration,
) -> Result<(), KafkaFailure> {
    txn_call(p, who, brokers, id, "initialising", wait, |p, t| {
        p.init_transactions(t)
    })
    .map_err(TxnError::into_failure)
}

/// Commits `p`'s open transaction.
pub fn commit(
    p: &SinkProducer,
    who: &str,
    brokers: &str,
    id: &str,
    wait: Duration,
) -> Result<(), TxnError> {
    txn_call(p, who, brokers, id, "committing", wait, |p, t| {
        p.commit_transaction(t)
    })
}

/// Aborts `p`'s open transaction (best effort: a failed abort leaves it to the next
/// producer with the id, which aborts it when it starts).
pub fn abort(p: &SinkProducer, who: &str, id: &str) {
    if let Err(e) = p.abort_transaction(client::CALL_TIMEOUT) {
        tracing::warn!("{who}: aborting the transaction of `{id}`: {e}");
    }
}

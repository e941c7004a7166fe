//! Progress records: each exactly-once transaction also writes, to a compacted topic, the
//! checkpoint it belongs to. A reader of that topic (read-committed) learns which
//! checkpoint's output is in Kafka for each transactional id: what recovery needs to
//! decide whether a transaction lost to a crash must be written again.
//!
//! Key: `<transactional id>/<run>` (a run is one sink instance's life: checkpoint ids
//! start again when a job starts fresh). Value: `{"checkpoint": n, ...}` as JSON.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_executor::block_on;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::Consumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::client;
use super::error::KafkaFailure;

/// The key of a transaction's progress record.
pub fn key(transactional_id: &str, run: &str) -> String {
    format!("{transactional_id}/{run}")
}

/// The value of a progress record.
pub fn value(checkpoint: u64, job: &str, records: u64) -> String {
    serde_json::json!({ "checkpoint": checkpoint, "job": job, "records": records }).to_string()
}

/// Creates the progress topic (one partition, compacted) unless it exists.
pub fn ensure_topic(
    who: &str,
    brokers: &str,
    topic: &str,
    properties: &[(String, String)],
    wait: Duration,
) -> Result<(), KafkaFailure> {
    let admin: AdminClient<DefaultClientContext> = client::config(brokers, &[], properties)
        .create()
        .map_err(|e| KafkaFailure::Client {
            who: who.to_owned(),
            cause: format!("cannot create an admin client: {e}"),
        })?;
    // The brokers' default replication; a broker that does not take "default" gets 1.
    let mut replication = -1;
    let started = Instant::now();
    loop {
        // Each try waits at most what is left of `wait` (by default a request would
        // wait `socket.timeout.ms`, a minute, for brokers out of reach).
        let left = wait.saturating_sub(started.elapsed());
        let opts = AdminOptions::new()
            .operation_timeout(Some(client::CALL_TIMEOUT))
            .request_timeout(Some(
                left.clamp(Duration::from_millis(100), client::CALL_TIMEOUT),
            ));
        let t = NewTopic::new(topic, 1, TopicReplication::Fixed(replication))
            .set("cleanup.policy", "compact");
        let answer = block_on(admin.create_topics([&t], &opts));
        let e = match answer {
            Ok(results) => match results.into_iter().next() {
                Some(Ok(_)) | None => return Ok(()),
                Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => return Ok(()),
                Some(Err((_, RDKafkaErrorCode::InvalidReplicationFactor))) if replication == -1 => {
                    replication = 1;
                    continue;
                }
                Some(Err((_, code))) => KafkaError::AdminOp(code),
            },
            Err(e) => e,
        };
        let transient = super::error::is_transient(&e);
        if !transient || started.elapsed() >= wait {
            return Err(if transient {
                KafkaFailure::Unreachable {
                    who: who.to_owned(),
                    brokers: brokers.to_owned(),
                    waited_ms: started.elapsed().as_millis() as u64,
                    cause: format!("creating the progress topic `{topic}`: {e}"),
                }
            } else {
                KafkaFailure::Client {
                    who: who.to_owned(),
                    cause: format!("creating the progress topic `{topic}`: {e}"),
                }
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The latest checkpoint each key of the progress topic committed (read-committed, to
/// the end of every partition).
pub fn read(
    who: &str,
    brokers: &str,
    topic: &str,
    properties: &[(String, String)],
    wait: Duration,
) -> Result<HashMap<String, u64>, KafkaFailure> {
    let c = client::consumer(who, brokers, "weir-progress-reader", properties)?;
    let parts = client::partitions(who, brokers, &c, Some(&[topic.to_owned()]), wait)?;
    let count = parts.first().map_or(0, |(_, n)| *n);
    let mut tpl = TopicPartitionList::new();
    for p in 0..count {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .map_err(|e| fail(who, topic, e))?;
    }
    c.assign(&tpl).map_err(|e| fail(who, topic, e))?;
    let mut out: HashMap<String, u64> = HashMap::new();
    let mut at_end = std::collections::BTreeSet::new();
    let started = Instant::now();
    while (at_end.len() as i32) < count {
        if started.elapsed() >= wait {
            return Err(KafkaFailure::Client {
                who: who.to_owned(),
                cause: format!(
                    "reading the progress topic `{topic}` to its end took over {} ms (a transaction left open by another producer?)",
                    wait.as_millis()
                ),
            });
        }
        match c.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(e)) if super::error::is_transient(&e) => {}
            Some(Err(e)) => return Err(fail(who, topic, e)),
            Some(Ok(m)) => {
                at_end.remove(&m.partition());
                let (Some(k), Some(v)) = (m.key(), m.payload()) else {
                    continue;
                };
                let checkpoint = serde_json::from_slice::<serde_json::Value>(v)
                    .ok()
                    .and_then(|v| v["checkpoint"].as_u64());
                if let Some(cp) = checkpoint {
                    let e = out
                        .entry(String::from_utf8_lossy(k).into_owned())
                        .or_default();
                    *e = (*e).max(cp);
                }
            }
        }
    }
    Ok(out)
}

fn fail(who: &str, topic: &str, e: KafkaError) -> KafkaFailure {
    KafkaFailure::Client {
        who: who.to_owned(),
        cause: format!("reading the progress topic `{topic}`: {e}"),
    }
}

//! A Kafka sink's dead-letter topic: a record the producer refuses before sending it
//! (over `message.max.bytes`) goes, when the sink names a `dead_letter_topic`, to that
//! topic instead of failing the job — through the same producer, so under exactly-once
//! in the same transaction as the records around it.
//!
//! The dead letter keeps the record's key, timestamp and headers; its value is a JSON
//! object naming the error, the sink's topic, the value's size and its first
//! [`VALUE_HEAD`] bytes (a value over the size limit cannot be written whole, by
//! definition). A refusal is a property of the record and the sink's settings, so a
//! transaction written again by recovery dead-letters the same records.

use serde_json::json;

use super::KafkaFailure;
use super::producer::{self, SinkProducer};
use crate::manifest::KafkaSink as Config;
use crate::record::RecordRef;

/// Bytes of a refused value a dead letter keeps.
pub const VALUE_HEAD: usize = 1024;

/// Sends `r` to the sink's topic; if the producer refuses it and the sink has a
/// dead-letter topic, sends a dead letter for it there. Returns whether `r` was
/// dead-lettered.
pub fn send(
    p: &SinkProducer,
    who: &str,
    cfg: &Config,
    r: &RecordRef<'_>,
    wait: std::time::Duration,
) -> Result<bool, KafkaFailure> {
    let cause = match producer::send(p, who, &cfg.brokers, &cfg.topic, r, wait) {
        Ok(()) => return Ok(false),
        Err(KafkaFailure::Refused { cause, .. }) if cfg.dead_letter_topic.is_some() => cause,
        Err(f) => return Err(f),
    };
    let topic = cfg.dead_letter_topic.as_deref().expect("checked above");
    let head = &r.value[..r.value.len().min(VALUE_HEAD)];
    let letter = json!({
        "error": cause,
        "topic": cfg.topic,
        "key": r.key.map(String::from_utf8_lossy),
        "timestamp": r.timestamp,
        "value_bytes": r.value.len(),
        "value_head": String::from_utf8_lossy(head),
    })
    .to_string();
    let dead = RecordRef {
        value: letter.as_bytes(),
        ..*r
    };
    producer::send(p, who, &cfg.brokers, topic, &dead, wait)?;
    Ok(true)
}

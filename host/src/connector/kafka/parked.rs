//! Producers of finished exactly-once sinks, kept with their open transaction until the
//! snapshot that covers it completes.
//!
//! A sink whose input ended finishes before the job's final snapshot is written (its
//! task is gone by then), but its last transaction may only be committed once that
//! snapshot is complete. Its producer waits here; the coordinator commits it with the
//! finished sinks' other pending output. If the process dies first, recovery writes the
//! transaction again from its spool file.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use anyhow::Result;

use super::producer::{self, SinkProducer};
use crate::checkpoint::{InstanceState, KafkaTxn, OperatorState};

/// A finished sink's producer with its transaction open.
pub(super) struct Parked {
    pub(super) producer: SinkProducer,
    pub(super) txn: KafkaTxn,
    pub(super) who: String,
    pub(super) brokers: String,
    pub(super) wait: Duration,
}

fn parked() -> &'static Mutex<HashMap<String, Parked>> {
    static P: OnceLock<Mutex<HashMap<String, Parked>>> = OnceLock::new();
    P.get_or_init(Mutex::default)
}

/// Keeps a finished sink's producer until its transaction can be committed.
pub(super) fn park(p: Parked) {
    parked()
        .lock()
        .expect("parked producers")
        .insert(p.txn.transactional_id.clone(), p);
}

/// Drops the parked producers of a sink whose transactional ids start with `prefix`
/// (a new attempt of its job starts: its instances fence them). Only that sink's: other
/// jobs running in the same process keep theirs.
pub fn clear(prefix: &str) {
    let of_sink = |id: &str| {
        id.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|n| n.parse::<u32>().is_ok())
    };
    parked()
        .lock()
        .expect("parked producers")
        .retain(|id, _| !of_sink(id));
}

/// Commits the transactions finished sinks left in a completed snapshot's `instances`.
pub fn commit_finished(instances: &[InstanceState]) -> Result<()> {
    for i in instances.iter().filter(|i| i.finished) {
        let OperatorState::KafkaSink { pending: Some(t) } = &i.state else {
            continue;
        };
        let p = parked()
            .lock()
            .expect("parked producers")
            .remove(&t.transactional_id);
        let Some(p) = p else {
            // Committed already (an earlier snapshot), or written again on recovery.
            continue;
        };
        if p.txn != *t {
            parked()
                .lock()
                .expect("parked producers")
                .insert(t.transactional_id.clone(), p);
            continue;
        }
        crate::runtime::crash_point("kafka-commit");
        producer::commit(&p.producer, &p.who, &p.brokers, &t.transactional_id, p.wait)
            .map_err(producer::TxnError::into_failure)?;
        crate::runtime::crash_point("kafka-committed");
        let _ = std::fs::remove_file(&t.spool);
    }
    Ok(())
}

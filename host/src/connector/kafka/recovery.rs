//! Before each attempt of a job, for every exactly-once Kafka sink: fence and abort what
//! earlier attempts left open, and write again the transactions the restored checkpoint
//! says are pending but that never committed.
//!
//! Fencing covers every transactional id any run of the job used, including ids of
//! instances that no longer exist after a rescale: the largest number of instances ever
//! started is kept in the job's state directory. A pending transaction committed if the
//! progress topic holds its checkpoint (or a later one) under its key; otherwise its
//! records are in its spool file, and are written again in a new transaction with the
//! same progress record, so doing this twice writes them once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use rdkafka::producer::Producer;

use super::parked;
use super::producer::{self, ProducerConfig, SinkProducer};
use super::progress;
use super::sink::file_name;
use super::spool;
use crate::checkpoint::{KafkaTxn, Restore};
use crate::manifest::{Delivery, Job, KafkaSink, Node, NodeKind, RestartStrategy, SinkKind};
use crate::record::RecordRef;
use crate::runtime::crash_point;

/// The broker's usual ceiling on `transaction.timeout.ms` (`transaction.max.timeout.ms`).
const MAX_TRANSACTION_TIMEOUT_MS: u64 = 900_000;

/// Where Kafka sink `uid` keeps its spool files and how many instances it ran.
pub fn spool_dir(job: &Job, uid: &str) -> PathBuf {
    job.state_dir.join("kafka").join(file_name(uid))
}

/// The longest a restart waits under `r`.
fn restart_ms(r: &RestartStrategy) -> u64 {
    match r {
        RestartStrategy::None => 0,
        RestartStrategy::FixedDelay { delay_ms, .. } => *delay_ms,
        RestartStrategy::ExponentialDelay { max_ms, .. } => *max_ms,
        RestartStrategy::FailureRate { delay_ms, .. } => *delay_ms,
    }
}

/// `transaction.timeout.ms` of a sink: the manifest's, or long enough for a checkpoint
/// interval and a restart (within the broker's usual ceiling). A transaction stays open
/// from one checkpoint to the next, and after a failure until the restarted job
/// completes the checkpoint; a broker aborts it when the timeout passes first.
pub fn transaction_timeout_ms(job: &Job, k: &KafkaSink) -> u64 {
    let given = k
        .properties
        .iter()
        .find(|(p, _)| p == "transaction.timeout.ms")
        .and_then(|(_, v)| v.parse().ok());
    let needed = job.checkpoint.as_ref().map_or(0, |c| c.interval_ms) + restart_ms(&job.restart);
    given.unwrap_or_else(|| (needed * 2 + 60_000).clamp(60_000, MAX_TRANSACTION_TIMEOUT_MS))
}

/// Prepares every exactly-once Kafka sink of `job` for an attempt that restores
/// `restore` (or starts from the beginning).
pub fn prepare(job: &Job, restore: Option<&Restore>) -> Result<()> {
    for n in &job.nodes {
        if let NodeKind::Sink {
            kind: SinkKind::Kafka(k),
            ..
        } = &n.kind
            && k.delivery == Delivery::ExactlyOnce
        {
            parked::clear(&k.transactional_id_prefix);
            prepare_sink(job, n, k, restore)
                .with_context(|| format!("Kafka sink `{}`: recovering its transactions", n.name))?;
        }
    }
    Ok(())
}

fn prepare_sink(job: &Job, n: &Node, k: &KafkaSink, restore: Option<&Restore>) -> Result<()> {
    let who = format!("Kafka sink `{}`", n.name);
    let wait = Duration::from_millis(k.connect_timeout_ms);
    let timeout = transaction_timeout_ms(job, k);
    let needed = job.checkpoint.as_ref().map_or(0, |c| c.interval_ms) + restart_ms(&job.restart);
    if timeout < needed {
        tracing::warn!(
            "{who}: transaction.timeout.ms ({timeout}) is shorter than the checkpoint interval and a restart ({needed} ms): the brokers may abort a transaction before its checkpoint completes, and the job then fails"
        );
    }
    let dir = spool_dir(job, &n.uid);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let ids_file = dir.join("instances");
    let used: u32 = std::fs::read_to_string(&ids_file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let count = used
        .max(n.parallelism)
        .max(restore.and_then(|r| r.parallelism_of(&n.uid)).unwrap_or(0));
    if count != used {
        crate::checkpoint::store::write_atomically(&ids_file, count.to_string().as_bytes())?;
    }
    progress::ensure_topic(&who, &k.brokers, &k.progress_topic, &k.properties, wait)?;
    // Every id at once: each `init_transactions` waits on the brokers.
    let ids: Vec<String> = (0..count)
        .map(|i| format!("{}-{i}", k.transactional_id_prefix))
        .collect();
    let producers: Vec<(String, SinkProducer)> = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .map(|id| {
                let who = &who;
                s.spawn(move || -> Result<(String, SinkProducer)> {
                    let p = producer::producer(&ProducerConfig {
                        who,
                        brokers: &k.brokers,
                        properties: &k.properties,
                        transactional_id: Some(id),
                        transaction_timeout_ms: timeout,
                    })?;
                    producer::init(&p, who, &k.brokers, id, wait)?;
                    Ok((id.clone(), p))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a fencing thread panicked"))
            .collect::<Result<Vec<_>>>()
    })?;
    let txns: Vec<KafkaTxn> = restore.map(|r| r.kafka_txns(&n.uid)).unwrap_or_default();
    if !txns.is_empty() {
        let committed = progress::read(&who, &k.brokers, &k.progress_topic, &k.properties, wait)?;
        for t in &txns {
            let key = progress::key(&t.transactional_id, &t.run);
            if committed.get(&key).is_some_and(|c| *c >= t.checkpoint) {
                let _ = std::fs::remove_file(&t.spool);
                continue;
            }
            let p = producers
                .iter()
                .find(|(id, _)| *id == t.transactional_id)
                .map(|(_, p)| p)
                .with_context(|| format!("no producer for `{}`", t.transactional_id))?;
            redo(&who, job, k, p, t, wait)?;
        }
    }
    remove_stale_spools(&dir, &txns);
    Ok(())
}

/// Writes transaction `t` again from its spool file, with its progress record.
fn redo(
    who: &str,
    job: &Job,
    k: &KafkaSink,
    p: &SinkProducer,
    t: &KafkaTxn,
    wait: Duration,
) -> Result<()> {
    if !t.spool.exists() {
        anyhow::bail!(
            "transaction `{}` of checkpoint {} did not commit and its records ({}) are gone: its {} records cannot be written again",
            t.transactional_id,
            t.checkpoint,
            t.spool.display(),
            t.records
        );
    }
    p.begin_transaction()
        .with_context(|| format!("beginning a transaction of `{}`", t.transactional_id))?;
    let records = spool::read(&t.spool, t.bytes, 1024, |batch| {
        for r in batch.iter() {
            super::dead_letter::send(p, who, k, &r, wait)?;
        }
        Ok(())
    })?;
    let key = progress::key(&t.transactional_id, &t.run);
    let value = progress::value(t.checkpoint, &job.name, t.records);
    producer::send(
        p,
        who,
        &k.brokers,
        &k.progress_topic,
        &RecordRef {
            key: Some(key.as_bytes()),
            value: value.as_bytes(),
            timestamp: None,
            headers: &[],
        },
        wait,
    )?;
    crash_point("kafka-redo");
    producer::commit(p, who, &k.brokers, &t.transactional_id, wait)
        .map_err(producer::TxnError::into_failure)?;
    tracing::warn!(
        "{who}: the transaction of checkpoint {} (`{}`) had not committed when the job stopped: its {records} records are written again",
        t.checkpoint,
        t.transactional_id
    );
    let _ = std::fs::remove_file(&t.spool);
    Ok(())
}

/// Removes the spool files in `dir` that no pending transaction needs.
fn remove_stale_spools(dir: &Path, keep: &[KafkaTxn]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".spool") && !keep.iter().any(|t| t.spool == p) {
            let _ = std::fs::remove_file(&p);
        }
    }
}

//! A Kafka sink instance: a producer writing each record's key, value, timestamp and
//! headers to the topic.
//!
//! At-least-once: the producer is flushed at every barrier. Exactly-once: one
//! transactional producer (`<prefix>-<subtask>`). Its transaction is flushed at a barrier
//! (pre-commit) with a progress record naming the checkpoint, and committed when the
//! checkpoint completes. librdkafka keeps one transaction open per producer: records
//! that arrive between a barrier and its checkpoint's completion wait in memory, and go
//! into the next transaction when the commit is done. Every record of a transaction is
//! also written to a spool file, kept until the commit, so recovery can write the
//! transaction again if the process dies between the completion and the commit.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use rdkafka::producer::Producer;

use super::dead_letter;
use super::parked::{self, Parked};
use super::producer::{self, ProducerConfig, SinkProducer, TxnError};
use super::progress;
use super::spool::SpoolWriter;
use crate::checkpoint::{KafkaTxn, OperatorState};
use crate::manifest::{Delivery, KafkaSink as Config};
use crate::operator::{Collector, Finish, Input, Operator, SnapshotContext};
use crate::record::{Batch, RecordRef};
use crate::runtime::{Data, NodeMetrics, crash_point};

/// Records held for the next transaction past which a warning is logged.
const HELD_WARNING_BYTES: usize = 256 << 20;

/// What a sink instance is made from.
pub struct SinkSetup<'a> {
    /// The sink's name.
    pub name: &'a str,
    /// The job's name.
    pub job: &'a str,
    /// The sink's uid.
    pub uid: &'a str,
    /// Which instance.
    pub subtask: u32,
    /// Where transactions' spool files go (see [`spool_dir`](super::spool_dir)).
    pub spool_dir: PathBuf,
    /// `transaction.timeout.ms` unless the manifest sets it.
    pub transaction_timeout_ms: u64,
    /// The id the next snapshot takes (names the last transaction).
    pub next_id: Arc<AtomicU64>,
    /// Its counters.
    pub metrics: Arc<NodeMetrics>,
}

/// One instance of a Kafka sink.
pub struct KafkaSink {
    who: String,
    job: String,
    cfg: Config,
    producer: SinkProducer,
    wait: Duration,
    txn: Option<Txn>,
    next_id: Arc<AtomicU64>,
    metrics: Arc<NodeMetrics>,
}

/// An exactly-once sink's transactions.
struct Txn {
    id: String,
    run: String,
    spool_dir: PathBuf,
    spool_prefix: String,
    seq: u64,
    /// The open transaction's spool (none open: `None`).
    open: Option<SpoolWriter>,
    /// Flushed at a barrier, waiting for that checkpoint's completion.
    pending: Option<KafkaTxn>,
    /// Records that came after the pre-commit, for the next transaction.
    held: Vec<Batch>,
    held_bytes: usize,
    warned: bool,
}

impl KafkaSink {
    /// Instance `s.subtask` of a Kafka sink (its transactional producer initialised,
    /// which fences earlier producers with its id).
    pub fn create(cfg: &Config, s: SinkSetup<'_>) -> Result<Self> {
        let who = format!("Kafka sink `{}`", s.name);
        let wait = Duration::from_millis(cfg.connect_timeout_ms);
        let exactly_once = cfg.delivery == Delivery::ExactlyOnce;
        let id = format!("{}-{}", cfg.transactional_id_prefix, s.subtask);
        let producer = producer::producer(&ProducerConfig {
            who: &who,
            brokers: &cfg.brokers,
            properties: &cfg.properties,
            transactional_id: exactly_once.then_some(id.as_str()),
            transaction_timeout_ms: s.transaction_timeout_ms,
        })?;
        let txn = if exactly_once {
            producer::init(&producer, &who, &cfg.brokers, &id, wait)?;
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            Some(Txn {
                id,
                run: format!("{nanos:x}"),
                spool_dir: s.spool_dir,
                spool_prefix: s.subtask.to_string(),
                seq: 0,
                open: None,
                pending: None,
                held: Vec::new(),
                held_bytes: 0,
                warned: false,
            })
        } else {
            None
        };
        Ok(Self {
            who,
            job: s.job.to_owned(),
            cfg: cfg.clone(),
            producer,
            wait,
            txn,
            next_id: s.next_id,
            metrics: s.metrics,
        })
    }

    fn send(&self, r: &RecordRef<'_>) -> Result<()> {
        if dead_letter::send(&self.producer, &self.who, &self.cfg, r, self.wait)? {
            self.metrics.rejected.add(1);
            self.metrics.dead_letters.add(1);
        }
        Ok(())
    }

    /// Writes a batch (in the open transaction, beginning one if none is).
    fn write(&mut self, batch: &Batch) -> Result<()> {
        if self.txn.is_some() {
            self.begin()?;
        }
        for r in batch.iter() {
            self.send(&r)?;
            if let Some(t) = &mut self.txn {
                t.open.as_mut().expect("begun").append(&r)?;
            }
        }
        if let Some(f) = producer::take_failure(&self.producer) {
            return Err(f.into());
        }
        Ok(())
    }

    fn begin(&mut self) -> Result<()> {
        let t = self.txn.as_mut().expect("exactly-once");
        if t.open.is_some() {
            return Ok(());
        }
        self.producer
            .begin_transaction()
            .map_err(|e| super::KafkaFailure::Client {
                who: self.who.clone(),
                cause: format!("beginning a transaction of `{}`: {e}", t.id),
            })?;
        t.seq += 1;
        let path = t
            .spool_dir
            .join(format!("{}-{}-{}.spool", t.spool_prefix, t.run, t.seq));
        t.open = Some(SpoolWriter::create(&path)?);
        Ok(())
    }

    /// Flushes the open transaction (with what waited for it) at snapshot `id`: it now
    /// waits for that snapshot's completion. Returns what the snapshot records.
    fn pre_commit(&mut self, id: u64) -> Result<Option<KafkaTxn>> {
        let t = self.txn.as_mut().expect("exactly-once");
        let held = std::mem::take(&mut t.held);
        t.held_bytes = 0;
        if t.pending.is_some() && held.is_empty() {
            // Nothing new since the last pre-commit, whose checkpoint did not complete.
            return Ok(t.pending.clone());
        }
        for b in &held {
            self.write(b)?;
        }
        let t = self.txn.as_mut().expect("exactly-once");
        let Some(spool) = t.open.as_mut() else {
            return Ok(None);
        };
        let key = progress::key(&t.id, &t.run);
        let value = progress::value(id, &self.job, spool.records());
        producer::send(
            &self.producer,
            &self.who,
            &self.cfg.brokers,
            &self.cfg.progress_topic,
            &RecordRef {
                key: Some(key.as_bytes()),
                value: value.as_bytes(),
                timestamp: None,
                headers: &[],
            },
            self.wait,
        )?;
        producer::flush(&self.producer, &self.who, &self.cfg.brokers, self.wait)?;
        spool.sync()?;
        let pending = KafkaTxn {
            transactional_id: t.id.clone(),
            run: t.run.clone(),
            checkpoint: id,
            spool: spool.path().to_owned(),
            bytes: spool.bytes(),
            records: spool.records(),
        };
        t.pending = Some(pending.clone());
        Ok(Some(pending))
    }

    /// Commits the pending transaction if snapshot `id` covers it, then starts the next
    /// with the records that waited.
    fn commit(&mut self, id: u64) -> Result<()> {
        let Some(t) = self.txn.as_mut() else {
            return Ok(());
        };
        let Some(pending) = t.pending.clone().filter(|p| p.checkpoint <= id) else {
            return Ok(());
        };
        crash_point("kafka-commit");
        match producer::commit(
            &self.producer,
            &self.who,
            &self.cfg.brokers,
            &t.id,
            self.wait,
        ) {
            Ok(()) => {}
            Err(TxnError::Abort(f)) => {
                producer::abort(&self.producer, &self.who, &t.id);
                return Err(f).context("the transaction is written again when the job restores");
            }
            Err(TxnError::Fatal(f)) => return Err(f.into()),
        }
        crash_point("kafka-committed");
        let _ = std::fs::remove_file(&pending.spool);
        t.pending = None;
        t.open = None;
        let held = std::mem::take(&mut t.held);
        t.held_bytes = 0;
        for b in &held {
            self.write(b)?;
        }
        Ok(())
    }
}

/// A file name made of a uid (which may hold any character).
pub(super) fn file_name(uid: &str) -> String {
    uid.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Operator for KafkaSink {
    fn process(&mut self, _input: Input, data: Data, _out: &mut Collector) -> Result<()> {
        self.metrics.records_in.add(data.len() as u64);
        if let Some(t) = &mut self.txn
            && t.pending.is_some()
        {
            t.held_bytes += data.batch().data_len();
            if t.held_bytes > HELD_WARNING_BYTES && !t.warned {
                t.warned = true;
                tracing::warn!(
                    "{}: {} MiB of records wait in memory for the commit of checkpoint {} (is the checkpoint slow to complete?)",
                    self.who,
                    t.held_bytes >> 20,
                    t.pending.as_ref().map_or(0, |p| p.checkpoint)
                );
            }
            let batch = match data {
                Data::Records(b) => b,
                Data::Keyed(k) => k.batch,
            };
            t.held.push(batch);
            return Ok(());
        }
        self.write(data.batch())
    }

    fn snapshot(&mut self, cx: &SnapshotContext<'_>) -> Result<OperatorState> {
        if self.txn.is_none() {
            producer::flush(&self.producer, &self.who, &self.cfg.brokers, self.wait)?;
            return Ok(OperatorState::None);
        }
        let pending = self.pre_commit(cx.id)?;
        crash_point("kafka-pre-commit");
        Ok(OperatorState::KafkaSink { pending })
    }

    fn checkpoint_complete(&mut self, id: u64) -> Result<()> {
        self.commit(id)
    }

    fn finish(&mut self, _how: Finish, _out: &mut Collector) -> Result<()> {
        if self.txn.is_none() {
            producer::flush(&self.producer, &self.who, &self.cfg.brokers, self.wait)?;
            return Ok(());
        }
        // The last transaction waits for the snapshot that ends the job (or for any
        // taken before the job's other tasks finish): it gets that snapshot's id.
        let id = self.next_id.load(Ordering::SeqCst);
        if let Some(txn) = self.pre_commit(id)? {
            parked::park(Parked {
                producer: self.producer.clone(),
                txn,
                who: self.who.clone(),
                brokers: self.cfg.brokers.clone(),
                wait: self.wait,
            });
        }
        Ok(())
    }

    fn final_state(&mut self) -> Result<OperatorState> {
        Ok(match &self.txn {
            Some(t) => OperatorState::KafkaSink {
                pending: t.pending.clone(),
            },
            None => OperatorState::None,
        })
    }
}

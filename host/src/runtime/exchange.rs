//! Sending a task's output to the tasks that read it: forward, by key, to all, or round
//! robin; with backpressure (bounded channels) and cancellation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use crossbeam_channel::{SendTimeoutError, Sender, TrySendError};

use super::message::{Data, Envelope, KeyedBatch, Message};
use super::metrics::TaskTime;
use crate::manifest::KeyBy;
use crate::record::{Batch, KeyTableBuilder, RecordRef};
use crate::state::{key_group, owner_of};

/// How records are spread over the downstream tasks.
#[derive(Debug, Clone)]
pub enum Partition {
    /// To the downstream task with the same index.
    Forward,
    /// By key group of the key.
    Hash(KeyBy),
    /// Every record to every downstream task.
    Broadcast,
    /// Batches round robin.
    Rebalance,
}

/// The job was cancelled while a task waited to send.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the job was cancelled")]
pub struct Cancelled;

/// One output edge of one task instance.
pub struct Outlet {
    senders: Vec<Sender<Envelope>>,
    from: u32,
    partition: Partition,
    max_parallelism: u32,
    next: usize,
    cancel: Arc<AtomicBool>,
    time: Arc<TaskTime>,
}

impl Outlet {
    /// An outlet sending as sender `from` to `senders` (one per downstream task); the
    /// time it waits on full channels counts in `time`.
    pub fn new(
        senders: Vec<Sender<Envelope>>,
        from: u32,
        partition: Partition,
        max_parallelism: u32,
        cancel: Arc<AtomicBool>,
        time: Arc<TaskTime>,
    ) -> Self {
        Self {
            senders,
            from,
            partition,
            max_parallelism,
            next: 0,
            cancel,
            time,
        }
    }

    fn send(&self, to: usize, message: Message) -> Result<()> {
        let env = Envelope {
            from: self.from,
            message,
        };
        match self.senders[to].try_send(env) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(env)) => {
                // Back-pressure: the channel is full.
                let waiting = Instant::now();
                let sent = self.send_blocking(to, env);
                self.time.blocked(waiting.elapsed());
                sent
            }
            Err(TrySendError::Disconnected(_)) => self.disconnected(),
        }
    }

    fn send_blocking(&self, to: usize, mut env: Envelope) -> Result<()> {
        loop {
            match self.senders[to].send_timeout(env, Duration::from_millis(50)) {
                Ok(()) => return Ok(()),
                Err(SendTimeoutError::Timeout(back)) => {
                    if self.cancel.load(Ordering::Relaxed) {
                        return Err(Cancelled.into());
                    }
                    env = back;
                }
                Err(SendTimeoutError::Disconnected(_)) => return self.disconnected(),
            }
        }
    }

    fn disconnected(&self) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Cancelled.into());
        }
        bail!("a downstream task stopped early")
    }

    /// Sends a control message to every downstream task.
    pub fn send_all(&mut self, message: &Message) -> Result<()> {
        for to in 0..self.senders.len() {
            self.send(to, message.clone())?;
        }
        Ok(())
    }

    /// Sends records.
    pub fn send_data(&mut self, data: Data) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        match &self.partition {
            Partition::Forward => self.send(0, Message::Data(data)),
            Partition::Rebalance => {
                let to = self.next % self.senders.len();
                self.next += 1;
                self.send(to, Message::Data(data))
            }
            Partition::Broadcast => self.send_all(&Message::Data(data)),
            Partition::Hash(by) if self.senders.len() == 1 => {
                let batch = match data {
                    Data::Records(b) => b,
                    Data::Keyed(k) => k.batch,
                };
                let keyed = keyed_whole(batch, &by.clone(), self.max_parallelism);
                self.send(0, Message::Data(Data::Keyed(keyed)))
            }
            Partition::Hash(by) => {
                let by = by.clone();
                let parts = partition(data.batch(), &by, self.senders.len(), self.max_parallelism);
                for (to, part) in parts.into_iter().enumerate() {
                    if !part.batch.is_empty() {
                        self.send(to, Message::Data(Data::Keyed(part)))?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// The first byte of the key of a field that is not a string. No UTF-8 text starts
/// with it, so the number `1` and the string `"1"` are different keys (as Flink's typed
/// keys are).
pub const NON_STRING_KEY: u8 = 0xff;

/// The key of a record, or why it has none. A string field's key is its text; any other
/// field's is [`NON_STRING_KEY`] followed by its JSON text.
pub fn key_of<'a>(r: &RecordRef<'a>, by: &KeyBy) -> Result<std::borrow::Cow<'a, [u8]>, String> {
    use crate::record::json_field::Field;
    match by {
        KeyBy::RecordKey => r
            .key
            .map(std::borrow::Cow::Borrowed)
            .ok_or_else(|| "the record has no key (key_by = \"key\")".to_owned()),
        KeyBy::Field(path) => match path.find(r.value) {
            Ok(Field::String(s)) if s.first() == Some(&NON_STRING_KEY) => Err(format!(
                "cannot key by field `{}`: the string is not UTF-8",
                path.as_str()
            )),
            Ok(Field::String(s)) => Ok(s),
            Ok(other) => {
                let mut k = Vec::with_capacity(1 + other.key_bytes().len());
                k.push(NON_STRING_KEY);
                k.extend_from_slice(other.key_bytes());
                Ok(std::borrow::Cow::Owned(k))
            }
            Err(e) => Err(format!("cannot key by field `{}`: {e}", path.as_str())),
        },
    }
}

/// Splits a batch by the owner of each record's key group.
pub fn partition(batch: &Batch, by: &KeyBy, parts: usize, max_parallelism: u32) -> Vec<KeyedBatch> {
    if parts == 1 {
        return vec![keyed_whole(batch.clone(), by, max_parallelism)];
    }
    let mut out: Vec<(KeyedBatch, KeyTableBuilder)> =
        (0..parts).map(|_| Default::default()).collect();
    for r in batch.iter() {
        let (key, group, why) = match key_of(&r, by) {
            Ok(k) => {
                let g = key_group(&k, max_parallelism);
                (k, g, None)
            }
            // Records without a key go to instance 0, which hands them to its error policy.
            Err(why) => (std::borrow::Cow::Borrowed(&[][..]), 0, Some(why)),
        };
        let to = if why.is_some() {
            0
        } else {
            owner_of(group, parts as u32, max_parallelism)
        };
        let (kb, keys) = &mut out[to];
        if let Some(why) = why {
            kb.unkeyed.push((kb.batch.len() as u32, why));
        }
        kb.batch.push_record(&r);
        let before = keys.len();
        keys.push(&key);
        if keys.len() > before {
            kb.groups.push(group);
        }
    }
    out.into_iter()
        .map(|(mut kb, keys)| {
            kb.keys = keys.finish();
            kb
        })
        .collect()
}

/// Keys a batch that goes to a single instance whole (no copying record by record).
fn keyed_whole(batch: Batch, by: &KeyBy, max_parallelism: u32) -> KeyedBatch {
    let mut keys = KeyTableBuilder::default();
    let mut groups = Vec::new();
    let mut unkeyed = Vec::new();
    for i in 0..batch.len() {
        let r = batch.get(i);
        let key = match key_of(&r, by) {
            Ok(k) => k,
            Err(why) => {
                unkeyed.push((i as u32, why));
                std::borrow::Cow::Borrowed(&[][..])
            }
        };
        let before = keys.len();
        keys.push(&key);
        if keys.len() > before {
            groups.push(key_group(&key, max_parallelism));
        }
    }
    KeyedBatch {
        batch,
        keys: keys.finish(),
        groups,
        unkeyed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::json_field::FieldPath;

    #[test]
    fn records_go_to_the_owner_of_their_key_group_with_their_keys() {
        let mut b = Batch::default();
        for i in 0..100 {
            b.push(
                None,
                format!("{{\"k\":\"key{}\"}}", i % 10).as_bytes(),
                None,
            );
        }
        b.push(None, b"{}", None);
        let by = KeyBy::Field(FieldPath::parse("k").unwrap());
        let parts = partition(&b, &by, 3, 128);
        assert_eq!(parts.iter().map(|p| p.batch.len()).sum::<usize>(), 101);
        for (to, p) in parts.iter().enumerate() {
            assert_eq!(p.keys.len(), p.groups.len());
            for i in 0..p.batch.len() {
                if p.unkeyed.iter().any(|(u, _)| *u as usize == i) {
                    continue;
                }
                let key = p.keys.key_of(i);
                assert_eq!(owner_of(key_group(key, 128), 3, 128), to);
                let v: serde_json::Value = serde_json::from_slice(p.batch.get(i).value).unwrap();
                assert_eq!(v["k"].as_str().unwrap().as_bytes(), key);
            }
        }
        assert_eq!(parts[0].unkeyed.len(), 1);
    }

    #[test]
    fn a_number_and_a_string_of_the_same_text_are_different_keys() {
        let by = KeyBy::Field(FieldPath::parse("k").unwrap());
        let mut b = Batch::default();
        b.push(None, br#"{"k":"1"}"#, None);
        b.push(None, br#"{"k":1}"#, None);
        b.push(None, br#"{"k":true}"#, None);
        b.push(None, br#"{"k":"true"}"#, None);
        let keys: Vec<Vec<u8>> = b
            .iter()
            .map(|r| key_of(&r, &by).unwrap().into_owned())
            .collect();
        assert_eq!(keys[0], b"1");
        assert_ne!(keys[0], keys[1]);
        assert_ne!(keys[2], keys[3]);
        let whole = keyed_whole(b, &by, 128);
        assert_eq!(whole.keys.len(), 4, "four distinct keys");
    }
}

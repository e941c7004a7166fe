//! What flows between tasks.

use std::path::PathBuf;
use std::sync::Arc;

use crate::record::{Batch, KeyTable};

/// Records partitioned by key: the batch, its keys, and the key group of each key.
#[derive(Debug, Clone, Default)]
pub struct KeyedBatch {
    /// The records.
    pub batch: Batch,
    /// Their keys (`of_record` has one entry per record).
    pub keys: KeyTable,
    /// Key group of each distinct key.
    pub groups: Vec<u16>,
    /// Records whose key could not be read, with why (their key is empty).
    pub unkeyed: Vec<(u32, String)>,
}

/// Data handed to an operator.
#[derive(Debug, Clone)]
pub enum Data {
    /// Unkeyed records.
    Records(Batch),
    /// Records with their keys.
    Keyed(KeyedBatch),
}

impl Data {
    /// The records.
    pub fn batch(&self) -> &Batch {
        match self {
            Data::Records(b) => b,
            Data::Keyed(k) => &k.batch,
        }
    }

    /// The records, to change.
    pub fn batch_mut(&mut self) -> &mut Batch {
        match self {
            Data::Records(b) => b,
            Data::Keyed(k) => &mut k.batch,
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.batch().len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A message on a channel between tasks.
///
/// Nearly every message carries a batch, so the data variant is not boxed: boxing would
/// cost an allocation per batch to save bytes on the rare control message.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Message {
    /// Records.
    Data(Data),
    /// No record with an earlier timestamp will follow from this sender.
    Watermark(i64),
    /// The sender has nothing for now: do not wait for its watermark until it sends
    /// again.
    Idle,
    /// The sender has read everything its input held when the job started.
    CaughtUp,
    /// The sender is done: its input ended.
    End,
    /// The sender is done: the job was stopped before the end of its input. Unlike
    /// [`End`](Message::End) its watermark stays where it was.
    Stopped,
    /// Everything before this from the sender belongs to snapshot `barrier.id`.
    Barrier(Barrier),
}

/// A checkpoint barrier: sources inject it, every task snapshots its state when it has
/// it from all its inputs (aligned) and passes it on.
#[derive(Debug, Clone)]
pub struct Barrier {
    /// The snapshot's id (increasing over the job's life).
    pub id: u64,
    /// Where the snapshot's files go.
    pub dir: Arc<PathBuf>,
    /// What kind of snapshot.
    pub kind: BarrierKind,
}

/// What a barrier is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarrierKind {
    /// A periodic checkpoint (aligned or not, as the job says).
    Checkpoint,
    /// A savepoint (always aligned); with `stop`, sources stop right after it.
    Savepoint {
        /// Stop the job at the savepoint.
        stop: bool,
    },
    /// A swap (always aligned): the tasks holding the staged new version switch to it.
    Swap {
        /// The swap.
        swap: u64,
        /// Whether it also saves a checkpoint (the job has checkpoints).
        save: bool,
    },
}

impl Barrier {
    /// Whether tasks must align on it whatever the job's checkpoint mode.
    pub fn always_aligned(&self) -> bool {
        matches!(
            self.kind,
            BarrierKind::Savepoint { .. } | BarrierKind::Swap { .. }
        )
    }
}

/// A message and the upstream instance that sent it.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// Index of the sender among the channel's senders.
    pub from: u32,
    /// The message.
    pub message: Message,
}

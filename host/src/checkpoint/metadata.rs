//! What a checkpoint holds, as its `_metadata` file says (JSON): every parallel instance
//! of every node with its state, matched to the manifest by uid on restore.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The format of `_metadata` files this version writes.
pub const FORMAT: u32 = 1;

/// A completed checkpoint or savepoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Metadata {
    /// Format version.
    pub format: u32,
    /// Its id (increasing over the job's life).
    pub id: u64,
    /// What kind of snapshot.
    pub kind: SnapshotKind,
    /// The job's name.
    pub job: String,
    /// SHA-256 of the manifest text it was taken under.
    pub manifest_hash: String,
    /// When it was triggered (epoch milliseconds).
    pub taken_at_ms: i64,
    /// From trigger to completion.
    pub duration_ms: u64,
    /// The job's number of key groups (restores need the same).
    pub max_parallelism: u32,
    /// State ids: which (operator uid, state name) each keyed-state id is.
    pub states: Vec<StateId>,
    /// Every instance of every node.
    pub instances: Vec<InstanceState>,
    /// Set on the snapshot taken when the job ran to its end.
    pub finished: bool,
    /// A savepoint kept elsewhere, which this entry of the job's own checkpoints points
    /// to (its state is there, not here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<PathBuf>,
    /// Operators running another version than the manifest names (swapped in), by uid:
    /// a restore runs that version.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub versions: BTreeMap<String, Version>,
}

/// A function version swapped in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Version {
    /// Its content hash.
    pub hash: String,
    /// Its component, kept in the job's state directory.
    pub component: PathBuf,
    /// The config its `init` got, as JSON.
    pub config: String,
}

/// What a snapshot was taken for.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SnapshotKind {
    /// Periodic, kept while newer ones are few.
    Checkpoint,
    /// Asked for, kept until disposed of; self-contained.
    Savepoint,
    /// Taken when the job ended (its sinks' last output is committed by it).
    Final,
    /// A swap's barrier in a job without checkpoints: nothing is saved.
    Swap,
}

/// One keyed-state id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StateId {
    /// Operator uid.
    pub uid: String,
    /// State name.
    pub name: String,
    /// The id (the first bytes of the state's keys).
    pub id: u32,
    /// What the function declared it as (`value`, `list`, `map`), if it declared it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The time to live of its entries, if they expire (then each is stored with its
    /// expiry time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
    /// The type of its values and their serialisation, if the function named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_tag: Option<String>,
}

/// What a node is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A source.
    Source,
    /// An operator.
    Operator,
    /// A sink.
    Sink,
}

/// One parallel instance of a node at the barrier.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InstanceState {
    /// Node name (for people: matching is by uid).
    pub node: String,
    /// Node uid.
    pub uid: String,
    /// What it is.
    pub role: Role,
    /// Which instance.
    pub subtask: u32,
    /// Of how many.
    pub parallelism: u32,
    /// SHA-256 of the function that made its state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Its keyed state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyed: Option<KeyedSnapshot>,
    /// Its other state.
    pub state: OperatorState,
    /// Its counters (see the job report).
    #[serde(default)]
    pub counters: BTreeMap<String, u64>,
    /// Whether it had finished (all its input ended) by then.
    #[serde(default)]
    pub finished: bool,
}

/// Where an instance's keyed state is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyedSnapshot {
    /// `rocksdb` (a RocksDB checkpoint folder) or `memory` (a file of entries).
    pub backend: String,
    /// Relative to the snapshot's folder.
    pub path: String,
    /// First key group.
    pub first_group: u16,
    /// Last key group.
    pub last_group: u16,
    /// Entries held in memory (not in the backend's files) at the barrier, applied over
    /// them on restore: a file relative to the snapshot's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlay: Option<String>,
}

/// An instance's state besides keyed state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum OperatorState {
    /// Nothing.
    #[default]
    None,
    /// A source reader: its splits and where it is in each.
    Source {
        /// Its splits.
        splits: Vec<SplitState>,
    },
    /// A window operator: its watermark (timers and windows are in keyed state).
    Window {
        /// The operator's watermark.
        watermark: i64,
    },
    /// A broadcast operator: its broadcast state.
    Broadcast {
        /// Relative path of the state's file.
        path: String,
        /// Entries over all its maps.
        entries: u64,
    },
    /// A sink writing parts: the parts waiting for their checkpoint to complete.
    Sink {
        /// Parts to commit when this snapshot completes.
        pending: Vec<PendingPart>,
    },
    /// A Kafka source reader: where it is in each partition it reads.
    KafkaSource {
        /// Its partitions.
        partitions: Vec<PartitionState>,
    },
    /// A Kafka sink: its transaction waiting for its checkpoint (exactly-once).
    KafkaSink {
        /// The transaction to commit when this snapshot completes, if any.
        pending: Option<KafkaTxn>,
    },
}

/// Where a reader is in one Kafka partition.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartitionState {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset of the next record to read.
    pub offset: i64,
    /// The largest event timestamp read so far (the partition's watermark follows it).
    pub max_ts: i64,
    /// A bounded source's end: the offset the partition is read up to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<i64>,
}

/// A Kafka transaction written and flushed at a barrier, to be committed when its
/// checkpoint completes. Its records are kept in a spool file until the commit is
/// confirmed, so a transaction lost to a crash between the checkpoint's completion and
/// the commit is written again on recovery.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KafkaTxn {
    /// The producer's transactional id.
    pub transactional_id: String,
    /// The lineage of runs the sink belongs to (kept across restores): progress records
    /// are keyed by it and the transactional id.
    pub run: String,
    /// The checkpoint whose completion commits it.
    pub checkpoint: u64,
    /// The records written in it.
    pub spool: PathBuf,
    /// Bytes of the spool that belong to it.
    pub bytes: u64,
    /// Records in it.
    pub records: u64,
}

/// Where a reader is in one split of a file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SplitState {
    /// The file.
    pub path: PathBuf,
    /// First byte of the split.
    pub start: u64,
    /// One past its last byte (`u64::MAX`: to the end of the file).
    pub end: u64,
    /// Byte offset of the next line to read.
    pub position: u64,
    /// The largest event timestamp read so far (the split's watermark follows it).
    pub max_ts: i64,
    /// Whether the split is read to its end.
    pub done: bool,
}

/// A part file written and flushed, waiting for the checkpoint that covers it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingPart {
    /// Where it is now (hidden).
    pub pending: PathBuf,
    /// Its committed name.
    pub committed: PathBuf,
    /// Records in it.
    pub records: u64,
}

impl Metadata {
    /// The instances of node `uid`.
    pub fn instances_of<'a>(&'a self, uid: &'a str) -> impl Iterator<Item = &'a InstanceState> {
        self.instances.iter().filter(move |i| i.uid == uid)
    }

    /// Every part this snapshot commits.
    pub fn pending_parts(&self) -> impl Iterator<Item = &PendingPart> {
        self.instances.iter().flat_map(|i| match &i.state {
            OperatorState::Sink { pending } => pending.as_slice(),
            _ => &[],
        })
    }
}

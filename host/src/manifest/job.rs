//! The validated job: what a manifest means once every check has passed.

use std::path::PathBuf;

use crate::record::json_field::FieldPath;
pub use crate::time::{Evictor, EvictorKind, Trigger, TriggerKind, WindowKind};

/// Default records per batch.
pub const DEFAULT_BATCH_SIZE: u32 = 1024;

/// Memory for window accumulators in a job, unless the manifest says otherwise.
pub const DEFAULT_WINDOW_CACHE: u64 = 256 << 20;
/// Default number of key groups.
pub const DEFAULT_MAX_PARALLELISM: u32 = 128;
/// Default wall-clock deadline per record: a call of `n` records may take `n` times this.
pub const DEFAULT_DEADLINE_MS: u64 = 100;
/// Default memory cap of one function instance.
pub const DEFAULT_MEMORY_BYTES: u64 = 256 << 20;

/// Most windows one element may belong to (size / slide of sliding windows).
pub const MAX_WINDOWS_PER_ELEMENT: u64 = 10_000;
/// Largest memory cap of a function instance: all a 32-bit Wasm memory can address.
pub const MAX_MEMORY_BYTES: u64 = 4 << 30;

/// A validated job.
#[derive(Debug, Clone)]
pub struct Job {
    /// The job's name.
    pub name: String,
    /// Default parallel instances per node.
    pub parallelism: u32,
    /// Number of key groups.
    pub max_parallelism: u32,
    /// Records per batch.
    pub batch_size: usize,
    /// Where keyed state lives.
    pub state_dir: PathBuf,
    /// Which state backend.
    pub state_backend: StateBackendKind,
    /// Bytes of window accumulators kept in memory, shared by the job's window operator
    /// instances; past its share an instance writes them back to the state backend.
    pub window_cache: u64,
    /// Sources, operators and sinks, each after everything it reads.
    pub nodes: Vec<Node>,
    /// Periodic checkpoints, if on.
    pub checkpoint: Option<CheckpointConfig>,
    /// Where checkpoints and savepoints taken into the job's own store go.
    pub checkpoint_dir: PathBuf,
    /// What happens when a task fails.
    pub restart: RestartStrategy,
    /// The control endpoint.
    pub control: ControlConfig,
}

/// How a sink's output relates to checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Output becomes visible when the checkpoint covering it completes (two-phase
    /// commit): after a failure nothing is lost and nothing appears twice.
    ExactlyOnce,
    /// Output becomes visible at each barrier: after a failure, what came after the last
    /// completed checkpoint may appear again.
    AtLeastOnce,
}

/// How a file or stdout sink writes each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SinkFormat {
    /// Its value, one per line.
    #[default]
    Values,
    /// One JSON object per line: `{"key", "timestamp", "headers", "value"}` (bytes as
    /// text when they are UTF-8, else `{"hex": "..."}`), so keys and headers (such as
    /// `weir-fn`, which function version made the record) are kept.
    Envelope,
}

/// The header a function's outputs carry when its operator has `provenance = true`:
/// `<operator>@<content hash of the component>`.
pub const PROVENANCE_HEADER: &str = "weir-fn";

/// Default number of completed checkpoints kept.
pub const DEFAULT_RETAIN: usize = 3;
/// Default time after which a checkpoint is abandoned.
pub const DEFAULT_CHECKPOINT_TIMEOUT_MS: u64 = 600_000;

/// `[job.checkpoint]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointConfig {
    /// Time between checkpoints.
    pub interval_ms: u64,
    /// Completed checkpoints kept.
    pub retain: usize,
    /// Aligned barriers or not.
    pub mode: CheckpointMode,
    /// When an incomplete checkpoint is abandoned.
    pub timeout_ms: u64,
    /// Least time from the end of one checkpoint to the start of the next.
    pub min_pause_ms: u64,
}

/// How barriers pass a task with several inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointMode {
    /// Aligned: inputs that delivered a barrier wait for the others (state holds exactly
    /// what came before the barrier on every input).
    ExactlyOnce,
    /// Not aligned: the first barrier snapshots, later records of slower inputs may be
    /// in the state too and are replayed on recovery.
    AtLeastOnce,
}

/// What happens when a task fails (Flink's restart strategies).
#[derive(Debug, Clone, PartialEq)]
pub enum RestartStrategy {
    /// The job fails.
    None,
    /// Restart after `delay`, at most `attempts` times.
    FixedDelay {
        /// Restarts allowed.
        attempts: u32,
        /// Wait before each.
        delay_ms: u64,
    },
    /// Restart after a wait that grows with each failure.
    ExponentialDelay {
        /// Restarts allowed before giving up (counted since the last reset).
        attempts: u32,
        /// First wait.
        initial_ms: u64,
        /// Longest wait.
        max_ms: u64,
        /// Growth per failure.
        multiplier: f64,
        /// A run this long without failure resets the wait and the count.
        reset_after_ms: u64,
        /// Random share of the wait added or taken away.
        jitter: f64,
    },
    /// Restart after `delay` unless more than `max_failures` happened in `interval`.
    FailureRate {
        /// Failures allowed per interval.
        max_failures: u32,
        /// The interval.
        interval_ms: u64,
        /// Wait before each restart.
        delay_ms: u64,
    },
}

/// `[job.control]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlConfig {
    /// Address to listen on.
    pub bind: String,
    /// The environment variable holding the bearer token (needed off loopback).
    pub token_env: Option<String>,
}

/// Which state backend keeps keyed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateBackendKind {
    /// Embedded RocksDB under the state directory.
    RocksDb,
    /// In memory (lost when the job ends).
    Memory,
}

/// One source, operator or sink.
#[derive(Debug, Clone)]
pub struct Node {
    /// Name in the manifest.
    pub name: String,
    /// Stable id of its state in checkpoints (default: its name).
    pub uid: String,
    /// Parallel instances.
    pub parallelism: u32,
    /// What it is.
    pub kind: NodeKind,
}

/// What a node is.
#[derive(Debug, Clone)]
pub enum NodeKind {
    /// A source.
    Source {
        /// Where it reads.
        kind: SourceKind,
        /// How it assigns event time, if it does.
        event_time: Option<EventTime>,
    },
    /// An operator running a function.
    Operator(Box<OperatorNode>),
    /// A sink.
    Sink {
        /// Where it writes.
        kind: SinkKind,
        /// What it writes.
        input: InputRef,
        /// How it writes each record.
        format: SinkFormat,
    },
}

impl NodeKind {
    /// The outputs this node reads: none for a source, the main input (and the broadcast
    /// input) of an operator, the input of a sink.
    pub fn inputs(&self) -> Vec<&InputRef> {
        match self {
            NodeKind::Source { .. } => Vec::new(),
            NodeKind::Operator(o) => {
                let mut v = vec![&o.input];
                if let OperatorKind::Broadcast { broadcast, .. } = &o.kind {
                    v.push(broadcast);
                }
                v
            }
            NodeKind::Sink { input, .. } => vec![input],
        }
    }
}

/// Where a source reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// Lines of a file or of the files in a folder.
    File {
        /// File or folder.
        path: PathBuf,
        /// How lines are read.
        format: FileFormat,
        /// Keep reading appended data.
        follow: bool,
    },
    /// Kafka topics, each partition a split.
    Kafka(KafkaSource),
}

/// A Kafka source, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSource {
    /// Bootstrap brokers, `host:port` separated by commas.
    pub brokers: String,
    /// Which topics.
    pub topics: KafkaTopics,
    /// The consumer group offsets are committed to when checkpoints complete (for lag
    /// monitoring), and read from with `start = "committed"`.
    pub group_id: Option<String>,
    /// Where a run without a checkpoint starts.
    pub start: KafkaStart,
    /// librdkafka properties passed through.
    pub properties: Vec<(String, String)>,
    /// Read up to the end offsets seen at the start, then end.
    pub bounded: bool,
    /// How often topics and partitions are looked up again (new ones are read from their
    /// start).
    pub discovery_interval_ms: u64,
    /// How long to wait for the brokers at start before failing.
    pub connect_timeout_ms: u64,
}

/// The topics a Kafka source reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KafkaTopics {
    /// These topics.
    Names(Vec<String>),
    /// Every topic whose whole name matches this regular expression, including topics
    /// created while the job runs.
    Pattern(String),
}

/// Where a Kafka source starts reading (when no checkpoint says where it was).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KafkaStart {
    /// The oldest offset of each partition.
    Earliest,
    /// The end of each partition: only what is written after the start.
    Latest,
    /// The offsets committed to the consumer group (the earliest where there are none).
    Committed,
    /// The first offset whose timestamp is at or after this (epoch milliseconds).
    Timestamp(i64),
}

/// A Kafka sink, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSink {
    /// Bootstrap brokers, `host:port` separated by commas.
    pub brokers: String,
    /// The topic written.
    pub topic: String,
    /// librdkafka properties passed through.
    pub properties: Vec<(String, String)>,
    /// At-least-once (flushed at every barrier) or exactly-once (transactions committed
    /// when checkpoints complete).
    pub delivery: Delivery,
    /// Instance `i` of the sink uses the transactional id `<prefix>-<i>` (exactly-once).
    pub transactional_id_prefix: String,
    /// The compacted topic recording which checkpoint each transactional id committed
    /// last (exactly-once).
    pub progress_topic: String,
    /// How long to wait for the brokers at start before failing.
    pub connect_timeout_ms: u64,
    /// Where records the producer refuses (over `message.max.bytes`) go instead of
    /// failing the job.
    pub dead_letter_topic: Option<String>,
}

/// How file lines become records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// One JSON document per line.
    JsonLines,
    /// One text record per line.
    TextLines,
}

/// How a source assigns event time and watermarks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTime {
    /// Where timestamps come from.
    pub from: TimestampFrom,
    /// Bounded out-of-orderness of the watermark.
    pub max_out_of_orderness_ms: u64,
    /// A split silent for this long stops holding the watermark back.
    pub idle_timeout_ms: Option<u64>,
    /// Watermarks carried by records (then `max_out_of_orderness_ms` is 0 and unused).
    pub record_watermarks: Option<RecordWatermarks>,
}

/// Watermarks carried in the data, instead of derived from timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordWatermarks {
    /// The field holding a watermark (epoch milliseconds).
    pub field: FieldPath,
    /// Records holding it are markers (taken out of the stream), not data.
    pub markers: bool,
}

/// Where timestamps come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestampFrom {
    /// A field of the JSON value.
    Field(FieldPath),
    /// The wall clock when the record is read.
    Ingestion,
    /// The timestamp Kafka keeps with each record (Kafka sources).
    Kafka,
    /// The map function that reads the source (chained to it) sets them; the source
    /// keeps its watermarks per split from what the function emits, so the document is
    /// parsed once, by the function, not also by the host.
    Function,
}

/// A validated operator.
#[derive(Debug, Clone)]
pub struct OperatorNode {
    /// What it does.
    pub kind: OperatorKind,
    /// Its (main) input.
    pub input: InputRef,
    /// How its main input is keyed, if it is.
    pub key_by: Option<KeyBy>,
    /// Its function.
    pub component: ComponentRef,
    /// The `config` table as JSON.
    pub config_json: String,
    /// Files handed to `init`.
    pub files: Vec<(String, PathBuf)>,
    /// Sandbox limits.
    pub limits: Limits,
    /// What happens to records the function fails on.
    pub on_error: ErrorPolicy,
    /// Its outputs carry the [`PROVENANCE_HEADER`] naming the function version that
    /// made them.
    pub provenance: bool,
}

/// The kinds of operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorKind {
    /// A map function.
    Map,
    /// Keyed windows and a process-window function.
    Window {
        /// Window assigner.
        window: WindowKind,
        /// Event or processing time.
        time: TimeDomain,
        /// Incremental aggregate, if any.
        aggregate: Option<WindowAggregateKind>,
        /// Lateness allowed after a window fires.
        allowed_lateness_ms: u64,
        /// When windows fire.
        trigger: Trigger,
        /// Mark emitted records with their firing's timing (a `weir-pane` header).
        pane_header: bool,
        /// Which elements a firing keeps.
        evictor: Option<Evictor>,
    },
    /// A broadcast-process function.
    Broadcast {
        /// The broadcast input.
        broadcast: InputRef,
        /// Read the broadcast input to its end before the main input.
        bootstrap: bool,
    },
}

/// Which clock drives windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeDomain {
    /// Record timestamps and watermarks.
    Event,
    /// The wall clock.
    Processing,
}

/// Incremental window aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowAggregateKind {
    /// Count the elements (the host does it; the accumulator is a JSON number).
    Count,
    /// The function's own `aggregate` export.
    Function,
}

/// A reference to a node's output.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InputRef {
    /// The node.
    pub node: String,
    /// Which of its outputs.
    pub output: Output,
}

impl std::fmt::Display for InputRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.output {
            Output::Main => f.write_str(&self.node),
            Output::Late => write!(f, "{}.late", self.node),
            Output::DeadLetter => write!(f, "{}.dead-letter", self.node),
        }
    }
}

/// The outputs of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Output {
    /// What it emits.
    Main,
    /// Elements too late for their windows.
    Late,
    /// Records the function failed on, with the error.
    DeadLetter,
}

/// How an input is keyed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyBy {
    /// By the record's key.
    RecordKey,
    /// By a field of the JSON value.
    Field(FieldPath),
}

/// Where a function comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentRef {
    /// A `.wasm` component, or a Rust crate folder to build into one.
    Wasm(PathBuf),
    /// A native function registered by name with the runtime (`native:<name>`), for
    /// embedding weir and for measuring Wasm against native code.
    Native(String),
}

/// Sandbox limits of a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time per record: a call of `n` records may take `n` times this (at
    /// most ten minutes).
    pub deadline_ms: u64,
    /// Linear memory of one instance.
    pub memory_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            deadline_ms: DEFAULT_DEADLINE_MS,
            memory_bytes: DEFAULT_MEMORY_BYTES,
        }
    }
}

/// What happens to a record a function fails on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorPolicy {
    /// The job stops with the error.
    Fail,
    /// The record and the error go to the operator's `dead-letter` output.
    DeadLetter,
}

/// Where a sink writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkKind {
    /// Lines of record values: one file (without checkpoints), or a folder of parts
    /// committed by checkpoints.
    File {
        /// The file, or the folder of parts.
        path: PathBuf,
        /// How records reach it when checkpoints are on.
        delivery: Delivery,
    },
    /// Standard output, one line per record.
    Stdout,
    /// A Kafka topic.
    Kafka(KafkaSink),
}

//! The manifest as written: one struct per TOML table.
//!
//! Fields are checked for names and types here (unknown fields are errors); everything
//! else is checked in `resolve`. Values that later checks may complain about are
//! `Spanned`, so the complaint can name their line.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::units::{ByteSize, Millis};

/// A whole manifest.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// `[job]`: name and job-wide settings.
    pub job: Spanned<JobTable>,
    /// `[sources.<name>]`.
    #[serde(default)]
    pub sources: BTreeMap<String, Spanned<SourceTable>>,
    /// `[operators.<name>]`.
    #[serde(default)]
    pub operators: BTreeMap<String, Spanned<OperatorTable>>,
    /// `[sinks.<name>]`.
    #[serde(default)]
    pub sinks: BTreeMap<String, Spanned<SinkTable>>,
}

/// `[job]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobTable {
    /// The job's name (used in logs and for the default state directory).
    pub name: Spanned<String>,
    /// Parallel instances of every operator (default 1).
    pub parallelism: Option<Spanned<u32>>,
    /// Number of key groups: the most parallel instances keyed state can ever be spread
    /// over (default 128, as Flink's default maximum parallelism).
    pub max_parallelism: Option<Spanned<u32>>,
    /// Records per batch handed to a function (default 1024).
    pub batch_size: Option<Spanned<u32>>,
    /// Where the job keeps its state, checkpoints and control address (default
    /// `.weir/<job name>` beside the manifest).
    pub state_dir: Option<Spanned<String>>,
    /// `rocksdb` (default) or `memory`.
    pub state_backend: Option<Spanned<String>>,
    /// Memory for window accumulators before they are written back to the state backend,
    /// shared by the job's window operator instances (default 256MiB).
    pub window_cache: Option<Spanned<ByteSize>>,
    /// `[job.checkpoint]`: periodic checkpoints (off when absent).
    pub checkpoint: Option<Spanned<CheckpointTable>>,
    /// `[job.restart]`: what happens when a task fails.
    pub restart: Option<Spanned<RestartTable>>,
    /// `[job.control]`: the control endpoint.
    pub control: Option<Spanned<ControlTable>>,
}

/// `[job.checkpoint]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointTable {
    /// Time between checkpoints.
    pub interval: Spanned<Millis>,
    /// Where checkpoints go (default `checkpoints/` in the state directory).
    pub dir: Option<Spanned<String>>,
    /// Completed checkpoints kept (default 3).
    pub retain: Option<Spanned<u32>>,
    /// `exactly-once` (aligned barriers, default) or `at-least-once`.
    pub mode: Option<Spanned<String>>,
    /// A checkpoint not complete after this long is abandoned (default 10m).
    pub timeout: Option<Spanned<Millis>>,
    /// Least time between the end of one checkpoint and the start of the next.
    pub min_pause: Option<Spanned<Millis>>,
}

/// `[job.restart]`, with Flink's strategies and parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartTable {
    /// `none`, `fixed-delay`, `exponential-delay` or `failure-rate`.
    pub strategy: Spanned<String>,
    /// Restarts before giving up (`fixed-delay`, `exponential-delay`).
    pub attempts: Option<Spanned<u32>>,
    /// Wait before a restart (`fixed-delay`, `failure-rate`).
    pub delay: Option<Spanned<Millis>>,
    /// First wait (`exponential-delay`).
    pub initial_backoff: Option<Spanned<Millis>>,
    /// Longest wait (`exponential-delay`).
    pub max_backoff: Option<Spanned<Millis>>,
    /// Growth of the wait per failure (`exponential-delay`).
    pub backoff_multiplier: Option<Spanned<f64>>,
    /// A run this long without failure resets the backoff (`exponential-delay`).
    pub reset_backoff_threshold: Option<Spanned<Millis>>,
    /// Random share of the wait added or taken away (`exponential-delay`).
    pub jitter_factor: Option<Spanned<f64>>,
    /// Failures allowed per `failure_rate_interval` (`failure-rate`).
    pub max_failures_per_interval: Option<Spanned<u32>>,
    /// The window failures are counted in (`failure-rate`).
    pub failure_rate_interval: Option<Spanned<Millis>>,
}

/// `[job.control]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlTable {
    /// Address to listen on (default `127.0.0.1:0`: a free loopback port).
    pub bind: Option<Spanned<String>>,
    /// The environment variable holding the bearer token, required on any address that
    /// is not loopback.
    pub token_env: Option<Spanned<String>>,
}

/// `[sources.<name>]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceTable {
    /// `file` or `kafka`.
    pub kind: Spanned<String>,
    /// File or folder to read (file sources).
    pub path: Option<Spanned<String>>,
    /// `json-lines` (default) or `text-lines`.
    pub format: Option<Spanned<String>>,
    /// Keep reading data appended to the files instead of ending at their end.
    pub follow: Option<bool>,
    /// Kafka: the bootstrap brokers, `"host:port,host:port"` or a list.
    pub brokers: Option<Spanned<OneOrMany>>,
    /// Kafka: a topic, a list of topics, or `{ pattern = "regex" }`.
    pub topics: Option<Spanned<TopicsValue>>,
    /// Kafka: the consumer group offsets are committed to on checkpoint completion.
    pub group_id: Option<Spanned<String>>,
    /// Kafka: `earliest` (default), `latest`, `committed` or `{ timestamp = ... }`.
    pub start: Option<Spanned<StartValue>>,
    /// Kafka: librdkafka properties passed through.
    pub properties: Option<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
    /// Kafka: read up to the end offsets seen at the start, then end.
    pub bounded: Option<Spanned<bool>>,
    /// Kafka: how often topics and partitions are looked up again (default 10s).
    pub discovery_interval: Option<Spanned<Millis>>,
    /// Kafka: how long to wait for the brokers at start (default 30s).
    pub connect_timeout: Option<Spanned<Millis>>,
    /// Parallel readers (default: the job's parallelism; a broadcast input runs as one).
    pub parallelism: Option<Spanned<u32>>,
    /// Event time and watermarks.
    pub event_time: Option<Spanned<EventTimeTable>>,
    /// Stable id of the source's positions in checkpoints (default: its name).
    pub uid: Option<Spanned<String>>,
}

/// A string, or a list of strings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
}

/// `topics`: a name, names, or `{ pattern = "..." }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum TopicsValue {
    /// Names.
    Names(OneOrMany),
    /// A regular expression of topic names.
    Pattern {
        /// The expression (matching whole names).
        pattern: String,
    },
}

/// `start`: a word, or `{ timestamp = ... }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum StartValue {
    /// `earliest`, `latest` or `committed`.
    Word(String),
    /// The first record at or after a time: epoch milliseconds, or an RFC 3339 time.
    Timestamp {
        /// The time.
        timestamp: toml::Value,
    },
}

/// `[sources.<name>.event_time]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventTimeTable {
    /// Field of the JSON value holding epoch milliseconds (number or string).
    pub field: Option<Spanned<String>>,
    /// `ingestion`: stamp records with the wall clock when read; `kafka`: the timestamp
    /// Kafka keeps with each record (Kafka sources); `function`: the map
    /// function reading the source sets the timestamps (the source still keeps a
    /// watermark per split, from the timestamps of what the function emits).
    pub from: Option<Spanned<String>>,
    /// Bounded out-of-orderness of the watermark (default 0).
    pub max_out_of_orderness: Option<Spanned<Millis>>,
    /// A split with no records for this long stops holding the watermark back.
    pub idle_timeout: Option<Spanned<Millis>>,
    /// Field of a record that carries the watermark (epoch milliseconds): the split's
    /// watermark is the largest such value read, instead of one bounded by
    /// `max_out_of_orderness`.
    pub watermark_field: Option<Spanned<String>>,
    /// Records that have `watermark_field` are watermark markers, not data: they do not
    /// reach the operators (punctuated watermarks). Default false: they pass on.
    pub watermark_markers: Option<Spanned<bool>>,
}

/// `[operators.<name>]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorTable {
    /// `map`, `window` or `broadcast`.
    pub kind: Spanned<String>,
    /// Where the records come from: a source, an operator, or `<operator>.late` /
    /// `<operator>.dead-letter`.
    pub input: Spanned<String>,
    /// The broadcast input (`broadcast` operators).
    pub broadcast: Option<Spanned<String>>,
    /// Read the broadcast input to its current end before the main input.
    pub bootstrap: Option<Spanned<bool>>,
    /// The Wasm component: a `.wasm` file, or a Rust crate directory to build.
    pub component: Option<Spanned<String>>,
    /// Handed to the function's `init` as JSON.
    pub config: Option<Spanned<toml::Value>>,
    /// Files the host reads and hands to `init`: name → path.
    #[serde(default)]
    pub files: BTreeMap<String, Spanned<String>>,
    /// Partition the input by key: `"key"` (the record key) or `{ field = "a.b" }`.
    pub key_by: Option<Spanned<KeyByValue>>,
    /// The window (`window` operators).
    pub window: Option<Spanned<WindowTable>>,
    /// `event` (default) or `processing` time for windows.
    pub time: Option<Spanned<String>>,
    /// Incremental aggregate of windows: `count` or `function`.
    pub aggregate: Option<Spanned<String>>,
    /// How long windows stay open for late elements after firing (default 0).
    pub allowed_lateness: Option<Spanned<Millis>>,
    /// When windows fire: `"event-time"`, `"processing-time"`, or
    /// `{ type = "count" | "continuous-event-time" | "continuous-processing-time", ... }`.
    pub trigger: Option<Spanned<TriggerValue>>,
    /// Mark each record a window firing emits with a `weir-pane` header: `early`,
    /// `on-time` or `late`.
    pub pane_header: Option<Spanned<bool>>,
    /// Which elements a firing keeps: `{ type = "count", count = n }` or
    /// `{ type = "time", keep = "5s" }`, with `after = true` to evict after the function.
    pub evictor: Option<Spanned<EvictorTable>>,
    /// `fail` (default) or `dead-letter`.
    pub on_error: Option<Spanned<String>>,
    /// Mark each output record with the function version that made it (a `weir-fn`
    /// header).
    pub provenance: Option<Spanned<bool>>,
    /// Sandbox limits of the function.
    pub limits: Option<Spanned<LimitsTable>>,
    /// Parallel instances (default: the job's parallelism; a broadcast input runs as one).
    pub parallelism: Option<Spanned<u32>>,
    /// Stable id of the operator's state (default: its name).
    pub uid: Option<Spanned<String>>,
}

/// `trigger`: a word, or a table.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum TriggerValue {
    /// `"event-time"` or `"processing-time"`.
    Word(String),
    /// `{ type = ..., ... }`.
    Table(TriggerTable),
}

/// `trigger = { ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerTable {
    /// `event-time`, `processing-time`, `count`, `continuous-event-time` or
    /// `continuous-processing-time`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Elements per firing (`count`).
    pub count: Option<i64>,
    /// Time between firings (continuous triggers).
    pub interval: Option<Millis>,
    /// Clear the window's contents after each firing.
    pub purging: Option<bool>,
}

/// `evictor = { ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvictorTable {
    /// `count` or `time`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Elements kept (`count`).
    pub count: Option<i64>,
    /// How far below the latest timestamp elements are kept (`time`).
    pub keep: Option<Millis>,
    /// Evict after the function (default: before).
    pub after: Option<bool>,
}

/// `key_by`: `"key"` or `{ field = "..." }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum KeyByValue {
    /// `"key"`.
    Word(String),
    /// `{ field = "..." }`.
    Field {
        /// The JSON field path.
        field: String,
    },
}

/// `window = { ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowTable {
    /// `tumbling`, `sliding`, `session` or `count`.
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    /// Length (time windows) — or elements (count windows, as an integer).
    pub size: Option<Spanned<toml::Value>>,
    /// Step between sliding windows (time or count).
    pub slide: Option<Spanned<toml::Value>>,
    /// Inactivity that closes a session.
    pub gap: Option<Spanned<Millis>>,
    /// Shift of tumbling and sliding window boundaries from the epoch.
    pub offset: Option<Spanned<Millis>>,
}

/// `limits = { ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsTable {
    /// Wall-clock time per record (default 100ms): a call of `n` records may take `n`
    /// times this.
    pub deadline: Option<Spanned<Millis>>,
    /// Linear memory one instance may grow to (default 256MiB).
    pub memory: Option<Spanned<ByteSize>>,
}

/// `[sinks.<name>]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkTable {
    /// `file`, `stdout` or `kafka`.
    pub kind: Spanned<String>,
    /// What to write (as `operators.*.input`).
    pub input: Spanned<String>,
    /// Output file (file sinks), or folder of committed parts with exactly-once
    /// delivery.
    pub path: Option<Spanned<String>>,
    /// `exactly-once` (default with checkpoints) or `at-least-once`.
    pub delivery: Option<Spanned<String>>,
    /// `values` (default: each record's value) or `envelope` (key, timestamp, headers
    /// and value as one JSON object).
    pub format: Option<Spanned<String>>,
    /// Kafka: the bootstrap brokers, `"host:port,host:port"` or a list.
    pub brokers: Option<Spanned<OneOrMany>>,
    /// Kafka: the topic written.
    pub topic: Option<Spanned<String>>,
    /// Kafka: librdkafka properties passed through.
    pub properties: Option<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
    /// Kafka, exactly-once: instance `i` uses the transactional id `<prefix>-<i>`
    /// (default `weir-<job>-<sink uid>`).
    pub transactional_id_prefix: Option<Spanned<String>>,
    /// Kafka, exactly-once: the compacted topic recording the checkpoint each
    /// transactional id committed last (default `weir-progress`).
    pub progress_topic: Option<Spanned<String>>,
    /// Kafka: the topic records the producer refuses (over `message.max.bytes`) go to,
    /// as dead letters, instead of failing the job.
    pub dead_letter_topic: Option<Spanned<String>>,
    /// Kafka: parallel instances (default: the job's parallelism).
    pub parallelism: Option<Spanned<u32>>,
    /// Kafka: how long to wait for the brokers at start (default 30s).
    pub connect_timeout: Option<Spanned<Millis>>,
    /// Stable id of the sink's state in checkpoints (default: its name).
    pub uid: Option<Spanned<String>>,
}

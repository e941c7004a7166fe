//! Checks a parsed manifest and turns it into a [`Job`]: names resolved, units
//! converted, defaults applied, every combination checked. All problems are collected,
//! not just the first.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::diag::{Diagnostics, Locator, Problem};
use super::model::{KeyByValue, Manifest, OperatorTable, SinkTable, SourceTable, WindowTable};
use super::units::Millis;
use crate::record::json_field::FieldPath;

/// Default records per batch.
pub const DEFAULT_BATCH_SIZE: u32 = 1024;
/// Default number of key groups.
pub const DEFAULT_MAX_PARALLELISM: u32 = 128;
/// Default CPU deadline of one function call.
pub const DEFAULT_DEADLINE_MS: u64 = 1_000;
/// Default memory cap of one function instance.
pub const DEFAULT_MEMORY_BYTES: u64 = 256 << 20;

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
    /// Sources, operators and sinks, each after everything it reads.
    pub nodes: Vec<Node>,
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
}

/// Where timestamps come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestampFrom {
    /// A field of the JSON value.
    Field(FieldPath),
    /// The wall clock when the record is read.
    Ingestion,
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
    /// Stable id of its state.
    pub uid: String,
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
    },
    /// A broadcast-process function.
    Broadcast {
        /// The broadcast input.
        broadcast: InputRef,
        /// Read the broadcast input to its end before the main input.
        bootstrap: bool,
    },
}

/// Window assigners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// Fixed, non-overlapping windows.
    Tumbling {
        /// Length.
        size_ms: i64,
        /// Boundary shift from the epoch.
        offset_ms: i64,
    },
    /// Fixed windows every `slide`.
    Sliding {
        /// Length.
        size_ms: i64,
        /// Step.
        slide_ms: i64,
        /// Boundary shift from the epoch.
        offset_ms: i64,
    },
    /// Windows that close after a gap of inactivity, merging as elements bridge them.
    Session {
        /// Inactivity gap.
        gap_ms: i64,
    },
    /// Windows of a number of elements per key.
    Count {
        /// Elements per window.
        size: u64,
        /// Elements between window starts (= size for tumbling count windows).
        slide: u64,
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
    /// CPU time of one call.
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
    /// One file, one line per record.
    File {
        /// The file.
        path: PathBuf,
    },
    /// Standard output, one line per record.
    Stdout,
}

/// The checks, collecting problems as they go.
struct Checker<'a> {
    loc: &'a Locator,
    base: &'a Path,
    problems: Vec<(usize, Problem)>,
}

impl Checker<'_> {
    fn report(
        &mut self,
        span: Option<Range<usize>>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        let order = span.as_ref().map_or(usize::MAX, |s| s.start);
        self.problems
            .push((order, self.loc.problem(span.as_ref(), field, message)));
    }

    /// A path from the manifest (relative to its folder) or from `--set` (relative to
    /// the working directory).
    fn path(&self, value: &Spanned<String>) -> PathBuf {
        let p = PathBuf::from(value.get_ref());
        if p.is_absolute() || self.loc.override_of(&value.span()).is_some() {
            clean(&p)
        } else {
            clean(&self.base.join(p))
        }
    }

    fn positive(&mut self, v: &Option<Spanned<u32>>, field: &str, default: u32) -> u32 {
        match v {
            Some(v) if *v.get_ref() == 0 => {
                self.report(Some(v.span()), field, "must be at least 1");
                default
            }
            Some(v) => *v.get_ref(),
            None => default,
        }
    }

    fn one_of(&mut self, v: &Spanned<String>, field: &str, allowed: &[&str]) -> Option<usize> {
        let found = allowed.iter().position(|a| a == v.get_ref());
        if found.is_none() {
            self.report(
                Some(v.span()),
                field,
                format!(
                    "`{}` is not one of {}",
                    v.get_ref(),
                    allowed
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        found
    }
}

/// `a/b/../c` as `a/c`, without touching the file system.
fn clean(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(c),
            },
            other => out.push(other),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Checks `m` and builds its [`Job`].
pub(crate) fn resolve(m: Manifest, loc: &Locator, base: &Path) -> Result<Job, Diagnostics> {
    let mut c = Checker {
        loc,
        base,
        problems: Vec::new(),
    };
    let job = m.job.get_ref();
    let name = job.name.get_ref().clone();
    if !valid_name(&name) {
        c.report(
            Some(job.name.span()),
            "job.name",
            "use letters, digits, `-` and `_` only",
        );
    }
    let max_parallelism = c.positive(
        &job.max_parallelism,
        "job.max_parallelism",
        DEFAULT_MAX_PARALLELISM,
    );
    if max_parallelism > 32_768 {
        c.report(
            job.max_parallelism.as_ref().map(Spanned::span),
            "job.max_parallelism",
            "must be at most 32768",
        );
    }
    let parallelism = c.positive(&job.parallelism, "job.parallelism", 1);
    if parallelism > max_parallelism {
        c.report(
            job.parallelism.as_ref().map(Spanned::span),
            "job.parallelism",
            format!("must not exceed job.max_parallelism ({max_parallelism})"),
        );
    }
    let batch_size = c.positive(&job.batch_size, "job.batch_size", DEFAULT_BATCH_SIZE);
    if batch_size > 65_536 {
        c.report(
            job.batch_size.as_ref().map(Spanned::span),
            "job.batch_size",
            "must be at most 65536",
        );
    }
    let state_backend = match &job.state_backend {
        Some(v) => match c.one_of(v, "job.state_backend", &["rocksdb", "memory"]) {
            Some(1) => StateBackendKind::Memory,
            _ => StateBackendKind::RocksDb,
        },
        None => StateBackendKind::RocksDb,
    };
    let state_dir = match &job.state_dir {
        Some(v) => c.path(v),
        None => PathBuf::from(".weir").join(&name).join("state"),
    };

    // Every name shares one namespace, since inputs refer to names. A name used again
    // is reported, and its later use left out so that it causes no other problems.
    let mut kinds: BTreeMap<&str, &str> = BTreeMap::new();
    let mut repeated: BTreeSet<(&str, &str)> = BTreeSet::new();
    for (section, names) in [
        (
            "sources",
            m.sources
                .iter()
                .map(|(n, t)| (n, t.span()))
                .collect::<Vec<_>>(),
        ),
        (
            "operators",
            m.operators.iter().map(|(n, t)| (n, t.span())).collect(),
        ),
        (
            "sinks",
            m.sinks.iter().map(|(n, t)| (n, t.span())).collect(),
        ),
    ] {
        for (n, span) in names {
            if !valid_name(n) {
                c.report(
                    Some(span.clone()),
                    format!("{section}.{n}"),
                    "use letters, digits, `-` and `_` only in names",
                );
            }
            match kinds.get(n.as_str()) {
                Some(prev) => {
                    c.report(
                        Some(span),
                        format!("{section}.{n}"),
                        format!("the name `{n}` is also used in [{prev}]"),
                    );
                    repeated.insert((section, n.as_str()));
                }
                None => {
                    kinds.insert(n, section);
                }
            }
        }
    }

    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    let mut edges: Vec<(String, InputRef, Range<usize>, String)> = Vec::new();
    for (n, s) in &m.sources {
        let kind = source(&mut c, n, s);
        nodes.insert(
            n.clone(),
            Node {
                name: n.clone(),
                parallelism: c.positive(
                    &s.get_ref().parallelism,
                    &format!("sources.{n}.parallelism"),
                    parallelism,
                ),
                kind,
            },
        );
    }
    for (n, o) in &m.operators {
        if repeated.contains(&("operators", n.as_str())) {
            continue;
        }
        let (node, inputs) = operator(&mut c, n, o, parallelism);
        edges.extend(
            inputs
                .into_iter()
                .map(|(r, span, field)| (n.clone(), r, span, field)),
        );
        nodes.insert(n.clone(), node);
    }
    for (n, s) in &m.sinks {
        if repeated.contains(&("sinks", n.as_str())) {
            continue;
        }
        let (node, input) = sink(&mut c, n, s);
        if let Some((r, span)) = input {
            edges.push((n.clone(), r, span, format!("sinks.{n}.input")));
        }
        nodes.insert(n.clone(), node);
    }
    single_broadcast_senders(&mut c, &m, &mut nodes);
    bootstrap_inputs_apart(&mut c, &m, &nodes);
    check_edges(&mut c, &m, &nodes, &edges);
    check_event_time(&mut c, &m, &nodes);
    check_function_time(&mut c, &m, &nodes);
    let order = topological(&mut c, &nodes, &edges);

    if !c.problems.is_empty() {
        c.problems.sort_by_key(|(order, _)| *order);
        return Err(Diagnostics {
            problems: c.problems.into_iter().map(|(_, p)| p).collect(),
        });
    }
    let nodes = order
        .into_iter()
        .map(|n| nodes.remove(&n).expect("ordered names exist"))
        .collect();
    Ok(Job {
        name,
        parallelism,
        max_parallelism,
        batch_size: batch_size as usize,
        state_dir,
        state_backend,
        nodes,
    })
}

fn source(c: &mut Checker<'_>, name: &str, s: &Spanned<SourceTable>) -> NodeKind {
    let f = |field: &str| format!("sources.{name}.{field}");
    let t = s.get_ref();
    c.one_of(&t.kind, &f("kind"), &["file"]);
    let path = match &t.path {
        Some(p) => {
            let path = c.path(p);
            if !path.exists() && t.follow != Some(true) {
                c.report(
                    Some(p.span()),
                    f("path"),
                    format!("{} does not exist", path.display()),
                );
            }
            path
        }
        None => {
            c.report(
                Some(s.span()),
                f("path"),
                "a file source needs `path` (a file or a folder)",
            );
            PathBuf::new()
        }
    };
    let format = match &t.format {
        Some(v) => match c.one_of(v, &f("format"), &["json-lines", "text-lines"]) {
            Some(1) => FileFormat::TextLines,
            _ => FileFormat::JsonLines,
        },
        None => FileFormat::JsonLines,
    };
    let event_time = t.event_time.as_ref().map(|et| {
        let e = et.get_ref();
        let from = match (&e.field, &e.from) {
            (Some(field), None) => {
                if format == FileFormat::TextLines {
                    c.report(
                        Some(field.span()),
                        f("event_time.field"),
                        "text lines have no fields: use `json-lines`, or `from = \"ingestion\"`",
                    );
                }
                match FieldPath::parse(field.get_ref()) {
                    Ok(p) => TimestampFrom::Field(p),
                    Err(m) => {
                        c.report(Some(field.span()), f("event_time.field"), m);
                        TimestampFrom::Ingestion
                    }
                }
            }
            (None, Some(from)) => {
                match c.one_of(from, &f("event_time.from"), &["ingestion", "function"]) {
                    Some(1) => TimestampFrom::Function,
                    _ => TimestampFrom::Ingestion,
                }
            }
            (Some(_), Some(from)) => {
                c.report(
                    Some(from.span()),
                    f("event_time"),
                    "give either `field` or `from`, not both",
                );
                TimestampFrom::Ingestion
            }
            (None, None) => {
                c.report(
                    Some(et.span()),
                    f("event_time"),
                    "needs `field` (a JSON field of epoch milliseconds) or `from = \"ingestion\"`",
                );
                TimestampFrom::Ingestion
            }
        };
        EventTime {
            from,
            max_out_of_orderness_ms: e.max_out_of_orderness.as_ref().map_or(0, |m| m.get_ref().0),
            idle_timeout_ms: e.idle_timeout.as_ref().map(|m| m.get_ref().0),
        }
    });
    NodeKind::Source {
        kind: SourceKind::File {
            path,
            format,
            follow: t.follow.unwrap_or(false),
        },
        event_time,
    }
}

fn input_ref(text: &str) -> InputRef {
    let (node, output) = match text.rsplit_once('.') {
        Some((n, "late")) => (n, Output::Late),
        Some((n, "dead-letter")) => (n, Output::DeadLetter),
        _ => (text, Output::Main),
    };
    InputRef {
        node: node.to_owned(),
        output,
    }
}

type Inputs = Vec<(InputRef, Range<usize>, String)>;

fn operator(
    c: &mut Checker<'_>,
    name: &str,
    o: &Spanned<OperatorTable>,
    parallelism: u32,
) -> (Node, Inputs) {
    let f = |field: &str| format!("operators.{name}.{field}");
    let t = o.get_ref();
    let kind_index = c.one_of(&t.kind, &f("kind"), &["map", "window", "broadcast"]);
    let mut inputs = vec![(input_ref(t.input.get_ref()), t.input.span(), f("input"))];

    let component = match &t.component {
        Some(p) if p.get_ref().starts_with("native:") => {
            ComponentRef::Native(p.get_ref()["native:".len()..].to_owned())
        }
        Some(p) => {
            let path = c.path(p);
            if path.is_dir() {
                if !path.join("Cargo.toml").is_file() {
                    c.report(Some(p.span()), f("component"), format!("{} is a folder without Cargo.toml: name a .wasm component or a Rust crate", path.display()));
                }
            } else if !path.is_file() {
                c.report(
                    Some(p.span()),
                    f("component"),
                    format!("{} does not exist", path.display()),
                );
            }
            ComponentRef::Wasm(path)
        }
        None => {
            c.report(
                Some(o.span()),
                f("component"),
                "an operator needs `component` (a .wasm file or a Rust crate folder)",
            );
            ComponentRef::Wasm(PathBuf::new())
        }
    };
    let config_json = match &t.config {
        Some(v) => match v.get_ref() {
            toml::Value::Table(_) => serde_json::to_string(v.get_ref()).unwrap_or_else(|e| {
                c.report(
                    Some(v.span()),
                    f("config"),
                    format!("cannot be handed over as JSON: {e}"),
                );
                "{}".into()
            }),
            _ => {
                c.report(Some(v.span()), f("config"), "must be a table");
                "{}".into()
            }
        },
        None => "{}".into(),
    };
    let files = t
        .files
        .iter()
        .map(|(n, p)| {
            let path = c.path(p);
            if !path.is_file() {
                c.report(
                    Some(p.span()),
                    f(&format!("files.{n}")),
                    format!("{} is not a readable file", path.display()),
                );
            }
            (n.clone(), path)
        })
        .collect();
    let key_by = t.key_by.as_ref().map(|k| match k.get_ref() {
        KeyByValue::Word(w) if w == "key" => KeyBy::RecordKey,
        KeyByValue::Word(w) => {
            c.report(
                Some(k.span()),
                f("key_by"),
                format!("`{w}`: use \"key\" (the record key) or {{ field = \"path\" }}"),
            );
            KeyBy::RecordKey
        }
        KeyByValue::Field { field } => match FieldPath::parse(field) {
            Ok(p) => KeyBy::Field(p),
            Err(m) => {
                c.report(Some(k.span()), f("key_by.field"), m);
                KeyBy::RecordKey
            }
        },
    });
    let limits = match &t.limits {
        Some(l) => {
            let l = l.get_ref();
            let deadline_ms = l
                .deadline
                .as_ref()
                .map_or(DEFAULT_DEADLINE_MS, |d| d.get_ref().0);
            if let Some(d) = &l.deadline
                && !(1..=3_600_000).contains(&d.get_ref().0)
            {
                c.report(
                    Some(d.span()),
                    f("limits.deadline"),
                    "must be between 1ms and 1h",
                );
            }
            let memory_bytes = l
                .memory
                .as_ref()
                .map_or(DEFAULT_MEMORY_BYTES, |m| m.get_ref().0);
            if let Some(m) = &l.memory
                && m.get_ref().0 < (1 << 20)
            {
                c.report(Some(m.span()), f("limits.memory"), "must be at least 1MiB");
            }
            Limits {
                deadline_ms,
                memory_bytes,
            }
        }
        None => Limits::default(),
    };
    let on_error = match &t.on_error {
        Some(v) => match c.one_of(v, &f("on_error"), &["fail", "dead-letter"]) {
            Some(1) => ErrorPolicy::DeadLetter,
            _ => ErrorPolicy::Fail,
        },
        None => ErrorPolicy::Fail,
    };
    let not_for = |c: &mut Checker<'_>,
                   present: bool,
                   span: Option<Range<usize>>,
                   field: &str,
                   kinds: &str| {
        if present {
            c.report(
                span,
                f(field),
                format!("only {kinds} operators have `{field}`"),
            );
        }
    };
    let kind = match kind_index {
        Some(1) => {
            if key_by.is_none() {
                c.report(
                    Some(o.span()),
                    f("key_by"),
                    "window operators need `key_by` (\"key\" or { field = \"...\" })",
                );
            }
            let time = match &t.time {
                Some(v) => match c.one_of(v, &f("time"), &["event", "processing"]) {
                    Some(1) => TimeDomain::Processing,
                    _ => TimeDomain::Event,
                },
                None => TimeDomain::Event,
            };
            let window = match &t.window {
                Some(w) => window(c, &f("window"), w),
                None => {
                    c.report(
                        Some(o.span()),
                        f("window"),
                        "window operators need `window = { type = ..., ... }`",
                    );
                    None
                }
            };
            let aggregate = t.aggregate.as_ref().and_then(|a| {
                c.one_of(a, &f("aggregate"), &["count", "function"])
                    .map(|i| {
                        if i == 0 {
                            WindowAggregateKind::Count
                        } else {
                            WindowAggregateKind::Function
                        }
                    })
            });
            let lateness = t.allowed_lateness.as_ref().map_or(0, |l| l.get_ref().0);
            if lateness > 0
                && (time == TimeDomain::Processing
                    || matches!(window, Some(WindowKind::Count { .. })))
            {
                c.report(
                    t.allowed_lateness.as_ref().map(Spanned::span),
                    f("allowed_lateness"),
                    "only event-time windows have late elements",
                );
            }
            if matches!(window, Some(WindowKind::Count { .. })) && t.time.is_some() {
                c.report(
                    t.time.as_ref().map(Spanned::span),
                    f("time"),
                    "count windows do not use time",
                );
            }
            not_for(
                c,
                t.broadcast.is_some(),
                t.broadcast.as_ref().map(Spanned::span),
                "broadcast",
                "broadcast",
            );
            OperatorKind::Window {
                // An invalid window stands in as one of its type, so that checks of
                // outputs do not report problems that only follow from this one.
                window: window.unwrap_or(
                    match t
                        .window
                        .as_ref()
                        .map(|w| w.get_ref().kind.get_ref().as_str())
                    {
                        Some("count") => WindowKind::Count { size: 1, slide: 1 },
                        _ => WindowKind::Tumbling {
                            size_ms: 1,
                            offset_ms: 0,
                        },
                    },
                ),
                time,
                aggregate,
                allowed_lateness_ms: lateness,
            }
        }
        Some(2) => {
            let broadcast = match &t.broadcast {
                Some(b) => {
                    let r = input_ref(b.get_ref());
                    inputs.push((r.clone(), b.span(), f("broadcast")));
                    r
                }
                None => {
                    c.report(Some(o.span()), f("broadcast"), "broadcast operators need `broadcast` (the input every instance receives in full)");
                    input_ref("")
                }
            };
            OperatorKind::Broadcast {
                broadcast,
                bootstrap: t.bootstrap.as_ref().is_some_and(|b| *b.get_ref()),
            }
        }
        _ => OperatorKind::Map,
    };
    if !matches!(kind, OperatorKind::Window { .. }) {
        not_for(
            c,
            t.window.is_some(),
            t.window.as_ref().map(Spanned::span),
            "window",
            "window",
        );
        not_for(
            c,
            t.time.is_some(),
            t.time.as_ref().map(Spanned::span),
            "time",
            "window",
        );
        not_for(
            c,
            t.aggregate.is_some(),
            t.aggregate.as_ref().map(Spanned::span),
            "aggregate",
            "window",
        );
        not_for(
            c,
            t.allowed_lateness.is_some(),
            t.allowed_lateness.as_ref().map(Spanned::span),
            "allowed_lateness",
            "window",
        );
    }
    if !matches!(kind, OperatorKind::Broadcast { .. }) {
        not_for(
            c,
            t.broadcast.is_some(),
            t.broadcast.as_ref().map(Spanned::span),
            "broadcast",
            "broadcast",
        );
        not_for(
            c,
            t.bootstrap.is_some(),
            t.bootstrap.as_ref().map(Spanned::span),
            "bootstrap",
            "broadcast",
        );
    }
    let node = Node {
        name: name.to_owned(),
        parallelism: c.positive(&t.parallelism, &f("parallelism"), parallelism),
        kind: NodeKind::Operator(Box::new(OperatorNode {
            kind,
            input: inputs[0].0.clone(),
            key_by,
            component,
            config_json,
            files,
            limits,
            on_error,
            uid: t
                .uid
                .as_ref()
                .map_or_else(|| name.to_owned(), |u| u.get_ref().clone()),
        })),
    };
    (node, inputs)
}

fn window(c: &mut Checker<'_>, field: &str, w: &Spanned<WindowTable>) -> Option<WindowKind> {
    let t = w.get_ref();
    let f = |s: &str| format!("{field}.{s}");
    let kind = c.one_of(
        &t.kind,
        &f("type"),
        &["tumbling", "sliding", "session", "count"],
    )?;
    let duration =
        |c: &mut Checker<'_>, v: &Option<Spanned<toml::Value>>, name: &str| -> Option<i64> {
            let Some(v) = v else {
                c.report(
                    Some(w.span()),
                    f(name),
                    format!("{} windows need `{name}`", t.kind.get_ref()),
                );
                return None;
            };
            let ms = match v.get_ref() {
                toml::Value::String(s) => Millis::parse(s),
                toml::Value::Integer(i) if *i > 0 => Ok(Millis(*i as u64)),
                _ => Err("must be a duration such as \"10s\"".to_owned()),
            };
            match ms {
                Ok(Millis(0)) => {
                    c.report(Some(v.span()), f(name), "must be greater than zero");
                    None
                }
                Ok(Millis(ms)) => Some(ms as i64),
                Err(m) => {
                    c.report(Some(v.span()), f(name), m);
                    None
                }
            }
        };
    let count =
        |c: &mut Checker<'_>, v: &Option<Spanned<toml::Value>>, name: &str| -> Option<u64> {
            match v.as_ref().map(|v| (v, v.get_ref())) {
                Some((_, toml::Value::Integer(i))) if *i > 0 => Some(*i as u64),
                Some((v, _)) => {
                    c.report(
                        Some(v.span()),
                        f(name),
                        "count windows count elements: a positive integer",
                    );
                    None
                }
                None => None,
            }
        };
    let offset = t.offset.as_ref().map_or(0, |o| o.get_ref().0 as i64);
    let unexpected = |c: &mut Checker<'_>, present: Option<Range<usize>>, name: &str| {
        if let Some(span) = present {
            c.report(
                Some(span),
                f(name),
                format!("{} windows have no `{name}`", t.kind.get_ref()),
            );
        }
    };
    match kind {
        0 => {
            unexpected(c, t.slide.as_ref().map(Spanned::span), "slide");
            unexpected(c, t.gap.as_ref().map(Spanned::span), "gap");
            let size_ms = duration(c, &t.size, "size")?;
            Some(WindowKind::Tumbling {
                size_ms,
                offset_ms: offset.rem_euclid(size_ms),
            })
        }
        1 => {
            unexpected(c, t.gap.as_ref().map(Spanned::span), "gap");
            let size_ms = duration(c, &t.size, "size");
            let slide_ms = duration(c, &t.slide, "slide");
            let (size_ms, slide_ms) = (size_ms?, slide_ms?);
            Some(WindowKind::Sliding {
                size_ms,
                slide_ms,
                offset_ms: offset.rem_euclid(slide_ms),
            })
        }
        2 => {
            unexpected(c, t.size.as_ref().map(Spanned::span), "size");
            unexpected(c, t.slide.as_ref().map(Spanned::span), "slide");
            unexpected(c, t.offset.as_ref().map(Spanned::span), "offset");
            match &t.gap {
                Some(g) if g.get_ref().0 > 0 => Some(WindowKind::Session {
                    gap_ms: g.get_ref().0 as i64,
                }),
                Some(g) => {
                    c.report(Some(g.span()), f("gap"), "must be greater than zero");
                    None
                }
                None => {
                    c.report(Some(w.span()), f("gap"), "session windows need `gap`");
                    None
                }
            }
        }
        _ => {
            unexpected(c, t.gap.as_ref().map(Spanned::span), "gap");
            unexpected(c, t.offset.as_ref().map(Spanned::span), "offset");
            let size = count(c, &t.size, "size");
            if t.size.is_none() {
                c.report(
                    Some(w.span()),
                    f("size"),
                    "count windows need `size` (elements per window)",
                );
            }
            let slide = count(c, &t.slide, "slide");
            let size = size?;
            Some(WindowKind::Count {
                size,
                slide: slide.unwrap_or(size),
            })
        }
    }
}

fn sink(
    c: &mut Checker<'_>,
    name: &str,
    s: &Spanned<SinkTable>,
) -> (Node, Option<(InputRef, Range<usize>)>) {
    let f = |field: &str| format!("sinks.{name}.{field}");
    let t = s.get_ref();
    let kind = match c.one_of(&t.kind, &f("kind"), &["file", "stdout"]) {
        Some(1) => {
            if let Some(p) = &t.path {
                c.report(Some(p.span()), f("path"), "stdout sinks have no `path`");
            }
            SinkKind::Stdout
        }
        _ => match &t.path {
            Some(p) => SinkKind::File { path: c.path(p) },
            None => {
                c.report(Some(s.span()), f("path"), "a file sink needs `path`");
                SinkKind::File {
                    path: PathBuf::new(),
                }
            }
        },
    };
    let input = input_ref(t.input.get_ref());
    (
        Node {
            name: name.to_owned(),
            parallelism: 1,
            kind: NodeKind::Sink {
                kind,
                input: input.clone(),
            },
        },
        Some((input, t.input.span())),
    )
}

/// Every input names an existing output, and every output is read by something.
fn check_edges(
    c: &mut Checker<'_>,
    m: &Manifest,
    nodes: &BTreeMap<String, Node>,
    edges: &[(String, InputRef, Range<usize>, String)],
) {
    let known = || {
        nodes
            .iter()
            .filter(|(_, n)| !matches!(n.kind, NodeKind::Sink { .. }))
            .map(|(k, _)| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut read: BTreeSet<InputRef> = BTreeSet::new();
    for (_, r, span, field) in edges {
        read.insert(r.clone());
        let Some(node) = nodes.get(&r.node) else {
            c.report(
                Some(span.clone()),
                field,
                format!(
                    "nothing is named `{}` (sources and operators: {})",
                    r.node,
                    known()
                ),
            );
            continue;
        };
        match (&node.kind, r.output) {
            (NodeKind::Sink { .. }, _) => c.report(
                Some(span.clone()),
                field,
                format!("`{}` is a sink: it has no output to read", r.node),
            ),
            (NodeKind::Operator(o), Output::DeadLetter)
                if o.on_error != ErrorPolicy::DeadLetter =>
            {
                c.report(Some(span.clone()), field, format!("operator `{}` has no dead-letter output: set its `on_error = \"dead-letter\"`", r.node));
            }
            (NodeKind::Operator(o), Output::Late) if !has_late_output(&o.kind) => {
                c.report(
                    Some(span.clone()),
                    field,
                    format!(
                        "operator `{}` has no late output: only event-time window operators do",
                        r.node
                    ),
                );
            }
            (NodeKind::Source { .. }, Output::Late | Output::DeadLetter) => {
                c.report(
                    Some(span.clone()),
                    field,
                    format!("source `{}` has only its main output", r.node),
                );
            }
            _ => {}
        }
    }
    for (name, node) in nodes {
        let unread = |output| {
            !read.contains(&InputRef {
                node: name.clone(),
                output,
            })
        };
        let span = |section: &str| match section {
            "sources" => m.sources.get(name).map(Spanned::span),
            _ => m.operators.get(name).map(Spanned::span),
        };
        match &node.kind {
            NodeKind::Source { .. } if unread(Output::Main) => {
                c.report(
                    span("sources"),
                    format!("sources.{name}"),
                    "nothing reads this source: give an operator or sink `input = \"{name}\"`"
                        .replace("{name}", name),
                );
            }
            NodeKind::Operator(o) => {
                if unread(Output::Main) {
                    c.report(span("operators"), format!("operators.{name}"), format!("nothing reads the output of `{name}`, so its records would be lost: add a sink with `input = \"{name}\"`"));
                }
                if o.on_error == ErrorPolicy::DeadLetter && unread(Output::DeadLetter) {
                    c.report(span("operators"), format!("operators.{name}.on_error"), format!("failed records would be lost: add a sink with `input = \"{name}.dead-letter\"`"));
                }
                if has_late_output(&o.kind) && unread(Output::Late) {
                    c.report(
                        span("operators"),
                        format!("operators.{name}"),
                        format!(
                            "late elements would be lost: add a sink with `input = \"{name}.late\"`"
                        ),
                    );
                }
            }
            _ => {}
        }
    }
}

/// A broadcast input runs as one instance: each broadcast instance then receives its
/// elements from one sender, in that sender's order, so all of them apply the same
/// elements in the same order (with several senders, each instance would see its own
/// interleaving). The default parallelism of such a node is 1; another one is an error.
fn single_broadcast_senders(c: &mut Checker<'_>, m: &Manifest, nodes: &mut BTreeMap<String, Node>) {
    for (op, t) in &m.operators {
        let Some(b) = &t.get_ref().broadcast else {
            continue;
        };
        let from = input_ref(b.get_ref()).node;
        let (field, set) = match (m.sources.get(&from), m.operators.get(&from)) {
            (Some(s), _) => (
                format!("sources.{from}.parallelism"),
                &s.get_ref().parallelism,
            ),
            (_, Some(o)) => (
                format!("operators.{from}.parallelism"),
                &o.get_ref().parallelism,
            ),
            _ => continue,
        };
        match set {
            Some(p) if *p.get_ref() > 1 => c.report(
                Some(p.span()),
                field,
                format!("`{from}` is the broadcast input of `{op}`, so it runs as one instance (every instance of `{op}` applies its elements in the same order): remove this setting or set 1"),
            ),
            _ => {
                if let Some(n) = nodes.get_mut(&from) {
                    n.parallelism = 1;
                }
            }
        }
    }
}

/// `bootstrap` holds the main input back until the broadcast input has caught up. If
/// both inputs come from one upstream node, that node blocks on the unread main input
/// before the broadcast input can catch up, and the job would hang: refuse it.
fn bootstrap_inputs_apart(c: &mut Checker<'_>, m: &Manifest, nodes: &BTreeMap<String, Node>) {
    let upstream = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_owned()];
        while let Some(n) = stack.pop() {
            if !seen.insert(n.clone()) {
                continue;
            }
            if let Some(NodeKind::Operator(o)) = nodes.get(&n).map(|n| &n.kind) {
                stack.push(o.input.node.clone());
                if let OperatorKind::Broadcast { broadcast, .. } = &o.kind {
                    stack.push(broadcast.node.clone());
                }
            }
        }
        seen
    };
    for (name, node) in nodes {
        let NodeKind::Operator(o) = &node.kind else {
            continue;
        };
        let OperatorKind::Broadcast {
            broadcast,
            bootstrap: true,
        } = &o.kind
        else {
            continue;
        };
        let main = upstream(&o.input.node);
        if let Some(shared) = upstream(&broadcast.node).intersection(&main).next() {
            c.report(
                m.operators[name].get_ref().bootstrap.as_ref().map(Spanned::span),
                format!("operators.{name}.bootstrap"),
                format!("the main input and the broadcast input both come from `{shared}`, which would wait for `{name}` to read its main input before the broadcast input could catch up: read the broadcast input from a source of its own, or remove `bootstrap`"),
            );
        }
    }
}

fn has_late_output(kind: &OperatorKind) -> bool {
    matches!(
        kind,
        OperatorKind::Window { time: TimeDomain::Event, window, .. } if !matches!(window, WindowKind::Count { .. })
    )
}

/// A source whose timestamps come from its function needs exactly one reader, a map
/// operator that runs in the source's task (unkeyed, same parallelism), so the
/// timestamps it emits can be traced back to the split they came from.
fn check_function_time(c: &mut Checker<'_>, m: &Manifest, nodes: &BTreeMap<String, Node>) {
    for (name, node) in nodes {
        let NodeKind::Source {
            event_time: Some(et),
            ..
        } = &node.kind
        else {
            continue;
        };
        if et.from != TimestampFrom::Function {
            continue;
        }
        let readers: Vec<&Node> = nodes
            .values()
            .filter(|n| n.kind.inputs().iter().any(|r| r.node == *name))
            .collect();
        let ok = match readers.as_slice() {
            [reader] => matches!(&reader.kind, NodeKind::Operator(o)
                if o.kind == OperatorKind::Map
                    && o.key_by.is_none()
                    && o.input.output == Output::Main
                    && reader.parallelism == node.parallelism),
            _ => false,
        };
        if !ok {
            c.report(
                m.sources.get(name).and_then(|s| s.get_ref().event_time.as_ref()).map(Spanned::span),
                format!("sources.{name}.event_time.from"),
                "`function` needs the source to be read by exactly one map operator, unkeyed and at the source's parallelism (the function that sets the timestamps)",
            );
        }
    }
}

/// Event-time windows need every source upstream of them to assign event time.
fn check_event_time(c: &mut Checker<'_>, m: &Manifest, nodes: &BTreeMap<String, Node>) {
    for (name, node) in nodes {
        let NodeKind::Operator(o) = &node.kind else {
            continue;
        };
        if !has_late_output(&o.kind) {
            continue;
        }
        let mut stack = vec![o.input.node.clone()];
        let mut seen = BTreeSet::new();
        while let Some(n) = stack.pop() {
            if !seen.insert(n.clone()) {
                continue;
            }
            match nodes.get(&n).map(|n| &n.kind) {
                Some(NodeKind::Source { event_time: None, .. }) => c.report(
                    m.operators.get(name).map(Spanned::span),
                    format!("operators.{name}.time"),
                    format!("event-time windows need timestamps, but source `{n}` has no [sources.{n}.event_time]"),
                ),
                // Only main inputs carry the watermark that matters: a broadcast input
                // without event time does not hold the operator's watermark back.
                Some(NodeKind::Operator(up)) => stack.push(up.input.node.clone()),
                _ => {}
            }
        }
    }
}

/// Orders nodes so each comes after what it reads; reports cycles.
fn topological(
    c: &mut Checker<'_>,
    nodes: &BTreeMap<String, Node>,
    edges: &[(String, InputRef, Range<usize>, String)],
) -> Vec<String> {
    let mut deps: BTreeMap<&str, BTreeSet<&str>> = nodes
        .keys()
        .map(|k| (k.as_str(), BTreeSet::new()))
        .collect();
    for (to, r, _, _) in edges {
        if nodes.contains_key(&r.node) && r.node != *to {
            deps.get_mut(to.as_str())
                .expect("edge targets exist")
                .insert(r.node.as_str());
        }
    }
    for (to, r, span, field) in edges {
        if r.node == *to {
            c.report(
                Some(span.clone()),
                field,
                "a node cannot read its own output",
            );
        }
    }
    let mut order = Vec::new();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    while done.len() < deps.len() {
        let ready: Vec<&str> = deps
            .iter()
            .filter(|(n, d)| !done.contains(*n) && d.iter().all(|x| done.contains(x)))
            .map(|(n, _)| *n)
            .collect();
        if ready.is_empty() {
            let mut cycle: BTreeSet<&str> = deps
                .keys()
                .filter(|n| !done.contains(*n))
                .copied()
                .collect();
            // Leave out the nodes that only read the cycle: those no node left reads.
            loop {
                let read: BTreeSet<&str> =
                    cycle.iter().flat_map(|n| deps[n].iter().copied()).collect();
                let before = cycle.len();
                cycle.retain(|n| read.contains(n));
                if cycle.len() == before {
                    break;
                }
            }
            // Report it at an input that closes the cycle.
            let at = edges.iter().find(|(to, r, _, _)| {
                cycle.contains(to.as_str()) && cycle.contains(r.node.as_str())
            });
            c.report(
                at.map(|(_, _, span, _)| span.clone()),
                at.map_or("", |(_, _, _, field)| field.as_str()),
                format!(
                    "these nodes read each other in a cycle: {}",
                    cycle.into_iter().collect::<Vec<_>>().join(", ")
                ),
            );
            break;
        }
        for n in ready {
            done.insert(n);
            order.push(n.to_owned());
        }
    }
    order
}

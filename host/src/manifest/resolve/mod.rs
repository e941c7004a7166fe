//! Checks a parsed manifest and turns it into a [`Job`]: names resolved, units
//! converted, defaults applied, every combination checked. All problems are collected,
//! not just the first.
//!
//! One file per section: `source`, `operator` (with `window`), `sink`, and `graph` for the
//! checks across nodes (edges, event time, broadcast inputs, cycles, paths).

mod graph;
mod job_table;
mod kafka;
mod operator;
mod sink;
mod source;
mod window;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::diag::{Diagnostics, Locator, Problem};
use super::job::*;
use super::model::Manifest;
use graph::{
    bootstrap_inputs_apart, check_edges, check_event_time, check_function_time, check_paths,
    single_broadcast_senders, topological,
};
use operator::operator;
use sink::sink;
use source::source;

/// The checks, collecting problems as they go.
pub(super) struct Checker<'a> {
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

    /// The variant of `T` a word stands for, or a problem listing the words.
    fn choice<T: Choice>(&mut self, v: &Spanned<String>, field: &str) -> Option<T> {
        let found = T::WORDS
            .iter()
            .find(|(w, _)| w == v.get_ref())
            .map(|(_, x)| *x);
        if found.is_none() {
            let words: Vec<String> = T::WORDS.iter().map(|(w, _)| format!("`{w}`")).collect();
            self.report(
                Some(v.span()),
                field,
                format!("`{}` is not one of {}", v.get_ref(), words.join(", ")),
            );
        }
        found
    }

    /// Like [`choice`](Self::choice), with a default when the field is absent (or wrong).
    fn choice_or<T: Choice>(&mut self, v: &Option<Spanned<String>>, field: &str, default: T) -> T {
        v.as_ref()
            .and_then(|v| self.choice(v, field))
            .unwrap_or(default)
    }
}

/// A manifest field that takes one of a few words, each standing for a variant.
pub(super) trait Choice: Sized + Copy + 'static {
    /// The words and what they stand for.
    const WORDS: &'static [(&'static str, Self)];
}

macro_rules! choices {
    ($($ty:ty { $($word:literal => $v:expr),+ $(,)? })*) => {
        $(impl Choice for $ty {
            const WORDS: &'static [(&'static str, Self)] = &[$(($word, $v)),+];
        })*
    };
}

/// The kinds of sources, operators and sinks, as manifests name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SourceType {
    File,
    Kafka,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OperatorType {
    Map,
    Window,
    Broadcast,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SinkType {
    File,
    Stdout,
    Kafka,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WindowType {
    Tumbling,
    Sliding,
    Session,
    Global,
    Count,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TimestampWord {
    Ingestion,
    Function,
    Kafka,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KafkaStartWord {
    Earliest,
    Latest,
    Committed,
}

choices! {
    SourceType { "file" => SourceType::File, "kafka" => SourceType::Kafka }
    OperatorType { "map" => OperatorType::Map, "window" => OperatorType::Window, "broadcast" => OperatorType::Broadcast }
    SinkType { "file" => SinkType::File, "stdout" => SinkType::Stdout, "kafka" => SinkType::Kafka }
    WindowType { "tumbling" => WindowType::Tumbling, "sliding" => WindowType::Sliding, "session" => WindowType::Session, "global" => WindowType::Global, "count" => WindowType::Count }
    TimestampWord { "ingestion" => TimestampWord::Ingestion, "function" => TimestampWord::Function, "kafka" => TimestampWord::Kafka }
    KafkaStartWord { "earliest" => KafkaStartWord::Earliest, "latest" => KafkaStartWord::Latest, "committed" => KafkaStartWord::Committed }
    StateBackendKind { "rocksdb" => StateBackendKind::RocksDb, "memory" => StateBackendKind::Memory }
    FileFormat { "json-lines" => FileFormat::JsonLines, "text-lines" => FileFormat::TextLines }
    TimeDomain { "event" => TimeDomain::Event, "processing" => TimeDomain::Processing }
    WindowAggregateKind { "count" => WindowAggregateKind::Count, "function" => WindowAggregateKind::Function }
    ErrorPolicy { "fail" => ErrorPolicy::Fail, "dead-letter" => ErrorPolicy::DeadLetter }
    Delivery { "exactly-once" => Delivery::ExactlyOnce, "at-least-once" => Delivery::AtLeastOnce }
    SinkFormat { "values" => SinkFormat::Values, "envelope" => SinkFormat::Envelope }
    CheckpointMode { "exactly-once" => CheckpointMode::ExactlyOnce, "at-least-once" => CheckpointMode::AtLeastOnce }
    RestartWord { "none" => RestartWord::None, "fixed-delay" => RestartWord::FixedDelay, "exponential-delay" => RestartWord::ExponentialDelay, "failure-rate" => RestartWord::FailureRate }
}

/// Restart strategies as manifests name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RestartWord {
    None,
    FixedDelay,
    ExponentialDelay,
    FailureRate,
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
    let window_cache = job
        .window_cache
        .as_ref()
        .map_or(DEFAULT_WINDOW_CACHE, |b| b.get_ref().0);
    let state_backend = c.choice_or(
        &job.state_backend,
        "job.state_backend",
        StateBackendKind::RocksDb,
    );
    let state_dir = match &job.state_dir {
        Some(v) => c.path(v),
        None => clean(&base.join(".weir").join(&name)),
    };
    let checkpoint = job_table::checkpoint(&mut c, job);
    let checkpoint_dir = job
        .checkpoint
        .as_ref()
        .and_then(|t| t.get_ref().dir.as_ref())
        .map_or_else(|| state_dir.join("checkpoints"), |d| c.path(d));
    let restart = job_table::restart(&mut c, job, checkpoint.is_some());
    let control = job_table::control(&mut c, job);

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
                uid: uid(&s.get_ref().uid, n),
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
        let sink_uid = uid(&s.get_ref().uid, n);
        let defaults = kafka::SinkDefaults {
            job: &name,
            uid: &sink_uid,
            checkpoints: checkpoint.is_some(),
        };
        let (node, input) = sink(&mut c, n, s, &defaults, parallelism);
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
    check_paths(&mut c, &m, &nodes, checkpoint.is_some());
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
        window_cache,
        nodes,
        checkpoint,
        checkpoint_dir,
        restart,
        control,
    })
}

/// A node's uid: the one given, or its name.
pub(super) fn uid(given: &Option<Spanned<String>>, name: &str) -> String {
    given
        .as_ref()
        .map_or_else(|| name.to_owned(), |u| u.get_ref().clone())
}

pub(super) fn input_ref(text: &str) -> InputRef {
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

pub(super) type Inputs = Vec<(InputRef, Range<usize>, String)>;

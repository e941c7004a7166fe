//! Making the instances of one run (an attempt): keyed state backends (fresh or
//! restored), operators with their functions, source readers, sinks.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use anyhow::{Context, Result, bail};

use super::chain::KeyedHandle;
use super::clock::Clock;
use super::functions::{PreparedFn, subtask_init};
use super::metrics::NodeMetrics;
use super::options::RunOptions;
use crate::checkpoint::Restore;
use crate::connector::kafka::{self, KafkaSource, ReaderOf};
use crate::connector::{FileSink, FileSource, PartSink, Source, StdoutSink, plan_splits};
use crate::manifest::{Job, Node, NodeKind, OperatorKind, SinkKind, SourceKind};
use crate::operator::{
    BroadcastOperator, ErrorHandler, MapOperator, Operator, WasmFunctions, WindowOperator,
    WindowSpec,
};
use crate::state::{
    KeyGroupRange, KeyedState, StateBackend, StateRegistry, key_groups_of, open_backend,
    open_restored,
};

/// What the instances of one run share.
pub struct Builder<'a> {
    /// The job.
    pub job: &'a Job,
    /// How it runs.
    pub options: &'a RunOptions,
    /// Its functions.
    pub functions: &'a std::collections::HashMap<usize, PreparedFn>,
    /// The snapshot it starts from.
    pub restore: Option<&'a Restore>,
    /// State ids.
    pub registry: Arc<StateRegistry>,
    /// Where live state goes.
    pub work: PathBuf,
    /// The next snapshot id (sinks name their last part with it).
    pub next_id: Arc<AtomicU64>,
}

/// A file or folder name made of a uid (which may hold any character).
pub fn file_name_of(uid: &str) -> String {
    uid.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Builder<'_> {
    /// One window operator instance's share of the job's `window_cache`.
    fn window_cache_share(&self) -> usize {
        let instances: u64 = self
            .job
            .nodes
            .iter()
            .filter(|n| {
                matches!(&n.kind, NodeKind::Operator(o) if matches!(o.kind, OperatorKind::Window { .. }))
            })
            .map(|n| u64::from(n.parallelism))
            .sum();
        usize::try_from(self.job.window_cache / instances.max(1)).unwrap_or(usize::MAX)
    }

    fn clock(&self) -> Arc<dyn Clock> {
        self.options.clock.clone()
    }

    /// The keyed state backend of instance `sub` of `n` (restored if the snapshot has
    /// its uid).
    pub fn keyed_backend(&self, n: &Node, sub: u32) -> Result<Option<KeyedHandle>> {
        let NodeKind::Operator(o) = &n.kind else {
            return Ok(None);
        };
        if o.key_by.is_none() {
            return Ok(None);
        }
        let groups = key_groups_of(sub, n.parallelism, self.job.max_parallelism);
        let dir = self.work.join(format!("{}-{sub}", file_name_of(&n.uid)));
        let backend = match self.restore.filter(|r| r.has(&n.uid)) {
            Some(r) => {
                let pieces = r.keyed(&n.uid, groups);
                open_restored(self.job.state_backend, &dir, &pieces, groups)
                    .with_context(|| format!("operator `{}`: restoring its keyed state", n.name))?
            }
            None => open_backend(self.job.state_backend, &dir)?,
        };
        let backend: Arc<dyn StateBackend> = match &self.options.backend_wrapper {
            Some(wrap) => wrap(backend),
            None => backend,
        };
        Ok(Some(KeyedHandle { backend, groups }))
    }

    fn keyed_state(&self, n: &Node, keyed: &Option<KeyedHandle>) -> Option<KeyedState> {
        keyed.as_ref().map(|k| {
            KeyedState::new(
                k.backend.clone(),
                self.registry.clone(),
                &n.uid,
                self.job.max_parallelism,
                k.groups,
            )
        })
    }

    /// The reader of instance `sub` of source `n`.
    pub fn source(&self, n: &Node, sub: u32, metrics: Arc<NodeMetrics>) -> Result<Box<dyn Source>> {
        let NodeKind::Source { kind, event_time } = &n.kind else {
            bail!("not a source")
        };
        let (path, format, follow) = match kind {
            SourceKind::File {
                path,
                format,
                follow,
            } => (path, format, follow),
            SourceKind::Kafka(k) => {
                let restored = self.restore.and_then(|r| r.kafka_partitions(&n.uid));
                let of = ReaderOf {
                    name: &n.name,
                    job: &self.job.name,
                    subtask: sub,
                    parallelism: n.parallelism,
                };
                return Ok(Box::new(KafkaSource::open(
                    of,
                    k,
                    event_time.clone(),
                    restored,
                    self.job.batch_size,
                    self.clock(),
                    metrics,
                )?));
            }
        };
        let p = n.parallelism;
        if let Some(r) = self.restore.filter(|r| r.has(&n.uid)) {
            let mut splits = r.splits(&n.uid, sub, p).unwrap_or_default();
            // Files that appeared since the snapshot are read from their start.
            let known = r.split_paths(&n.uid);
            let files = if *follow && !path.exists() {
                Vec::new()
            } else {
                crate::connector::list_files(path)?
            };
            let new: Vec<PathBuf> = files.into_iter().filter(|f| !known.contains(f)).collect();
            for (k, f) in new.into_iter().enumerate() {
                if k as u32 % p == sub {
                    splits.push(crate::checkpoint::SplitState {
                        path: f,
                        start: 0,
                        end: u64::MAX,
                        position: 0,
                        max_ts: i64::MIN,
                        done: false,
                    });
                }
            }
            return Ok(Box::new(FileSource::restored(
                splits,
                *format,
                *follow,
                event_time.clone(),
                self.job.batch_size,
                self.clock(),
                metrics,
            )));
        }
        let splits = plan_splits(path, p as usize, *follow)
            .with_context(|| format!("source `{}`", n.name))?;
        let mine = splits
            .into_iter()
            .enumerate()
            .filter(|(i, _)| *i % p as usize == sub as usize)
            .map(|(_, s)| s)
            .collect();
        Ok(Box::new(FileSource::new(
            mine,
            *format,
            *follow,
            event_time.clone(),
            self.job.batch_size,
            self.clock(),
            metrics,
        )))
    }

    /// Instance `sub` of operator or sink `n`, over `keyed` state.
    pub fn operator(
        &self,
        node: usize,
        sub: u32,
        keyed: &Option<KeyedHandle>,
        metrics: Arc<NodeMetrics>,
    ) -> Result<Box<dyn Operator>> {
        let n = &self.job.nodes[node];
        match &n.kind {
            NodeKind::Sink {
                kind: SinkKind::File { path, delivery },
                format,
                ..
            } => {
                if self.job.checkpoint.is_some() {
                    Ok(Box::new(PartSink::create(
                        path,
                        sub,
                        *delivery,
                        *format,
                        self.next_id.clone(),
                        metrics,
                    )?))
                } else {
                    Ok(Box::new(FileSink::create(path, *format, metrics)?))
                }
            }
            NodeKind::Sink {
                kind: SinkKind::Stdout,
                format,
                ..
            } => Ok(Box::new(StdoutSink::new(*format, metrics))),
            NodeKind::Sink {
                kind: SinkKind::Kafka(k),
                ..
            } => Ok(Box::new(kafka::KafkaSink::create(
                k,
                kafka::SinkSetup {
                    name: &n.name,
                    job: &self.job.name,
                    uid: &n.uid,
                    subtask: sub,
                    spool_dir: kafka::spool_dir(self.job, &n.uid),
                    transaction_timeout_ms: kafka::transaction_timeout_ms(self.job, k),
                    next_id: self.next_id.clone(),
                    metrics,
                },
            )?)),
            NodeKind::Source { .. } => bail!("a source is not an operator"),
            NodeKind::Operator(o) => {
                let state = self.keyed_state(n, keyed);
                let natives = &self.options.natives;
                let unknown = |kind: &str, name: &str| {
                    anyhow::anyhow!(
                        "operator `{}`: no native {kind} function `{name}` is registered",
                        n.name
                    )
                };
                let clock = self.clock();
                match (&o.kind, &self.functions[&node]) {
                    (OperatorKind::Map, p) => {
                        let f = match p {
                            PreparedFn::Map(p) => WasmFunctions::map(p, sub, state.clone())?,
                            PreparedFn::Native(name, init) => {
                                let make =
                                    natives.maps.get(name).ok_or_else(|| unknown("map", name))?;
                                make(&subtask_init(init, sub), state.clone())?
                            }
                            _ => bail!("operator `{}`: wrong function kind", n.name),
                        };
                        let errors =
                            ErrorHandler::new(o.on_error, f.label().clone(), metrics.clone());
                        let timers = f.has_timers();
                        let op = MapOperator::new(f, errors, clock, metrics);
                        if !timers {
                            return Ok(Box::new(op));
                        }
                        let Some(state) = state else {
                            bail!(
                                "operator `{}`: its component has timers (world `timed-map`), which need keyed input: add `key_by`",
                                n.name
                            );
                        };
                        let restored = self.restore.is_some_and(|r| r.has(&n.uid));
                        Ok(Box::new(op.with_timers(state, restored)?))
                    }
                    (
                        OperatorKind::Window {
                            window,
                            time,
                            aggregate,
                            allowed_lateness_ms,
                            trigger,
                            pane_header,
                            evictor,
                        },
                        p,
                    ) => {
                        let f = match p {
                            PreparedFn::Window(p) => WasmFunctions::window(p, sub, state.clone())?,
                            PreparedFn::Native(name, init) => {
                                let make = natives
                                    .windows
                                    .get(name)
                                    .ok_or_else(|| unknown("window", name))?;
                                make(&subtask_init(init, sub), state.clone())?
                            }
                            _ => bail!("operator `{}`: wrong function kind", n.name),
                        };
                        let errors =
                            ErrorHandler::new(o.on_error, f.label().clone(), metrics.clone());
                        let spec = WindowSpec {
                            kind: *window,
                            time: *time,
                            aggregate: *aggregate,
                            allowed_lateness: *allowed_lateness_ms as i64,
                            trigger: *trigger,
                            pane_header: *pane_header,
                            evictor: *evictor,
                            cache_bytes: self.window_cache_share(),
                        };
                        let state = state.with_context(|| {
                            format!("operator `{}`: windows need keyed input", n.name)
                        })?;
                        let groups = state.groups();
                        let mut op = WindowOperator::new(spec, f, errors, state, clock, metrics)?;
                        if let Some(r) = self.restore.filter(|r| r.has(&n.uid)) {
                            op.restore(window_watermark(r, &n.uid, groups))?;
                        }
                        Ok(Box::new(op))
                    }
                    (OperatorKind::Broadcast { .. }, p) => {
                        let restored = self.restore.and_then(|r| r.broadcast(&n.uid, sub));
                        let f = match p {
                            PreparedFn::Broadcast(p) => {
                                WasmFunctions::broadcast(p, sub, state, restored.as_deref())?
                            }
                            PreparedFn::Native(name, init) => {
                                if restored.is_some() {
                                    bail!(
                                        "operator `{}`: the native function `{name}` cannot restore broadcast state",
                                        n.name
                                    );
                                }
                                let make = natives
                                    .broadcasts
                                    .get(name)
                                    .ok_or_else(|| unknown("broadcast", name))?;
                                make(&subtask_init(init, sub), state)?
                            }
                            _ => bail!("operator `{}`: wrong function kind", n.name),
                        };
                        let errors =
                            ErrorHandler::new(o.on_error, f.label().clone(), metrics.clone());
                        Ok(Box::new(BroadcastOperator::new(
                            f, errors, sub, clock, metrics,
                        )))
                    }
                }
            }
        }
    }
}

fn window_watermark(r: &Restore, uid: &str, groups: KeyGroupRange) -> i64 {
    r.window_watermark(uid, groups).unwrap_or(i64::MIN)
}

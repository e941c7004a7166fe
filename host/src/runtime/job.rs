//! Starting a job, running its tasks, stopping it, and what it reports at the end.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use crossbeam_channel::bounded;

use super::chain::{Chain, Link};
use super::clock::{Clock, SystemClock};
use super::exchange::{Cancelled, Outlet, Partition};
use super::metrics::Metrics;
use super::plan::{Plan, plan};
use super::report::JobReport;
use super::state_dir::StateDir;
use super::stop::StopSignal;
use super::task::{Port, TaskInstance};
use crate::connector::{FileSink, FileSource, StdoutSink, plan_splits};
use crate::manifest::{
    ComponentRef, Job, Node, NodeKind, OperatorKind, OperatorNode, Output, SinkKind, SourceKind,
};
use crate::operator::{
    BroadcastOperator, ErrorHandler, FunctionError, MapOperator, NativeFunctions, Operator,
    OperatorReport, WasmFunctions, WindowOperator, WindowSpec,
};
use crate::state::{KeyedState, StateBackend, StateRegistry, open_backend};
use crate::wasm::bindings::types::InitContext;
use crate::wasm::bindings::{broadcast_function, map_function, window_function};
use crate::wasm::{Prepared, default_cache_dir};

/// Messages a channel holds per upstream instance before the sender waits.
const CHANNEL_DEPTH: usize = 4;

/// How to run a job.
#[derive(Clone)]
pub struct RunOptions {
    /// Processing time.
    pub clock: Arc<dyn Clock>,
    /// Native functions manifests may name as `native:<name>`.
    pub natives: NativeFunctions,
    /// Where compiled components are cached (none: not cached).
    pub cache_dir: Option<PathBuf>,
    /// Keep the state directory when the job ends.
    pub keep_state: bool,
    /// Wraps every state backend the job opens: a seam for injecting storage faults in
    /// tests (a disk that fills up, a database that fails).
    pub backend_wrapper: Option<BackendWrapper>,
}

/// See [`RunOptions::backend_wrapper`].
pub type BackendWrapper = Arc<dyn Fn(Arc<dyn StateBackend>) -> Arc<dyn StateBackend> + Send + Sync>;

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            natives: NativeFunctions::default(),
            cache_dir: default_cache_dir(),
            keep_state: false,
            backend_wrapper: None,
        }
    }
}

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A function failed on a record under the `fail` policy.
    #[error(transparent)]
    Function(FunctionError),
    /// The job could not start, or failed while running.
    #[error("{0:#}")]
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for JobError {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast_ref::<FunctionError>() {
            Some(f) => JobError::Function(f.clone()),
            None => JobError::Failed(e),
        }
    }
}

/// A running job.
pub struct JobHandle {
    cancel: Arc<AtomicBool>,
    stop: Arc<StopSignal>,
    done: std::thread::JoinHandle<Result<JobReport, JobError>>,
}

impl JobHandle {
    /// Stops the job: sources stop reading, what was read flows to the sinks and is
    /// committed; windows that have not ended are not fired (the report counts them).
    pub fn stop(&self) {
        self.stop.stop();
    }

    /// Stops the job as if its inputs had ended: what was read flows to the sinks, the
    /// watermark goes to the end of time and every window fires.
    pub fn drain(&self) {
        self.stop.drain();
    }

    /// Cancels the job: tasks stop where they are, and outputs are not committed.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// A function that stops the job (for signal handlers).
    pub fn stopper(&self) -> impl Fn() + Send + 'static {
        let stop = self.stop.clone();
        move || stop.stop()
    }

    /// A function that cancels the job (for signal handlers).
    pub fn canceller(&self) -> impl Fn() + Send + 'static {
        let cancel = self.cancel.clone();
        move || cancel.store(true, Ordering::Relaxed)
    }

    /// Whether the job has ended.
    pub fn is_finished(&self) -> bool {
        self.done.is_finished()
    }

    /// Waits for the job to end.
    pub fn wait(self) -> Result<JobReport, JobError> {
        self.done
            .join()
            .unwrap_or_else(|_| Err(JobError::Failed(anyhow!("the job supervisor panicked"))))
    }
}

/// Runs `job` to its end.
pub fn run(job: Job, options: RunOptions) -> Result<JobReport, JobError> {
    start(job, options)?.wait()
}

/// Starts `job`: compiles its functions and starts its tasks. Fails before any record is
/// read if a function cannot be loaded or started.
pub fn start(job: Job, options: RunOptions) -> Result<JobHandle, JobError> {
    let cancel = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(StopSignal::default());
    let metrics = Arc::new(Metrics::default());
    let mut setup = Setup::new(
        &job,
        &options,
        metrics.clone(),
        cancel.clone(),
        stop.clone(),
    )?;
    let tasks = setup.tasks()?;
    let state_dir = setup.state_dir.take();
    let lock = setup.lock.take();
    let keep_state = options.keep_state;
    let backend = setup.backend.take();
    let broadcast_ops: Vec<usize> = job
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| matches!(&n.kind, NodeKind::Operator(o) if matches!(o.kind, OperatorKind::Broadcast { .. })))
        .map(|(i, _)| i)
        .collect();
    let name = job.name.clone();
    let supervisor_cancel = cancel.clone();
    let done = std::thread::Builder::new()
        .name(format!("weir-{name}"))
        .spawn(move || {
            let started = Instant::now();
            let reports = supervise(tasks, &supervisor_cancel);
            drop(backend);
            if let Some(dir) = &state_dir
                && !keep_state
            {
                let _ = std::fs::remove_dir_all(dir);
            }
            drop(lock);
            let reports = reports?;
            let mut broadcast_states = BTreeMap::new();
            for op in broadcast_ops {
                let states: Vec<(u64, usize)> = reports
                    .iter()
                    .filter(|(n, _)| *n == op)
                    .filter_map(|(_, r)| r.broadcast_state)
                    .collect();
                broadcast_states.insert(job.nodes[op].name.clone(), states);
            }
            Ok(JobReport::new(
                &job,
                &metrics,
                started.elapsed(),
                broadcast_states,
            ))
        })
        .map_err(|e| JobError::Failed(e.into()))?;
    Ok(JobHandle { cancel, stop, done })
}

/// Runs every task on the blocking pool of a tokio runtime; the first failure cancels
/// the others.
fn supervise(
    tasks: Vec<TaskInstance>,
    cancel: &Arc<AtomicBool>,
) -> Result<Vec<(usize, OperatorReport)>, JobError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(tasks.len() + 8)
        .thread_name("weir-task")
        .enable_time()
        .build()
        .map_err(|e| JobError::Failed(e.into()))?;
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for t in tasks {
            let name = t.name.clone();
            set.spawn_blocking(move || t.run().with_context(|| format!("task {name}")));
        }
        let mut first: Option<anyhow::Error> = None;
        let mut reports = Vec::new();
        while let Some(r) = set.join_next().await {
            match r {
                Ok(Ok(rep)) => reports.extend(rep),
                Ok(Err(e)) => {
                    cancel.store(true, Ordering::Relaxed);
                    // Keep the error that caused the cancellation, not its echoes.
                    match &first {
                        Some(f) if !is_cancelled(f) => {}
                        Some(_) if is_cancelled(&e) => {}
                        _ => first = Some(e),
                    }
                }
                Err(join) => {
                    cancel.store(true, Ordering::Relaxed);
                    first.get_or_insert_with(|| anyhow!("a task panicked: {join}"));
                }
            }
        }
        match first {
            Some(e) => Err(root_error(e)),
            None => Ok(reports),
        }
    })
}

fn is_cancelled(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<Cancelled>().is_some())
}

/// Lifts a function error out of the task context it was wrapped in.
fn root_error(e: anyhow::Error) -> JobError {
    for cause in e.chain() {
        if let Some(f) = cause.downcast_ref::<FunctionError>() {
            return JobError::Function(f.clone());
        }
    }
    JobError::Failed(e)
}

/// Loads, compiles and checks (against its world) the function of operator `n`.
fn prepare(
    wasm: &mut Option<WasmFunctions>,
    options: &RunOptions,
    n: &Node,
    o: &OperatorNode,
) -> Result<PreparedFn> {
    let mut files = Vec::new();
    for (name, path) in &o.files {
        let data = std::fs::read(path).with_context(|| {
            format!(
                "operator `{}`: reading file `{name}` ({})",
                n.name,
                path.display()
            )
        })?;
        files.push((name.clone(), data));
    }
    let init = InitContext {
        operator: n.name.clone(),
        config: o.config_json.clone(),
        files,
        subtask: 0,
        parallelism: n.parallelism,
    };
    let path = match &o.component {
        ComponentRef::Native(name) => return Ok(PreparedFn::Native(name.clone(), init)),
        ComponentRef::Wasm(p) => p.clone(),
    };
    if wasm.is_none() {
        *wasm = Some(WasmFunctions::new(options.cache_dir.clone())?);
    }
    let wasm = wasm.as_ref().expect("just made");
    Ok(match o.kind {
        OperatorKind::Map => PreparedFn::Map(wasm.prepare(&n.name, &path, o.limits, init)?),
        OperatorKind::Window { .. } => {
            PreparedFn::Window(wasm.prepare(&n.name, &path, o.limits, init)?)
        }
        OperatorKind::Broadcast { .. } => {
            PreparedFn::Broadcast(wasm.prepare(&n.name, &path, o.limits, init)?)
        }
    })
}

/// Loads, compiles and checks every function of `job` against its world, as a run
/// would, without running anything (what `weir validate` does after the manifest).
pub fn check_functions(job: &Job, options: &RunOptions) -> Result<(), JobError> {
    let mut wasm = None;
    for n in &job.nodes {
        if let NodeKind::Operator(o) = &n.kind
            && let ComponentRef::Wasm(_) = o.component
        {
            prepare(&mut wasm, options, n, o)?;
        }
    }
    Ok(())
}

/// Everything needed to build the tasks of a job.
struct Setup<'a> {
    job: &'a Job,
    options: &'a RunOptions,
    plan: Plan,
    metrics: Arc<Metrics>,
    cancel: Arc<AtomicBool>,
    stop: Arc<StopSignal>,
    wasm: Option<WasmFunctions>,
    backend: Option<Arc<dyn StateBackend>>,
    registry: Option<Arc<StateRegistry>>,
    state_dir: Option<PathBuf>,
    lock: Option<StateDir>,
    prepared: HashMap<usize, PreparedFn>,
}

/// A function ready to instantiate per parallel instance.
enum PreparedFn {
    Map(Arc<Prepared<map_function::Guest>>),
    Window(Arc<Prepared<window_function::Guest>>),
    Broadcast(Arc<Prepared<broadcast_function::Guest>>),
    Native(String, InitContext),
}

impl<'a> Setup<'a> {
    fn new(
        job: &'a Job,
        options: &'a RunOptions,
        metrics: Arc<Metrics>,
        cancel: Arc<AtomicBool>,
        stop: Arc<StopSignal>,
    ) -> Result<Self> {
        let mut s = Self {
            job,
            options,
            plan: plan(job),
            metrics,
            cancel,
            stop,
            wasm: None,
            backend: None,
            registry: None,
            state_dir: None,
            lock: None,
            prepared: HashMap::new(),
        };
        let lock = StateDir::lock(&job.state_dir)?;
        let keyed = job
            .nodes
            .iter()
            .any(|n| matches!(&n.kind, NodeKind::Operator(o) if o.key_by.is_some()));
        if keyed {
            let dir = lock.fresh_work()?.join("rocksdb");
            let mut backend = open_backend(job.state_backend, &dir)?;
            if let Some(wrap) = &options.backend_wrapper {
                backend = wrap(backend);
            }
            s.registry = Some(Arc::new(StateRegistry::new(backend.clone())));
            s.backend = Some(backend);
            s.state_dir = Some(lock.work());
        }
        s.lock = Some(lock);
        for (i, n) in job.nodes.iter().enumerate() {
            if let NodeKind::Operator(o) = &n.kind {
                let p = s.prepare(n, o)?;
                s.prepared.insert(i, p);
            }
        }
        Ok(s)
    }

    fn prepare(&mut self, n: &Node, o: &OperatorNode) -> Result<PreparedFn> {
        prepare(&mut self.wasm, self.options, n, o)
    }

    fn keyed_state(&self, o: &OperatorNode, sub: u32, parallelism: u32) -> Option<KeyedState> {
        o.key_by.as_ref()?;
        Some(KeyedState::new(
            self.backend.clone()?,
            self.registry.clone()?,
            &o.uid,
            self.job.max_parallelism,
            crate::state::key_groups_of(sub, parallelism, self.job.max_parallelism),
        ))
    }

    /// Builds every task instance, wired with channels.
    fn tasks(&mut self) -> Result<Vec<TaskInstance>> {
        let job = self.job;
        // Channels: one per (edge, consumer instance).
        let mut receivers: Vec<Vec<crossbeam_channel::Receiver<super::Envelope>>> = Vec::new();
        let mut senders: Vec<Vec<crossbeam_channel::Sender<super::Envelope>>> = Vec::new();
        for e in &self.plan.edges {
            let consumer = &self.plan.tasks[e.to_task];
            let producers = self.plan.tasks[self.plan.task_of[e.from]].parallelism as usize;
            let per = if matches!(e.partition, Partition::Forward) {
                1
            } else {
                producers
            };
            let (tx, rx): (Vec<_>, Vec<_>) = (0..consumer.parallelism)
                .map(|_| bounded(CHANNEL_DEPTH * per))
                .unzip();
            senders.push(tx);
            receivers.push(rx);
        }
        let mut out = Vec::new();
        for (t, task) in self.plan.tasks.clone().into_iter().enumerate() {
            for sub in 0..task.parallelism {
                let mut outlets: HashMap<(usize, Output), Vec<Outlet>> = HashMap::new();
                for (ei, e) in self.plan.edges.iter().enumerate() {
                    if self.plan.task_of[e.from] != t {
                        continue;
                    }
                    let (tx, from) = match e.partition {
                        Partition::Forward => (vec![senders[ei][sub as usize].clone()], 0),
                        _ => (senders[ei].clone(), sub),
                    };
                    outlets
                        .entry((e.from, e.output))
                        .or_default()
                        .push(Outlet::new(
                            tx,
                            from,
                            e.partition.clone(),
                            job.max_parallelism,
                            self.cancel.clone(),
                        ));
                }
                let ports = task
                    .inputs
                    .iter()
                    .map(|&(input, ei)| {
                        let e = &self.plan.edges[ei];
                        let producers =
                            self.plan.tasks[self.plan.task_of[e.from]].parallelism as usize;
                        Port {
                            input,
                            rx: receivers[ei][sub as usize].clone(),
                            senders: if matches!(e.partition, Partition::Forward) {
                                1
                            } else {
                                producers
                            },
                        }
                    })
                    .collect();
                let mut links = Vec::new();
                for &node in &task.links {
                    links.push(Link {
                        node,
                        name: job.nodes[node].name.clone(),
                        op: self.operator(node, sub)?,
                    });
                }
                let source = match task.source {
                    Some(s) => Some(self.source(s, sub, task.parallelism)?),
                    None => None,
                };
                let head = task
                    .source
                    .or(task.links.first().copied())
                    .expect("tasks have a head");
                let bootstrap = task.links.first().is_some_and(|&l| {
                    matches!(&job.nodes[l].kind, NodeKind::Operator(o) if matches!(o.kind, OperatorKind::Broadcast { bootstrap: true, .. }))
                });
                out.push(TaskInstance {
                    name: format!("{}[{sub}]", job.nodes[head].name),
                    source,
                    ports,
                    chain: Chain::new(task.source, links, outlets),
                    clock: self.options.clock.clone(),
                    cancel: self.cancel.clone(),
                    stop: self.stop.clone(),
                    bootstrap,
                });
            }
        }
        // Only the task instances hold channel ends now, so a task that stops early
        // disconnects its neighbours instead of leaving them waiting.
        drop(senders);
        drop(receivers);
        Ok(out)
    }

    fn source(&self, node: usize, sub: u32, parallelism: u32) -> Result<FileSource> {
        let n = &self.job.nodes[node];
        let NodeKind::Source { kind, event_time } = &n.kind else {
            bail!("not a source")
        };
        let SourceKind::File {
            path,
            format,
            follow,
        } = kind;
        let splits = plan_splits(path, parallelism as usize, *follow)
            .with_context(|| format!("source `{}`", n.name))?;
        let mine = splits
            .into_iter()
            .enumerate()
            .filter(|(i, _)| *i % parallelism as usize == sub as usize)
            .map(|(_, s)| s)
            .collect();
        Ok(FileSource::new(
            mine,
            *format,
            *follow,
            event_time.clone(),
            self.job.batch_size,
            self.options.clock.clone(),
            self.metrics.node(&n.name),
        ))
    }

    fn operator(&self, node: usize, sub: u32) -> Result<Box<dyn Operator>> {
        let n = &self.job.nodes[node];
        let metrics = self.metrics.node(&n.name);
        match &n.kind {
            NodeKind::Sink {
                kind: SinkKind::File { path },
                ..
            } => Ok(Box::new(FileSink::create(path, metrics)?)),
            NodeKind::Sink {
                kind: SinkKind::Stdout,
                ..
            } => Ok(Box::new(StdoutSink::new(metrics))),
            NodeKind::Source { .. } => bail!("a source is not an operator"),
            NodeKind::Operator(o) => {
                let keyed = self.keyed_state(o, sub, n.parallelism);
                let natives = &self.options.natives;
                match (&o.kind, &self.prepared[&node]) {
                    (OperatorKind::Map, p) => {
                        let f = match p {
                            PreparedFn::Map(p) => WasmFunctions::map(p, sub, keyed)?,
                            PreparedFn::Native(name, init) => {
                                let make = natives.maps.get(name).with_context(|| format!("operator `{}`: no native map function `{name}` is registered", n.name))?;
                                make(&subtask_init(init, sub), keyed)?
                            }
                            _ => bail!("operator `{}`: wrong function kind", n.name),
                        };
                        let errors =
                            ErrorHandler::new(o.on_error, f.label().clone(), metrics.clone());
                        Ok(Box::new(MapOperator::new(
                            f,
                            errors,
                            self.options.clock.clone(),
                            metrics,
                        )))
                    }
                    (
                        OperatorKind::Window {
                            window,
                            time,
                            aggregate,
                            allowed_lateness_ms,
                        },
                        p,
                    ) => {
                        let f = match p {
                            PreparedFn::Window(p) => WasmFunctions::window(p, sub, keyed.clone())?,
                            PreparedFn::Native(name, init) => {
                                let make = natives.windows.get(name).with_context(|| format!("operator `{}`: no native window function `{name}` is registered", n.name))?;
                                make(&subtask_init(init, sub), keyed.clone())?
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
                        };
                        let keyed = keyed.with_context(|| {
                            format!("operator `{}`: windows need keyed input", n.name)
                        })?;
                        Ok(Box::new(WindowOperator::new(
                            spec,
                            f,
                            errors,
                            keyed,
                            self.options.clock.clone(),
                            metrics,
                        )?))
                    }
                    (OperatorKind::Broadcast { .. }, p) => {
                        let f = match p {
                            PreparedFn::Broadcast(p) => WasmFunctions::broadcast(p, sub, keyed)?,
                            PreparedFn::Native(name, init) => {
                                let make = natives.broadcasts.get(name).with_context(|| format!("operator `{}`: no native broadcast function `{name}` is registered", n.name))?;
                                make(&subtask_init(init, sub), keyed)?
                            }
                            _ => bail!("operator `{}`: wrong function kind", n.name),
                        };
                        let errors =
                            ErrorHandler::new(o.on_error, f.label().clone(), metrics.clone());
                        Ok(Box::new(BroadcastOperator::new(
                            f,
                            errors,
                            sub,
                            self.options.clock.clone(),
                            metrics,
                        )))
                    }
                }
            }
        }
    }
}

fn subtask_init(init: &InitContext, sub: u32) -> InitContext {
    let mut i = init.clone();
    i.subtask = sub;
    i
}

//! One run of a job's tasks (the first, or one after a restart): instances built, channels
//! wired (one per sender and receiver, so a barrier can hold back one sender alone), and
//! the coordinator's channels.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};

use anyhow::Result;
use crossbeam_channel::{Receiver, Sender, bounded, unbounded};

use super::build::Builder;
use super::chain::{Chain, Identity, Link};
use super::coordinator::{Control, Report};
use super::exchange::{Outlet, Partition};
use super::functions::PreparedFn;
use super::message::Envelope;
use super::metrics::Metrics;
use super::options::RunOptions;
use super::plan::Plan;
use super::stop::StopSignal;
use super::task::{Port, SourceHead, TaskInstance};
use crate::checkpoint::{Restore, Role};
use crate::manifest::{CheckpointMode, Job, NodeKind, OperatorKind, Output};
use crate::state::StateRegistry;

/// Messages a channel holds before its sender waits.
const CHANNEL_DEPTH: usize = 4;

/// The task instances of a run and the coordinator's ends of their channels.
pub struct Attempt {
    /// Every task instance.
    pub tasks: Vec<TaskInstance>,
    /// One control channel per task instance.
    pub controls: Vec<Sender<Control>>,
    /// Acknowledgements from the tasks.
    pub reports: Receiver<Report>,
    /// Task instances that start with a source.
    pub sources: Vec<usize>,
    /// Task instances that read a broadcast input first (not ready for barriers yet).
    pub not_ready: BTreeSet<usize>,
    /// The run's state ids.
    pub registry: Arc<StateRegistry>,
    /// Every operator instance, by node (what a swap reaches).
    pub targets: HashMap<usize, Vec<super::swap::Target>>,
}

/// What an attempt is built from.
pub struct Inputs<'a> {
    /// The job.
    pub job: &'a Job,
    /// How it runs.
    pub options: &'a RunOptions,
    /// Its tasks.
    pub plan: &'a Plan,
    /// Its functions.
    pub functions: &'a HashMap<usize, PreparedFn>,
    /// The snapshot it starts from.
    pub restore: Option<&'a Restore>,
    /// Where live state goes (emptied first).
    pub work: PathBuf,
    /// Counters.
    pub metrics: &'a Arc<Metrics>,
    /// Set to cancel this attempt.
    pub cancel: &'a Arc<AtomicBool>,
    /// Stop or drain.
    pub stop: &'a Arc<StopSignal>,
    /// The next snapshot id.
    pub next_id: &'a Arc<AtomicU64>,
}

type Made = Result<(
    Option<super::chain::KeyedHandle>,
    Box<dyn crate::operator::Operator>,
)>;

/// Makes the instances `jobs` (node, subtask) on as many threads as there are cores.
fn make_all(
    builder: &Builder<'_>,
    jobs: &[(usize, u32)],
    metrics: &Metrics,
) -> HashMap<(usize, u32), Made> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(HashMap::new());
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(jobs.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&(node, sub)) = jobs.get(k) else {
                        break;
                    };
                    let n = &builder.job.nodes[node];
                    let m = metrics.instance(&n.name, sub);
                    let made = builder.keyed_backend(n, sub).and_then(|keyed| {
                        Ok((keyed.clone(), builder.operator(node, sub, &keyed, m)?))
                    });
                    results.lock().expect("results").insert((node, sub), made);
                }
            });
        }
    });
    results.into_inner().expect("results")
}

/// Builds every task instance of a run, wired with channels.
pub fn build(i: Inputs<'_>) -> Result<Attempt> {
    let job = i.job;
    let plan = i.plan;
    let registry = Arc::new(match i.restore {
        Some(r) => StateRegistry::restored(&r.found.metadata.states)?,
        None => StateRegistry::default(),
    });
    let builder = Builder {
        job,
        options: i.options,
        functions: i.functions,
        restore: i.restore,
        registry: registry.clone(),
        work: i.work,
        next_id: i.next_id.clone(),
    };
    // Channels: one per (edge, producer instance, consumer instance); forward edges
    // connect instance k to instance k only.
    type Chan = (Sender<Envelope>, Receiver<Envelope>);
    let mut channels: Vec<HashMap<(u32, u32), Chan>> = Vec::new();
    for e in &plan.edges {
        let producers = plan.tasks[plan.task_of[e.from]].parallelism;
        let consumers = plan.tasks[e.to_task].parallelism;
        let mut m = HashMap::new();
        for p in 0..producers {
            for c in 0..consumers {
                if matches!(e.partition, Partition::Forward) && p != c {
                    continue;
                }
                m.insert((p, c), bounded(CHANNEL_DEPTH));
            }
        }
        channels.push(m);
    }
    // The instances of operators and sinks are made first, several at a time: restoring
    // keyed state and rebuilding window timers is most of a restart's time.
    let jobs: Vec<(usize, u32)> = plan
        .tasks
        .iter()
        .flat_map(|t| {
            (0..t.parallelism).flat_map(move |sub| t.links.iter().map(move |&n| (n, sub)))
        })
        .collect();
    let mut made = make_all(&builder, &jobs, i.metrics);
    let (report_tx, reports) = unbounded();
    let mut tasks = Vec::new();
    let mut controls = Vec::new();
    let mut sources = Vec::new();
    let mut not_ready = BTreeSet::new();
    let mut targets: HashMap<usize, Vec<super::swap::Target>> = HashMap::new();
    let mode = job
        .checkpoint
        .as_ref()
        .map_or(CheckpointMode::ExactlyOnce, |c| c.mode);
    for (t, task) in plan.tasks.iter().enumerate() {
        let names: Vec<&str> = task
            .source
            .iter()
            .chain(&task.links)
            .map(|&n| job.nodes[n].name.as_str())
            .collect();
        for sub in 0..task.parallelism {
            let index = tasks.len();
            let time = i.metrics.task_time(&names, sub);
            let mut outlets: HashMap<(usize, Output), Vec<Outlet>> = HashMap::new();
            for (ei, e) in plan.edges.iter().enumerate() {
                if plan.task_of[e.from] != t {
                    continue;
                }
                let consumers = plan.tasks[e.to_task].parallelism;
                let senders: Vec<Sender<Envelope>> = match e.partition {
                    Partition::Forward => vec![channels[ei][&(sub, sub)].0.clone()],
                    _ => (0..consumers)
                        .map(|c| channels[ei][&(sub, c)].0.clone())
                        .collect(),
                };
                outlets
                    .entry((e.from, e.output))
                    .or_default()
                    .push(Outlet::new(
                        senders,
                        0,
                        e.partition.clone(),
                        job.max_parallelism,
                        i.cancel.clone(),
                        time.clone(),
                    ));
            }
            let ports = task
                .inputs
                .iter()
                .map(|&(input, ei)| {
                    let e = &plan.edges[ei];
                    let producers = plan.tasks[plan.task_of[e.from]].parallelism;
                    let rx = match e.partition {
                        Partition::Forward => vec![channels[ei][&(sub, sub)].1.clone()],
                        _ => (0..producers)
                            .map(|p| channels[ei][&(p, sub)].1.clone())
                            .collect(),
                    };
                    Port { input, rx }
                })
                .collect();
            let mut links = Vec::new();
            for &node in &task.links {
                let n = &job.nodes[node];
                let metrics = i.metrics.instance(&n.name, sub);
                let (keyed, op) = made
                    .remove(&(node, sub))
                    .expect("every instance was made")?;
                if matches!(n.kind, NodeKind::Operator(_)) {
                    targets.entry(node).or_default().push(super::swap::Target {
                        task: index,
                        subtask: sub,
                        keyed: keyed.as_ref().map(|k| {
                            crate::state::KeyedState::new(
                                k.backend.clone(),
                                registry.clone(),
                                &n.uid,
                                job.max_parallelism,
                                k.groups,
                            )
                        }),
                    });
                }
                links.push(Link {
                    node,
                    name: n.name.clone(),
                    op,
                    identity: Identity {
                        uid: n.uid.clone(),
                        role: match n.kind {
                            NodeKind::Sink { .. } => Role::Sink,
                            _ => Role::Operator,
                        },
                        subtask: sub,
                        parallelism: n.parallelism,
                        component: i.functions.get(&node).and_then(PreparedFn::hash),
                    },
                    keyed,
                    metrics,
                    staged: None,
                    provenance: matches!(&n.kind, NodeKind::Operator(o) if o.provenance),
                });
            }
            let source = match task.source {
                Some(s) => {
                    let n = &job.nodes[s];
                    let metrics = i.metrics.instance(&n.name, sub);
                    sources.push(index);
                    Some(SourceHead {
                        reader: builder.source(n, sub, metrics.clone())?,
                        node: n.name.clone(),
                        uid: n.uid.clone(),
                        subtask: sub,
                        parallelism: n.parallelism,
                        metrics,
                    })
                }
                None => None,
            };
            let head = task
                .source
                .or(task.links.first().copied())
                .expect("tasks have a head");
            let bootstrap = task.links.first().is_some_and(|&l| {
                matches!(&job.nodes[l].kind, NodeKind::Operator(o) if matches!(o.kind, OperatorKind::Broadcast { bootstrap: true, .. }))
            });
            if bootstrap {
                not_ready.insert(index);
            }
            let (control_tx, control) = unbounded();
            controls.push(control_tx);
            tasks.push(TaskInstance {
                name: format!("{}[{sub}]", job.nodes[head].name),
                index,
                source,
                ports,
                chain: Chain::new(task.source, links, outlets),
                clock: i.options.clock.clone(),
                cancel: i.cancel.clone(),
                stop: i.stop.clone(),
                bootstrap,
                control,
                reports: report_tx.clone(),
                mode,
                time,
            });
        }
    }
    // Only the task instances hold channel ends now, so a task that stops early
    // disconnects its neighbours instead of leaving them waiting.
    drop(channels);
    Ok(Attempt {
        tasks,
        controls,
        reports,
        sources,
        not_ready,
        registry,
        targets,
    })
}

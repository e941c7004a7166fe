//! From a job's nodes to tasks: which operators share a task, and how tasks connect.
//!
//! A map operator joins the task of its input (a *chain*: no channel, no copy) when it
//! reads that node's main output alone, unkeyed, at the same parallelism. Everything else
//! starts a task of its own: keyed operators (their input is partitioned by key), window
//! and broadcast operators, sinks, and operators reading a side output.

use std::collections::HashMap;

use super::exchange::Partition;
use crate::manifest::{InputRef, Job, NodeKind, OperatorKind, Output};
use crate::operator::Input;

/// One task: a head (a source, or the first link reading channels) and its chain.
#[derive(Debug, Clone)]
pub struct TaskPlan {
    /// The source node the task reads, if it starts with one.
    pub source: Option<usize>,
    /// Operator and sink nodes, in chain order.
    pub links: Vec<usize>,
    /// Parallel instances.
    pub parallelism: u32,
    /// Channels into the task: which input, from which edge.
    pub inputs: Vec<(Input, usize)>,
}

/// A channel edge between tasks.
#[derive(Debug, Clone)]
pub struct EdgePlan {
    /// Producing node.
    pub from: usize,
    /// Which of its outputs.
    pub output: Output,
    /// Consuming task.
    pub to_task: usize,
    /// How records are spread.
    pub partition: Partition,
}

/// The tasks of a job.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Tasks.
    pub tasks: Vec<TaskPlan>,
    /// Edges between tasks.
    pub edges: Vec<EdgePlan>,
    /// The task of each node.
    pub task_of: Vec<usize>,
}

/// Plans the tasks of `job`.
pub fn plan(job: &Job) -> Plan {
    let index: HashMap<&str, usize> = job
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let idx = |r: &InputRef| index[r.node.as_str()];
    let mut readers: HashMap<(usize, Output), usize> = HashMap::new();
    for n in &job.nodes {
        for r in n.kind.inputs() {
            *readers.entry((idx(r), r.output)).or_default() += 1;
        }
    }
    let mut tasks: Vec<TaskPlan> = Vec::new();
    let mut edges = Vec::new();
    let mut task_of = vec![usize::MAX; job.nodes.len()];
    for (i, n) in job.nodes.iter().enumerate() {
        match &n.kind {
            NodeKind::Source { .. } => {
                task_of[i] = tasks.len();
                tasks.push(TaskPlan {
                    source: Some(i),
                    links: Vec::new(),
                    parallelism: n.parallelism,
                    inputs: Vec::new(),
                });
            }
            NodeKind::Operator(o) => {
                let from = idx(&o.input);
                let chainable = matches!(o.kind, OperatorKind::Map)
                    && o.key_by.is_none()
                    && o.input.output == Output::Main
                    && job.nodes[from].parallelism == n.parallelism
                    && readers.get(&(from, Output::Main)) == Some(&1)
                    && !matches!(job.nodes[from].kind, NodeKind::Sink { .. });
                if chainable {
                    let t = task_of[from];
                    tasks[t].links.push(i);
                    task_of[i] = t;
                    continue;
                }
                let t = tasks.len();
                task_of[i] = t;
                let main = match &o.key_by {
                    Some(k) => Partition::Hash(k.clone()),
                    None if job.nodes[from].parallelism == n.parallelism => Partition::Forward,
                    None => Partition::Rebalance,
                };
                let mut inputs = vec![(Input::Main, edges.len())];
                edges.push(EdgePlan {
                    from,
                    output: o.input.output,
                    to_task: t,
                    partition: main,
                });
                if let OperatorKind::Broadcast { broadcast, .. } = &o.kind {
                    inputs.push((Input::Broadcast, edges.len()));
                    edges.push(EdgePlan {
                        from: idx(broadcast),
                        output: broadcast.output,
                        to_task: t,
                        partition: Partition::Broadcast,
                    });
                }
                tasks.push(TaskPlan {
                    source: None,
                    links: vec![i],
                    parallelism: n.parallelism,
                    inputs,
                });
            }
            NodeKind::Sink { input, .. } => {
                let t = tasks.len();
                task_of[i] = t;
                let from = idx(input);
                let partition = if job.nodes[from].parallelism == n.parallelism {
                    Partition::Forward
                } else {
                    Partition::Rebalance
                };
                tasks.push(TaskPlan {
                    source: None,
                    links: vec![i],
                    parallelism: n.parallelism,
                    inputs: vec![(Input::Main, edges.len())],
                });
                edges.push(EdgePlan {
                    from,
                    output: input.output,
                    to_task: t,
                    partition,
                });
            }
        }
    }
    Plan {
        tasks,
        edges,
        task_of,
    }
}

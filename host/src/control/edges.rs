//! The edges of a job's graph and how records cross each, for `GET /v1/job`: forward
//! (instance i to instance i; `chained` when both run in one task, without a channel),
//! by key (`hash`), to every instance (`broadcast`), or round robin (`rebalance`).
//!
//! They are read off the runtime's planner (`runtime/plan.rs`), which works on the
//! manifest alone, so the endpoint needs nothing of a running attempt.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::manifest::{InputRef, Job, KeyBy, NodeKind, OperatorKind, Output};
use crate::runtime::exchange::Partition;
use crate::runtime::plan::plan;

/// One edge: which output of `from` feeds which input of `to`, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The producing node.
    pub from: String,
    /// Its output: `main`, `late` or `dead-letter`.
    pub output: &'static str,
    /// The consuming node.
    pub to: String,
    /// Which of its inputs: `main`, or `broadcast` (a broadcast operator's second input).
    pub input: &'static str,
    /// `forward`, `hash`, `broadcast` or `rebalance`.
    pub partitioning: &'static str,
    /// What `hash` partitions by: `record key`, or a field path.
    pub key: Option<String>,
    /// Both ends run in one task (a forward edge without a channel).
    pub chained: bool,
}

fn output_name(o: Output) -> &'static str {
    match o {
        Output::Main => "main",
        Output::Late => "late",
        Output::DeadLetter => "dead-letter",
    }
}

fn key_name(k: &KeyBy) -> String {
    match k {
        KeyBy::RecordKey => "record key".to_owned(),
        KeyBy::Field(f) => f.as_str().to_owned(),
    }
}

/// The edges of `job`, in the order of the job's nodes that read them, as the runtime's
/// planner lays them out.
pub fn edges(job: &Job) -> Vec<Edge> {
    let plan = plan(job);
    let index: HashMap<&str, usize> = job
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let mut out = Vec::new();
    for (i, n) in job.nodes.iter().enumerate() {
        let mut inputs: Vec<(&InputRef, &'static str)> = Vec::new();
        match &n.kind {
            NodeKind::Source { .. } => {}
            NodeKind::Sink { input, .. } => inputs.push((input, "main")),
            NodeKind::Operator(o) => {
                inputs.push((&o.input, "main"));
                if let OperatorKind::Broadcast { broadcast, .. } = &o.kind {
                    inputs.push((broadcast, "broadcast"));
                }
            }
        }
        let task = plan.task_of[i];
        for (r, input) in inputs {
            let Some(&from) = index.get(r.node.as_str()) else {
                continue;
            };
            // A node in its input's task is chained to it: no channel between them.
            let chained = plan.task_of[from] == task && plan.tasks[task].source != Some(i);
            let channel = plan
                .edges
                .iter()
                .find(|e| e.from == from && e.output == r.output && e.to_task == task);
            let (partitioning, key) = match channel.map(|e| &e.partition) {
                Some(Partition::Hash(k)) => ("hash", Some(key_name(k))),
                Some(Partition::Broadcast) => ("broadcast", None),
                Some(Partition::Rebalance) => ("rebalance", None),
                Some(Partition::Forward) | None => ("forward", None),
            };
            out.push(Edge {
                from: r.node.clone(),
                output: output_name(r.output),
                to: n.name.clone(),
                input,
                partitioning,
                key,
                chained,
            });
        }
    }
    out
}

/// The edges of `job` as JSON.
pub fn edges_json(job: &Job) -> Value {
    edges(job)
        .into_iter()
        .map(|e| {
            json!({
                "from": e.from,
                "output": e.output,
                "to": e.to,
                "input": e.input,
                "partitioning": e.partitioning,
                "key": e.key,
                "chained": e.chained,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(text: &str) -> Job {
        let dir = tempfile::tempdir().unwrap();
        for f in ["in.txt", "rules.txt"] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        crate::manifest::load_str(text, &dir.path().join("job.toml"), dir.path(), &[])
            .unwrap_or_else(|d| panic!("{d}"))
    }

    fn shown(job: &Job) -> Vec<String> {
        edges(job)
            .iter()
            .map(|e| {
                format!(
                    "{}.{}->{}.{} {}{}{}",
                    e.from,
                    e.output,
                    e.to,
                    e.input,
                    e.partitioning,
                    e.key.as_ref().map_or(String::new(), |k| format!("({k})")),
                    if e.chained { " chained" } else { "" }
                )
            })
            .collect()
    }

    #[test]
    fn edges_say_how_records_are_spread() {
        let j = job(r#"[job]
name = "e"
parallelism = 2

[sources.in]
kind = "file"
path = "in.txt"
parallelism = 1

[sources.rules]
kind = "file"
path = "rules.txt"

[operators.parse]
kind = "map"
input = "in"
component = "native:parse"
parallelism = 1
on_error = "dead-letter"

[operators.widen]
kind = "map"
input = "parse"
component = "native:widen"

[operators.count]
kind = "map"
input = "widen"
key_by = { field = "user.id" }
component = "native:count"

[operators.enrich]
kind = "broadcast"
input = "count"
broadcast = "rules"
component = "native:enrich"

[operators.same]
kind = "map"
input = "enrich"
component = "native:same"

[sinks.out]
kind = "file"
input = "same"
path = "out"

[sinks.dead]
kind = "file"
input = "parse.dead-letter"
path = "dead"
"#);
        assert_eq!(
            shown(&j),
            vec![
                "in.main->parse.main forward chained",
                "parse.dead-letter->dead.main forward",
                "parse.main->widen.main rebalance",
                "widen.main->count.main hash(user.id)",
                "count.main->enrich.main forward",
                "rules.main->enrich.broadcast broadcast",
                "enrich.main->same.main forward chained",
                // A sink runs one instance.
                "same.main->out.main rebalance",
            ]
        );
    }

    #[test]
    fn an_output_read_twice_is_not_chained() {
        let j = job(r#"[job]
name = "e"

[sources.in]
kind = "file"
path = "in.txt"

[operators.a]
kind = "map"
input = "in"
component = "native:a"

[operators.b]
kind = "map"
input = "in"
component = "native:b"

[sinks.out]
kind = "file"
input = "a"
path = "out"

[sinks.also]
kind = "file"
input = "b"
path = "also"
"#);
        assert_eq!(
            shown(&j),
            vec![
                "in.main->a.main forward",
                "in.main->b.main forward",
                "b.main->also.main forward",
                "a.main->out.main forward",
            ]
        );
    }
}

//! What a finished job reports: records in and out, each sink, and an account of every
//! record at every node.

use std::collections::BTreeMap;
use std::time::Duration;

use super::metrics::{Counts, Metrics};
use crate::manifest::{InputRef, Job, NodeKind, Output, SinkKind};

/// What one sink wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkReport {
    /// Sink name.
    pub name: String,
    /// The output it read (`op`, `op.late`, `op.dead-letter`).
    pub reads: String,
    /// What kind of output that is.
    pub output: Output,
    /// Where it wrote: a file path or `stdout`.
    pub target: String,
    /// Records written.
    pub records: u64,
}

/// The counts of one node (summed over its parallel instances); its fields are those
/// of [`Counts`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeReport {
    /// Node name.
    pub name: String,
    /// `source`, `operator` or `sink`.
    pub role: &'static str,
    /// The counts.
    pub counts: Counts,
}

impl std::ops::Deref for NodeReport {
    type Target = Counts;
    fn deref(&self) -> &Counts {
        &self.counts
    }
}

impl NodeReport {
    /// What the node emitted on `output`.
    pub fn emitted(&self, output: Output) -> u64 {
        match (self.role, output) {
            ("source", Output::Main) => self.records_in,
            ("source", _) => 0,
            (_, Output::Main) => self.records_out,
            (_, Output::Late) => self.late,
            (_, Output::DeadLetter) => self.dead_letters,
        }
    }

    /// Each input counted in exactly one outcome (operators).
    fn outcomes(&self) -> u64 {
        self.produced + self.filtered + self.rejected + self.late + self.absorbed + self.dropped
    }
}

/// What a finished job reports.
#[derive(Debug, Clone)]
pub struct JobReport {
    /// Job name.
    pub name: String,
    /// Wall time from the start of the tasks (after functions were loaded).
    pub elapsed: Duration,
    /// Records read by all sources.
    pub records_in: u64,
    /// Records written by sinks of main outputs.
    pub records_out: u64,
    /// Records written by dead-letter sinks.
    pub dead_letters: u64,
    /// Records written by late-data sinks.
    pub late: u64,
    /// Each sink.
    pub sinks: Vec<SinkReport>,
    /// Every node's counts, in job order.
    pub nodes: Vec<NodeReport>,
    /// The inputs of each node, in job order.
    inputs: Vec<Vec<InputRef>>,
    /// Per broadcast operator: digest and size of each instance's broadcast state.
    pub broadcast_states: BTreeMap<String, Vec<(u64, usize)>>,
    /// Whether the job was stopped before the end of its input.
    pub stopped: bool,
    /// How many times the job restarted after a failure.
    pub restarts: usize,
    /// The snapshot the run resumed from, and how many records its sources had read
    /// before it.
    pub resumed: Option<(u64, u64)>,
}

impl JobReport {
    /// The report of `job` from its counters.
    pub fn new(
        job: &Job,
        metrics: &Metrics,
        elapsed: Duration,
        broadcast_states: BTreeMap<String, Vec<(u64, usize)>>,
    ) -> Self {
        let nodes: Vec<NodeReport> = job
            .nodes
            .iter()
            .map(|n| {
                let role = match n.kind {
                    NodeKind::Source { .. } => "source",
                    NodeKind::Operator(_) => "operator",
                    NodeKind::Sink { .. } => "sink",
                };
                NodeReport {
                    name: n.name.clone(),
                    role,
                    counts: metrics.node(&n.name),
                }
            })
            .collect();
        let sinks: Vec<SinkReport> = job
            .nodes
            .iter()
            .zip(&nodes)
            .filter_map(|(n, r)| match &n.kind {
                NodeKind::Sink { kind, input, .. } => Some(SinkReport {
                    name: n.name.clone(),
                    reads: input.to_string(),
                    output: input.output,
                    target: match kind {
                        SinkKind::File { path, .. } => path.display().to_string(),
                        SinkKind::Stdout => "stdout".to_owned(),
                        SinkKind::Kafka(k) => format!("kafka topic {}", k.topic),
                    },
                    records: r.records_in,
                }),
                _ => None,
            })
            .collect();
        let total = |o: Output| {
            sinks
                .iter()
                .filter(|s| s.output == o)
                .map(|s| s.records)
                .sum()
        };
        Self {
            name: job.name.clone(),
            elapsed,
            records_in: nodes
                .iter()
                .filter(|n| n.role == "source")
                .map(|n| n.records_in)
                .sum(),
            records_out: total(Output::Main),
            // Dead-letter outputs read by sinks, and what sinks sent to dead-letter
            // topics themselves.
            dead_letters: total(Output::DeadLetter)
                + nodes
                    .iter()
                    .filter(|n| n.role == "sink")
                    .map(|n| n.dead_letters)
                    .sum::<u64>(),
            late: total(Output::Late),
            sinks,
            inputs: job
                .nodes
                .iter()
                .map(|n| n.kind.inputs().into_iter().cloned().collect())
                .collect(),
            nodes,
            broadcast_states,
            stopped: false,
            restarts: 0,
            resumed: None,
        }
    }

    /// The counts of node `name`.
    pub fn node(&self, name: &str) -> Option<&NodeReport> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Checks that every record is accounted for: each node received exactly what the
    /// outputs it reads emitted, and each operator counted every input in one outcome.
    /// Returns every discrepancy.
    pub fn check_accounts(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        for (n, inputs) in self.nodes.iter().zip(&self.inputs) {
            if !inputs.is_empty() {
                let sent: u64 = inputs
                    .iter()
                    .filter_map(|r| self.node(&r.node).map(|from| from.emitted(r.output)))
                    .sum();
                if sent != n.records_in {
                    problems.push(format!(
                        "{} `{}` received {} records, but its inputs emitted {sent}",
                        n.role, n.name, n.records_in
                    ));
                }
            }
            if n.role == "operator" && n.outcomes() != n.records_in {
                problems.push(format!(
                    "operator `{}` received {} records but accounts for {} (produced {}, filtered {}, rejected {}, late {}, absorbed {}, dropped {})",
                    n.name,
                    n.records_in,
                    n.outcomes(),
                    n.produced,
                    n.filtered,
                    n.rejected,
                    n.late,
                    n.absorbed,
                    n.dropped
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

impl std::fmt::Display for JobReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        let how = if self.stopped { "stopped" } else { "finished" };
        writeln!(f, "job `{}` {how} in {secs:.2}s", self.name)?;
        if let Some((id, read)) = self.resumed {
            writeln!(
                f,
                "  resumed:      from snapshot {id}, after {read} records read before it"
            )?;
        }
        if self.restarts > 0 {
            writeln!(f, "  restarts:     {} (after failures)", self.restarts)?;
        }
        let rate = if secs > 0.0 {
            self.records_in as f64 / secs
        } else {
            0.0
        };
        writeln!(f, "  records in:   {} ({rate:.0}/s)", self.records_in)?;
        writeln!(f, "  records out:  {}", self.records_out)?;
        writeln!(f, "  dead-letter:  {}", self.dead_letters)?;
        if self.late > 0 || self.sinks.iter().any(|s| s.output == Output::Late) {
            writeln!(f, "  late:         {}", self.late)?;
        }
        for s in &self.sinks {
            writeln!(
                f,
                "  {} <- {}: {} records -> {}",
                s.name, s.reads, s.records, s.target
            )?;
        }
        for n in &self.nodes {
            write!(f, "  {} `{}`: {} in", n.role, n.name, n.records_in)?;
            let parts = [
                ("produced output", n.produced),
                ("filtered", n.filtered),
                ("rejected", n.rejected),
                ("late", n.late),
                ("into windows", n.absorbed),
                ("dropped between sliding windows", n.dropped),
                ("blank lines skipped", n.blank_lines),
                ("watermark markers", n.watermark_markers),
                ("without event time", n.missing_timestamps),
                ("windows fired", n.windows_fired),
                ("timers fired", n.timers_fired),
                ("timers pending at the end", n.timers_pending),
                ("windows failed", n.windows_failed),
                ("in count windows that never filled", n.unfired),
                (
                    "windows left open by the stop (not emitted)",
                    n.incomplete_windows,
                ),
                ("calls", n.calls),
                ("calls split to find failing records", n.replays),
                ("instances replaced", n.reinstantiations),
            ];
            for (what, v) in parts {
                if v > 0 {
                    write!(f, ", {v} {what}")?;
                }
            }
            if n.role == "operator" {
                write!(f, "; {} out", n.records_out)?;
            }
            writeln!(f)?;
        }
        for (op, states) in &self.broadcast_states {
            let same = states.windows(2).all(|w| w[0].0 == w[1].0);
            let entries = states.first().map_or(0, |s| s.1);
            writeln!(
                f,
                "  broadcast state of {op}: {entries} entries, {} on {} instances",
                if same { "identical" } else { "DIFFERENT" },
                states.len()
            )?;
        }
        if let Err(problems) = self.check_accounts() {
            for p in problems {
                writeln!(f, "  UNACCOUNTED: {p}")?;
            }
        }
        Ok(())
    }
}

//! Checks across nodes: every input names an output and every output is read, broadcast
//! inputs, event time, sink paths, and the order of nodes (no cycles).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::Spanned;

use super::{Checker, input_ref};
use crate::manifest::job::*;
use crate::manifest::model::Manifest;

/// Every input names an existing output, and every output is read by something.
pub(super) fn check_edges(
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
pub(super) fn single_broadcast_senders(
    c: &mut Checker<'_>,
    m: &Manifest,
    nodes: &mut BTreeMap<String, Node>,
) {
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
pub(super) fn bootstrap_inputs_apart(
    c: &mut Checker<'_>,
    m: &Manifest,
    nodes: &BTreeMap<String, Node>,
) {
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

pub(super) fn has_late_output(kind: &OperatorKind) -> bool {
    matches!(
        kind,
        OperatorKind::Window { time: TimeDomain::Event, window, .. } if !matches!(window, WindowKind::Count { .. })
    )
}

/// A source whose timestamps come from its function needs exactly one reader, a map
/// operator that runs in the source's task (unkeyed, same parallelism), so the
/// timestamps it emits can be traced back to the split they came from.
pub(super) fn check_function_time(
    c: &mut Checker<'_>,
    m: &Manifest,
    nodes: &BTreeMap<String, Node>,
) {
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
pub(super) fn check_event_time(c: &mut Checker<'_>, m: &Manifest, nodes: &BTreeMap<String, Node>) {
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
pub(super) fn topological(
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

/// A path as the file system resolves it: links followed, for the part that exists.
fn resolved(p: &std::path::Path) -> std::path::PathBuf {
    if let Ok(r) = p.canonicalize() {
        return r;
    }
    match (p.parent(), p.file_name()) {
        (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => resolved(parent).join(name),
        _ => p.to_owned(),
    }
}

/// No sink writes where the job reads (its sources, the files handed to functions,
/// the components) and no two sinks write one path: either would destroy data.
pub(super) fn check_paths(
    c: &mut Checker<'_>,
    m: &Manifest,
    nodes: &BTreeMap<String, Node>,
    parts: bool,
) {
    let mut inputs: Vec<(std::path::PathBuf, String)> = Vec::new();
    for (name, node) in nodes {
        match &node.kind {
            NodeKind::Source {
                kind: SourceKind::File { path, .. },
                ..
            } => inputs.push((resolved(path), format!("the input of source `{name}`"))),
            NodeKind::Operator(o) => {
                for (f, path) in &o.files {
                    inputs.push((resolved(path), format!("file `{f}` of operator `{name}`")));
                }
                if let ComponentRef::Wasm(p) = &o.component {
                    inputs.push((resolved(p), format!("the component of operator `{name}`")));
                }
            }
            _ => {}
        }
    }
    let mut written: BTreeMap<std::path::PathBuf, String> = BTreeMap::new();
    for (name, node) in nodes {
        let NodeKind::Sink {
            kind: SinkKind::File { path, .. },
            ..
        } = &node.kind
        else {
            continue;
        };
        let span = m
            .sinks
            .get(name)
            .and_then(|s| s.get_ref().path.as_ref())
            .map(Spanned::span);
        let field = format!("sinks.{name}.path");
        let out = resolved(path);
        for (input, what) in &inputs {
            if out == *input || out.starts_with(input) || input.starts_with(&out) {
                c.report(
                    span.clone(),
                    &field,
                    format!(
                        "{} is {what} (or inside it): the sink would overwrite what the job reads",
                        path.display()
                    ),
                );
            }
        }
        if out.is_dir() && !parts {
            c.report(
                span.clone(),
                &field,
                format!(
                    "{} is a folder: a file sink writes one file",
                    path.display()
                ),
            );
        }
        if out.is_file() && parts {
            c.report(
                span.clone(),
                &field,
                format!(
                    "{} is a file: with checkpoints a file sink writes a folder of committed parts",
                    path.display()
                ),
            );
        }
        if let Some(other) = written.insert(out, name.clone()) {
            c.report(
                span,
                &field,
                format!("sink `{other}` writes {} too", path.display()),
            );
        }
    }
}

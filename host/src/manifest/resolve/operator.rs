//! `[operators.<name>]`.

use std::ops::Range;
use std::path::PathBuf;

use toml::Spanned;

use super::window::window;
use super::{Checker, Inputs, OperatorType, input_ref, uid};
use crate::manifest::job::*;
use crate::manifest::model::{KeyByValue, OperatorTable};
use crate::record::json_field::FieldPath;

pub(super) fn operator(
    c: &mut Checker<'_>,
    name: &str,
    o: &Spanned<OperatorTable>,
    parallelism: u32,
) -> (Node, Inputs) {
    let f = |field: &str| format!("operators.{name}.{field}");
    let t = o.get_ref();
    let kind_type: Option<OperatorType> = c.choice(&t.kind, &f("kind"));
    let mut inputs = vec![(input_ref(t.input.get_ref()), t.input.span(), f("input"))];

    let component = match &t.component {
        Some(p) if p.get_ref().starts_with("native:") => {
            ComponentRef::Native(p.get_ref()["native:".len()..].to_owned())
        }
        Some(p) => {
            let path = c.path(p);
            if path.is_dir() {
                if crate::wasm::Language::detect(&path).is_none() {
                    c.report(Some(p.span()), f("component"), format!("{} is a folder without Cargo.toml, package.json or pyproject.toml: name a .wasm component or a Rust, JavaScript or Python function folder", path.display()));
                }
            } else if !path.exists() {
                c.report(
                    Some(p.span()),
                    f("component"),
                    format!("{} does not exist", path.display()),
                );
            } else if !path.is_file() {
                c.report(
                    Some(p.span()),
                    f("component"),
                    format!(
                        "{} is not a regular file: name a .wasm component or a Rust crate folder",
                        path.display()
                    ),
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
                && !((1 << 20)..=MAX_MEMORY_BYTES).contains(&m.get_ref().0)
            {
                c.report(
                    Some(m.span()),
                    f("limits.memory"),
                    "must be between 1MiB and 4GiB (all a 32-bit Wasm memory can address)",
                );
            }
            Limits {
                deadline_ms,
                memory_bytes,
            }
        }
        None => Limits::default(),
    };
    let on_error = c.choice_or(&t.on_error, &f("on_error"), ErrorPolicy::Fail);
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
    let kind = match kind_type {
        Some(OperatorType::Window) => {
            if key_by.is_none() {
                c.report(
                    Some(o.span()),
                    f("key_by"),
                    "window operators need `key_by` (\"key\" or { field = \"...\" })",
                );
            }
            let time = c.choice_or(&t.time, &f("time"), TimeDomain::Event);
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
            let aggregate = t
                .aggregate
                .as_ref()
                .and_then(|a| c.choice(a, &f("aggregate")));
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
                trigger: super::window::trigger(
                    c,
                    &f("trigger"),
                    t.trigger.as_ref(),
                    window.as_ref(),
                    t.window.as_ref().map(Spanned::span),
                    time,
                ),
                pane_header: t.pane_header.as_ref().is_some_and(|p| *p.get_ref()),
                evictor: super::window::evictor(
                    c,
                    &f("evictor"),
                    t.evictor.as_ref(),
                    window.as_ref(),
                    aggregate,
                ),
                time,
                aggregate,
                allowed_lateness_ms: lateness,
            }
        }
        Some(OperatorType::Broadcast) => {
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
        let window_fields = [
            ("window", t.window.as_ref().map(Spanned::span)),
            ("time", t.time.as_ref().map(Spanned::span)),
            ("aggregate", t.aggregate.as_ref().map(Spanned::span)),
            (
                "allowed_lateness",
                t.allowed_lateness.as_ref().map(Spanned::span),
            ),
            ("trigger", t.trigger.as_ref().map(Spanned::span)),
            ("pane_header", t.pane_header.as_ref().map(Spanned::span)),
            ("evictor", t.evictor.as_ref().map(Spanned::span)),
        ];
        for (field, span) in window_fields {
            not_for(c, span.is_some(), span, field, "window");
        }
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
        uid: uid(&t.uid, name),
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
            provenance: t.provenance.as_ref().is_some_and(|p| *p.get_ref()),
        })),
    };
    (node, inputs)
}

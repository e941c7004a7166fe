//! `[sinks.<name>]`.

use std::ops::Range;
use std::path::PathBuf;

use toml::Spanned;

use super::{Checker, SinkType, input_ref};
use crate::manifest::job::*;
use crate::manifest::model::SinkTable;

pub(super) fn sink(
    c: &mut Checker<'_>,
    name: &str,
    s: &Spanned<SinkTable>,
) -> (Node, Option<(InputRef, Range<usize>)>) {
    let f = |field: &str| format!("sinks.{name}.{field}");
    let t = s.get_ref();
    let kind = match c.choice(&t.kind, &f("kind")) {
        Some(SinkType::Stdout) => {
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

//! `[sinks.<name>]`.

use std::ops::Range;
use std::path::PathBuf;

use toml::Spanned;

use super::kafka::{self, SinkDefaults};
use super::{Checker, SinkType, input_ref, uid};
use crate::manifest::job::*;
use crate::manifest::model::SinkTable;

pub(super) fn sink(
    c: &mut Checker<'_>,
    name: &str,
    s: &Spanned<SinkTable>,
    defaults: &SinkDefaults<'_>,
    job_parallelism: u32,
) -> (Node, Option<(InputRef, Range<usize>)>) {
    let f = |field: &str| format!("sinks.{name}.{field}");
    let t = s.get_ref();
    let mut parallelism = 1;
    let kind = match c.choice(&t.kind, &f("kind")) {
        Some(SinkType::Kafka) => {
            parallelism = c.positive(&t.parallelism, &f("parallelism"), job_parallelism);
            SinkKind::Kafka(kafka::sink(c, name, s, defaults))
        }
        Some(SinkType::Stdout) => {
            kafka::reject_sink_fields(c, name, t);
            if let Some(p) = &t.path {
                c.report(Some(p.span()), f("path"), "stdout sinks have no `path`");
            }
            SinkKind::Stdout
        }
        _ => {
            kafka::reject_sink_fields(c, name, t);
            let delivery = c.choice_or(&t.delivery, &f("delivery"), Delivery::ExactlyOnce);
            match &t.path {
                Some(p) => SinkKind::File {
                    path: c.path(p),
                    delivery,
                },
                None => {
                    c.report(Some(s.span()), f("path"), "a file sink needs `path`");
                    SinkKind::File {
                        path: PathBuf::new(),
                        delivery,
                    }
                }
            }
        }
    };
    if matches!(kind, SinkKind::Stdout)
        && let Some(d) = &t.delivery
    {
        c.report(
            Some(d.span()),
            f("delivery"),
            "stdout is written as records arrive: it cannot take back output, so it has no `delivery`",
        );
    }
    let format = c.choice_or(&t.format, &f("format"), SinkFormat::Values);
    if matches!(kind, SinkKind::Kafka(_))
        && let Some(fm) = &t.format
    {
        c.report(
            Some(fm.span()),
            f("format"),
            "a Kafka sink writes each record's key, value, timestamp and headers as a Kafka record: it has no `format`",
        );
    }
    let input = input_ref(t.input.get_ref());
    (
        Node {
            name: name.to_owned(),
            uid: uid(&t.uid, name),
            parallelism,
            kind: NodeKind::Sink {
                kind,
                input: input.clone(),
                format,
            },
        },
        Some((input, t.input.span())),
    )
}

//! `[sources.<name>]`.

use std::path::PathBuf;

use toml::Spanned;

use super::{Checker, SourceType, TimestampWord, kafka};
use crate::manifest::job::*;
use crate::manifest::model::{EventTimeTable, SourceTable};
use crate::record::json_field::FieldPath;

pub(super) fn source(c: &mut Checker<'_>, name: &str, s: &Spanned<SourceTable>) -> NodeKind {
    let f = |field: &str| format!("sources.{name}.{field}");
    let t = s.get_ref();
    let kind = match c.choice(&t.kind, &f("kind")) {
        Some(SourceType::Kafka) => SourceKind::Kafka(kafka::source(c, name, s)),
        _ => {
            kafka::reject_source_fields(c, name, t);
            file(c, name, s)
        }
    };
    let event_time = event_time(c, name, t, &kind);
    NodeKind::Source { kind, event_time }
}

fn file(c: &mut Checker<'_>, name: &str, s: &Spanned<SourceTable>) -> SourceKind {
    let f = |field: &str| format!("sources.{name}.{field}");
    let t = s.get_ref();
    let path = match &t.path {
        Some(p) => {
            let path = c.path(p);
            if !path.exists() && t.follow != Some(true) {
                c.report(
                    Some(p.span()),
                    f("path"),
                    format!("{} does not exist", path.display()),
                );
            }
            path
        }
        None => {
            c.report(
                Some(s.span()),
                f("path"),
                "a file source needs `path` (a file or a folder)",
            );
            PathBuf::new()
        }
    };
    SourceKind::File {
        path,
        format: c.choice_or(&t.format, &f("format"), FileFormat::JsonLines),
        follow: t.follow.unwrap_or(false),
    }
}

fn event_time(
    c: &mut Checker<'_>,
    name: &str,
    t: &SourceTable,
    kind: &SourceKind,
) -> Option<EventTime> {
    let f = |field: &str| format!("sources.{name}.{field}");
    let et = t.event_time.as_ref()?;
    let e = et.get_ref();
    let text = matches!(
        kind,
        SourceKind::File {
            format: FileFormat::TextLines,
            ..
        }
    );
    let from = match (&e.field, &e.from) {
        (Some(field), None) => {
            if text {
                c.report(
                    Some(field.span()),
                    f("event_time.field"),
                    "text lines have no fields: use `json-lines`, or `from = \"ingestion\"`",
                );
            }
            match FieldPath::parse(field.get_ref()) {
                Ok(p) => TimestampFrom::Field(p),
                Err(m) => {
                    c.report(Some(field.span()), f("event_time.field"), m);
                    TimestampFrom::Ingestion
                }
            }
        }
        (None, Some(from)) => match c.choice(from, &f("event_time.from")) {
            Some(TimestampWord::Function) => TimestampFrom::Function,
            Some(TimestampWord::Kafka) => {
                if !matches!(kind, SourceKind::Kafka(_)) {
                    c.report(
                        Some(from.span()),
                        f("event_time.from"),
                        "only records read from Kafka have a Kafka timestamp",
                    );
                }
                TimestampFrom::Kafka
            }
            _ => TimestampFrom::Ingestion,
        },
        (Some(_), Some(from)) => {
            c.report(
                Some(from.span()),
                f("event_time"),
                "give either `field` or `from`, not both",
            );
            TimestampFrom::Ingestion
        }
        (None, None) => {
            c.report(
                Some(et.span()),
                f("event_time"),
                "needs `field` (a JSON field of epoch milliseconds) or `from = \"ingestion\"`",
            );
            TimestampFrom::Ingestion
        }
    };
    let record_watermarks = record_watermarks(c, name, e, text, &from);
    Some(EventTime {
        from,
        max_out_of_orderness_ms: e.max_out_of_orderness.as_ref().map_or(0, |m| m.get_ref().0),
        idle_timeout_ms: e.idle_timeout.as_ref().map(|m| m.get_ref().0),
        record_watermarks,
    })
}

/// `watermark_field` and `watermark_markers`: watermarks carried by records.
fn record_watermarks(
    c: &mut Checker<'_>,
    name: &str,
    e: &EventTimeTable,
    text: bool,
    from: &TimestampFrom,
) -> Option<RecordWatermarks> {
    let f = |field: &str| format!("sources.{name}.event_time.{field}");
    let Some(field) = &e.watermark_field else {
        if let Some(m) = &e.watermark_markers {
            c.report(
                Some(m.span()),
                f("watermark_markers"),
                "markers are the records that have `watermark_field`: give that field",
            );
        }
        return None;
    };
    if let Some(ooo) = &e.max_out_of_orderness {
        c.report(
            Some(ooo.span()),
            f("max_out_of_orderness"),
            "the watermark comes from `watermark_field`, not from timestamps: give one or the other",
        );
    }
    if text {
        c.report(
            Some(field.span()),
            f("watermark_field"),
            "text lines have no fields: use `json-lines`",
        );
    }
    if *from == TimestampFrom::Function {
        c.report(
            Some(field.span()),
            f("watermark_field"),
            "with `from = \"function\"` the host does not read the records: the function's timestamps make the watermark",
        );
    }
    match FieldPath::parse(field.get_ref()) {
        Ok(path) => Some(RecordWatermarks {
            field: path,
            markers: e.watermark_markers.as_ref().is_some_and(|m| *m.get_ref()),
        }),
        Err(m) => {
            c.report(Some(field.span()), f("watermark_field"), m);
            None
        }
    }
}

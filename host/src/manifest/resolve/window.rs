//! `window = { ... }` of a window operator.

use std::ops::Range;

use toml::Spanned;

use super::{Checker, WindowType};
use crate::manifest::job::*;
use crate::manifest::model::{EvictorTable, TriggerValue, WindowTable};
use crate::manifest::units::Millis;

pub(super) fn window(
    c: &mut Checker<'_>,
    field: &str,
    w: &Spanned<WindowTable>,
) -> Option<WindowKind> {
    let t = w.get_ref();
    let f = |s: &str| format!("{field}.{s}");
    let kind: WindowType = c.choice(&t.kind, &f("type"))?;
    let duration =
        |c: &mut Checker<'_>, v: &Option<Spanned<toml::Value>>, name: &str| -> Option<i64> {
            let Some(v) = v else {
                c.report(
                    Some(w.span()),
                    f(name),
                    format!("{} windows need `{name}`", t.kind.get_ref()),
                );
                return None;
            };
            let ms = match v.get_ref() {
                toml::Value::String(s) => Millis::parse(s),
                toml::Value::Integer(i) if *i > 0 => Millis::checked(*i as u64),
                _ => Err("must be a duration such as \"10s\"".to_owned()),
            };
            match ms {
                Ok(Millis(0)) => {
                    c.report(Some(v.span()), f(name), "must be greater than zero");
                    None
                }
                Ok(Millis(ms)) => Some(ms as i64),
                Err(m) => {
                    c.report(Some(v.span()), f(name), m);
                    None
                }
            }
        };
    let count =
        |c: &mut Checker<'_>, v: &Option<Spanned<toml::Value>>, name: &str| -> Option<u64> {
            match v.as_ref().map(|v| (v, v.get_ref())) {
                Some((_, toml::Value::Integer(i))) if *i > 0 => Some(*i as u64),
                Some((v, _)) => {
                    c.report(
                        Some(v.span()),
                        f(name),
                        "count windows count elements: a positive integer",
                    );
                    None
                }
                None => None,
            }
        };
    let offset = t.offset.as_ref().map_or(0, |o| o.get_ref().0 as i64);
    let unexpected = |c: &mut Checker<'_>, present: Option<Range<usize>>, name: &str| {
        if let Some(span) = present {
            c.report(
                Some(span),
                f(name),
                format!("{} windows have no `{name}`", t.kind.get_ref()),
            );
        }
    };
    match kind {
        WindowType::Tumbling => {
            unexpected(c, t.slide.as_ref().map(Spanned::span), "slide");
            unexpected(c, t.gap.as_ref().map(Spanned::span), "gap");
            let size_ms = duration(c, &t.size, "size")?;
            Some(WindowKind::Tumbling {
                size_ms,
                offset_ms: offset.rem_euclid(size_ms),
            })
        }
        WindowType::Sliding => {
            unexpected(c, t.gap.as_ref().map(Spanned::span), "gap");
            let size_ms = duration(c, &t.size, "size");
            let slide_ms = duration(c, &t.slide, "slide");
            let (size_ms, slide_ms) = (size_ms?, slide_ms?);
            windows_per_element(c, &t.slide, &f("slide"), size_ms as u64, slide_ms as u64)?;
            Some(WindowKind::Sliding {
                size_ms,
                slide_ms,
                offset_ms: offset.rem_euclid(slide_ms),
            })
        }
        WindowType::Session => {
            unexpected(c, t.size.as_ref().map(Spanned::span), "size");
            unexpected(c, t.slide.as_ref().map(Spanned::span), "slide");
            unexpected(c, t.offset.as_ref().map(Spanned::span), "offset");
            match &t.gap {
                Some(g) if g.get_ref().0 > 0 => Some(WindowKind::Session {
                    gap_ms: g.get_ref().0 as i64,
                }),
                Some(g) => {
                    c.report(Some(g.span()), f("gap"), "must be greater than zero");
                    None
                }
                None => {
                    c.report(Some(w.span()), f("gap"), "session windows need `gap`");
                    None
                }
            }
        }
        WindowType::Global => {
            unexpected(c, t.size.as_ref().map(Spanned::span), "size");
            unexpected(c, t.slide.as_ref().map(Spanned::span), "slide");
            unexpected(c, t.gap.as_ref().map(Spanned::span), "gap");
            unexpected(c, t.offset.as_ref().map(Spanned::span), "offset");
            Some(WindowKind::Global)
        }
        WindowType::Count => {
            unexpected(c, t.gap.as_ref().map(Spanned::span), "gap");
            unexpected(c, t.offset.as_ref().map(Spanned::span), "offset");
            let size = count(c, &t.size, "size");
            if t.size.is_none() {
                c.report(
                    Some(w.span()),
                    f("size"),
                    "count windows need `size` (elements per window)",
                );
            }
            let slide = count(c, &t.slide, "slide");
            let size = size?;
            if let Some(slide) = slide {
                windows_per_element(c, &t.slide, &f("slide"), size, slide)?;
            }
            Some(WindowKind::Count {
                size,
                slide: slide.unwrap_or(size),
            })
        }
    }
}

/// A sliding window puts each element in `size / slide` windows (as Flink's assigners
/// do), each of which stores it or its own accumulator: past
/// [`MAX_WINDOWS_PER_ELEMENT`] that is a mistake (a slide of `1ms` on a `100d` window),
/// not a job.
fn windows_per_element(
    c: &mut Checker<'_>,
    slide: &Option<Spanned<toml::Value>>,
    field: &str,
    size: u64,
    step: u64,
) -> Option<()> {
    let per = size.div_ceil(step);
    if per > MAX_WINDOWS_PER_ELEMENT {
        c.report(
            slide.as_ref().map(Spanned::span),
            field,
            format!(
                "puts every element in {per} windows (size / slide); at most {MAX_WINDOWS_PER_ELEMENT} are allowed, since each window keeps its own copy or accumulator of the element"
            ),
        );
        return None;
    }
    Some(())
}

/// `trigger`: when the windows fire. Each trigger is checked against the windows it
/// would fire; the default is the end of the windows' time.
pub(super) fn trigger(
    c: &mut Checker<'_>,
    field: &str,
    t: Option<&Spanned<TriggerValue>>,
    window: Option<&WindowKind>,
    window_at: Option<Range<usize>>,
    time: TimeDomain,
) -> Trigger {
    let event = time == TimeDomain::Event;
    let default = Trigger::default_for(event);
    let Some(t) = t else {
        if matches!(window, Some(WindowKind::Global)) {
            c.report(
                window_at,
                field.to_owned(),
                "a global window never ends, so it fires only as a trigger says: give one (`count`, `continuous-processing-time`)",
            );
        }
        return default;
    };
    let span = Some(t.span());
    let (word, count, interval, purging) = match t.get_ref() {
        TriggerValue::Word(w) => (w.as_str(), None, None, false),
        TriggerValue::Table(t) => (
            t.kind.as_str(),
            t.count,
            t.interval,
            t.purging.unwrap_or(false),
        ),
    };
    let positive_interval = |c: &mut Checker<'_>| match interval {
        Some(Millis(ms)) if ms > 0 => Some(ms as i64),
        _ => {
            c.report(
                span.clone(),
                format!("{field}.interval"),
                format!("a `{word}` trigger needs `interval`, a duration such as \"1m\""),
            );
            None
        }
    };
    let kind = match word {
        "event-time" => TriggerKind::EventTime,
        "processing-time" => TriggerKind::ProcessingTime,
        "count" => match count {
            Some(n) if n > 0 => TriggerKind::Count(n as u64),
            _ => {
                c.report(
                    span,
                    format!("{field}.count"),
                    "a `count` trigger needs `count`, a positive number of elements",
                );
                return default;
            }
        },
        "continuous-event-time" => match positive_interval(c) {
            Some(i) => TriggerKind::ContinuousEventTime(i),
            None => return default,
        },
        "continuous-processing-time" => match positive_interval(c) {
            Some(i) => TriggerKind::ContinuousProcessingTime(i),
            None => return default,
        },
        other => {
            c.report(
                span,
                format!("{field}.type"),
                format!(
                    "unknown trigger `{other}`: one of `event-time`, `processing-time`, `count`, `continuous-event-time`, `continuous-processing-time`"
                ),
            );
            return default;
        }
    };
    let refuse = |c: &mut Checker<'_>, why: &str| {
        c.report(span.clone(), field.to_owned(), why.to_owned());
        default
    };
    match (kind, window) {
        (_, Some(WindowKind::Count { .. })) => {
            return refuse(
                c,
                "count windows fire by their own count: they take no trigger",
            );
        }
        (TriggerKind::EventTime | TriggerKind::ContinuousEventTime(_), _) if !event => {
            return refuse(
                c,
                "an event-time trigger needs event-time windows (`time = \"event\"`)",
            );
        }
        (TriggerKind::ContinuousEventTime(_), Some(WindowKind::Global)) => {
            return refuse(
                c,
                "a global window's end is the end of time: a `continuous-event-time` trigger would fire every interval up to it at the end of the input",
            );
        }
        (TriggerKind::ProcessingTime, _) if event => {
            return refuse(
                c,
                "a `processing-time` trigger would fire when the wall clock passes an event-time window's end: use `time = \"processing\"`, or `continuous-processing-time` for early results",
            );
        }
        _ => {}
    }
    Trigger { kind, purging }
}

/// `evictor`: which elements a firing keeps.
pub(super) fn evictor(
    c: &mut Checker<'_>,
    field: &str,
    e: Option<&Spanned<EvictorTable>>,
    window: Option<&WindowKind>,
    aggregate: Option<WindowAggregateKind>,
) -> Option<Evictor> {
    let e = e?;
    let span = Some(e.span());
    let t = e.get_ref();
    let kind = match t.kind.as_str() {
        "count" => match t.count {
            Some(n) if n > 0 => EvictorKind::Count(n as u64),
            _ => {
                c.report(
                    span,
                    format!("{field}.count"),
                    "a `count` evictor needs `count`, a positive number of elements to keep",
                );
                return None;
            }
        },
        "time" => match t.keep {
            Some(Millis(ms)) if ms > 0 => EvictorKind::Time(ms as i64),
            _ => {
                c.report(
                    span,
                    format!("{field}.keep"),
                    "a `time` evictor needs `keep`, a duration such as \"5s\"",
                );
                return None;
            }
        },
        other => {
            c.report(
                span,
                format!("{field}.type"),
                format!("unknown evictor `{other}`: one of `count`, `time`"),
            );
            return None;
        }
    };
    if aggregate.is_some() {
        c.report(
            span,
            field.to_owned(),
            "an evictor needs the window's elements: it cannot be used with `aggregate`",
        );
        return None;
    }
    if matches!(
        window,
        Some(WindowKind::Count { .. } | WindowKind::Session { .. })
    ) {
        c.report(
            span,
            field.to_owned(),
            "evictors apply to tumbling and sliding windows",
        );
        return None;
    }
    Some(Evictor {
        kind,
        after: t.after.unwrap_or(false),
    })
}

//! `kind = "kafka"` sources and sinks: brokers, topics, start offsets, properties passed
//! to librdkafka, transactions.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use super::{Checker, KafkaStartWord};
use crate::manifest::job::*;
use crate::manifest::model::{OneOrMany, SinkTable, SourceTable, StartValue, TopicsValue};

/// Default time between lookups of topics and partitions.
pub const DEFAULT_DISCOVERY_MS: u64 = 10_000;
/// Default wait for the brokers at start.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 30_000;
/// Default topic of the progress records of exactly-once Kafka sinks.
pub const DEFAULT_PROGRESS_TOPIC: &str = "weir-progress";

/// Properties weir sets itself on consumers, with the manifest field to use instead (or
/// why).
const SOURCE_RESERVED: &[(&str, &str)] = &[
    ("bootstrap.servers", "use `brokers`"),
    ("group.id", "use `group_id`"),
    (
        "enable.auto.commit",
        "offsets are committed to the group when checkpoints complete",
    ),
    (
        "enable.auto.offset.store",
        "offsets are committed to the group when checkpoints complete",
    ),
    (
        "enable.partition.eof",
        "the source needs to know when a partition is read to its end",
    ),
];

/// Properties weir sets itself on producers.
const SINK_RESERVED: &[(&str, &str)] = &[
    ("bootstrap.servers", "use `brokers`"),
    ("transactional.id", "use `transactional_id_prefix`"),
];

/// The fields only Kafka sources have, with their spans.
fn source_kafka_fields(t: &SourceTable) -> Vec<(&'static str, Range<usize>)> {
    [
        ("brokers", t.brokers.as_ref().map(Spanned::span)),
        ("topics", t.topics.as_ref().map(Spanned::span)),
        ("group_id", t.group_id.as_ref().map(Spanned::span)),
        ("start", t.start.as_ref().map(Spanned::span)),
        ("properties", t.properties.as_ref().map(Spanned::span)),
        ("bounded", t.bounded.as_ref().map(Spanned::span)),
        (
            "discovery_interval",
            t.discovery_interval.as_ref().map(Spanned::span),
        ),
        (
            "connect_timeout",
            t.connect_timeout.as_ref().map(Spanned::span),
        ),
    ]
    .into_iter()
    .filter_map(|(n, s)| s.map(|s| (n, s)))
    .collect()
}

/// Reports the Kafka fields of a file source.
pub(super) fn reject_source_fields(c: &mut Checker<'_>, name: &str, t: &SourceTable) {
    for (field, span) in source_kafka_fields(t) {
        c.report(
            Some(span),
            format!("sources.{name}.{field}"),
            format!("`{field}` is a field of Kafka sources (`kind = \"kafka\"`)"),
        );
    }
}

/// Reports the Kafka fields of a file or stdout sink.
pub(super) fn reject_sink_fields(c: &mut Checker<'_>, name: &str, t: &SinkTable) {
    let fields = [
        ("brokers", t.brokers.as_ref().map(Spanned::span)),
        ("topic", t.topic.as_ref().map(Spanned::span)),
        ("properties", t.properties.as_ref().map(Spanned::span)),
        (
            "transactional_id_prefix",
            t.transactional_id_prefix.as_ref().map(Spanned::span),
        ),
        (
            "progress_topic",
            t.progress_topic.as_ref().map(Spanned::span),
        ),
        (
            "connect_timeout",
            t.connect_timeout.as_ref().map(Spanned::span),
        ),
        (
            "dead_letter_topic",
            t.dead_letter_topic.as_ref().map(Spanned::span),
        ),
    ];
    for (field, span) in fields {
        if let Some(span) = span {
            c.report(
                Some(span),
                format!("sinks.{name}.{field}"),
                format!("`{field}` is a field of Kafka sinks (`kind = \"kafka\"`)"),
            );
        }
    }
    if let Some(p) = &t.parallelism {
        c.report(
            Some(p.span()),
            format!("sinks.{name}.parallelism"),
            "file and stdout sinks run as one instance: only Kafka sinks take `parallelism`",
        );
    }
}

/// `[sources.<name>]` with `kind = "kafka"`.
pub(super) fn source(c: &mut Checker<'_>, name: &str, s: &Spanned<SourceTable>) -> KafkaSource {
    let f = |field: &str| format!("sources.{name}.{field}");
    let t = s.get_ref();
    for (field, span) in [
        ("path", t.path.as_ref().map(Spanned::span)),
        ("format", t.format.as_ref().map(Spanned::span)),
    ] {
        if let Some(span) = span {
            c.report(
                Some(span),
                f(field),
                format!("Kafka sources have no `{field}`: records are the values of Kafka records"),
            );
        }
    }
    if t.follow.is_some() {
        c.report(
            Some(s.span()),
            f("follow"),
            "Kafka sources have no `follow`: they keep reading unless `bounded = true`",
        );
    }
    let brokers = brokers(c, &t.brokers, s.span(), &f("brokers"), "source");
    let topics = match &t.topics {
        None => {
            c.report(
                Some(s.span()),
                f("topics"),
                "a Kafka source needs `topics`: a name, a list of names, or `{ pattern = \"regex\" }`",
            );
            KafkaTopics::Names(Vec::new())
        }
        Some(v) => match v.get_ref() {
            TopicsValue::Names(names) => {
                let names = many(names);
                if names.is_empty() {
                    c.report(Some(v.span()), f("topics"), "name at least one topic");
                }
                for n in &names {
                    if let Err(m) = topic_name(n) {
                        c.report(Some(v.span()), f("topics"), m);
                    }
                }
                KafkaTopics::Names(names)
            }
            TopicsValue::Pattern { pattern } => {
                if let Err(e) = regex::Regex::new(&format!("^(?:{pattern})$")) {
                    c.report(
                        Some(v.span()),
                        f("topics.pattern"),
                        format!("`{pattern}` is not a regular expression: {e}"),
                    );
                }
                KafkaTopics::Pattern(pattern.clone())
            }
        },
    };
    let group_id = t.group_id.as_ref().map(|g| g.get_ref().clone());
    if let Some(g) = &t.group_id
        && g.get_ref().is_empty()
    {
        c.report(Some(g.span()), f("group_id"), "must not be empty");
    }
    let start = match &t.start {
        None => KafkaStart::Earliest,
        Some(v) => match v.get_ref() {
            StartValue::Word(w) => {
                let word = Spanned::new(v.span(), w.clone());
                match c.choice::<KafkaStartWord>(&word, &f("start")) {
                    Some(KafkaStartWord::Earliest) | None => KafkaStart::Earliest,
                    Some(KafkaStartWord::Latest) => KafkaStart::Latest,
                    Some(KafkaStartWord::Committed) => {
                        if group_id.is_none() {
                            c.report(
                                Some(v.span()),
                                f("start"),
                                "`committed` reads the offsets of a consumer group: set `group_id`",
                            );
                        }
                        KafkaStart::Committed
                    }
                }
            }
            StartValue::Timestamp { timestamp } => match start_time(timestamp) {
                Ok(ms) => KafkaStart::Timestamp(ms),
                Err(m) => {
                    c.report(Some(v.span()), f("start.timestamp"), m);
                    KafkaStart::Earliest
                }
            },
        },
    };
    let properties = properties(c, &t.properties, &f("properties"), SOURCE_RESERVED);
    let discovery_interval_ms = t
        .discovery_interval
        .as_ref()
        .map_or(DEFAULT_DISCOVERY_MS, |m| m.get_ref().0);
    if let Some(d) = &t.discovery_interval
        && d.get_ref().0 < 100
    {
        c.report(
            Some(d.span()),
            f("discovery_interval"),
            "must be at least 100ms",
        );
    }
    KafkaSource {
        brokers,
        topics,
        group_id,
        start,
        properties,
        bounded: t.bounded.as_ref().is_some_and(|b| *b.get_ref()),
        discovery_interval_ms,
        connect_timeout_ms: connect_timeout(c, &t.connect_timeout, &f("connect_timeout")),
    }
}

/// What a Kafka sink's defaults depend on.
pub(super) struct SinkDefaults<'a> {
    /// The job's name.
    pub job: &'a str,
    /// The sink's uid.
    pub uid: &'a str,
    /// Whether the job takes checkpoints.
    pub checkpoints: bool,
}

/// `[sinks.<name>]` with `kind = "kafka"`.
pub(super) fn sink(
    c: &mut Checker<'_>,
    name: &str,
    s: &Spanned<SinkTable>,
    d: &SinkDefaults<'_>,
) -> KafkaSink {
    let f = |field: &str| format!("sinks.{name}.{field}");
    let t = s.get_ref();
    if let Some(p) = &t.path {
        c.report(
            Some(p.span()),
            f("path"),
            "Kafka sinks have no `path`: they write `topic`",
        );
    }
    let brokers = brokers(c, &t.brokers, s.span(), &f("brokers"), "sink");
    let topic = match &t.topic {
        Some(v) => {
            if let Err(m) = topic_name(v.get_ref()) {
                c.report(Some(v.span()), f("topic"), m);
            }
            v.get_ref().clone()
        }
        None => {
            c.report(Some(s.span()), f("topic"), "a Kafka sink needs `topic`");
            String::new()
        }
    };
    let default_delivery = if d.checkpoints {
        Delivery::ExactlyOnce
    } else {
        Delivery::AtLeastOnce
    };
    let delivery = c.choice_or(&t.delivery, &f("delivery"), default_delivery);
    if delivery == Delivery::ExactlyOnce && !d.checkpoints {
        c.report(
            t.delivery.as_ref().map(Spanned::span),
            f("delivery"),
            "exactly-once commits a transaction when a checkpoint completes: add [job.checkpoint], or use `at-least-once`",
        );
    }
    let properties = properties(c, &t.properties, &f("properties"), SINK_RESERVED);
    let prop = |k: &str| properties.iter().find(|(p, _)| p == k).map(|(_, v)| v);
    if delivery == Delivery::ExactlyOnce && prop("enable.idempotence").is_some_and(|v| v == "false")
    {
        c.report(
            t.properties.as_ref().map(Spanned::span),
            f("properties"),
            "exactly-once needs the idempotent producer: remove `enable.idempotence = false`",
        );
    }
    if let Some(v) = prop("transaction.timeout.ms")
        && v.parse::<u64>().is_err()
    {
        c.report(
            t.properties.as_ref().map(Spanned::span),
            f("properties.\"transaction.timeout.ms\""),
            format!("`{v}` is not a number of milliseconds"),
        );
    }
    let transactional_id_prefix = match &t.transactional_id_prefix {
        Some(p) => {
            if p.get_ref().is_empty() {
                c.report(
                    Some(p.span()),
                    f("transactional_id_prefix"),
                    "must not be empty",
                );
            }
            if delivery != Delivery::ExactlyOnce {
                c.report(
                    Some(p.span()),
                    f("transactional_id_prefix"),
                    "only exactly-once sinks use transactions",
                );
            }
            p.get_ref().clone()
        }
        None => format!("weir-{}-{}", d.job, d.uid),
    };
    let progress_topic = match &t.progress_topic {
        Some(p) => {
            if let Err(m) = topic_name(p.get_ref()) {
                c.report(Some(p.span()), f("progress_topic"), m);
            }
            if p.get_ref() == &topic {
                c.report(
                    Some(p.span()),
                    f("progress_topic"),
                    "must not be the topic the sink writes",
                );
            }
            p.get_ref().clone()
        }
        None => DEFAULT_PROGRESS_TOPIC.to_owned(),
    };
    let dead_letter_topic = t.dead_letter_topic.as_ref().map(|d| {
        if let Err(m) = topic_name(d.get_ref()) {
            c.report(Some(d.span()), f("dead_letter_topic"), m);
        }
        if d.get_ref() == &topic || d.get_ref() == &progress_topic {
            c.report(
                Some(d.span()),
                f("dead_letter_topic"),
                "must not be the topic the sink writes or its progress topic",
            );
        }
        d.get_ref().clone()
    });
    KafkaSink {
        brokers,
        topic,
        properties,
        delivery,
        transactional_id_prefix,
        progress_topic,
        connect_timeout_ms: connect_timeout(c, &t.connect_timeout, &f("connect_timeout")),
        dead_letter_topic,
    }
}

fn many(v: &OneOrMany) -> Vec<String> {
    match v {
        OneOrMany::One(s) => vec![s.clone()],
        OneOrMany::Many(v) => v.clone(),
    }
}

fn brokers(
    c: &mut Checker<'_>,
    v: &Option<Spanned<OneOrMany>>,
    table: Range<usize>,
    field: &str,
    what: &str,
) -> String {
    let Some(v) = v else {
        c.report(
            Some(table),
            field,
            format!(
                "a Kafka {what} needs `brokers` (\"host:port\", or several separated by commas)"
            ),
        );
        return String::new();
    };
    let list: Vec<String> = many(v.get_ref())
        .iter()
        .flat_map(|b| b.split(','))
        .map(|b| b.trim().to_owned())
        .filter(|b| !b.is_empty())
        .collect();
    if list.is_empty() {
        c.report(Some(v.span()), field, "name at least one broker");
    }
    for b in &list {
        let ok = b
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !ok {
            c.report(Some(v.span()), field, format!("`{b}` is not `host:port`"));
        }
    }
    list.join(",")
}

/// Whether `name` is a legal Kafka topic name.
fn topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 249 {
        return Err(format!("`{name}`: topic names have 1 to 249 characters"));
    }
    if name == "." || name == ".." {
        return Err(format!("`{name}` is not a legal topic name"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(format!(
            "`{name}`: topic names use letters, digits, `.`, `_` and `-` only"
        ));
    }
    Ok(())
}

/// A start time: epoch milliseconds, or an RFC 3339 time (a TOML date-time or string).
fn start_time(v: &toml::Value) -> Result<i64, String> {
    let text = match v {
        toml::Value::Integer(ms) => return Ok(*ms),
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        other => {
            return Err(format!(
                "`{other}` is not a time: give epoch milliseconds or an RFC 3339 time such as 2026-01-01T00:00:00Z"
            ));
        }
    };
    let t = humantime::parse_rfc3339_weak(&text)
        .map_err(|e| format!("`{text}` is not an RFC 3339 time: {e}"))?;
    let ms = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| format!("`{text}` is before 1970"))?
        .as_millis();
    i64::try_from(ms).map_err(|_| format!("`{text}` is too far in the future"))
}

fn properties(
    c: &mut Checker<'_>,
    v: &Option<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
    field: &str,
    reserved: &[(&str, &str)],
) -> Vec<(String, String)> {
    let Some(v) = v else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, value) in v.get_ref() {
        let at = format!("{field}.\"{k}\"");
        if let Some((_, why)) = reserved.iter().find(|(r, _)| r == k) {
            c.report(
                Some(value.span()),
                &at,
                format!("weir sets `{k}` itself: {why}"),
            );
            continue;
        }
        let text = match value.get_ref() {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(x) => x.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => {
                c.report(
                    Some(value.span()),
                    &at,
                    "librdkafka properties are strings, numbers or booleans",
                );
                continue;
            }
        };
        out.push((k.clone(), text));
    }
    out
}

fn connect_timeout(
    c: &mut Checker<'_>,
    v: &Option<Spanned<crate::manifest::Millis>>,
    field: &str,
) -> u64 {
    match v {
        Some(m) if m.get_ref().0 == 0 => {
            c.report(Some(m.span()), field, "must be greater than zero");
            DEFAULT_CONNECT_TIMEOUT_MS
        }
        Some(m) => m.get_ref().0,
        None => DEFAULT_CONNECT_TIMEOUT_MS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(topic_name("orders.v1_x-2").is_ok());
        assert!(topic_name("").is_err());
        assert!(topic_name("..").is_err());
        assert!(topic_name("a b").is_err());
        assert!(topic_name(&"x".repeat(250)).is_err());
    }

    #[test]
    fn start_times_are_milliseconds_or_rfc_3339() {
        assert_eq!(start_time(&toml::Value::Integer(5)), Ok(5));
        assert_eq!(
            start_time(&toml::Value::String("1970-01-01T00:00:01Z".into())),
            Ok(1000)
        );
        assert!(start_time(&toml::Value::String("yesterday".into())).is_err());
        assert!(start_time(&toml::Value::Boolean(true)).is_err());
    }
}

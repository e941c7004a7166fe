//! Kafka sources and sinks in manifests: what they resolve into, with their defaults, and
//! each mistake reported with its line and field.

use std::path::Path;

use weir::manifest::{
    Delivery, Diagnostics, Job, KafkaStart, KafkaTopics, NodeKind, SinkKind, SourceKind,
    TimestampFrom, load_str,
};

fn load(text: &str) -> Result<Job, Diagnostics> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.jsonl"), "{}\n").unwrap();
    load_str(text, Path::new("job.toml"), dir.path(), &[])
}

fn problems(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => panic!("the manifest loaded:\n{text}"),
        Err(d) => d.problems.iter().map(ToString::to_string).collect(),
    }
}

/// Asserts a problem on the line of the first `needle` (after `after`), for `field`,
/// saying `says`.
fn assert_problem(text: &str, after: &str, needle: &str, field: &str, says: &str) {
    let start = text.find(after).expect("the section");
    let at = start + text[start..].find(needle).expect("the needle");
    let line = text[..at].lines().count() + usize::from(text[..at].ends_with('\n'));
    let want = format!("job.toml:{line}:");
    let p = problems(text);
    assert!(
        p.iter().any(|p| p.starts_with(&want)
            && p.contains(&format!(" {field}: "))
            && p.contains(says)),
        "no problem at line {line} for {field} saying `{says}`: {p:#?}"
    );
}

const KAFKA: &str = r#"[job]
name = "k2k"
parallelism = 3

[job.checkpoint]
interval = "5s"

[sources.orders]
kind = "kafka"
brokers = ["a:9092", "b:9093"]
topics = "orders"
group_id = "readers"
start = "committed"
properties = { "fetch.min.bytes" = 1, "client.rack" = "r1" }

[sources.orders.event_time]
from = "kafka"
idle_timeout = "1s"

[sinks.out]
kind = "kafka"
input = "orders"
brokers = "a:9092"
topic = "enriched"
parallelism = 2
"#;

#[test]
fn kafka_sources_and_sinks_resolve_with_their_defaults() {
    let job = load(KAFKA).unwrap();
    let src = job.nodes.iter().find(|n| n.name == "orders").unwrap();
    let NodeKind::Source {
        kind: SourceKind::Kafka(k),
        event_time: Some(et),
    } = &src.kind
    else {
        panic!("{:?}", src.kind)
    };
    assert_eq!(k.brokers, "a:9092,b:9093");
    assert_eq!(k.topics, KafkaTopics::Names(vec!["orders".into()]));
    assert_eq!(k.group_id.as_deref(), Some("readers"));
    assert_eq!(k.start, KafkaStart::Committed);
    assert_eq!(
        k.properties,
        vec![
            ("client.rack".to_owned(), "r1".to_owned()),
            ("fetch.min.bytes".to_owned(), "1".to_owned())
        ]
    );
    assert!(!k.bounded);
    assert_eq!(et.from, TimestampFrom::Kafka);
    assert_eq!(src.parallelism, 3);
    let sink = job.nodes.iter().find(|n| n.name == "out").unwrap();
    let NodeKind::Sink {
        kind: SinkKind::Kafka(s),
        ..
    } = &sink.kind
    else {
        panic!("{:?}", sink.kind)
    };
    assert_eq!(s.delivery, Delivery::ExactlyOnce, "with checkpoints");
    assert_eq!(s.transactional_id_prefix, "weir-k2k-out");
    assert_eq!(s.progress_topic, "weir-progress");
    assert_eq!(
        s.dead_letter_topic, None,
        "a refused record fails the job by default"
    );
    assert_eq!(sink.parallelism, 2);

    let pattern = KAFKA
        .replace(
            "topics = \"orders\"",
            "topics = { pattern = \"orders-.*\" }",
        )
        .replace(
            "start = \"committed\"",
            "start = { timestamp = 2026-01-01T00:00:00Z }",
        );
    let job = load(&pattern).unwrap();
    let NodeKind::Source {
        kind: SourceKind::Kafka(k),
        ..
    } = &job.nodes[0].kind
    else {
        panic!()
    };
    assert_eq!(k.topics, KafkaTopics::Pattern("orders-.*".into()));
    assert_eq!(k.start, KafkaStart::Timestamp(1_767_225_600_000));
}

#[test]
fn kafka_mistakes_are_named_with_their_line_and_field() {
    let t = KAFKA.replace("brokers = [\"a:9092\", \"b:9093\"]", "brokers = \"a\"");
    assert_problem(
        &t,
        "[sources.orders]",
        "brokers",
        "sources.orders.brokers",
        "`a` is not `host:port`",
    );

    let t = KAFKA.replace("group_id = \"readers\"\n", "");
    assert_problem(
        &t,
        "[sources.orders]",
        "start",
        "sources.orders.start",
        "set `group_id`",
    );

    let t = KAFKA.replace("\"client.rack\" = \"r1\"", "\"group.id\" = \"x\"");
    assert_problem(
        &t,
        "[sources.orders]",
        "properties",
        "sources.orders.properties.\"group.id\"",
        "use `group_id`",
    );

    let t = KAFKA.replace("topics = \"orders\"", "topics = { pattern = \"(\" }");
    assert_problem(
        &t,
        "[sources.orders]",
        "topics",
        "sources.orders.topics.pattern",
        "not a regular expression",
    );

    let t = KAFKA.replace("topic = \"enriched\"", "topic = \"bad topic\"");
    assert_problem(
        &t,
        "[sinks.out]",
        "topic",
        "sinks.out.topic",
        "topic names use",
    );

    let t = KAFKA
        .replace("[job.checkpoint]\ninterval = \"5s\"\n", "")
        .replace(
            "topic = \"enriched\"",
            "topic = \"enriched\"\ndelivery = \"exactly-once\"",
        );
    assert_problem(
        &t,
        "[sinks.out]",
        "delivery",
        "sinks.out.delivery",
        "add [job.checkpoint]",
    );

    let t = KAFKA.replace(
        "topic = \"enriched\"",
        "topic = \"enriched\"\ndead_letter_topic = \"enriched\"",
    );
    assert_problem(
        &t,
        "[sinks.out]",
        "dead_letter_topic",
        "sinks.out.dead_letter_topic",
        "must not be the topic the sink writes",
    );

    let t = KAFKA.replace("topics = \"orders\"\n", "");
    assert_problem(
        &t,
        "[sources.orders]",
        "[sources.orders]",
        "sources.orders.topics",
        "needs `topics`",
    );

    let file = KAFKA.replace(
        "kind = \"kafka\"\nbrokers = [\"a:9092\", \"b:9093\"]",
        "kind = \"file\"\npath = \"in.jsonl\"\nbrokers = \"a:1\"",
    );
    assert_problem(
        &file,
        "[sources.orders]",
        "brokers",
        "sources.orders.brokers",
        "a field of Kafka sources",
    );
    assert_problem(
        &file,
        "[sources.orders.event_time]",
        "from",
        "sources.orders.event_time.from",
        "Kafka timestamp",
    );

    let stdout = KAFKA.replace(
        "kind = \"kafka\"\ninput = \"orders\"",
        "kind = \"stdout\"\ninput = \"orders\"",
    );
    assert_problem(
        &stdout,
        "[sinks.out]",
        "parallelism",
        "sinks.out.parallelism",
        "only Kafka sinks",
    );
}

#[test]
fn a_kafka_sink_has_no_format() {
    let text = KAFKA.replace(
        "topic = \"enriched\"",
        "topic = \"enriched\"\nformat = \"envelope\"",
    );
    assert_problem(
        &text,
        "[sinks.out]",
        "format",
        "sinks.out.format",
        "it has no `format`",
    );
}

//! The Kafka examples (`examples/jobs/*-kafka`) against a real broker (noida-db, started
//! by the test), as the README runs them: inputs loaded into topics, the job run, the
//! output read committed. Each writes what its file-to-file twin writes.

use weir_tests::broker::{Broker, Rec};
use weir_tests::{Harness, canonical, manifest, repo};

/// Loads each line of `file` (under `examples/jobs/`) as a record of `topic`, as
/// `kcat -P -l` does.
fn load(b: &Broker, topic: &str, file: &str) {
    let text = std::fs::read_to_string(repo().join("examples/jobs").join(file)).unwrap();
    let recs: Vec<Rec> = text.lines().map(Rec::value).collect();
    b.create_topic(topic, 1);
    b.produce(topic, &recs);
}

/// Runs example `name` with every source and sink pointed at `b`.
fn run_kafka(b: &Broker, name: &str, nodes: &[&str]) {
    let sets: Vec<String> = nodes
        .iter()
        .map(|n| format!("{n}.brokers={}", b.addr))
        .collect();
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let h = Harness::new();
    let path = repo().join("examples/jobs").join(name).join("job.toml");
    let report = h
        .run(manifest(&path, &sets))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    if let Err(p) = report.check_accounts() {
        panic!("{name}: {p:#?}\n{report}");
    }
}

/// What the file-to-file twin writes to `sink`.
fn file_twin(name: &str, sink: &str) -> Vec<String> {
    let h = Harness::new();
    let path = repo().join("examples/jobs").join(name).join("job.toml");
    h.run(manifest(&path, &[])).unwrap();
    canonical(&h.output(sink))
}

#[test]
fn goods_enrichment_from_kafka_to_kafka_writes_what_the_file_job_writes() {
    let b = Broker::start();
    load(&b, "goods", "goods-enrich/data/goods.jsonl");
    load(&b, "orders", "goods-enrich/data/orders.jsonl");
    run_kafka(
        &b,
        "goods-enrich-kafka",
        &[
            "sources.orders",
            "sources.goods",
            "sinks.enriched",
            "sinks.rejected",
        ],
    );
    assert!(b.open_transactions("orders-enriched").is_empty());
    let got = canonical(&b.values("orders-enriched"));
    assert!(!got.is_empty());
    assert_eq!(got, file_twin("goods-enrich", "enriched"));
    assert_eq!(
        b.values("orders-rejected").len(),
        file_twin("goods-enrich", "rejected").len()
    );
}

#[test]
fn ysb_from_kafka_to_kafka_writes_what_the_file_job_writes() {
    let b = Broker::start();
    load(&b, "ysb-events", "ysb/data/events.jsonl");
    run_kafka(
        &b,
        "ysb-kafka",
        &["sources.events", "sinks.out", "sinks.late"],
    );
    assert!(b.open_transactions("ysb-counts").is_empty());
    let got = canonical(&b.values("ysb-counts"));
    assert!(!got.is_empty());
    assert_eq!(got, file_twin("ysb", "out"));
}

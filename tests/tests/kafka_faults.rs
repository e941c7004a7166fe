//! Kafka sources and sinks under broker failures, injected with librdkafka's mock
//! cluster: the brokers down in the middle of a run and back, request errors on fetches
//! and produces (retriable ones, and ones that are not). Either the connector rides
//! through, or the affected task fails with an error naming it and the job restores from
//! its last checkpoint under its restart strategy; the output is then compared with a
//! run without faults, or with the input.
//!
//! The mock cluster ignores transactions: these tests use file sinks (exactly-once
//! through checkpoints) or at-least-once Kafka sinks, and claim nothing about Kafka's
//! exactly-once (`kafka_crash` does, against a real broker).

use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use weir::manifest::{Job, load_str};
use weir::runtime::{JobHandle, JobReport, start};
use weir_tests::broker::{Rec, produce_to, read_from};
use weir_tests::{Harness, guests};

type Mock = MockCluster<'static, DefaultProducerContext>;

/// A one-broker mock cluster with topic `in` of 3 partitions.
fn cluster() -> (Mock, String) {
    let mock = MockCluster::new(1).expect("a mock cluster");
    mock.create_topic("in", 3, 1).expect("creating `in`");
    let addr = mock.bootstrap_servers();
    (mock, addr)
}

/// Records `from..to`, keyed `k0`..`k8`, each key in one partition (so every key's
/// records reach the keyed operator in the order they were written).
fn records(from: usize, to: usize) -> Vec<Rec> {
    (from..to)
        .map(|i| Rec {
            partition: Some((i % 9) as i32 % 3),
            key: Some(format!("k{}", i % 9).into_bytes()),
            value: format!("r{i}").into_bytes(),
            ..Rec::default()
        })
        .collect()
}

fn job(h: &Harness, text: &str) -> Job {
    let mut j = match load_str(text, Path::new("job.toml"), h.dir.path(), &[]) {
        Ok(j) => j,
        Err(d) => panic!("{d}"),
    };
    h.prepare(&mut j);
    j
}

/// A keyed count of the records of `in` into a file sink (exactly-once through
/// checkpoints), restarting on failures.
fn counting_job(addr: &str, bounded: bool, connect_timeout: &str) -> String {
    format!(
        r#"[job]
name = "faults"
parallelism = 2
batch_size = 16

[job.checkpoint]
interval = "50ms"

[job.restart]
strategy = "fixed-delay"
attempts = 1000
delay = "50ms"

[sources.in]
kind = "kafka"
brokers = "{addr}"
topics = "in"
bounded = {bounded}
connect_timeout = "{connect_timeout}"

[operators.count]
kind = "map"
input = "in"
key_by = "key"
component = {counter:?}

[sinks.out]
kind = "file"
input = "count"
path = "out"
"#,
        counter = guests::KEYED_COUNTER
    )
}

/// Waits (at most a minute, so a hang fails the test) until `done` holds.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "waited a minute for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until source `in` has read `n` records and two more checkpoints completed.
fn wait_read_and_checkpointed(h: &JobHandle, n: u64) {
    wait_until(&format!("{n} records read"), || {
        h.metrics().node("in").records_in >= n
    });
    let done = h.checkpoint_stats().lock().unwrap().completed;
    wait_until("two checkpoints", || {
        h.checkpoint_stats().lock().unwrap().completed >= done + 2
    });
}

/// The output of the counting job run on `addr` with no fault (bounded: every record
/// written so far), sorted.
fn without_faults(addr: &str) -> Vec<String> {
    let h = Harness::new();
    let report = weir::runtime::run(job(&h, &counting_job(addr, true, "10s")), h.options())
        .expect("the run without faults");
    assert_eq!(report.restarts, 0);
    sorted(h.output("out"))
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Runs the counting job while `fault` does its work between the first half of the input
/// and the second: returns the report, the failures it restarted after, and its output.
fn counting_run_with(
    addr: &str,
    connect_timeout: &str,
    fault: impl FnOnce(&JobHandle),
) -> (JobReport, Vec<String>, Vec<String>) {
    produce_to(addr, "in", &records(0, 300));
    let h = Harness::new();
    let handle = start(
        job(&h, &counting_job(addr, false, connect_timeout)),
        h.options(),
    )
    .expect("the job starts");
    wait_read_and_checkpointed(&handle, 300);
    fault(&handle);
    produce_to(addr, "in", &records(300, 600));
    // After a restore the counters start from the checkpoint's: 600 means every record
    // was read by the attempt now running.
    wait_until("every record read", || {
        handle.metrics().node("in").records_in >= 600
    });
    handle.stop();
    let restarts = handle.restarts();
    let report = handle.wait().expect("the job ends");
    (report, restarts, sorted(h.output("out")))
}

fn assert_names(failure: &str, wants: &[&str]) {
    for w in wants {
        assert!(failure.contains(w), "`{w}` missing from: {failure}");
    }
}

#[test]
fn brokers_down_longer_than_the_connect_timeout_fail_the_source_which_restores() {
    let (mock, addr) = cluster();
    let (report, restarts, got) = counting_run_with(&addr, "300ms", |handle| {
        mock.broker_down(-1).unwrap();
        wait_until("a restart", || !handle.restarts().is_empty());
        mock.broker_up(-1).unwrap();
    });
    assert!(report.restarts >= 1, "{report}");
    assert_names(
        &restarts[0],
        &["Kafka source `in`", &addr, "could not be reached"],
    );
    let want = without_faults(&addr);
    assert_eq!(want.len(), 600, "one count per record");
    assert_eq!(got, want, "the output of a run without faults");
}

#[test]
fn brokers_down_shorter_than_the_connect_timeout_are_ridden_through() {
    let (mock, addr) = cluster();
    let (report, restarts, got) = counting_run_with(&addr, "30s", |_| {
        mock.broker_down(-1).unwrap();
        std::thread::sleep(Duration::from_secs(1));
        mock.broker_up(-1).unwrap();
    });
    assert_eq!(report.restarts, 0, "{restarts:?}");
    assert_eq!(
        got,
        without_faults(&addr),
        "the output of a run without faults"
    );
}

#[test]
fn fetch_errors_are_retried_or_fail_the_source_which_restores() {
    use RDKafkaRespErr::*;
    // Retriable: librdkafka retries them, the job does not notice.
    let (mock, addr) = cluster();
    let (report, restarts, got) = counting_run_with(&addr, "10s", |_| {
        mock.request_errors(
            RDKafkaApiKey::Fetch,
            &[
                RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
            ],
        );
    });
    assert_eq!(report.restarts, 0, "{restarts:?}");
    assert_eq!(
        got,
        without_faults(&addr),
        "the output of a run without faults"
    );

    // Not retriable: the source fails naming itself and the topic, and restores.
    let (mock, addr) = cluster();
    let (report, restarts, got) = counting_run_with(&addr, "10s", |handle| {
        mock.request_errors(
            RDKafkaApiKey::Fetch,
            &[RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED],
        );
        wait_until("a restart", || !handle.restarts().is_empty());
    });
    assert!(report.restarts >= 1, "{report}");
    assert_names(
        &restarts[0],
        &["Kafka source `in`", "topic `in`", "not authorised"],
    );
    assert_eq!(
        got,
        without_faults(&addr),
        "the output of a run without faults"
    );
}

#[test]
fn an_offset_out_of_range_that_is_not_neither_reads_again_nor_skips() {
    // The broker says a partition's offset is out of range while it is not (as after a
    // leader change): the reader must go on from where it was, not from the start.
    let (mock, addr) = cluster();
    let (_, restarts, got) = counting_run_with(&addr, "10s", |_| {
        mock.request_errors(
            RDKafkaApiKey::Fetch,
            &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE],
        );
    });
    assert_eq!(
        got,
        without_faults(&addr),
        "the output of a run without faults ({restarts:?})"
    );
}

/// A copy of topic `in` to topic `out` through an at-least-once Kafka sink.
fn copy_job(addr: &str) -> String {
    format!(
        r#"[job]
name = "copy"
parallelism = 2
batch_size = 16

[job.checkpoint]
interval = "50ms"

[job.restart]
strategy = "fixed-delay"
attempts = 1000
delay = "50ms"

[sources.in]
kind = "kafka"
brokers = "{addr}"
topics = "in"
bounded = true

[sinks.out]
kind = "kafka"
input = "in"
brokers = "{addr}"
topic = "out"
delivery = "at-least-once"
connect_timeout = "10s"
"#
    )
}

/// What the copy must keep of a record: key and value.
fn contents(recs: &[Rec]) -> Vec<(Option<Vec<u8>>, Vec<u8>)> {
    let mut v: Vec<_> = recs
        .iter()
        .map(|r| (r.key.clone(), r.value.clone()))
        .collect();
    v.sort();
    v
}

#[test]
fn produce_errors_are_retried_or_fail_the_sink_which_restores() {
    use RDKafkaRespErr::*;
    for (errors, retriable) in [
        (
            vec![
                RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            ],
            true,
        ),
        (vec![RD_KAFKA_RESP_ERR_INVALID_RECORD], false),
    ] {
        let (mock, addr) = cluster();
        mock.create_topic("out", 2, 1).unwrap();
        let input = records(0, 600);
        produce_to(&addr, "in", &input);
        mock.request_errors(RDKafkaApiKey::Produce, &errors);
        let h = Harness::new();
        let handle = start(job(&h, &copy_job(&addr)), h.options()).expect("the job starts");
        wait_until("the job's end", || handle.is_finished());
        let restarts = handle.restarts();
        let report = handle.wait().expect("the job ends");
        let written = read_from(&addr, "out", false);
        if retriable {
            assert_eq!(report.restarts, 0, "{errors:?}: {restarts:?}");
            assert_eq!(contents(&written), contents(&input), "every record once");
        } else {
            assert!(report.restarts >= 1, "{report}");
            assert_names(&restarts[0], &["Kafka sink `out`", "topic `out`"]);
            // At-least-once: what was written before the failure may be written again.
            let mut got = contents(&written);
            got.dedup();
            assert_eq!(got, contents(&input), "every record, and nothing else");
        }
    }
}

#[test]
fn brokers_down_at_the_start_are_waited_for_up_to_the_connect_timeout() {
    let (mock, addr) = cluster();
    mock.create_topic("out", 2, 1).unwrap();
    let input = records(0, 100);
    produce_to(&addr, "in", &input);
    mock.broker_down(-1).unwrap();
    // No restarts: the job waits, it does not fail.
    let text = copy_job(&addr)
        .replace(
            "strategy = \"fixed-delay\"\nattempts = 1000\ndelay = \"50ms\"",
            "strategy = \"none\"",
        )
        .replace(
            "bounded = true",
            "bounded = true\nconnect_timeout = \"60s\"",
        )
        .replace("connect_timeout = \"10s\"", "connect_timeout = \"60s\"");
    let h = Harness::new();
    let handle = start(job(&h, &text), h.options()).expect("the job starts");
    std::thread::sleep(Duration::from_secs(1));
    assert!(!handle.is_finished(), "the job waits for the brokers");
    mock.broker_up(-1).unwrap();
    wait_until("the job's end", || handle.is_finished());
    let report = handle
        .wait()
        .expect("the job ends once the brokers are back");
    assert_eq!(report.restarts, 0);
    assert_eq!(
        contents(&read_from(&addr, "out", false)),
        contents(&input),
        "every record once"
    );
}

//! Kafka sources against a real broker (noida-db, started by each test): every partition
//! read, keys and order kept; a watermark per partition (one behind holds the reader's
//! watermark back, an idle one stops doing so after its timeout); offsets restored from
//! a savepoint; start offsets; named errors for unreachable brokers and missing topics.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use weir::manifest::{Job, load_str};
use weir::runtime::{JobHandle, start};
use weir_tests::broker::{Broker, Rec};
use weir_tests::{Harness, guests};

fn job(h: &Harness, text: &str) -> Job {
    match load_str(text, Path::new("job.toml"), h.dir.path(), &[]) {
        Ok(j) => j,
        Err(d) => panic!("{d}"),
    }
}

/// An hour ago, in epoch milliseconds: record timestamps in tests stay within the
/// broker's retention (a week by default), or it deletes them.
fn recent() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 3_600_000
}

/// `n` records over `partitions` partitions: `{"i":i,"t":t}` keyed `k<i % 7>`.
fn records(n: usize, partitions: i32, t: impl Fn(usize) -> i64) -> Vec<Rec> {
    (0..n)
        .map(|i| Rec {
            partition: Some(i as i32 % partitions),
            key: Some(format!("k{}", i % 7).into_bytes()),
            value: format!("{{\"i\":{i},\"t\":{}}}", t(i)).into_bytes(),
            timestamp: Some(recent() + i as i64),
            headers: vec![("n".into(), i.to_string().into_bytes())],
            offset: 0,
        })
        .collect()
}

/// Waits until `node` has read `n` records.
fn wait_read(h: &JobHandle, node: &str, n: u64) {
    let started = Instant::now();
    while h.metrics().node(node).records_in < n {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "`{node}` read {} of {n} records in 30 s",
            h.metrics().node(node).records_in
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_bounded_source_reads_every_partition_of_every_topic_in_order() {
    let b = Broker::start();
    b.create_topic("in", 3);
    b.create_topic("more", 1);
    b.create_topic("ev-a", 2);
    b.create_topic("ev-b", 1);
    let input = records(300, 3, |i| i as i64);
    b.produce("in", &input);
    let more: Vec<Rec> = (0..20).map(|i| Rec::value(format!("more {i}"))).collect();
    b.produce("more", &more);
    b.produce("ev-a", &records(40, 2, |i| i as i64));
    b.produce("ev-b", &records(10, 1, |i| i as i64));
    for (topics, want) in [
        (
            r#"["in", "more"]"#.to_owned(),
            input.iter().chain(&more).map(Rec::text).collect::<Vec<_>>(),
        ),
        (
            r#"{ pattern = "ev-.*" }"#.to_owned(),
            b.read("ev-a", true)
                .iter()
                .chain(&b.read("ev-b", true))
                .map(Rec::text)
                .collect(),
        ),
    ] {
        let h = Harness::new();
        let report = h
            .run(job(
                &h,
                &format!(
                    r#"[job]
name = "read"
parallelism = 2
batch_size = 16

[sources.in]
kind = "kafka"
brokers = "{addr}"
topics = {topics}
bounded = true

[sinks.out]
kind = "file"
input = "in"
path = "out"
"#,
                    addr = b.addr
                ),
            ))
            .unwrap();
        let got = h.output("out");
        let mut sorted = got.clone();
        sorted.sort();
        let mut want = want;
        want.sort();
        assert_eq!(sorted, want, "{topics}");
        assert_eq!(report.records_in, want.len() as u64);
        if topics.contains("pattern") {
            continue;
        }
        // Each partition's records arrive in their order.
        let written = b.read("in", true);
        let pos: BTreeMap<&str, usize> = got
            .iter()
            .enumerate()
            .map(|(k, l)| (l.as_str(), k))
            .collect();
        for p in 0..3 {
            let order: Vec<usize> = written
                .iter()
                .filter(|r| r.partition == Some(p))
                .filter_map(|r| pos.get(r.text().as_str()).copied())
                .collect();
            assert!(order.windows(2).all(|w| w[0] < w[1]), "partition {p}");
        }
    }
}

/// The windows of `[0, 1000)` ms each key's records fall in that fire once the watermark
/// reaches `wm`, as `(key, start)`, from the input alone.
fn windows_due(input: &[(i32, String, i64)], wm: i64) -> Vec<(String, i64)> {
    let mut w: Vec<(String, i64)> = input
        .iter()
        .map(|(_, k, t)| (k.clone(), t - t.rem_euclid(1000)))
        .filter(|(_, start)| start + 1000 - 1 <= wm)
        .collect();
    w.sort();
    w.dedup();
    w
}

#[test]
fn a_partition_behind_holds_the_watermark_and_an_idle_one_does_not() {
    let b = Broker::start();
    // Partition 0 runs from 2 s to 11.5 s; partition 1 stops at 1.2 s. Partition 0
    // starts past partition 1's last window, so none of its records is late whichever
    // partition the reader finds idle first (partition 0 may go idle before partition
    // 1's records are read, and then partition 1 alone moves the watermark to 1.2 s).
    let mut input: Vec<(i32, String, i64)> = Vec::new();
    for i in 0..20 {
        input.push((0, format!("a{}", i % 3), 2_000 + i * 500));
    }
    for i in 0..4 {
        input.push((1, format!("b{}", i % 2), i * 400));
    }
    let recs = |part: i32| -> Vec<Rec> {
        input
            .iter()
            .filter(|(p, _, _)| *p == part)
            .map(|(p, k, t)| Rec {
                partition: Some(*p),
                value: format!("{{\"k\":\"{k}\",\"t\":{t}}}").into_bytes(),
                ..Rec::default()
            })
            .collect()
    };
    let max = |p: i32| {
        input
            .iter()
            .filter(|r| r.0 == p)
            .map(|r| r.2)
            .max()
            .unwrap()
    };
    for (round, (idle, wm)) in [
        // Partition 1 holds the watermark at its largest timestamp.
        ("", max(0).min(max(1)) - 1),
        // Idle after 300 ms, it no longer does: partition 0 leads.
        ("idle_timeout = \"300ms\"", max(0) - 1),
    ]
    .into_iter()
    .enumerate()
    {
        let topic = format!("clicks-{round}");
        b.create_topic(&topic, 2);
        b.produce(&topic, &recs(1));
        let h = Harness::new();
        let mut j = job(
            &h,
            &format!(
                r#"[job]
name = "wm"
parallelism = 1

[sources.clicks]
kind = "kafka"
brokers = "{addr}"
topics = "{topic}"

[sources.clicks.event_time]
field = "t"
{idle}

[operators.win]
kind = "window"
input = "clicks"
key_by = {{ field = "k" }}
window = {{ type = "tumbling", size = "1s" }}
component = {collect:?}

[sinks.out]
kind = "file"
input = "win"
path = "out"

[sinks.late]
kind = "file"
input = "win.late"
path = "late"
"#,
                addr = b.addr,
                collect = guests::WINDOW_COLLECT
            ),
        );
        h.prepare(&mut j);
        let handle = start(j, h.options()).unwrap();
        // Partition 1's records first; partition 0's a while later (with an idle
        // timeout, both partitions are idle in between: a reader whose every partition
        // is idle keeps its watermark, until one of them has data again).
        wait_read(&handle, "clicks", recs(1).len() as u64);
        std::thread::sleep(Duration::from_millis(800));
        b.produce(&topic, &recs(0));
        wait_read(&handle, "clicks", input.len() as u64);
        // Time for the idle timeout to pass and the watermark to move.
        std::thread::sleep(Duration::from_millis(1_500));
        handle.stop();
        handle.wait().unwrap();
        let mut fired: Vec<(String, i64)> = h
            .output("out")
            .iter()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (
                    v["key"].as_str().unwrap().to_owned(),
                    v["start"].as_i64().unwrap(),
                )
            })
            .collect();
        fired.sort();
        assert_eq!(fired, windows_due(&input, wm), "{idle}");
        assert!(h.output("late").is_empty());
    }
}

#[test]
fn offsets_are_restored_from_a_savepoint() {
    let b = Broker::start();
    b.create_topic("in", 3);
    let first = records(600, 3, |i| i as i64);
    b.produce("in", &first);
    let h = Harness::new();
    let text = |bounded: bool| {
        format!(
            r#"[job]
name = "resume"
parallelism = 2
batch_size = 8

[job.checkpoint]
interval = "50ms"

[sources.in]
kind = "kafka"
brokers = "{addr}"
topics = "in"
bounded = {bounded}

[sinks.out]
kind = "file"
input = "in"
path = "out"
"#,
            addr = b.addr
        )
    };
    let mut j = job(&h, &text(false));
    h.prepare(&mut j);
    let handle = start(j, h.options()).unwrap();
    wait_read(&handle, "in", first.len() as u64);
    let savepoint = handle.savepoint(None, true).unwrap();
    handle.wait().unwrap();
    // Where each partition was: after its records of the first batch.
    let found = weir::checkpoint::load(&savepoint).unwrap();
    let mut offsets: BTreeMap<i32, i64> = BTreeMap::new();
    for i in &found.metadata.instances {
        if let weir::checkpoint::OperatorState::KafkaSource { partitions } = &i.state {
            for p in partitions {
                offsets.insert(p.partition, p.offset);
            }
        }
    }
    let mut want: BTreeMap<i32, i64> = BTreeMap::new();
    for r in b.read("in", true) {
        want.insert(r.partition.unwrap(), r.offset + 1);
    }
    assert_eq!(
        offsets, want,
        "the savepoint holds each partition's next offset"
    );

    let second = records(900, 3, |i| i as i64)[600..].to_vec();
    b.produce("in", &second);
    let mut j = job(&h, &text(true));
    h.prepare(&mut j);
    let report = weir::runtime::run(j, h.options()).unwrap();
    assert_eq!(
        report.resumed.map(|(_, read)| read),
        Some(first.len() as u64)
    );
    let mut got = h.output("out");
    got.sort();
    let mut want: Vec<String> = first.iter().chain(&second).map(Rec::text).collect();
    want.sort();
    assert_eq!(
        got, want,
        "every record once: the first run's and the second's"
    );
}

#[test]
fn start_offsets_by_time_and_by_the_group_committed_at_checkpoints() {
    let b = Broker::start();
    b.create_topic("in", 2);
    let base = recent();
    let input: Vec<Rec> = (0..100)
        .map(|i| Rec {
            partition: Some(i % 2),
            value: format!("r{i}").into_bytes(),
            timestamp: Some(base + 1_000 * i64::from(i)),
            ..Rec::default()
        })
        .collect();
    b.produce("in", &input);
    let h = Harness::new();
    let text = |start: &str, bounded: bool| {
        format!(
            r#"[job]
name = "starts"
parallelism = 1

[job.checkpoint]
interval = "50ms"

[sources.in]
kind = "kafka"
brokers = "{addr}"
topics = "in"
group_id = "starts-group"
start = {start}
bounded = {bounded}

[sinks.out]
kind = "file"
input = "in"
path = "out"
"#,
            addr = b.addr
        )
    };
    // From a time: records at or after it.
    let from = base + 60_000;
    let mut j = job(&h, &text(&format!("{{ timestamp = {from} }}"), true));
    h.prepare(&mut j);
    weir::runtime::run(j, h.options()).unwrap();
    let mut got = h.output("out");
    got.sort();
    let mut want: Vec<String> = input
        .iter()
        .filter(|r| r.timestamp.unwrap() >= from)
        .map(Rec::text)
        .collect();
    want.sort();
    assert_eq!(got, want);

    // A run reads half, its checkpoints commit offsets to the group; a fresh run that
    // starts from the group's offsets reads the rest.
    let h = Harness::new();
    let mut j = job(&h, &text("\"earliest\"", false));
    h.prepare(&mut j);
    let handle = start(j, h.options()).unwrap();
    wait_read(&handle, "in", input.len() as u64);
    let done = handle.checkpoint_stats().lock().unwrap().completed;
    let started = Instant::now();
    while handle.checkpoint_stats().lock().unwrap().completed < done + 3 {
        assert!(started.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(10));
    }
    handle.cancel();
    let _ = handle.wait();
    let more: Vec<Rec> = (100..130)
        .map(|i| Rec {
            partition: Some(i % 2),
            value: format!("r{i}").into_bytes(),
            ..Rec::default()
        })
        .collect();
    b.produce("in", &more);
    let h = Harness::new();
    let mut j = job(&h, &text("\"committed\"", true));
    h.prepare(&mut j);
    weir::runtime::run(j, h.options()).unwrap();
    let mut got = h.output("out");
    got.sort();
    let mut want: Vec<String> = more.iter().map(Rec::text).collect();
    want.sort();
    assert_eq!(got, want, "only what came after the committed offsets");
}

#[test]
fn unreachable_brokers_and_missing_topics_are_named_errors() {
    let b = Broker::start();
    let nobody = format!("127.0.0.1:{}", weir_tests::broker::free_port());
    for (brokers, topic, wants) in [
        (
            nobody.as_str(),
            "in",
            vec!["Kafka source `in`", nobody.as_str(), "could not be reached"],
        ),
        (
            b.addr.as_str(),
            "no-such-topic",
            vec!["Kafka source `in`", "topic `no-such-topic` does not exist"],
        ),
    ] {
        let h = Harness::new();
        let started = Instant::now();
        let err = h
            .run(job(
                &h,
                &format!(
                    r#"[job]
name = "fails"

[sources.in]
kind = "kafka"
brokers = "{brokers}"
topics = "{topic}"
connect_timeout = "2s"

[sinks.out]
kind = "file"
input = "in"
path = "out"
"#
                ),
            ))
            .unwrap_err()
            .to_string();
        for w in wants {
            assert!(err.contains(w), "`{w}` missing from: {err}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the error took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn marker_records_carry_the_watermark_of_a_kafka_partition() {
    let b = Broker::start();
    b.create_topic("marked", 1);
    let t0 = recent() / 10_000 * 10_000;
    let rec = |value: String| Rec {
        partition: Some(0),
        key: None,
        value: value.into_bytes(),
        timestamp: Some(recent()),
        headers: Vec::new(),
        offset: 0,
    };
    // a@t0+1000; a marker at the window's last instant; a@t0+3000, now late; b@t0+12000.
    b.produce(
        "marked",
        &[
            rec(format!(r#"{{"k":"a","t":{}}}"#, t0 + 1_000)),
            rec(format!(r#"{{"wm":{}}}"#, t0 + 9_999)),
            rec(format!(r#"{{"k":"a","t":{}}}"#, t0 + 3_000)),
            rec(format!(r#"{{"k":"b","t":{}}}"#, t0 + 12_000)),
        ],
    );
    let h = Harness::new();
    let report = h
        .run(job(
            &h,
            &format!(
                r#"[job]
name = "marked"
parallelism = 1

[sources.in]
kind = "kafka"
brokers = "{addr}"
topics = "marked"
bounded = true

[sources.in.event_time]
field = "t"
watermark_field = "wm"
watermark_markers = true

[operators.win]
kind = "window"
input = "in"
key_by = {{ field = "k" }}
window = {{ type = "tumbling", size = "10s" }}
component = {collect:?}

[sinks.out]
kind = "file"
input = "win"
path = "out"

[sinks.late]
kind = "file"
input = "win.late"
path = "late"
"#,
                addr = b.addr,
                collect = guests::WINDOW_COLLECT,
            ),
        ))
        .unwrap();
    // The marker ends its batch: a's window fires before a@t0+3000 is read, which is
    // then late; the marker itself never reaches the window.
    assert_eq!(
        h.output("late"),
        vec![format!(r#"{{"k":"a","t":{}}}"#, t0 + 3_000)]
    );
    let mut out: Vec<Value> = h
        .output("out")
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    out.sort_by_key(|w| w["start"].as_i64());
    let fired: Vec<(String, i64, usize)> = out
        .iter()
        .map(|w| {
            (
                w["key"].as_str().unwrap().to_owned(),
                w["start"].as_i64().unwrap(),
                w["values"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        fired,
        vec![("a".to_owned(), t0, 1), ("b".to_owned(), t0 + 10_000, 1)]
    );
    let src = report.node("in").unwrap();
    assert_eq!((src.records_in, src.watermark_markers), (3, 1), "{report}");
}

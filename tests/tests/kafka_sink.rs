//! Kafka sinks against a real broker (noida-db, started by each test): records keep their
//! key, timestamp and headers from topic to topic, at-least-once and exactly-once; keys
//! land where Java's partitioner puts them; a rescale of the sink leaves no transaction
//! open; a record over the size limit fails the job naming the sink, topic and record,
//! or goes to the sink's dead-letter topic if it has one;
//! unreachable brokers are a named error after the sink's `connect_timeout`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use weir::manifest::{Job, load_str};
use weir::runtime::start;
use weir_tests::Harness;
use weir_tests::broker::{Broker, Rec};

fn job(h: &Harness, text: &str) -> Job {
    match load_str(text, Path::new("job.toml"), h.dir.path(), &[]) {
        Ok(j) => j,
        Err(d) => panic!("{d}"),
    }
}

fn recent() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 3_600_000
}

/// `n` records with keys, timestamps and headers over 3 partitions.
fn input(n: usize) -> Vec<Rec> {
    let base = recent();
    (0..n)
        .map(|i| Rec {
            partition: Some(i as i32 % 3),
            key: (i % 5 != 0).then(|| format!("k{}", i % 11).into_bytes()),
            value: format!("{{\"i\":{i}}}").into_bytes(),
            timestamp: Some(base + i as i64),
            headers: if i % 2 == 0 {
                vec![
                    ("h".into(), i.to_string().into_bytes()),
                    ("e".into(), vec![]),
                ]
            } else {
                vec![]
            },
            offset: 0,
        })
        .collect()
}

/// What a copy of a record must keep: key, value, timestamp, headers.
type Content = (
    Option<Vec<u8>>,
    Vec<u8>,
    Option<i64>,
    Vec<(String, Vec<u8>)>,
);

/// A record without where it was.
fn content(r: &Rec) -> Content {
    (
        r.key.clone(),
        r.value.clone(),
        r.timestamp,
        r.headers.clone(),
    )
}

fn copy_job(addr: &str, delivery: &str, checkpoints: bool, from: &str, to: &str) -> String {
    format!(
        r#"[job]
name = "copy"
parallelism = 2
batch_size = 32
{checkpoint}
[sources.in]
kind = "kafka"
brokers = "{addr}"
topics = "{from}"
bounded = true

[sources.in.event_time]
from = "kafka"

[sinks.out]
kind = "kafka"
input = "in"
brokers = "{addr}"
topic = "{to}"
delivery = "{delivery}"
"#,
        checkpoint = if checkpoints {
            "\n[job.checkpoint]\ninterval = \"50ms\"\n"
        } else {
            ""
        }
    )
}

#[test]
fn records_keep_their_key_timestamp_and_headers_from_topic_to_topic() {
    let b = Broker::start();
    b.create_topic("in", 3);
    let recs = input(2_000);
    b.produce("in", &recs);
    let mut want: Vec<_> = recs.iter().map(content).collect();
    want.sort();
    for (delivery, checkpoints, out) in [
        ("at-least-once", false, "out-alo"),
        ("exactly-once", true, "out-eo"),
    ] {
        b.create_topic(out, 4);
        let h = Harness::new();
        let report = h
            .run(job(
                &h,
                &copy_job(&b.addr, delivery, checkpoints, "in", out),
            ))
            .unwrap();
        assert_eq!(report.records_in, recs.len() as u64);
        let written = b.read(out, true);
        let mut got: Vec<_> = written.iter().map(content).collect();
        got.sort();
        assert_eq!(got, want, "{delivery}");
        // Every key in one partition.
        let mut partitions: BTreeMap<Vec<u8>, Option<i32>> = BTreeMap::new();
        for r in &written {
            if let Some(k) = &r.key {
                let p = partitions.entry(k.clone()).or_insert(r.partition);
                assert_eq!(*p, r.partition, "key {k:?} in one partition");
            }
        }
        if delivery == "exactly-once" {
            assert!(b.open_transactions(out).is_empty());
            assert_eq!(
                b.read(out, false).len(),
                recs.len(),
                "nothing aborted in a run without failures"
            );
            let progress = b.read("weir-progress", true);
            assert!(
                progress.iter().any(|r| r
                    .key
                    .as_ref()
                    .is_some_and(|k| k.starts_with(b"weir-copy-out-"))),
                "progress records name the transactions"
            );
        }
    }
}

#[test]
fn a_rescaled_sink_leaves_no_transaction_open() {
    let b = Broker::start();
    b.create_topic("in", 4);
    b.create_topic("out", 2);
    let text = |parallelism: u32, bounded: bool| {
        format!(
            r#"[job]
name = "rescale"
parallelism = 2
batch_size = 16

[job.checkpoint]
interval = "100ms"

[sources.in]
kind = "kafka"
brokers = "{addr}"
topics = "in"
bounded = {bounded}

[sinks.out]
kind = "kafka"
input = "in"
brokers = "{addr}"
topic = "out"
parallelism = {parallelism}
"#,
            addr = b.addr
        )
    };
    // Records keep coming while the first run is cancelled.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let addr = b.addr.clone();
        std::thread::spawn(move || {
            let mut written = Vec::new();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let batch: Vec<Rec> = (i..i + 200)
                    .map(|i| Rec {
                        partition: Some(i % 4),
                        key: Some(format!("k{}", i % 97).into_bytes()),
                        value: format!("v{i}").into_bytes(),
                        ..Rec::default()
                    })
                    .collect();
                weir_tests::broker::produce_to(&addr, "in", &batch);
                written.extend(batch.iter().map(Rec::text));
                i += 200;
                std::thread::sleep(Duration::from_millis(10));
            }
            written
        })
    };
    let h = Harness::new();
    let mut j = job(&h, &text(2, false));
    h.prepare(&mut j);
    let handle = start(j, h.options()).unwrap();
    let started = Instant::now();
    while handle.checkpoint_stats().lock().unwrap().completed < 3
        || handle.metrics().node("out").records_in < 2_000
    {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    handle.cancel();
    let _ = handle.wait();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut want = writer.join().unwrap();
    assert!(
        !b.open_transactions("out").is_empty(),
        "the cancelled run left transactions open"
    );
    // One instance now: the transactions of both earlier instances are aborted.
    let mut j = job(&h, &text(1, true));
    h.prepare(&mut j);
    let report = weir::runtime::run(j, h.options()).unwrap();
    assert!(report.resumed.is_some(), "resumed from a checkpoint");
    assert!(b.open_transactions("out").is_empty(), "no transaction open");
    want.sort();
    assert_eq!(b.values("out"), want, "every record once");
}

#[test]
fn a_record_over_the_size_limit_fails_the_job_naming_it() {
    let b = Broker::start();
    b.create_topic("in", 1);
    b.create_topic("out", 1);
    b.produce(
        "in",
        &[
            Rec::value("small"),
            Rec {
                key: Some(b"big-one".to_vec()),
                value: vec![b'x'; 200_000],
                ..Rec::default()
            },
        ],
    );
    let h = Harness::new();
    let text = copy_job(&b.addr, "at-least-once", false, "in", "out").replace(
        "delivery = \"at-least-once\"",
        "delivery = \"at-least-once\"\nproperties = { \"message.max.bytes\" = 100000 }",
    );
    let err = h.run(job(&h, &text)).unwrap_err().to_string();
    for w in ["Kafka sink `out`", "topic `out`", "big-one", "too large"] {
        assert!(err.contains(w), "`{w}` missing from: {err}");
    }
}

#[test]
fn a_record_over_the_size_limit_goes_to_the_dead_letter_topic_when_the_sink_has_one() {
    let b = Broker::start();
    b.create_topic("in", 1);
    let base = recent();
    let recs: Vec<Rec> = (0..40)
        .map(|i| Rec {
            key: Some(format!("k{i}").into_bytes()),
            // Every tenth record is over the limit set below.
            value: if i % 10 == 3 {
                format!("{i}:{}", "é".repeat(60_000)).into_bytes()
            } else {
                format!("{{\"i\":{i}}}").into_bytes()
            },
            timestamp: Some(base + i),
            headers: vec![("h".into(), i.to_string().into_bytes())],
            ..Rec::default()
        })
        .collect();
    b.produce("in", &recs);
    let limit = 100_000;
    let (big, small): (Vec<&Rec>, Vec<&Rec>) = recs.iter().partition(|r| r.value.len() > limit);
    assert_eq!(big.len(), 4);
    for (delivery, checkpoints) in [("at-least-once", false), ("exactly-once", true)] {
        let (out, rejected) = (format!("out-{delivery}"), format!("rejected-{delivery}"));
        b.create_topic(&out, 2);
        b.create_topic(&rejected, 1);
        let h = Harness::new();
        let text = copy_job(&b.addr, delivery, checkpoints, "in", &out).replace(
            &format!("delivery = \"{delivery}\""),
            &format!(
                "delivery = \"{delivery}\"\ndead_letter_topic = \"{rejected}\"\nproperties = {{ \"message.max.bytes\" = {limit} }}"
            ),
        );
        let report = h.run(job(&h, &text)).unwrap();
        assert_eq!(report.records_in, recs.len() as u64);
        assert_eq!(report.dead_letters, big.len() as u64, "{delivery}");
        assert_eq!(report.node("out").unwrap().rejected, big.len() as u64);
        let mut got: Vec<_> = b.read(&out, true).iter().map(content).collect();
        got.sort();
        let mut want: Vec<_> = small.iter().map(|r| content(r)).collect();
        want.sort();
        assert_eq!(got, want, "{delivery}: every record that fits, once");
        let mut letters = b.read(&rejected, true);
        letters.sort_by_key(|r| r.timestamp);
        assert_eq!(letters.len(), big.len(), "{delivery}: one dead letter each");
        for (letter, r) in letters.iter().zip(&big) {
            // Key, timestamp and headers kept; the value described.
            assert_eq!((&letter.key, letter.timestamp), (&r.key, r.timestamp));
            assert_eq!(letter.headers, r.headers);
            let v: serde_json::Value = serde_json::from_slice(&letter.value).unwrap();
            assert_eq!(v["value_bytes"], r.value.len(), "{v}");
            assert_eq!(v["topic"], out.as_str());
            assert_eq!(v["key"], &*String::from_utf8_lossy(r.key.as_ref().unwrap()));
            assert!(v["error"].as_str().unwrap().contains("too large"), "{v}");
            let head = v["value_head"].as_str().unwrap();
            assert!(
                String::from_utf8_lossy(&r.value).starts_with(head.trim_end_matches('\u{fffd}')),
                "the head is the value's start"
            );
        }
        if delivery == "exactly-once" {
            assert!(b.open_transactions(&rejected).is_empty());
        }
    }
}

#[test]
fn unreachable_brokers_are_a_named_error_of_the_sink_after_its_connect_timeout() {
    let b = Broker::start();
    b.create_topic("in", 1);
    b.produce("in", &input(10));
    let nobody = format!("127.0.0.1:{}", weir_tests::broker::free_port());
    for (delivery, checkpoints) in [("at-least-once", false), ("exactly-once", true)] {
        let h = Harness::new();
        // No restarts: the first failure is the job's. A job name of its own: its
        // transactional ids are not those of the other tests' jobs.
        let text = copy_job(&b.addr, delivery, checkpoints, "in", "out")
            .replace("name = \"copy\"", "name = \"unreachable\"")
            .replace(
                &format!("input = \"in\"\nbrokers = \"{}\"", b.addr),
                &format!("input = \"in\"\nbrokers = \"{nobody}\"\nconnect_timeout = \"1s\""),
            )
            + "\n[job.restart]\nstrategy = \"none\"\n";
        assert!(text.contains(&nobody), "{text}");
        let started = Instant::now();
        let err = h.run(job(&h, &text)).unwrap_err().to_string();
        for w in ["Kafka sink `out`", nobody.as_str(), "could not be reached"] {
            assert!(err.contains(w), "{delivery}: `{w}` missing from: {err}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{delivery}: the error took {:?}",
            started.elapsed()
        );
    }
}

//! Exactly-once from Kafka to Kafka under `kill -9`: a real `weir` process reading a topic
//! through event-time windows into an exactly-once Kafka sink, against a real broker
//! (noida-db, started by the test), killed with SIGKILL at seeded random moments and at
//! the named points around a transaction's commit, then run again until the job ends.
//! What read-committed readers see of the output topic must be exactly what a run without
//! failures writes: nothing lost, nothing twice.

use std::path::Path;

use weir_tests::broker::{Broker, Rec};
use weir_tests::crash::{CrashJob, Rng};
use weir_tests::guests;

/// Records in the input topic.
const RECORDS: i64 = 40_000;

/// Keyed records over 3 partitions (each key in one, so a window collects its elements in
/// one order), event time increasing within each partition. Times are recent: a broker
/// deletes records older than its retention (windows are written with their end time).
fn input() -> Vec<Rec> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let base = (now - 3_600_000) / 1000 * 1000;
    (0..RECORDS)
        .map(|i| Rec {
            partition: Some((i % 40 % 3) as i32),
            key: Some(format!("k{}", i % 40).into_bytes()),
            value: format!(
                "{{\"k\":\"k{}\",\"t\":{},\"i\":{i}}}",
                i % 40,
                base + i * 10
            )
            .into_bytes(),
            ..Rec::default()
        })
        .collect()
}

/// A job in a folder of its own: topic `in` through 1 s tumbling windows to topic `out`.
fn window_job(root: &Path, name: &str, addr: &str, out: &str) -> CrashJob {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("job.toml");
    std::fs::write(
        &manifest,
        format!(
            r#"[job]
name = "kafka-windows"
parallelism = 2
batch_size = 64

[job.checkpoint]
interval = "40ms"

[job.restart]
strategy = "none"

[sources.in]
kind = "kafka"
brokers = "{addr}"
topics = "in"
bounded = true

[sources.in.event_time]
field = "t"
max_out_of_orderness = "100ms"

[operators.win]
kind = "window"
input = "in"
key_by = {{ field = "k" }}
window = {{ type = "tumbling", size = "1s" }}
component = {collect:?}

[sinks.out]
kind = "kafka"
input = "win"
brokers = "{addr}"
topic = "{out}"
delivery = "exactly-once"
transactional_id_prefix = "{name}"

[sinks.late]
kind = "kafka"
input = "win.late"
brokers = "{addr}"
topic = "{out}-late"
delivery = "exactly-once"
transactional_id_prefix = "{name}-late"
"#,
            collect = guests::WINDOW_COLLECT
        ),
    )
    .unwrap();
    CrashJob {
        dir,
        manifest,
        sinks: Vec::new(),
        overrides: Vec::new(),
    }
}

/// The broker with the input written and the output of a run without failures.
fn broker_and_expected(root: &Path) -> (Broker, Vec<String>) {
    let b = Broker::start();
    b.create_topic("in", 3);
    b.produce("in", &input());
    b.create_topic("clean", 2);
    window_job(root, "clean", &b.addr, "clean").run_clean();
    let want = b.values("clean");
    assert!(
        want.len() > 100,
        "the clean run wrote {} records",
        want.len()
    );
    assert!(b.open_transactions("clean").is_empty());
    (b, want)
}

fn assert_same(b: &Broker, topic: &str, want: &[String], what: &str) {
    assert!(
        b.open_transactions(topic).is_empty(),
        "{what}: a transaction is left open"
    );
    let got = b.values(topic);
    if got != want {
        let missing: Vec<&String> = want.iter().filter(|l| !got.contains(l)).collect();
        let extra: Vec<&String> = got.iter().filter(|l| !want.contains(l)).collect();
        panic!(
            "{what}: read-committed readers see {} records, a run without failures wrote {} ({} missing, such as {:?}; {} not expected, such as {:?}; late: {})",
            got.len(),
            want.len(),
            missing.len(),
            missing.iter().take(3).collect::<Vec<_>>(),
            extra.len(),
            extra.iter().take(3).collect::<Vec<_>>(),
            b.values(&format!("{topic}-late")).len()
        );
    }
}

#[test]
fn kafka_to_kafka_is_exactly_once_under_kill_9() {
    let root = tempfile::tempdir().unwrap();
    let (b, want) = broker_and_expected(root.path());
    b.create_topic("out", 2);
    let job = window_job(root.path(), "killed", &b.addr, "out");
    let mut rng = Rng::new(11);
    let k = job.run_with_kills(4, &mut rng);
    assert_eq!(k.landed, 4, "every kill landed before the end: {k:?}");
    assert!(k.last_resumed, "the last run resumed: {}", k.last_summary);
    assert_same(&b, "out", &want, "kill -9");
}

#[test]
fn crashes_around_a_transactions_commit_lose_nothing() {
    let root = tempfile::tempdir().unwrap();
    let (b, want) = broker_and_expected(root.path());
    // Before the commit (the checkpoint is complete, its transaction open), after it
    // (the next checkpoint not yet taken), after a pre-commit, and while a lost
    // transaction is written again on recovery. Counts are kept low: a loaded machine
    // takes few checkpoints while the data flows (a commit always follows a completed
    // checkpoint; a pre-commit may come before any completed).
    for (i, points) in [
        &["kafka-commit:1"][..],
        &["kafka-committed:1"],
        &["kafka-pre-commit:3"],
        &["kafka-commit:1", "kafka-redo:1"],
    ]
    .iter()
    .enumerate()
    {
        let topic = format!("out-{i}");
        b.create_topic(&topic, 2);
        let job = window_job(root.path(), &format!("p{i}"), &b.addr, &topic);
        for point in *points {
            let out = std::process::Command::new(weir_tests::weir_bin())
                .arg("run")
                .arg(&job.manifest)
                .current_dir(&job.dir)
                .env("WEIR_CACHE_DIR", root.path().join("component-cache"))
                .env("WEIR_CRASH_AT", point)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains("crash point") && !out.status.success(),
                "{point}: the crash point was not reached:\n{stderr}"
            );
        }
        let summary = job.run_clean();
        assert!(
            points[0].starts_with("kafka-pre-commit")
                || summary.contains("resumed:      from snapshot"),
            "{points:?}: the run after the crash resumed:\n{summary}"
        );
        assert_same(&b, &topic, &want, &format!("{points:?}"));
    }
}

//! Window and broadcast operators swapped mid-stream keep what they hold: the windows open
//! at the switch fire with every element, those taken in by the old version included, and
//! the new broadcast-process version reads the table the old one was given.

mod swapping;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde_json::Value;
use swapping::{load, wait_for};
use weir::runtime::start;
use weir::runtime::swap::{ComponentSource, SwapRequest};
use weir_tests::{Harness, guests, read_lines};

fn append(path: &Path, lines: impl IntoIterator<Item = String>) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let text: String = lines.into_iter().map(|l| l + "\n").collect();
    f.write_all(text.as_bytes()).unwrap();
}

fn same_version(operator: &str, component: &str) -> SwapRequest {
    SwapRequest {
        operator: operator.into(),
        component: ComponentSource::Path(component.into()),
        config: None,
        dry_run: false,
        requested_by: "test".into(),
        canary: None,
        drop_states: Vec::new(),
    }
}

/// What the sink `out.jsonl` wrote (under its hidden name while the job has not ended).
fn sink_lines(h: &Harness) -> Vec<String> {
    let lines = read_lines(&h.dir.path().join("out.jsonl"));
    if lines.is_empty() {
        read_lines(&h.dir.path().join(".out.jsonl.part"))
    } else {
        lines
    }
}

/// Element `i`: key `k{i % 5}`, event time `i * 10` ms, `n = i`.
fn element(i: u64) -> String {
    format!("{{\"k\":\"k{}\",\"t\":{},\"n\":{i}}}", i % 5, i * 10)
}

#[test]
fn a_window_operator_swapped_mid_stream_fires_its_open_windows_with_every_element() {
    let h = Harness::new();
    let input = h.dir.path().join("in.jsonl");
    let text = format!(
        r#"[job]
name = "window-swap"
parallelism = 2
batch_size = 16

[sources.in]
kind = "file"
path = "in.jsonl"
follow = true
parallelism = 1

[sources.in.event_time]
field = "t"

[operators.win]
kind = "window"
input = "in"
key_by = {{ field = "k" }}
window = {{ type = "tumbling", size = "1s" }}
aggregate = "function"
component = {sum:?}

[sinks.out]
kind = "file"
input = "win"
path = "out.jsonl"

[sinks.late]
kind = "file"
input = "win.late"
path = "late.jsonl"
"#,
        sum = guests::WINDOW_SUM,
    );
    // 1,000 elements of 10 ms each: 10 windows of 1 s per key; the swap comes with the
    // 1 s windows of the middle of the input open.
    append(&input, (0..500).map(element));
    let handle = start(load(&h, &text), h.options()).unwrap();
    wait_for("the first elements", || {
        handle.metrics().node("win").records_in >= 500
    });
    let record = handle
        .swap(same_version("win", guests::WINDOW_SUM))
        .expect("the swap is applied");
    assert_eq!(record.outcome, "applied");
    append(&input, (500..1_000).map(element));
    wait_for("every element", || {
        handle.metrics().node("win").records_in >= 1_000
    });
    handle.drain();
    let report = handle.wait().unwrap();
    report.check_accounts().unwrap();

    // What each (key, window start) must hold, computed from the input alone.
    let mut want: BTreeMap<(String, i64), (i64, u64)> = BTreeMap::new();
    for i in 0..1_000u64 {
        let w = want
            .entry((format!("k{}", i % 5), (i as i64 * 10) / 1_000 * 1_000))
            .or_default();
        w.0 += i as i64;
        w.1 += 1;
    }
    let mut got = BTreeMap::new();
    for l in sink_lines(&h) {
        let v: Value = serde_json::from_str(&l).unwrap();
        let key = (
            v["key"].as_str().unwrap().to_owned(),
            v["start"].as_i64().unwrap(),
        );
        let sums = (v["sum"].as_i64().unwrap(), v["elements"].as_u64().unwrap());
        assert!(got.insert(key, sums).is_none(), "a window fired twice: {l}");
    }
    assert_eq!(got, want, "every window, with every element");
    assert_eq!(read_lines(&h.dir.path().join("late.jsonl")).len(), 0);
}

#[test]
fn a_broadcast_operator_swapped_mid_stream_keeps_its_broadcast_state() {
    let h = Harness::new();
    let keys = h.dir.path().join("keys.txt");
    let changes = h.dir.path().join("changes.jsonl");
    let text = format!(
        r#"[job]
name = "broadcast-swap"
parallelism = 2
batch_size = 8

[sources.keys]
kind = "file"
path = "keys.txt"
format = "text-lines"
follow = true
parallelism = 1

[sources.changes]
kind = "file"
path = "changes.jsonl"
format = "json-lines"

[operators.probe]
kind = "broadcast"
input = "keys"
broadcast = "changes"
bootstrap = true
component = {probe:?}

[sinks.out]
kind = "file"
input = "probe"
path = "out.jsonl"
"#,
        probe = guests::BROADCAST_PROBE,
    );
    append(
        &changes,
        (0..10).map(|i| format!("{{\"put\":\"key{i}\",\"value\":\"value{i}\"}}")),
    );
    let key = |i: u64| format!("key{}", i % 10);
    append(&keys, (0..200).map(key));
    let handle = start(load(&h, &text), h.options()).unwrap();
    wait_for("the first keys", || {
        handle.metrics().node("probe").records_out >= 200
    });
    let record = handle
        .swap(same_version("probe", guests::BROADCAST_PROBE))
        .expect("the swap is applied");
    assert_eq!(record.outcome, "applied");
    append(&keys, (200..400).map(key));
    wait_for("every key", || {
        handle.metrics().node("probe").records_out >= 400
    });
    handle.drain();
    handle.wait().unwrap().check_accounts().unwrap();
    let lines = sink_lines(&h);
    assert_eq!(lines.len(), 400, "one output per key");
    for l in lines {
        let v: Value = serde_json::from_str(&l).unwrap();
        let k = v["key"].as_str().unwrap();
        // The table the changes built: `keyN` -> `valueN`, read by both versions.
        assert_eq!(
            v["value"].as_str(),
            Some(k.replace("key", "value").as_str()),
            "{l}"
        );
    }
}

//! What the swap tests share: a keyed counting job on a followed file, its input, and a
//! check that every record went to exactly one version with counts carried over.
#![allow(dead_code)] // each test file uses its own part

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use weir::manifest::{Job, load_str};
use weir::runtime::swap::{ComponentSource, SwapRequest};
use weir_tests::{Harness, guests, read_lines};

pub const KEYS: u64 = 20;

pub fn manifest(parallelism: u32, checkpoints: bool) -> String {
    manifest_with(parallelism, checkpoints, guests::VERSIONED_COUNTER)
}

pub fn manifest_with(parallelism: u32, checkpoints: bool, counter: &str) -> String {
    format!(
        r#"[job]
name = "swapping"
parallelism = {parallelism}
batch_size = 16
{checkpoint}

[sources.in]
kind = "file"
path = "in.txt"
format = "text-lines"
follow = true
parallelism = 1

[operators.split]
kind = "map"
input = "in"
component = {split:?}
parallelism = 1

[operators.count]
kind = "map"
input = "split"
key_by = "key"
component = {counter:?}
config = {{ tag = "v1" }}

[sinks.out]
kind = "file"
input = "count"
path = "out"
"#,
        checkpoint = if checkpoints {
            "[job.checkpoint]\ninterval = \"50ms\"\n[job.restart]\nstrategy = \"none\"\n"
        } else {
            ""
        },
        split = guests::KEY_SPLIT,
    )
}

pub fn load(h: &Harness, text: &str) -> Job {
    let mut job = load_str(text, &h.dir.path().join("job.toml"), h.dir.path(), &[])
        .unwrap_or_else(|d| panic!("{d}"));
    job.state_dir = h.dir.path().join("state");
    job.checkpoint_dir = h.dir.path().join("state/checkpoints");
    job
}

/// Runs the counting job (parallelism 2) on `n` records, until they are all counted.
pub fn running(h: &Harness, n: u64, checkpoints: bool) -> weir::runtime::JobHandle {
    append(&h.dir.path().join("in.txt"), 0, n);
    let handle = weir::runtime::start(load(h, &manifest(2, checkpoints)), h.options()).unwrap();
    wait_for("the first outputs", || {
        handle.metrics().node("count").records_out >= n
    });
    handle
}

pub fn append(path: &Path, from: u64, to: u64) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let mut text = String::new();
    for i in from..to {
        text.push_str(&format!("k{}:{i}\n", i % KEYS));
    }
    f.write_all(text.as_bytes()).unwrap();
}

/// The records the job in `dir` wrote to its sink `out`, envelopes unwrapped.
pub fn outputs_in(dir: &Path) -> Vec<Value> {
    let mut lines = read_lines(&dir.join("out"));
    // Without checkpoints the sink writes one file, under a hidden name until the end.
    if lines.is_empty() {
        lines = read_lines(&dir.join(".out.part"));
    }
    lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            // An envelope: the record is its value, with its provenance beside it.
            match v["value"].as_str() {
                Some(inner) if v.get("headers").is_some() => {
                    let mut r: Value = serde_json::from_str(inner).unwrap();
                    r["made_by"] = v["headers"]["weir-fn"].clone();
                    r
                }
                _ => v,
            }
        })
        .collect()
}

pub fn sha256_of(path: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

pub fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ready() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "waited a minute for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn swap_request(component: ComponentSource, tag: &str, dry_run: bool) -> SwapRequest {
    SwapRequest {
        operator: "count".into(),
        component,
        config: Some(format!("{{\"tag\":\"{tag}\"}}")),
        dry_run,
        requested_by: "test".into(),
        canary: None,
        drop_states: Vec::new(),
    }
}

/// A swap of `count` to the counter with the config `config` (JSON).
pub fn counter_with(config: &str) -> SwapRequest {
    SwapRequest {
        config: Some(config.to_owned()),
        ..swap_request(
            ComponentSource::Path(guests::VERSIONED_COUNTER.into()),
            "v2",
            false,
        )
    }
}

/// Every input once, counts continuing per key, and one point in the input before which
/// every record went to v1 and from which every record went to v2.
pub fn check_one_switch(out: &[Value], n: u64) -> u64 {
    check_switch(out, n, "v1")
}

/// As [`check_one_switch`], from a first version whose records carry the tag `first`.
pub fn check_switch(out: &[Value], n: u64, first: &str) -> u64 {
    switch_point(out, n, first).expect("some records went to the new version")
}

/// Checks as [`check_switch`] does; the first record that went to v2, if any did.
pub fn switch_point(out: &[Value], n: u64, first: &str) -> Option<u64> {
    let mut by_seq: BTreeMap<u64, &Value> = BTreeMap::new();
    for o in out {
        assert!(
            by_seq.insert(o["seq"].as_u64().unwrap(), o).is_none(),
            "a record processed twice: {o}"
        );
    }
    assert_eq!(by_seq.len() as u64, n, "every record processed once");
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut switch = None;
    for (seq, o) in &by_seq {
        let c = counts
            .entry(o["key"].as_str().unwrap().to_owned())
            .or_default();
        *c += 1;
        assert_eq!(
            o["count"].as_u64().unwrap(),
            *c,
            "the key's count carried over: {o}"
        );
        match (o["tag"].as_str().unwrap(), switch) {
            (t, None) if t == first => {}
            ("v2", None) => switch = Some(*seq),
            ("v2", Some(_)) => {}
            (t, s) => panic!("record {seq} went to {t} after the switch at {s:?}"),
        }
    }
    switch
}

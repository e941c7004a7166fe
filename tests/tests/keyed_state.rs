//! Keyed state: value, list and map state per key across batches, at any parallelism and
//! on either backend; isolation between keys; time to live; and a failed call leaving
//! state as it was.
//!
//! Input lines are `key:value`; the `key-split` function turns them into keyed records,
//! and a keyed function downstream keeps state per key. The source and `key-split` run
//! as one instance so each key's records arrive in file order, which makes the expected
//! output a function of the input alone.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use weir::manifest::{Job, load_str};
use weir::operator::{FunctionLabel, MapFunction, NativeFunctions};
use weir::record::{Batch, KeyTable};
use weir::runtime::{Clock, JobReport, ManualClock};
use weir::wasm::Failure;
use weir::wasm::bindings::types::Output;
use weir_tests::{Harness, canonical, guests};

/// Writes the input and loads a job: `lines` → `split` → `count` (running `component`,
/// keyed by record key, with the extra TOML `operator`) → [`tail`] → sinks. `job` is extra
/// TOML for `[job]`; `tail` is TOML for what follows `count` (its sinks at least).
fn job(
    h: &Harness,
    lines: &[String],
    component: &str,
    operator: &str,
    job: &str,
    tail: &str,
) -> Job {
    std::fs::write(h.dir.path().join("input.txt"), lines.join("\n") + "\n").unwrap();
    let text = format!(
        r#"
[job]
name = "keyed"
{job}

[sources.lines]
kind = "file"
path = "input.txt"
format = "text-lines"
parallelism = 1

[operators.split]
kind = "map"
input = "lines"
component = {split:?}
parallelism = 1

[operators.count]
kind = "map"
input = "split"
key_by = "key"
component = {component:?}
{operator}

{tail}
"#,
        split = guests::KEY_SPLIT,
    );
    load_str(&text, Path::new("job.toml"), h.dir.path(), &[])
        .unwrap_or_else(|d| panic!("{d}\n{text}"))
}

const OUT: &str = r#"
[sinks.out]
kind = "file"
input = "count"
path = "out.jsonl"
"#;

/// Runs the keyed counter over `lines`; returns the report and the output lines.
fn count(lines: &[String], job_toml: &str) -> (JobReport, Vec<String>) {
    let h = Harness::new();
    let j = job(&h, lines, guests::KEYED_COUNTER, "", job_toml, OUT);
    let report = h.run(j).expect("the job runs");
    (report, h.output("out"))
}

/// What the keyed counter emits for `lines`, computed without weir: per key a count,
/// the last three values and the number of times each value was seen.
fn expected(lines: &[String]) -> Vec<String> {
    #[derive(Default)]
    struct Key {
        count: u64,
        recent: Vec<String>,
        per_value: BTreeMap<String, u64>,
    }
    let mut keys: BTreeMap<&str, Key> = BTreeMap::new();
    let mut out = Vec::new();
    for line in lines {
        let (k, v) = line.split_once(':').expect("key:value");
        let s = keys.entry(k).or_default();
        s.count += 1;
        s.recent.push(v.to_owned());
        if s.recent.len() > 3 {
            s.recent.remove(0);
        }
        let seen = {
            let n = s.per_value.entry(v.to_owned()).or_default();
            *n += 1;
            *n
        };
        out.push(
            json!({
                "key": k,
                "count": s.count,
                "recent": s.recent,
                "distinct": s.per_value.len(),
                "seen_this": seen,
            })
            .to_string(),
        );
    }
    canonical(&out)
}

/// `n` lines over 13 keys (some much busier than others) and 7 values, from a fixed
/// pseudo-random sequence.
fn input(n: usize) -> Vec<String> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|_| {
            let r = next();
            // Squaring skews the keys: k0 is far busier than k12.
            let k = ((r % 1000) * (r % 1000) / 1000) * 13 / 1000;
            format!("k{k}:v{}", (r >> 20) % 7)
        })
        .collect()
}

#[test]
fn value_list_and_map_state_hold_per_key_across_batches_at_any_parallelism() {
    let lines = input(700);
    let want = expected(&lines);
    let (one, out_one) = count(&lines, "parallelism = 1\nbatch_size = 7");
    let (three, out_three) = count(&lines, "parallelism = 3\nbatch_size = 7");
    assert_eq!(one.records_out, lines.len() as u64);
    assert_eq!(three.records_out, lines.len() as u64);
    assert_eq!(canonical(&out_one), want);
    assert_eq!(canonical(&out_three), want);
}

#[test]
fn keys_in_one_call_do_not_see_each_others_state() {
    // Interleaved keys, all in one batch: every call holds several keys at once.
    let mut lines = Vec::new();
    for i in 0..30 {
        lines.push(format!("a:v{}", i % 4));
        if i % 3 == 0 {
            lines.push(format!("b:w{}", i % 2));
        }
    }
    lines.push("c:z".to_owned());
    let (_, out) = count(&lines, "batch_size = 64");
    assert_eq!(canonical(&out), expected(&lines));
    let c: Vec<Value> = out
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["key"] == "c")
        .collect();
    assert_eq!(
        c,
        [json!({"key": "c", "count": 1, "recent": ["z"], "distinct": 1, "seen_this": 1})]
    );
    let b_last = out
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["key"] == "b")
        .map(|v| v["count"].as_u64().unwrap())
        .max();
    assert_eq!(b_last, Some(10));
}

#[test]
fn memory_and_rocksdb_state_give_the_same_output() {
    let lines = input(400);
    let (_, rocks) = count(
        &lines,
        "parallelism = 2\nbatch_size = 16\nstate_backend = \"rocksdb\"",
    );
    let (_, memory) = count(
        &lines,
        "parallelism = 2\nbatch_size = 16\nstate_backend = \"memory\"",
    );
    assert_eq!(canonical(&rocks), canonical(&memory));
    assert_eq!(canonical(&rocks), expected(&lines));
}

/// A native map function that passes the counter's records on and, after one whose
/// value was `wait<ms>`, moves the clock forward by that much. It runs in the counter's
/// task, right after it, so the next call of the counter sees the new time.
struct Tick {
    label: FunctionLabel,
    clock: Arc<ManualClock>,
}

impl MapFunction for Tick {
    fn label(&self) -> &FunctionLabel {
        &self.label
    }

    fn process(&mut self, input: &Batch, _: Option<&KeyTable>, _: i64) -> Result<Output, Failure> {
        let mut out = Output::default();
        for (i, r) in input.iter().enumerate() {
            let v: Value = serde_json::from_slice(r.value).expect("the counter emits JSON");
            let value = v["recent"].as_array().and_then(|a| a.last());
            if let Some(ms) = value
                .and_then(Value::as_str)
                .and_then(|s| s.strip_prefix("wait"))
            {
                self.clock.advance(ms.parse().expect("wait<ms>"));
            }
            out.records.push_record(&r);
            out.origins.push(i as u32);
        }
        Ok(out)
    }
}

#[test]
fn a_count_expires_when_the_clock_passes_its_time_to_live() {
    let lines: Vec<String> = [
        "a:x",
        "b:x",
        "a:wait500", // now +500: younger than the 1000 ms time to live
        "a:x",
        "b:x",
        "a:wait1500", // now +2000: a and b were last written 1500 ms ago
        "a:x",
        "b:x",
        "c:x",
    ]
    .map(str::to_owned)
    .to_vec();
    let h = Harness::new();
    let clock = ManualClock::new(1_000_000);
    let mut natives = NativeFunctions::default();
    let tick_clock = clock.clone();
    natives.map("tick", move |init, _| {
        Ok(Box::new(Tick {
            label: FunctionLabel {
                operator: init.operator.clone(),
                function: "native function tick".into(),
            },
            clock: tick_clock.clone(),
        }))
    });
    let j = job(
        &h,
        &lines,
        guests::KEYED_COUNTER,
        "config = { ttl_ms = 1000 }",
        "batch_size = 1",
        r#"
[operators.tick]
kind = "map"
input = "count"
component = "native:tick"

[sinks.out]
kind = "file"
input = "tick"
path = "out.jsonl"
"#,
    );
    let options = weir::runtime::RunOptions {
        clock: clock.clone(),
        natives,
        ..h.options()
    };
    h.run_with(j, options).expect("the job runs");
    let got: Vec<(String, u64, u64)> = h
        .output("out")
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["key"].as_str().unwrap().to_owned(),
                v["count"].as_u64().unwrap(),
                v["distinct"].as_u64().unwrap(),
            )
        })
        .collect();
    let want = [
        ("a", 1, 1),
        ("b", 1, 1),
        ("a", 2, 2),
        ("a", 3, 2),
        ("b", 2, 1),
        ("a", 4, 3),
        // The counts expired; the map state, which has no time to live, did not.
        ("a", 1, 3),
        ("b", 1, 1),
        ("c", 1, 1),
    ]
    .map(|(k, c, d)| (k.to_owned(), c, d));
    assert_eq!(got, want);
    assert_eq!(clock.now_ms(), 1_002_000);
}

#[test]
fn a_call_that_traps_after_writing_state_leaves_the_state_as_it_was() {
    let mut lines = Vec::new();
    for i in 0..40 {
        let key = ["a", "b", "c"][i % 3];
        lines.push(if i % 7 == 3 {
            format!("{key}:trap")
        } else {
            format!("{key}:{i}")
        });
    }
    let h = Harness::new();
    let j = job(
        &h,
        &lines,
        guests::KEYED_TRAP,
        "on_error = \"dead-letter\"",
        "parallelism = 2\nbatch_size = 4",
        r#"
[sinks.out]
kind = "file"
input = "count"
path = "out.jsonl"

[sinks.dead]
kind = "file"
input = "count.dead-letter"
path = "dead.jsonl"
"#,
    );
    let report = h.run(j).expect("the job runs");
    let traps = lines.iter().filter(|l| l.ends_with(":trap")).count();
    assert!(traps >= 5);
    assert_eq!(report.dead_letters, traps as u64);

    // Each key's good records, in order, must be counted 1, 2, 3...: a trapped record's
    // write never counts.
    let mut want: Vec<String> = Vec::new();
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for l in &lines {
        let (k, v) = l.split_once(':').unwrap();
        if v != "trap" {
            let n = counts.entry(k).or_default();
            *n += 1;
            want.push(json!({"key": k, "value": v, "count": *n}).to_string());
        }
    }
    assert_eq!(canonical(&h.output("out")), canonical(&want));

    let dead = h.output("dead");
    assert_eq!(dead.len(), traps);
    for d in &dead {
        let v: Value = serde_json::from_str(d).unwrap();
        assert_eq!(v["operator"], "count");
        assert_eq!(v["record"]["value"], "trap");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("trapping after writing count"),
            "{d}"
        );
    }
}

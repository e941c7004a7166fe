//! What the control endpoint shows of a running job: each operator's counts, rates,
//! watermark and time shares, its latest dead letters, one key's state (queryable
//! state), and `/metrics` in the Prometheus text format — each checked against what the
//! input makes it (counted here, from the lines written).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde_json::Value;
use weir::manifest::load_str;
use weir::runtime::{JobHandle, RunOptions, start};
use weir_tests::crash::Rng;
use weir_tests::{Harness, guests};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn get(url: &str) -> (u16, Value) {
    let mut resp = agent().get(url).call().unwrap();
    (resp.status().as_u16(), resp.body_mut().read_json().unwrap())
}

fn get_text(url: &str) -> String {
    agent()
        .get(url)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}

/// Starts `text` (a manifest) with its control endpoint; returns the handle and the
/// endpoint's URL.
fn start_job(h: &Harness, text: &str) -> (JobHandle, String) {
    let mut job = load_str(text, &h.dir.path().join("job.toml"), h.dir.path(), &[])
        .unwrap_or_else(|d| panic!("{d}"));
    job.state_dir = h.dir.path().join("state");
    job.checkpoint_dir = h.dir.path().join("state/checkpoints");
    let handle = start(
        job,
        RunOptions {
            control: true,
            ..h.options()
        },
    )
    .unwrap();
    let file = h.dir.path().join("state/control.json");
    let t = Instant::now();
    let url = loop {
        if let Ok(b) = std::fs::read(&file) {
            let a: Value = serde_json::from_slice(&b).unwrap();
            break a["url"].as_str().unwrap().to_owned();
        }
        assert!(t.elapsed() < Duration::from_secs(30), "no control.json");
        std::thread::sleep(Duration::from_millis(10));
    };
    (handle, url)
}

fn operator<'a>(ops: &'a Value, name: &str) -> &'a Value {
    ops["operators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no operator {name} in {ops}"))
}

const COUNTING: &str = r#"[job]
name = "observed"
parallelism = 2
batch_size = 16

[sources.in]
kind = "file"
path = "in.txt"
format = "text-lines"
follow = true
event_time = { from = "ingestion" }

[operators.split]
kind = "map"
input = "in"
component = "SPLIT"
on_error = "dead-letter"

[operators.count]
kind = "map"
input = "split"
key_by = "key"
component = "COUNTER"

[sinks.out]
kind = "file"
input = "count"
path = "out.jsonl"

[sinks.dead]
kind = "file"
input = "split.dead-letter"
path = "dead.jsonl"
"#;

#[test]
fn the_endpoint_shows_counts_watermarks_dead_letters_state_and_metrics() {
    let h = Harness::new();
    // The input: keyed lines, and lines without a key that the split dead-letters.
    let mut rng = Rng::new(7);
    let mut lines = Vec::new();
    let mut bad = Vec::new();
    for i in 0..3000 {
        if rng.below(50) == 0 {
            let l = format!("broken line {i}");
            bad.push(l.clone());
            lines.push(l);
        } else {
            lines.push(format!("k{}:v{}", rng.below(20), rng.below(4)));
        }
    }
    let good = lines.len() - bad.len();
    std::fs::write(h.dir.path().join("in.txt"), lines.join("\n") + "\n").unwrap();
    let text = COUNTING
        .replace("SPLIT", guests::KEY_SPLIT)
        .replace("COUNTER", guests::KEYED_COUNTER);
    let (handle, url) = start_job(&h, &text);

    // Every line read and counted.
    let t = Instant::now();
    let ops = loop {
        let (status, ops) = get(&format!("{url}/v1/operators"));
        assert_eq!(status, 200, "{ops}");
        if operator(&ops, "count")["counts"]["records_in"] == good as u64 {
            break ops;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "not every line counted: {ops}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let split = operator(&ops, "split");
    assert_eq!(split["counts"]["records_in"], lines.len() as u64);
    assert_eq!(split["counts"]["dead_letters"], bad.len() as u64);
    assert_eq!(split["kind"], "map");
    assert!(split["version"].as_str().unwrap().len() == 64, "{split}");
    let count = operator(&ops, "count");
    assert_eq!(count["counts"]["records_out"], good as u64);
    assert_eq!(count["instances"].as_array().unwrap().len(), 2);
    // Ingestion time: the watermark trails the wall clock by little.
    let lag = count["watermark_lag_ms"].as_i64().expect("a watermark");
    assert!((0..60_000).contains(&lag), "{count}");
    // Each instance's time is busy, back-pressured or idle.
    for i in count["instances"].as_array().unwrap() {
        let r = &i["rates"];
        let total = r["busy_ms_per_s"].as_f64().unwrap()
            + r["backpressured_ms_per_s"].as_f64().unwrap()
            + r["idle_ms_per_s"].as_f64().unwrap();
        assert!((total - 1000.0).abs() < 5.0, "{i}");
    }

    // The latest dead letters, newest first, with their errors.
    let (status, dl) = get(&format!("{url}/v1/operators/split/dead-letter?limit=3"));
    assert_eq!(status, 200, "{dl}");
    assert_eq!(dl["total"], bad.len() as u64);
    let latest = dl["latest"].as_array().unwrap();
    assert_eq!(latest.len(), 3.min(bad.len()));
    for e in latest {
        let value = e["line"]["record"]["value"].as_str().unwrap();
        assert!(bad.iter().any(|b| b == value), "{e}");
        assert!(
            e["line"]["error"]
                .as_str()
                .unwrap()
                .contains("is not of the form key:value"),
            "{e}"
        );
    }
    let times: Vec<i64> = latest
        .iter()
        .map(|e| e["at_ms"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    assert_eq!(
        get(&format!("{url}/v1/operators/split/dead-letter?limit=x")).0,
        400
    );
    assert_eq!(get(&format!("{url}/v1/operators/nope/dead-letter")).0, 404);

    // Queryable state, against counts made here.
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    let mut recent: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut per_value: HashMap<&str, BTreeMap<&str, u64>> = HashMap::new();
    for l in &lines {
        if let Some((k, v)) = l.split_once(':') {
            *counts.entry(k).or_default() += 1;
            let r = recent.entry(k).or_default();
            r.push(v);
            if r.len() > 3 {
                r.remove(0);
            }
            *per_value.entry(k).or_default().entry(v).or_default() += 1;
        }
    }
    let mut owners = std::collections::BTreeSet::new();
    for (k, n) in &counts {
        let (status, a) = get(&format!("{url}/v1/state/count/count?key={k}"));
        assert_eq!(status, 200, "{a}");
        assert_eq!(a["kind"], "value");
        assert_eq!(a["value"], *n, "key {k}: {a}");
        owners.insert(a["subtask"].as_u64().unwrap());
        let (_, a) = get(&format!("{url}/v1/state/count/recent?key={k}"));
        assert_eq!(a["kind"], "list");
        assert_eq!(a["list"], serde_json::json!(recent[k]), "key {k}");
        let (_, a) = get(&format!("{url}/v1/state/count/per-value?key={k}"));
        assert_eq!(a["kind"], "map");
        let entries: BTreeMap<String, u64> = a["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["key"].as_str().unwrap().to_owned(),
                    e["value"].as_u64().unwrap(),
                )
            })
            .collect();
        let expected: BTreeMap<String, u64> = per_value[k]
            .iter()
            .map(|(v, n)| ((*v).to_owned(), *n))
            .collect();
        assert_eq!(entries, expected, "key {k}");
    }
    assert_eq!(owners.len(), 2, "keys are spread over both instances");
    let (status, a) = get(&format!("{url}/v1/state/count/count?key=never-seen"));
    assert_eq!((status, &a["value"]), (200, &Value::Null), "{a}");
    let (status, a) = get(&format!("{url}/v1/state/count/nope?key=k1"));
    assert_eq!(status, 404);
    assert!(a["error"].as_str().unwrap().contains("`count`"), "{a}");
    assert_eq!(get(&format!("{url}/v1/state/count/count")).0, 400);
    assert_eq!(get(&format!("{url}/v1/state/split/count?key=k1")).0, 400);
    assert_eq!(get(&format!("{url}/v1/state/none/count?key=k1")).0, 404);

    // Prometheus text, parsed by a Prometheus parser.
    let text = get_text(&format!("{url}/metrics"));
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let sum = |metric: &str, op: &str| -> f64 {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == metric && s.labels.get("operator") == Some(op))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => panic!("{s:?}"),
            })
            .sum()
    };
    assert_eq!(
        sum("weir_operator_records_in_total", "count"),
        good as f64,
        "{text}"
    );
    assert_eq!(
        sum("weir_operator_dead_letters_total", "split"),
        bad.len() as f64
    );
    let instances = |metric: &str| {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == metric && s.labels.get("operator") == Some("count"))
            .count()
    };
    assert_eq!(instances("weir_task_busy_seconds_total"), 2, "{text}");
    assert_eq!(instances("weir_operator_watermark_ms"), 2, "{text}");
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.metric == "weir_job_uptime_seconds"
                && s.labels.get("job") == Some("observed")),
        "{text}"
    );
    handle.stop();
    let report = handle.wait().unwrap();
    assert_eq!(report.node("count").unwrap().records_in, good as u64);
}

#[test]
fn a_slow_operator_shows_as_busy_and_back_pressures_its_input() {
    let h = Harness::new();
    // Every record keeps the second operator busy for 2 ms; the source reads faster.
    let lines: Vec<String> = (0..4000).map(|i| format!("k{}:spin:2", i % 8)).collect();
    std::fs::write(h.dir.path().join("in.txt"), lines.join("\n") + "\n").unwrap();
    let text = format!(
        r#"[job]
name = "slow"
batch_size = 4

[sources.in]
kind = "file"
path = "in.txt"
format = "text-lines"

[operators.split]
kind = "map"
input = "in"
component = {split:?}

[operators.slow]
kind = "map"
input = "split"
key_by = "key"
component = {slow:?}

[sinks.out]
kind = "file"
input = "slow"
path = "out.jsonl"
"#,
        split = guests::KEY_SPLIT,
        slow = guests::MISBEHAVE
    );
    let (handle, url) = start_job(&h, &text);
    // Wait for a sample a second old, then look.
    std::thread::sleep(Duration::from_millis(2500));
    let (_, ops) = get(&format!("{url}/v1/operators"));
    handle.cancel();
    let _ = handle.wait();
    let split = operator(&ops, "split");
    let slow = operator(&ops, "slow");
    assert!(ops["rates_over_s"].as_f64().unwrap() >= 1.0, "{ops}");
    // The source and the split share a task, which waits on the full channel to `slow`.
    let bp = split["rates"]["backpressured_ms_per_s"].as_f64().unwrap();
    assert!(bp > 500.0, "split: {split}");
    let busy = slow["rates"]["busy_ms_per_s"].as_f64().unwrap();
    assert!(busy > 500.0, "slow: {slow}");
    // And its input rate is what 2 ms a record allows (with room for a noisy machine).
    let rate = slow["rates"]["records_in_per_s"].as_f64().unwrap();
    assert!(rate > 50.0 && rate < 600.0, "slow: {slow}");
}

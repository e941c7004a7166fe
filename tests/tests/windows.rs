//! Window behaviour that golden files cannot show, because it depends on processing time
//! or on a job that keeps running: processing-time windows, processing-time timers of
//! map functions and continuous processing-time triggers under a hand-driven clock, and
//! a silent split of a followed folder, which holds the watermark back unless it is
//! declared idle.
//!
//! Running jobs are watched through their sinks' part files (a file sink flushes them
//! as processing time ticks), always with a bounded wait for what must appear.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use weir::runtime::{JobHandle, ManualClock, RunOptions, start};
use weir_tests::{Harness, guests, manifest, read_lines};

/// How long a test waits for something a running job must do.
const PATIENCE: Duration = Duration::from_secs(30);

/// Waits until `check` holds, failing after [`PATIENCE`].
fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "waited {PATIENCE:?} for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Appends lines to a file.
fn append(path: &Path, lines: &[&str]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

/// The JSON lines a sink of a running job has written so far (a line being written is
/// skipped until it is whole).
fn written(h: &Harness, sink: &str) -> Vec<Value> {
    let part = h.dir.path().join(format!(".{sink}.jsonl.part"));
    parse(&read_lines(&part))
}

fn parse(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Writes `text` as the job's manifest in the harness folder and loads it.
fn job_in(h: &Harness, text: &str) -> weir::manifest::Job {
    let path = h.dir.path().join("job.toml");
    std::fs::write(&path, text).unwrap();
    manifest(&path, &[])
}

/// Starts a job in the harness with a hand-driven clock.
fn start_with(h: &Harness, mut job: weir::manifest::Job, clock: &Arc<ManualClock>) -> JobHandle {
    h.prepare(&mut job);
    let options = RunOptions {
        clock: clock.clone(),
        ..h.options()
    };
    start(job, options).expect("the job starts")
}

/// Fired windows of window-collect output, by (key, start, end): each firing's values
/// and update flag, in output order.
type Firings = BTreeMap<(String, i64, i64), Vec<(Vec<Value>, bool)>>;

fn firings(out: &[Value]) -> Firings {
    let mut m = Firings::new();
    for w in out {
        let key = (
            w["key"].as_str().unwrap().to_owned(),
            w["start"].as_i64().unwrap(),
            w["end"].as_i64().unwrap(),
        );
        let values = w["values"].as_array().unwrap().clone();
        m.entry(key)
            .or_default()
            .push((values, w["update"].as_bool().unwrap()));
    }
    m
}

/// A field of every element of every firing, in order.
fn field_of(fired: &[(Vec<Value>, bool)], field: &str) -> Vec<i64> {
    fired
        .iter()
        .flat_map(|(v, _)| v.iter().map(|e| e[field].as_i64().unwrap()))
        .collect()
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.display())
}

// ---------------------------------------------------------------------------------
// Processing time

/// Epoch milliseconds the processing-time tests start at: a window boundary.
const T0: i64 = 1_000_000;

fn processing_time_job(h: &Harness, input: &Path, follow: bool) -> weir::manifest::Job {
    job_in(
        h,
        &format!(
            r#"
[job]
name = "processing-time"
parallelism = 2

# One reader: a key's elements reach its window in file order.
[sources.events]
kind = "file"
path = {input}
follow = {follow}
parallelism = 1

[operators.win]
kind = "window"
input = "events"
key_by = {{ field = "k" }}
window = {{ type = "tumbling", size = "10s" }}
time = "processing"
component = {component}

[operators.sessions]
kind = "window"
input = "events"
key_by = {{ field = "k" }}
window = {{ type = "session", gap = "3s" }}
time = "processing"
component = {component}

[sinks.out]
kind = "file"
input = "win"
path = "out.jsonl"

[sinks.session-out]
kind = "file"
input = "sessions"
path = "session-out.jsonl"

[sinks.echo]
kind = "file"
input = "events"
path = "echo.jsonl"
"#,
            input = quote(input),
            component = quote(Path::new(guests::WINDOW_COLLECT)),
        ),
    )
}

#[test]
fn processing_time_windows_fire_when_the_clock_reaches_their_end() {
    let h = Harness::new();
    let input = h.dir.path().join("in.jsonl");
    append(&input, &[r#"{"k":"a","i":1}"#, r#"{"k":"a","i":2}"#]);
    let job = processing_time_job(&h, &input, true);
    let clock = ManualClock::new(T0);
    let job = start_with(&h, job, &clock);
    wait_for("the source to read two records", || {
        written(&h, "echo").len() == 2
    });

    // Whenever the window took them, the clock read T0 or T0 + 9_999: both elements are
    // in [T0, T0 + 10_000), which fires when processing time reaches its last instant.
    // The source follows its file, so nothing but the clock can fire it.
    clock.set(T0 + 9_999);
    let first = (String::from("a"), T0, T0 + 10_000);
    wait_for("[T0, T0 + 10s) to fire while the job runs", || {
        firings(&written(&h, "out"))
            .get(&first)
            .is_some_and(|f| field_of(f, "i").len() == 2)
    });

    // The next element is in [T0 + 10s, T0 + 20s); the clock never reaches its end, so
    // it fires only because the job is drained (its input ends, as `stop --drain`).
    clock.set(T0 + 15_000);
    append(&input, &[r#"{"k":"a","i":3}"#]);
    wait_for("the source to read the third record", || {
        written(&h, "echo").len() == 3
    });
    job.drain();
    job.wait().expect("the job ends well");

    let out = firings(&parse(&h.output("out")));
    let second = (String::from("a"), T0 + 10_000, T0 + 20_000);
    assert_eq!(
        out.keys().cloned().collect::<Vec<_>>(),
        vec![first.clone(), second.clone()]
    );
    let mut elements = field_of(&out[&first], "i");
    elements.sort();
    assert_eq!(elements, vec![1, 2], "each element fired once");
    assert!(out[&first].iter().all(|(_, update)| !update));
    assert_eq!(
        out[&second],
        vec![(vec![serde_json::json!({"k":"a","i":3})], false)]
    );
}

#[test]
fn processing_time_windows_fire_at_the_end_of_the_input() {
    let h = Harness::new();
    let input = h.dir.path().join("in.jsonl");
    append(
        &input,
        &[
            r#"{"k":"a","i":1}"#,
            r#"{"k":"b","i":2}"#,
            r#"{"k":"a","i":3}"#,
        ],
    );
    let mut job = processing_time_job(&h, &input, false);
    h.prepare(&mut job);
    // The clock stands still at T0: no window can fire by time, only by the end of input.
    let clock = ManualClock::new(T0);
    let options = RunOptions {
        clock,
        ..h.options()
    };
    weir::runtime::run(job, options).expect("the job runs");
    for (sink, end) in [("out", T0 + 10_000), ("session-out", T0 + 3_000)] {
        let out = firings(&parse(&h.output(sink)));
        let a = (String::from("a"), T0, end);
        let b = (String::from("b"), T0, end);
        assert_eq!(out.len(), 2, "{sink}: {out:?}");
        assert_eq!(field_of(&out[&a], "i"), vec![1, 3], "{sink}");
        assert_eq!(field_of(&out[&b], "i"), vec![2], "{sink}");
        assert_eq!(out[&a].len(), 1, "{sink}: one firing");
        assert!(!out[&a][0].1 && !out[&b][0].1, "{sink}");
    }
}

/// A followed file read by one reader into a keyed map function with processing-time
/// timers (inactivity alerts `gap_ms` after a key's latest record, on the wall clock) and
/// into event-time windows with a continuous processing-time trigger (every 1 s).
fn processing_timers_job(h: &Harness, input: &Path) -> weir::manifest::Job {
    job_in(
        h,
        &format!(
            r#"
[job]
name = "processing-timers"
parallelism = 2

[sources.events]
kind = "file"
path = {input}
follow = true
parallelism = 1

[sources.events.event_time]
field = "t"

[operators.alerts]
kind = "map"
input = "events"
key_by = {{ field = "k" }}
component = {alert}
config = {{ gap_ms = 1000, domain = "processing" }}

[operators.win]
kind = "window"
input = "events"
key_by = {{ field = "k" }}
window = {{ type = "tumbling", size = "1h" }}
trigger = {{ type = "continuous-processing-time", interval = "1s" }}
pane_header = true
component = {collect}

[sinks.alerted]
kind = "file"
input = "alerts"
path = "alerted.jsonl"

[sinks.out]
kind = "file"
input = "win"
path = "out.jsonl"

[sinks.late]
kind = "file"
input = "win.late"
path = "late.jsonl"

[sinks.echo]
kind = "file"
input = "events"
path = "echo.jsonl"
"#,
            input = quote(input),
            alert = quote(Path::new(guests::INACTIVITY_ALERT)),
            collect = quote(Path::new(guests::WINDOW_COLLECT)),
        ),
    )
}

#[test]
fn processing_time_timers_and_continuous_triggers_follow_the_clock() {
    let h = Harness::new();
    let input = h.dir.path().join("in.jsonl");
    append(&input, &[r#"{"k":"a","t":100}"#, r#"{"k":"b","t":200}"#]);
    let clock = ManualClock::new(T0);
    let job = start_with(&h, processing_timers_job(&h, &input), &clock);
    wait_for("the source to read two records", || {
        written(&h, "echo").len() == 2
    });
    // Both keys' timers are at T0 + 1000 (the records were handled at T0); the
    // windows' first periodic firing is at the next whole second, T0 + 1000 too.
    // Nothing fires before the clock gets there.
    clock.set(T0 + 999);
    std::thread::sleep(Duration::from_millis(300));
    assert!(written(&h, "alerted").is_empty(), "no timer is due yet");
    assert!(
        written(&h, "out").is_empty(),
        "no periodic firing is due yet"
    );

    clock.set(T0 + 1_000);
    wait_for("both keys' alerts", || written(&h, "alerted").len() == 2);
    wait_for("both windows' first periodic firing", || {
        written(&h, "out").len() == 2
    });
    let mut alerts = written(&h, "alerted");
    alerts.sort_by_key(|a| a["key"].as_str().unwrap().to_owned());
    assert_eq!(
        alerts,
        vec![
            serde_json::json!({"key":"a","last_seen":100,"alert_at":T0 + 1_000,"records":1}),
            serde_json::json!({"key":"b","last_seen":200,"alert_at":T0 + 1_000,"records":1}),
        ]
    );

    // a gets a record at T0 + 1500: its new timer is at T0 + 2500. At T0 + 2000 the
    // windows fire again (a's with both its elements); no alert is due.
    clock.set(T0 + 1_500);
    append(&input, &[r#"{"k":"a","t":300}"#]);
    wait_for("the third record", || written(&h, "echo").len() == 3);
    clock.set(T0 + 2_000);
    wait_for("the second periodic firing", || {
        written(&h, "out").len() == 4
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        written(&h, "alerted").len(),
        2,
        "a's timer moved to T0 + 2500"
    );
    clock.set(T0 + 2_500);
    wait_for("a's second alert", || written(&h, "alerted").len() == 3);
    let third = &written(&h, "alerted")[2];
    assert_eq!(
        third,
        &serde_json::json!({"key":"a","last_seen":300,"alert_at":T0 + 2_500,"records":1})
    );
    job.drain();
    job.wait().expect("the job ends well");

    // The windows' firings: per key, each periodic firing with what the window held.
    let out = parse(&h.output("out"));
    let a: Vec<Vec<i64>> = out
        .iter()
        .filter(|w| w["key"] == "a")
        .map(|w| {
            w["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["t"].as_i64().unwrap())
                .collect()
        })
        .collect();
    // At T0 + 1000: [100]; at T0 + 2000: [100, 300]; at the end of input (the
    // watermark reaches the end of time) the window is cleaned up, not fired: a
    // continuous processing-time trigger fires only on the clock, as Flink's.
    assert_eq!(a, vec![vec![100], vec![100, 300]]);
    assert_eq!(out.iter().filter(|w| w["key"] == "b").count(), 2);
}

// ---------------------------------------------------------------------------------
// Idle splits

/// A job reading a folder of two followed files, `a.jsonl` (active) and `b.jsonl`
/// (silent), one record per batch, into tumbling 10 s event-time windows.
fn idle_job(
    h: &Harness,
    idle_timeout: Option<&str>,
    source_parallelism: u32,
) -> (weir::manifest::Job, PathBuf) {
    let data = h.dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let a = data.join("a.jsonl");
    append(&a, &[r#"{"k":"x","t":1000}"#]);
    std::fs::write(data.join("b.jsonl"), "").unwrap();
    let idle = idle_timeout.map_or(String::new(), |t| format!("idle_timeout = \"{t}\""));
    let job = job_in(
        h,
        &format!(
            r#"
[job]
name = "idle-split"
parallelism = 2
batch_size = 1

[sources.events]
kind = "file"
path = {data}
follow = true
parallelism = {source_parallelism}

[sources.events.event_time]
field = "t"
{idle}

[operators.win]
kind = "window"
input = "events"
key_by = {{ field = "k" }}
window = {{ type = "tumbling", size = "10s" }}
component = {component}

[sinks.out]
kind = "file"
input = "win"
path = "out.jsonl"

[sinks.late]
kind = "file"
input = "win.late"
path = "late.jsonl"

[sinks.echo]
kind = "file"
input = "events"
path = "echo.jsonl"
"#,
            data = quote(&data),
            component = quote(Path::new(guests::WINDOW_COLLECT)),
        ),
    );
    (job, a)
}

/// Keeps `a.jsonl` busy while the clock runs 8 s past the start: a record every 2 s of
/// processing time (t = 12000, 12001, ...), each read before the clock moves on. So `a`
/// is never silent for 5 s, and `b` is silent for 8 s.
fn keep_a_busy(h: &Harness, a: &Path, clock: &ManualClock) {
    wait_for("the first record to be read", || {
        written(h, "echo").len() == 1
    });
    for step in 0..4 {
        clock.advance(2_000);
        append(a, &[&format!(r#"{{"k":"x","t":{}}}"#, 12_000 + step)]);
        wait_for("a record of a.jsonl to be read", || {
            written(h, "echo").len() == 2 + step as usize
        });
    }
}

fn a_silent_split_stops_holding_the_watermark_back_once_idle(source_parallelism: u32) {
    let h = Harness::new();
    let (job, a) = idle_job(&h, Some("5s"), source_parallelism);
    let clock = ManualClock::new(0);
    let job = start_with(&h, job, &clock);
    keep_a_busy(&h, &a, &clock);

    // b has been silent for 8 s > 5 s: the watermark is a's, 12002, past [0,10000)'s
    // last instant; the window fires while the job runs.
    let first = (String::from("x"), 0, 10_000);
    wait_for("[0,10000) to fire while the job runs", || {
        firings(&written(&h, "out")).contains_key(&first)
    });
    // And an element for it now is late.
    append(&a, &[r#"{"k":"x","t":500,"late":true}"#]);
    wait_for("the late element in the late output", || {
        written(&h, "late") == vec![serde_json::json!({"k":"x","t":500,"late":true})]
    });
    job.drain();
    job.wait().expect("the job ends well");

    let out = firings(&parse(&h.output("out")));
    assert_eq!(out[&first].len(), 1, "{out:?}");
    assert_eq!(field_of(&out[&first], "t"), vec![1000]);
    let second = (String::from("x"), 10_000, 20_000);
    assert_eq!(
        field_of(&out[&second], "t"),
        vec![12_000, 12_001, 12_002, 12_003]
    );
    assert_eq!(out.len(), 2, "{out:?}");
}

#[test]
fn a_silent_file_stops_holding_the_watermark_back_after_the_idle_timeout() {
    a_silent_split_stops_holding_the_watermark_back_once_idle(1);
}

#[test]
fn a_silent_reader_stops_holding_the_watermark_back_after_the_idle_timeout() {
    a_silent_split_stops_holding_the_watermark_back_once_idle(2);
}

#[test]
fn without_an_idle_timeout_a_silent_file_holds_the_watermark_back() {
    let h = Harness::new();
    let (job, a) = idle_job(&h, None, 1);
    let clock = ManualClock::new(0);
    let job = start_with(&h, job, &clock);
    keep_a_busy(&h, &a, &clock);

    // The same history as with an idle timeout, but b holds the watermark at its start:
    // an element for [0,10000), read after t = 12003, is not late; the window fires once,
    // at the end of input, with it.
    append(&a, &[r#"{"k":"x","t":500}"#]);
    wait_for("the source to read the element", || {
        written(&h, "echo").len() == 6
    });
    assert!(
        written(&h, "out").is_empty(),
        "no window may fire while b holds the watermark back"
    );
    job.drain();
    job.wait().expect("the job ends well");

    assert!(h.output("late").is_empty(), "{:?}", h.output("late"));
    let out = firings(&parse(&h.output("out")));
    let first = (String::from("x"), 0, 10_000);
    assert_eq!(out[&first].len(), 1, "{out:?}");
    assert_eq!(field_of(&out[&first], "t"), vec![1000, 500]);
    assert!(!out[&first][0].1);
}

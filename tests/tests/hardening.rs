//! Defects found by trying weir as a new user would, each reproduced: a sink that would
//! overwrite its input, durations and timestamps at the ends of their range, records that
//! vanished without a count, storage failures mistaken for bad records, deadlines that
//! punished slow functions, an instance that could not be replaced.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Result, bail};
use weir::manifest::{Job, load_str};
use weir::runtime::{JobError, RunOptions};
use weir::state::{StateBackend, WriteOp};
use weir_tests::{Harness, guests};

fn load(h: &Harness, text: &str) -> Result<Job, String> {
    load_str(text, &h.dir.path().join("job.toml"), h.dir.path(), &[]).map_err(|d| d.to_string())
}

fn problems(h: &Harness, text: &str) -> String {
    match load(h, text) {
        Ok(_) => panic!("the manifest was accepted:\n{text}"),
        Err(d) => d,
    }
}

const SOURCE: &str = r#"
[job]
name = "j"

[sources.in]
kind = "file"
path = "in.jsonl"
"#;

#[test]
fn a_sink_that_would_overwrite_an_input_is_refused() {
    let h = Harness::new();
    let dir = h.dir.path();
    std::fs::write(dir.join("in.jsonl"), "{\"a\":1}\n").unwrap();
    std::fs::create_dir(dir.join("folder")).unwrap();
    std::fs::write(dir.join("folder/part.jsonl"), "{}\n").unwrap();
    std::os::unix::fs::symlink(dir.join("in.jsonl"), dir.join("link.jsonl")).unwrap();

    for (source, sink) in [
        ("in.jsonl", "in.jsonl"),
        ("in.jsonl", "./sub/../in.jsonl"),
        ("in.jsonl", "link.jsonl"),
        ("folder", "folder/out.jsonl"),
    ] {
        let text = format!(
            "[job]\nname = \"j\"\n[sources.in]\nkind = \"file\"\npath = {source:?}\n[sinks.out]\nkind = \"file\"\ninput = \"in\"\npath = {sink:?}\n"
        );
        let p = problems(&h, &text);
        assert!(
            p.contains("sinks.out.path") && p.contains("would overwrite what the job reads"),
            "{source} / {sink}: {p}"
        );
    }
    let two = format!(
        "{SOURCE}\n[sinks.a]\nkind = \"file\"\ninput = \"in\"\npath = \"out.jsonl\"\n[sinks.b]\nkind = \"file\"\ninput = \"in\"\npath = \"./out.jsonl\"\n"
    );
    let p = problems(&h, &two);
    assert!(
        p.contains("sink `a` writes") || p.contains("sink `b` writes"),
        "{p}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("in.jsonl")).unwrap(),
        "{\"a\":1}\n",
        "the input is untouched"
    );
}

fn window_job(window: &str) -> String {
    format!(
        r#"{SOURCE}
[sources.in.event_time]
field = "t"

[operators.w]
kind = "window"
input = "in"
key_by = {{ field = "k" }}
window = {window}
component = {component:?}

[sinks.out]
kind = "file"
input = "w"
path = "out.jsonl"

[sinks.late]
kind = "file"
input = "w.late"
path = "late.jsonl"
"#,
        component = guests::WINDOW_COLLECT
    )
}

#[test]
fn durations_past_their_maximum_and_tiny_slides_are_refused() {
    let h = Harness::new();
    std::fs::write(h.dir.path().join("in.jsonl"), "{}\n").unwrap();
    for (window, says) in [
        (
            r#"{ type = "tumbling", size = "18446744073709551615ms" }"#,
            "longest duration",
        ),
        (
            r#"{ type = "tumbling", size = 9223372036854775807 }"#,
            "longest duration",
        ),
        (r#"{ type = "session", gap = "1000y" }"#, "longest duration"),
        (
            r#"{ type = "tumbling", size = "99999999999999999999999d" }"#,
            "longest duration",
        ),
        (
            r#"{ type = "sliding", size = "100d", slide = "1ms" }"#,
            "puts every element in 8640000000 windows",
        ),
        (
            r#"{ type = "count", size = 1000000, slide = 1 }"#,
            "puts every element in 1000000 windows",
        ),
    ] {
        let p = problems(&h, &window_job(window));
        assert!(p.contains(says), "{window}: {p}");
    }
    // The largest ones allowed still load.
    load(
        &h,
        &window_job(r#"{ type = "sliding", size = "36500d", slide = "3650d" }"#),
    )
    .unwrap();
}

#[test]
fn memory_caps_past_four_gib_are_refused() {
    let h = Harness::new();
    std::fs::write(h.dir.path().join("in.jsonl"), "{}\n").unwrap();
    let text = format!(
        "{SOURCE}\n[operators.m]\nkind = \"map\"\ninput = \"in\"\ncomponent = {:?}\nlimits = {{ memory = \"99999999999GiB\" }}\n[sinks.out]\nkind = \"stdout\"\ninput = \"m\"\n",
        guests::MISBEHAVE
    );
    let p = problems(&h, &text);
    assert!(
        p.contains("operators.m.limits.memory") && p.contains("4GiB"),
        "{p}"
    );
}

#[test]
fn events_at_the_ends_of_time_are_placed_or_rejected_never_lost() {
    let h = Harness::new();
    let lines = [
        format!("{{\"k\":\"a\",\"t\":{}}}", i64::MAX),
        format!("{{\"k\":\"a\",\"t\":{}}}", i64::MIN),
        format!("{{\"k\":\"a\",\"t\":{}}}", weir::time::MAX_TIMESTAMP),
        format!("{{\"k\":\"a\",\"t\":{}}}", weir::time::MIN_TIMESTAMP),
        "{\"k\":\"a\",\"t\":5}".to_owned(),
    ];
    std::fs::write(h.dir.path().join("in.jsonl"), lines.join("\n")).unwrap();
    let mut text = window_job(r#"{ type = "tumbling", size = "10s" }"#);
    text = text.replace("component =", "on_error = \"dead-letter\"\ncomponent =");
    text.push_str(
        "[sinks.dead]\nkind = \"file\"\ninput = \"w.dead-letter\"\npath = \"dead.jsonl\"\n",
    );
    let report = h.run(load(&h, &text).unwrap()).unwrap();
    report
        .check_accounts()
        .unwrap_or_else(|p| panic!("{p:?}\n{report}"));
    let w = report.node("w").unwrap();
    assert_eq!(w.records_in, 5);
    assert_eq!(w.rejected, 2, "{report}");
    assert_eq!(w.absorbed, 3, "{report}");
    let dead = h.output("dead");
    assert_eq!(dead.len(), 2);
    assert!(
        dead.iter()
            .all(|d| d.contains("outside the range windows take")),
        "{dead:?}"
    );
    let out: Vec<serde_json::Value> = h
        .output("out")
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(out.len(), 3, "{out:?}");
    for o in &out {
        assert!(
            o["start"].as_i64().unwrap() < o["end"].as_i64().unwrap(),
            "{o}"
        );
    }
}

#[test]
fn a_failed_window_sends_its_elements_to_the_dead_letter_output() {
    let h = Harness::new();
    std::fs::write(
        h.dir.path().join("in.txt"),
        "a:\"fail-window\"\nb:\"fine\"\na:\"fail-window\"\nb:\"also fine\"\n",
    )
    .unwrap();
    let text = format!(
        r#"[job]
name = "j"

[sources.in]
kind = "file"
path = "in.txt"
format = "text-lines"

[operators.pick]
kind = "map"
input = "in"
component = {pick:?}

[operators.w]
kind = "window"
input = "pick"
key_by = "key"
window = {{ type = "count", size = 2 }}
component = {collect:?}
on_error = "dead-letter"

[sinks.out]
kind = "file"
input = "w"
path = "out.jsonl"

[sinks.dead]
kind = "file"
input = "w.dead-letter"
path = "dead.jsonl"
"#,
        pick = guests::KEY_SPLIT,
        collect = guests::WINDOW_COLLECT,
    );
    let job = load(&h, &text).unwrap();
    let report = h.run(job).unwrap();
    report
        .check_accounts()
        .unwrap_or_else(|p| panic!("{p:?}\n{report}"));
    let w = report.node("w").unwrap();
    assert_eq!(w.windows_failed, 1, "{report}");
    let dead: Vec<serde_json::Value> = h
        .output("dead")
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(dead.len(), 2, "each element of the failed window: {dead:?}");
    for d in &dead {
        let e = d["error"].as_str().unwrap();
        assert!(
            e.contains("window [0, 2) of key a failed (2 elements)"),
            "{e}"
        );
        assert!(e.contains("fail-window"), "{e}");
        assert_eq!(d["record"]["key"], "a");
        assert_eq!(d["record"]["value"], "\"fail-window\"");
    }
    assert_eq!(h.output("out").len(), 1, "key b's window fired");
}

#[test]
fn blank_lines_missing_timestamps_gaps_and_unfilled_count_windows_are_counted() {
    let h = Harness::new();
    std::fs::write(
        h.dir.path().join("in.jsonl"),
        "{\"k\":\"a\",\"t\":1}\n\n   \n{\"k\":\"a\"}\n{\"k\":\"a\",\"t\":7000}\n{\"k\":\"a\",\"t\":2}\n",
    )
    .unwrap();
    let text = format!(
        r#"{SOURCE}
[sources.in.event_time]
field = "t"

[operators.gaps]
kind = "window"
input = "in"
key_by = {{ field = "k" }}
window = {{ type = "sliding", size = "5s", slide = "10s" }}
component = {c:?}
on_error = "dead-letter"

[operators.counts]
kind = "window"
input = "in"
key_by = {{ field = "k" }}
window = {{ type = "count", size = 3 }}
component = {c:?}

[sinks.out]
kind = "file"
input = "gaps"
path = "out.jsonl"

[sinks.late]
kind = "file"
input = "gaps.late"
path = "late.jsonl"

[sinks.dead]
kind = "file"
input = "gaps.dead-letter"
path = "dead.jsonl"

[sinks.counted]
kind = "file"
input = "counts"
path = "counted.jsonl"
"#,
        c = guests::WINDOW_COLLECT
    );
    let report = h.run(load(&h, &text).unwrap()).unwrap();
    report
        .check_accounts()
        .unwrap_or_else(|p| panic!("{p:?}\n{report}"));
    let src = report.node("in").unwrap();
    assert_eq!(src.records_in, 4, "{report}");
    assert_eq!(src.blank_lines, 2, "{report}");
    assert_eq!(src.missing_timestamps, 1, "{report}");
    let gaps = report.node("gaps").unwrap();
    assert_eq!(
        gaps.dropped, 1,
        "t=7000 falls between [0,5000) and [10000,15000): {report}"
    );
    assert_eq!(gaps.rejected, 1, "the record without a timestamp: {report}");
    let counts = report.node("counts").unwrap();
    assert_eq!(counts.windows_fired, 1);
    assert_eq!(
        counts.unfired, 1,
        "the fourth element never filled a window: {report}"
    );
    let shown = report.to_string();
    assert!(
        shown.contains("1 dropped between sliding windows"),
        "{shown}"
    );
    assert!(
        shown.contains("1 in count windows that never filled"),
        "{shown}"
    );
    assert!(shown.contains("2 blank lines skipped"), "{shown}");
}

/// A backend whose reads or writes fail once the job is past its start (the state
/// registry's first writes and reads succeed).
struct Faulty {
    inner: Arc<dyn StateBackend>,
    fail_reads: bool,
    fail_writes: bool,
    ops: AtomicUsize,
}

/// Reads and writes that succeed before the injected failures begin: the state
/// registry's, as the function declares its three states.
const HEALTHY_READS: usize = 6;
const HEALTHY_WRITES: usize = 3;

impl Faulty {
    fn failing(&self, switch: bool, healthy: usize) -> bool {
        switch && self.ops.fetch_add(1, Ordering::Relaxed) >= healthy
    }
}

impl StateBackend for Faulty {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if self.failing(self.fail_reads, HEALTHY_READS) {
            bail!("injected read failure (an I/O error)");
        }
        self.inner.get(key)
    }
    fn multi_get(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        if self.failing(self.fail_reads, HEALTHY_READS) {
            bail!("injected read failure (an I/O error)");
        }
        self.inner.multi_get(keys)
    }
    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.inner.scan(prefix, after, limit)
    }
    fn write(&self, ops: Vec<WriteOp>) -> Result<()> {
        if self.failing(self.fail_writes, HEALTHY_WRITES) {
            bail!("injected write failure (no space left on device)");
        }
        self.inner.write(ops)
    }
    fn name(&self) -> &'static str {
        "faulty"
    }
}

fn counter_job(h: &Harness, n: usize) -> Job {
    let lines: Vec<String> = (0..n).map(|i| format!("k{}:v{i}", i % 5)).collect();
    std::fs::write(h.dir.path().join("in.txt"), lines.join("\n")).unwrap();
    let text = format!(
        r#"[job]
name = "j"
batch_size = 8

[sources.in]
kind = "file"
path = "in.txt"
format = "text-lines"

[operators.count]
kind = "map"
input = "in"
component = {split:?}

[operators.counter]
kind = "map"
input = "count"
key_by = "key"
component = {counter:?}
on_error = "dead-letter"

[sinks.out]
kind = "file"
input = "counter"
path = "out.jsonl"

[sinks.dead]
kind = "file"
input = "counter.dead-letter"
path = "dead.jsonl"
"#,
        split = guests::KEY_SPLIT,
        counter = guests::KEYED_COUNTER
    );
    load(h, &text).unwrap()
}

fn faulty_options(h: &Harness, reads: bool, writes: bool) -> RunOptions {
    RunOptions {
        backend_wrapper: Some(Arc::new(move |inner| {
            Arc::new(Faulty {
                inner,
                fail_reads: reads,
                fail_writes: writes,
                ops: AtomicUsize::new(0),
            }) as Arc<dyn StateBackend>
        })),
        ..h.options()
    }
}

#[test]
fn a_failing_state_backend_fails_the_job_and_dead_letters_nothing() {
    for (reads, writes, says) in [
        (false, true, "no space left on device"),
        (true, false, "injected read failure"),
    ] {
        let h = Harness::new();
        let job = counter_job(&h, 40);
        let err = match h.run_with(job, faulty_options(&h, reads, writes)) {
            Err(JobError::Failed(e)) => format!("{e:#}"),
            Err(other) => panic!("expected a host failure, got a function error: {other}"),
            Ok(r) => panic!("the job succeeded:\n{r}"),
        };
        assert!(err.contains("the host failed"), "{err}");
        assert!(err.contains(says), "{err}");
        assert!(
            h.output("dead").is_empty(),
            "a storage failure is not a bad record"
        );
    }
}

fn misbehave_job(h: &Harness, lines: &[String], extra: &str, batch: usize) -> Job {
    std::fs::write(h.dir.path().join("in.txt"), lines.join("\n") + "\n").unwrap();
    let text = format!(
        r#"[job]
name = "j"
batch_size = {batch}

[sources.in]
kind = "file"
path = "in.txt"
format = "text-lines"

[operators.m]
kind = "map"
input = "in"
component = {c:?}
on_error = "dead-letter"
{extra}

[sinks.out]
kind = "file"
input = "m"
path = "out.jsonl"

[sinks.dead]
kind = "file"
input = "m.dead-letter"
path = "dead.jsonl"
"#,
        c = guests::MISBEHAVE
    );
    load(h, &text).unwrap()
}

#[test]
fn the_deadline_is_per_record_so_a_slow_function_is_not_punished_for_batching() {
    let h = Harness::new();
    // 64 records of 3 ms each take ~190 ms in one call; each is well within 20 ms.
    let lines: Vec<String> = (0..64).map(|_| "spin:3".to_owned()).collect();
    let job = misbehave_job(&h, &lines, "limits = { deadline = \"20ms\" }", 64);
    let report = h.run(job).unwrap();
    let m = report.node("m").unwrap();
    assert_eq!(report.dead_letters, 0, "{report}");
    assert_eq!(m.replays, 0, "{report}");
    assert_eq!(m.calls, 1, "{report}");
    assert_eq!(h.output("out").len(), 64);
}

#[test]
fn a_bad_record_in_a_large_batch_is_found_by_halving_and_counted() {
    let h = Harness::new();
    let mut lines: Vec<String> = (0..256).map(|i| format!("r{i}")).collect();
    lines[77] = "trap".into();
    let job = misbehave_job(&h, &lines, "", 256);
    let report = h.run(job).unwrap();
    report.check_accounts().unwrap();
    let m = report.node("m").unwrap();
    assert_eq!(report.dead_letters, 1);
    assert_eq!(h.output("out").len(), 255);
    assert_eq!(m.replays, 1, "{report}");
    assert!(
        m.calls <= 1 + 2 * 8,
        "halving, not one call per record: {report}"
    );
    assert!(m.reinstantiations >= 1, "{report}");
    assert!(
        report.to_string().contains("instances replaced"),
        "{report}"
    );
}

#[test]
fn an_instance_that_cannot_be_replaced_fails_the_job_instead_of_every_later_record() {
    let h = Harness::new();
    std::fs::write(h.dir.path().join("main.txt"), "a\ntrap\nb\nc\n").unwrap();
    std::fs::write(
        h.dir.path().join("changes.jsonl"),
        "{\"put\":\"fail-init\",\"value\":\"x\"}\n",
    )
    .unwrap();
    let text = format!(
        r#"[job]
name = "j"
batch_size = 1

[sources.main]
kind = "file"
path = "main.txt"
format = "text-lines"

[sources.changes]
kind = "file"
path = "changes.jsonl"

[operators.probe]
kind = "broadcast"
input = "main"
broadcast = "changes"
bootstrap = true
component = {c:?}
on_error = "dead-letter"

[sinks.out]
kind = "file"
input = "probe"
path = "out.jsonl"

[sinks.dead]
kind = "file"
input = "probe.dead-letter"
path = "dead.jsonl"
"#,
        c = guests::BROADCAST_PROBE
    );
    let err = match h.run(load(&h, &text).unwrap()) {
        Err(e) => format!("{e:#}"),
        Ok(r) => panic!("the job went on without a working instance:\n{r}"),
    };
    assert!(err.contains("could not start after a failed call"), "{err}");
    assert!(err.contains("fail-init"), "{err}");
}

#[test]
fn validate_loads_every_component_and_names_what_is_wrong_with_it() {
    let h = Harness::new();
    let dir = h.dir.path();
    std::fs::write(dir.join("in.jsonl"), "{}\n").unwrap();
    let real = std::fs::read(guests::MISBEHAVE).unwrap();
    std::fs::write(dir.join("text.wasm"), "not wasm at all").unwrap();
    std::fs::write(dir.join("module.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(dir.join("truncated.wasm"), &real[..real.len() / 3]).unwrap();
    let cases = [
        ("text.wasm", "map", "it is not Wasm"),
        ("module.wasm", "map", "core Wasm module, not a component"),
        ("truncated.wasm", "map", "is not a valid Wasm component"),
        (
            guests::MISBEHAVE,
            "broadcast",
            "does not export the `weir:udf/broadcast-process` world",
        ),
        ("/dev/null", "map", "is not a regular file"),
    ];
    for (component, kind, says) in cases {
        let extra = if kind == "broadcast" {
            "broadcast = \"in2\"\n"
        } else {
            ""
        };
        let text = format!(
            "{SOURCE}\n[sources.in2]\nkind = \"file\"\npath = \"in.jsonl\"\n[operators.m]\nkind = {kind:?}\ninput = \"in\"\n{extra}component = {component:?}\n[sinks.out]\nkind = \"stdout\"\ninput = \"m\"\n{}",
            if kind == "map" {
                "[sinks.unused]\nkind = \"stdout\"\ninput = \"in2\"\n"
            } else {
                ""
            }
        );
        std::fs::write(dir.join("job.toml"), &text).unwrap();
        let out = std::process::Command::new(weir_tests::weir_bin())
            .args(["validate", "job.toml"])
            .current_dir(dir)
            .env("WEIR_CACHE_DIR", dir.join("cache"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{component}: {stderr}");
        assert!(stderr.contains(says), "{component}: {stderr}");
    }
}

#[test]
fn toml_mistakes_name_their_field_and_line() {
    let h = Harness::new();
    let dup = "[job]\nname = \"j\"\n\n[sources.in]\nkind = \"file\"\nkind = \"file\"\n";
    let p = problems(&h, dup);
    assert!(p.contains("job.toml:6:"), "{p}");
    assert!(p.contains("sources.in.kind"), "{p}");
    let deep = format!("[job]\nname = \"j\"\n{} = 1\n", vec!["a"; 300].join("."));
    let p = problems(&h, &deep);
    assert!(p.contains("job.toml:3:"), "{p}");
}

#[test]
fn a_second_run_of_a_job_is_refused_while_the_first_holds_its_state() {
    let h = Harness::new();
    let dir = h.dir.path();
    std::fs::write(dir.join("in.txt"), "a\n").unwrap();
    let text = format!(
        "[job]\nname = \"held\"\n[sources.in]\nkind = \"file\"\npath = \"in.txt\"\nformat = \"text-lines\"\nfollow = true\n[operators.m]\nkind = \"map\"\ninput = \"in\"\nkey_by = \"key\"\ncomponent = {:?}\n[sinks.out]\nkind = \"file\"\ninput = \"m\"\npath = \"out.jsonl\"\n",
        guests::KEYED_COUNTER
    );
    std::fs::write(dir.join("job.toml"), &text).unwrap();
    let first = std::process::Command::new(weir_tests::weir_bin())
        .args(["run", "job.toml"])
        .current_dir(dir)
        .env("WEIR_CACHE_DIR", dir.join("cache"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = dir.join(".weir/held/lock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::read_to_string(&lock).map_or(true, |s| s.trim().is_empty()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the first run never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let second = std::process::Command::new(weir_tests::weir_bin())
        .args(["run", "job.toml"])
        .current_dir(dir)
        .env("WEIR_CACHE_DIR", dir.join("cache"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    let mut first = first;
    let _ = first.kill();
    let _ = first.wait();
    assert!(!second.status.success());
    assert!(stderr.contains("another run of this job"), "{stderr}");
    assert!(
        stderr.contains(&first.id().to_string()),
        "names the pid: {stderr}"
    );
}

fn signal(child: &std::process::Child, name: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name}");
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "waited a minute for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn the_first_signal_stops_the_job_writing_what_is_complete_and_no_partial_window() {
    for sig in ["TERM", "INT"] {
        let h = Harness::new();
        let dir = h.dir.path();
        // Window [0, 10000) of key a completes (the watermark passes it); [10000, 20000)
        // is still open when the job is stopped.
        let events: Vec<String> = (0..15)
            .map(|i| format!("{{\"k\":\"a\",\"t\":{}}}", i * 1000))
            .collect();
        std::fs::write(dir.join("in.jsonl"), events.join("\n") + "\n").unwrap();
        let text = window_job(r#"{ type = "tumbling", size = "10s" }"#)
            .replace("path = \"in.jsonl\"", "path = \"in.jsonl\"\nfollow = true");
        std::fs::write(dir.join("job.toml"), text).unwrap();
        let child = std::process::Command::new(weir_tests::weir_bin())
            .args(["run", "job.toml"])
            .current_dir(dir)
            .env("WEIR_CACHE_DIR", dir.join("cache"))
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let part = dir.join(".out.jsonl.part");
        wait_for("the first window", || {
            std::fs::read_to_string(&part).is_ok_and(|s| s.lines().count() == 1)
        });
        signal(&child, sig);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "SIG{sig}: {stderr}");
        assert!(stderr.contains(&format!("SIG{sig}: stopping")), "{stderr}");
        assert!(
            stderr.contains("1 windows left open by the stop (not emitted)"),
            "{stderr}"
        );
        assert!(!part.exists(), "no part file is left");
        let written = std::fs::read_to_string(dir.join("out.jsonl")).unwrap();
        let lines: Vec<&str> = written.lines().collect();
        assert_eq!(lines.len(), 1, "only the complete window: {written}");
        assert!(lines[0].contains("\"start\":0"), "{written}");
    }
}

#[test]
fn a_second_signal_cancels_at_once_even_while_a_sink_is_blocked() {
    let h = Harness::new();
    let dir = h.dir.path();
    let lines: Vec<String> = (0..200_000).map(|i| format!("line {i}")).collect();
    std::fs::write(dir.join("in.txt"), lines.join("\n")).unwrap();
    let text = "[job]\nname = \"blocked\"\n[sources.in]\nkind = \"file\"\npath = \"in.txt\"\nformat = \"text-lines\"\n[sinks.console]\nkind = \"stdout\"\ninput = \"in\"\n[sinks.file]\nkind = \"file\"\ninput = \"in\"\npath = \"out.txt\"\n";
    std::fs::write(dir.join("job.toml"), text).unwrap();
    // Nobody reads the job's stdout: once the pipe is full, the stdout sink blocks.
    let mut child = std::process::Command::new(weir_tests::weir_bin())
        .args(["run", "job.toml"])
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the job is blocked, not done"
    );
    signal(&child, "INT");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let started = std::time::Instant::now();
    signal(&child, "INT");
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the second signal did not stop the process"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    assert!(
        !dir.join(".out.txt.part").exists(),
        "the part file is removed"
    );
    assert!(!dir.join("out.txt").exists(), "nothing was committed");
}

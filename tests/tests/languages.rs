//! Functions in JavaScript and Python: the example functions give exactly the Rust
//! functions' output on the same input; keyed state (value, list, map) and broadcast
//! state work from both languages; an exception reaches the dead-letter output and the
//! `fail` error with its message and stack or traceback; the sandbox grants them nothing;
//! and the default limits are enough for them.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};
use weir::manifest::{Job, load_str};
use weir::runtime::JobError;
use weir_tests::{Harness, canonical, guests, manifest, repo, ysb};

/// The three languages: name, the folder under `examples/functions/` of a language's
/// version of `function`, and the probe test guest.
const LANGUAGES: [(&str, &str, &str); 3] = [
    ("rust", "", guests::KEYED_COUNTER),
    ("js", "js/", guests::JS_PROBE),
    ("python", "python/", guests::PYTHON_PROBE),
];

/// One language's run of a job: the canonical lines of every sink, the dead-letter errors.
type Run = (BTreeMap<String, Vec<String>>, Vec<String>);

/// Runs an example job with its functions (`(operator, function)`) in each language;
/// returns, per language, the canonical lines of every sink (dead letters reduced to
/// their records) and the dead-letter errors.
fn run_in_every_language(job: &str, functions: &[(&str, &str)], parallelism: u32) -> Vec<Run> {
    let path = repo().join("examples/jobs").join(job).join("job.toml");
    LANGUAGES
        .iter()
        .map(|(lang, folder, _)| {
            let h = Harness::new();
            let mut overrides: Vec<String> = functions
                .iter()
                .map(|(operator, function)| {
                    let dir = repo().join(format!("examples/functions/{folder}{function}"));
                    format!(
                        "operators.{operator}.component={:?}",
                        dir.display().to_string()
                    )
                })
                .collect();
            overrides.push(format!("job.parallelism={parallelism}"));
            let overrides: Vec<&str> = overrides.iter().map(String::as_str).collect();
            let report = h
                .run(manifest(&path, &overrides))
                .unwrap_or_else(|e| panic!("{job} in {lang}: {e}"));
            report
                .check_accounts()
                .unwrap_or_else(|p| panic!("{job} in {lang}: {p:#?}"));
            let mut errors = Vec::new();
            let outputs = h
                .outputs()
                .into_iter()
                .map(|(sink, lines)| {
                    let lines: Vec<String> = if sink.contains("reject") || sink.contains("dead") {
                        lines
                            .iter()
                            .map(|l| {
                                let v: Value = serde_json::from_str(l).unwrap();
                                errors.push(v["error"].as_str().unwrap().to_owned());
                                v["record"].to_string()
                            })
                            .collect()
                    } else {
                        lines
                    };
                    (sink, canonical(&lines))
                })
                .collect();
            (outputs, errors)
        })
        .collect()
}

/// Asserts that every language gave the Rust function's output, and that there was some.
fn assert_same_output(job: &str, runs: &[Run]) {
    let (rust, _) = &runs[0];
    assert!(
        rust.values().any(|lines| !lines.is_empty()),
        "{job}: no output at all"
    );
    for ((lang, _, _), (outputs, _)) in LANGUAGES.iter().zip(runs).skip(1) {
        assert_eq!(
            outputs.keys().collect::<Vec<_>>(),
            rust.keys().collect::<Vec<_>>(),
            "{job} in {lang}"
        );
        for (sink, lines) in rust {
            assert_eq!(&outputs[sink], lines, "{job} in {lang}: sink {sink}");
        }
    }
}

#[test]
fn the_ad_filter_gives_the_rust_output_in_javascript_and_python() {
    let runs = run_in_every_language("ad-views-js", &[("views", "ad-filter")], 2);
    assert_same_output("ad-views", &runs);
    assert_eq!(
        runs[0].0["rejected"].len(),
        2,
        "the two lines that are not events"
    );
    // The errors say what went wrong, each language its own way, with where.
    for e in &runs[1].1 {
        assert!(e.starts_with("SyntaxError: JSON.parse"), "{e}");
        assert!(e.contains("stack:\n") && e.contains("map@"), "{e}");
    }
    for e in &runs[2].1 {
        assert!(e.starts_with("JSONDecodeError: "), "{e}");
        assert!(e.contains("Traceback") && e.contains("in map"), "{e}");
    }
}

#[test]
fn ysb_gives_the_rust_output_in_javascript_and_python() {
    let runs = run_in_every_language(
        "ysb-js",
        &[("campaign", "ysb-campaign"), ("count", "ysb-window")],
        2,
    );
    assert_same_output("ysb", &runs);
    // Against the counts computed without weir.
    let data = repo().join("examples/jobs/ysb/data");
    let want = ysb::expected_counts(&ysb::Data {
        events: data.join("events.jsonl"),
        campaigns: data.join("campaigns.jsonl"),
        dir: data,
    })
    .unwrap();
    for ((lang, _, _), (outputs, _)) in LANGUAGES.iter().zip(&runs) {
        assert_eq!(ysb::output_counts(&outputs["out"]), want, "{lang}");
    }
}

#[test]
fn goods_enrichment_gives_the_rust_output_and_table_in_javascript_and_python() {
    let runs = run_in_every_language("goods-enrich-js", &[("enrich", "goods-enrich")], 3);
    assert_same_output("goods-enrich", &runs);
    // The final table (bootstrap: every order sees it), independently of weir: 10 goods.
    let enriched: BTreeMap<String, Value> = runs[2].0["enriched"]
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["goods_id"].as_str().unwrap().to_owned(),
                v["goods_name"].clone(),
            )
        })
        .collect();
    assert_eq!(enriched["g03"], Value::Null, "g03 was removed");
    assert_eq!(enriched["g01"], json!("Green tea"));
    for lang in ["js", "python"] {
        let h = Harness::new();
        let path = repo().join(format!("examples/jobs/goods-enrich-{lang}/job.toml"));
        let report = h
            .run(manifest(&path, &["job.parallelism=3"]))
            .expect("the job runs");
        let states = &report.broadcast_states["enrich"];
        assert_eq!(states.len(), 3, "{lang}: one table per instance");
        assert!(
            states.iter().all(|s| *s == states[0] && s.1 == 10),
            "{lang}: {states:?}"
        );
    }
}

/// A job: lines `key:value` → `split` (Rust, keys each record) → `probe` (`component`,
/// keyed by record key, `config` and extra `operator` TOML) → out, dead letters → dead.
fn probe_job(h: &Harness, lines: &[String], component: &str, operator: &str, job: &str) -> Job {
    std::fs::write(h.dir.path().join("input.txt"), lines.join("\n") + "\n").unwrap();
    let text = format!(
        r#"
[job]
name = "languages"
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

[operators.probe]
kind = "map"
input = "split"
key_by = "key"
component = {component:?}
{operator}

[sinks.out]
kind = "file"
input = "probe"
path = "out.jsonl"
"#,
        split = guests::KEY_SPLIT,
    );
    load_str(&text, Path::new("job.toml"), h.dir.path(), &[])
        .unwrap_or_else(|d| panic!("{d}\n{text}"))
}

const DEAD: &str = "on_error = \"dead-letter\"\n[sinks.dead]\nkind = \"file\"\ninput = \"probe.dead-letter\"\npath = \"dead.jsonl\"";

/// `n` lines `k<i>:v<j>` over 11 keys (skewed) and 5 values, from a fixed sequence.
fn input(n: usize) -> Vec<String> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = ((x % 100) * (x % 100) / 100) * 11 / 100;
            format!("k{k}:v{}", (x >> 24) % 5)
        })
        .collect()
}

/// What the keyed counter emits for `lines`, computed without weir.
fn expected_counts(lines: &[String]) -> Vec<String> {
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
        let n = s.per_value.entry(v.to_owned()).or_default();
        *n += 1;
        let seen = *n;
        out.push(
            json!({"key": k, "count": s.count, "recent": s.recent,
                   "distinct": s.per_value.len(), "seen_this": seen})
            .to_string(),
        );
    }
    canonical(&out)
}

#[test]
fn keyed_value_list_and_map_state_work_from_javascript_and_python() {
    let lines = input(400);
    let want = expected_counts(&lines);
    for (lang, _, component) in LANGUAGES {
        for (parallelism, batch) in [(1, 1000), (3, 7)] {
            let h = Harness::new();
            let job = format!("parallelism = {parallelism}\nbatch_size = {batch}");
            let report = h
                .run(probe_job(&h, &lines, component, "", &job))
                .unwrap_or_else(|e| panic!("{lang}: {e}"));
            assert_eq!(report.records_out, lines.len() as u64, "{lang}");
            assert_eq!(
                canonical(&h.output("out")),
                want,
                "{lang} at parallelism {parallelism}, batches of {batch}"
            );
        }
    }
}

/// Runs the probe in `mode` over `lines` with dead letters; returns output and errors.
fn probe(component: &str, mode: &str, lines: &[&str], job: &str) -> (Vec<String>, Vec<Value>) {
    let h = Harness::new();
    let lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let operator = format!("config = {{ mode = {mode:?} }}\n{DEAD}");
    h.run(probe_job(&h, &lines, component, &operator, job))
        .unwrap_or_else(|e| panic!("{mode}: {e}"));
    let dead = h
        .output("dead")
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (h.output("out"), dead)
}

#[test]
fn an_exception_reaches_the_dead_letter_output_and_the_fail_error_with_its_stack() {
    let cases = [
        (
            guests::JS_PROBE,
            "RangeError: probe refuses bad-2",
            "explode@",
        ),
        (
            guests::PYTHON_PROBE,
            "LookupError: probe refuses bad-2",
            "in explode",
        ),
    ];
    for (component, message, frame) in cases {
        let (out, dead) = probe(component, "throw", &["a:ok-1", "b:bad-2", "a:ok-3"], "");
        assert_eq!(canonical(&out), ["ok-1", "ok-3"]);
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0]["record"]["value"], "bad-2");
        let error = dead[0]["error"].as_str().unwrap();
        assert!(error.starts_with(message), "{error}");
        assert!(
            error.contains(frame),
            "the stack names the function: {error}"
        );
        // Under `fail`, the job's error says the same.
        let h = Harness::new();
        let lines = ["a:ok".to_owned(), "b:bad-2".to_owned()];
        let operator = "config = { mode = \"throw\" }\non_error = \"fail\"";
        match h.run(probe_job(&h, &lines, component, operator, "")) {
            Err(JobError::Function(e)) => {
                let e = e.to_string();
                assert!(e.contains(message) && e.contains(frame), "{e}");
            }
            Err(other) => panic!("expected a function error, got {other}"),
            Ok(_) => panic!("the job should fail"),
        }
    }
}

#[test]
fn javascript_and_python_functions_cannot_read_files_or_open_sockets() {
    let cases = [
        (
            guests::JS_PROBE,
            "file",
            "Error: Calling `require` for \"fs\" in an environment that doesn't expose",
        ),
        (
            guests::JS_PROBE,
            "socket",
            "SandboxError: fetch is not available: a weir function has no network or file access",
        ),
        (
            guests::PYTHON_PROBE,
            "file",
            "FileNotFoundError: [Errno 44] No such file or directory: '/etc/hostname'",
        ),
        (
            guests::PYTHON_PROBE,
            "socket",
            "ModuleNotFoundError: No module named 'socket'",
        ),
    ];
    for (component, mode, named) in cases {
        let (out, dead) = probe(component, mode, &["a:x"], "");
        assert!(out.is_empty(), "{mode}: {out:?}");
        assert_eq!(dead.len(), 1, "{mode}");
        let error = dead[0]["error"].as_str().unwrap();
        assert!(error.starts_with(named), "{mode}: {error}");
    }
}

#[test]
fn the_default_limits_are_enough_for_javascript_and_python() {
    // One record per call, so each call's deadline is the default 100 ms of one record,
    // including an instance's first call; the default memory cap (256 MiB).
    for component in [guests::JS_PROBE, guests::PYTHON_PROBE] {
        let lines: Vec<String> = (0..50).map(|i| format!("k{}:v{i}", i % 4)).collect();
        let h = Harness::new();
        let report = h
            .run(probe_job(
                &h,
                &lines,
                component,
                "",
                "parallelism = 2\nbatch_size = 1",
            ))
            .unwrap_or_else(|e| panic!("{component}: {e}"));
        assert_eq!(report.records_out, 50);
        assert_eq!(canonical(&h.output("out")), expected_counts(&lines));
    }
}

#[test]
fn a_state_declared_with_another_type_tag_is_refused_with_both_declarations() {
    for component in [guests::JS_PROBE, guests::PYTHON_PROBE] {
        let h = Harness::new();
        let lines = ["a:x".to_owned(), "b:y".to_owned()];
        // Both instances declare `count` in the same job: instance 0 with the SDK's
        // default tag, instance 1 with the Rust SDK's tag of a u64. Whichever declares
        // first, the other is refused.
        let operator = "config = { subtask_1_tag = \"json:u64\" }";
        match h.run(probe_job(
            &h,
            &lines,
            component,
            operator,
            "parallelism = 2",
        )) {
            Err(e) => {
                let e = e.to_string();
                assert!(e.contains("state `count` exists as a value state"), "{e}");
                assert!(e.contains("value state of type `json`"), "{e}");
                assert!(e.contains("value state of type `json:u64`"), "{e}");
            }
            Ok(_) => panic!("{component}: two type tags for one state should be refused"),
        }
        // The same tag on every instance is accepted.
        let h = Harness::new();
        let operator = "config = { subtask_1_tag = \"json\" }";
        let report = h
            .run(probe_job(
                &h,
                &lines,
                component,
                operator,
                "parallelism = 2",
            ))
            .unwrap_or_else(|e| panic!("{component}: {e}"));
        assert_eq!(report.records_out, 2);
    }
}

#[test]
fn a_memory_cap_below_what_the_runtime_needs_is_named() {
    for (component, cap) in [(guests::JS_PROBE, "8MiB"), (guests::PYTHON_PROBE, "12MiB")] {
        let h = Harness::new();
        let lines = ["a:x".to_owned()];
        let operator = format!("limits = {{ memory = {cap:?} }}");
        match h.run(probe_job(&h, &lines, component, &operator, "")) {
            Err(e) => {
                let e = e.to_string();
                let cap = cap.replace("MiB", " MiB");
                assert!(
                    e.contains(&format!("more memory than its cap of {cap}")),
                    "{e}"
                );
            }
            Ok(_) => panic!("{component} should not start under {cap}"),
        }
    }
}

//! The sandbox and the error policies: a function that loops, eats memory, traps or
//! rejects a record fails that call only; the job fails naming the function and the
//! record, or sends the record to its dead-letter output and goes on.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use weir::manifest::{Job, load_str};
use weir::runtime::{JobError, start};
use weir_tests::{Harness, canonical, guests};

/// Writes `lines` as the input and loads a job reading them through one map operator
/// running `component`; `operator` is extra TOML for the operator table and `job` for
/// the `[job]` table. With `dead_letter`, the operator dead-letters into its own sink.
fn job(
    h: &Harness,
    lines: &[&str],
    component: &str,
    operator: &str,
    job: &str,
    dead_letter: bool,
) -> Job {
    std::fs::write(h.dir.path().join("input.txt"), lines.join("\n") + "\n").unwrap();
    let mut text = format!(
        r#"
[job]
name = "sandbox"
{job}

[sources.lines]
kind = "file"
path = "input.txt"
format = "text-lines"

[operators.misbehave]
kind = "map"
input = "lines"
component = {component:?}
{operator}

[sinks.out]
kind = "file"
input = "misbehave"
path = "out.jsonl"
"#
    );
    if dead_letter {
        text.push_str(
            r#"
[sinks.dead]
kind = "file"
input = "misbehave.dead-letter"
path = "dead.jsonl"
"#,
        );
    }
    load_str(&text, Path::new("job.toml"), h.dir.path(), &[])
        .unwrap_or_else(|d| panic!("{d}\n{text}"))
}

/// Runs `lines` through the misbehaving function under the `fail` policy and returns
/// the function error the job ends with.
fn fail_with(lines: &[&str], limits: &str) -> String {
    let h = Harness::new();
    let j = job(
        &h,
        lines,
        guests::MISBEHAVE,
        &format!("on_error = \"fail\"\nlimits = {limits}"),
        "batch_size = 4",
        false,
    );
    match h.run(j) {
        Err(JobError::Function(e)) => e.to_string(),
        Err(other) => panic!("expected a function error, got: {other}"),
        Ok(r) => panic!(
            "expected the job to fail, it wrote {} records",
            r.records_out
        ),
    }
}

/// The first 12 hex digits of the SHA-256 of a file, as error messages show them.
fn short_hash(path: &str) -> String {
    let digest = Sha256::digest(std::fs::read(path).unwrap());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_looping_record_misses_its_deadline_and_fails_the_job_naming_it() {
    let message = fail_with(&["a", "b", "loop", "c", "d"], "{ deadline = \"200ms\" }");
    assert!(message.contains("operator `misbehave`"), "{message}");
    assert!(message.contains(guests::MISBEHAVE), "{message}");
    assert!(
        message.contains(&format!("sha256:{}", short_hash(guests::MISBEHAVE))),
        "{message}"
    );
    assert!(message.contains("deadline of 200 ms"), "{message}");
    assert!(message.contains("value \"loop\""), "{message}");
}

#[test]
fn a_memory_hog_hits_the_memory_limit() {
    let message = fail_with(&["a", "hog", "b"], "{ memory = \"16MiB\" }");
    assert!(
        message.contains("exceeded its memory limit of 16 MiB"),
        "{message}"
    );
    assert!(message.contains("value \"hog\""), "{message}");
}

#[test]
fn a_trap_reports_the_panic_message() {
    let message = fail_with(&["a", "trap", "b"], "{}");
    assert!(message.contains("trapped"), "{message}");
    assert!(message.contains("the record asked for a trap"), "{message}");
    assert!(message.contains("value \"trap\""), "{message}");
}

#[test]
fn a_rejected_record_fails_the_job_naming_the_record() {
    let message = fail_with(&["a", "b", "reject", "c"], "{}");
    assert!(message.contains("operator `misbehave`"), "{message}");
    assert!(
        message.contains("the record asked to be rejected"),
        "{message}"
    );
    assert!(message.contains("value \"reject\""), "{message}");
}

#[test]
fn failing_records_go_to_the_dead_letter_output_and_the_rest_goes_through_once() {
    let mut lines: Vec<String> = (0..22).map(|i| format!("record-{i}")).collect();
    for (at, bad) in [(3, "loop"), (9, "hog"), (14, "trap"), (20, "reject")] {
        lines.insert(at, bad.to_owned());
    }
    let input: Vec<&str> = lines.iter().map(String::as_str).collect();
    let h = Harness::new();
    let j = job(
        &h,
        &input,
        guests::MISBEHAVE,
        "on_error = \"dead-letter\"\nlimits = { deadline = \"200ms\", memory = \"16MiB\" }",
        "batch_size = 4\nparallelism = 2",
        true,
    );
    let report = h.run(j).expect("the job runs");

    let ordinary: Vec<&str> = input
        .iter()
        .copied()
        .filter(|l| l.starts_with("record-"))
        .collect();
    let out = h.output("out");
    assert_eq!(canonical(&out), canonical(&ordinary));
    assert_eq!(report.records_in, input.len() as u64);
    assert_eq!(report.dead_letters, 4);
    assert_eq!(report.records_out, out.len() as u64);
    assert_eq!(report.records_in, report.records_out + report.dead_letters);

    let dead = h.output("dead");
    assert_eq!(dead.len(), 4, "{dead:#?}");
    let mut seen = Vec::new();
    for line in &dead {
        let v: serde_json::Value = serde_json::from_str(line).expect("dead letters are JSON");
        assert_eq!(v["operator"], "misbehave", "{line}");
        let function = v["function"].as_str().expect("the function is named");
        assert!(function.contains(guests::MISBEHAVE), "{line}");
        let value = v["record"]["value"].as_str().expect("the record's value");
        let error = v["error"].as_str().expect("the error");
        let expected = match value {
            "loop" => "deadline",
            "hog" => "memory limit",
            "trap" => "the record asked for a trap",
            "reject" => "the record asked to be rejected",
            other => panic!("an ordinary record was dead-lettered: {other}"),
        };
        assert!(error.contains(expected), "{line}");
        seen.push(value.to_owned());
    }
    seen.sort();
    assert_eq!(seen, ["hog", "loop", "reject", "trap"]);
}

#[test]
fn malformed_output_fails_its_call_and_the_instance_starts_afresh() {
    let h = Harness::new();
    let lines = ["a", "b", "bad", "c", "d"];
    let j = job(
        &h,
        &lines,
        guests::BAD_OUTPUT,
        "on_error = \"dead-letter\"",
        "batch_size = 5\nparallelism = 1",
        true,
    );
    let report = h.run(j).expect("the job runs");
    assert_eq!(report.dead_letters, 1);
    assert_eq!(report.records_in, report.records_out + report.dead_letters);

    // The batch's call failed as a whole, so it was halved: [a, b] and [bad, c, d],
    // which failed again and was halved into [bad] and [c, d]. Each failed call was
    // followed by a fresh instance, whose call count starts again: nothing the dropped
    // call did lingers in the function.
    assert_eq!(
        canonical(&h.output("out")),
        canonical(&["a:1", "b:1", "c:1", "d:1"])
    );
    assert_eq!(report.node("misbehave").unwrap().replays, 1);
    assert_eq!(report.node("misbehave").unwrap().reinstantiations, 3);
    let dead = h.output("dead");
    assert_eq!(dead.len(), 1, "{dead:#?}");
    let v: serde_json::Value = serde_json::from_str(&dead[0]).expect("dead letters are JSON");
    assert_eq!(v["record"]["value"], "bad", "{}", dead[0]);
    assert!(
        v["error"].as_str().expect("the error").contains("origin"),
        "{}",
        dead[0]
    );
}

#[test]
fn the_host_stays_healthy_after_functions_fail() {
    fail_with(&["loop"], "{ deadline = \"100ms\" }");
    fail_with(&["hog"], "{ memory = \"16MiB\" }");
    fail_with(&["trap"], "{}");
    let h = Harness::new();
    let lines = ["one", "two", "three", "four", "five"];
    let j = job(&h, &lines, guests::MISBEHAVE, "", "", false);
    let report = h.run(j).expect("a job after failed ones runs");
    assert_eq!(report.records_out, 5);
    assert_eq!(canonical(&h.output("out")), canonical(&lines));
}

#[test]
fn guest_output_on_stdout_and_stderr_does_not_disturb_the_job() {
    let h = Harness::new();
    let lines = ["a", "print", "b", "print", "c"];
    let j = job(&h, &lines, guests::MISBEHAVE, "", "batch_size = 2", false);
    let report = h.run(j).expect("the job runs");
    assert_eq!(report.records_out, 5);
    assert_eq!(canonical(&h.output("out")), canonical(&lines));
}

/// Starts a job, expecting it to fail before it runs; returns the error.
fn start_error(h: &Harness, mut j: Job) -> String {
    h.prepare(&mut j);
    match start(j, h.options()) {
        Ok(handle) => {
            let result = handle.wait();
            panic!(
                "the job started (and ended with {:?})",
                result.map(|r| r.records_out)
            )
        }
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_component_of_another_kind_is_refused_at_start() {
    let h = Harness::new();
    let j = job(&h, &["a"], guests::WINDOW_COLLECT, "", "", false);
    let message = start_error(&h, j);
    assert!(
        message.contains("does not export the `weir:udf/map` world"),
        "{message}"
    );
    assert!(message.contains("operator `misbehave`"), "{message}");
    assert!(message.contains(guests::WINDOW_COLLECT), "{message}");
}

#[test]
fn a_file_that_is_not_a_component_is_refused_naming_it() {
    let h = Harness::new();
    let junk: PathBuf = h.dir.path().join("junk.wasm");
    // Bytes from a fixed xorshift sequence: not a component, and the same every run.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(&junk, bytes).unwrap();
    let j = job(&h, &["a"], junk.to_str().unwrap(), "", "", false);
    let message = start_error(&h, j);
    assert!(
        message.contains(&format!(
            "{} cannot be loaded: it is not Wasm",
            junk.display()
        )),
        "{message}"
    );
    assert!(message.contains("operator `misbehave`"), "{message}");
}

//! Canary swaps: a new version that fails on a share of its records above the canary's
//! limit is rolled back to the swap's checkpoint, and the committed output is the old
//! version's alone, every record once; one that does well is applied.

mod swapping;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use swapping::*;
use weir::runtime::start;
use weir::runtime::swap::{Canary, SwapRequest};
use weir_tests::Harness;

const ALL: u64 = 6_000;

/// The answer, the committed output, the swap log's last entry, and the committed dead
/// letters.
type Swapped = (Result<String, String>, Vec<Value>, String, usize);

/// Runs the counting job (failed records dead-lettered, or failing the job), swaps in
/// `config` as a canary of 500 records allowing 5% failures while more input comes, and
/// returns what it came to.
fn canary_swap(config: &str, dead_letter: bool) -> Swapped {
    let h = Harness::new();
    let input = h.dir.path().join("in.txt");
    append(&input, 0, 3_000);
    let mut text = manifest(2, true);
    if dead_letter {
        text = text.replace(
            "config = { tag = \"v1\" }",
            "config = { tag = \"v1\" }\non_error = \"dead-letter\"",
        );
        text.push_str(
            "\n[sinks.dead]\nkind = \"file\"\ninput = \"count.dead-letter\"\npath = \"dead\"\n",
        );
        assert!(text.contains("on_error"));
    }
    let handle = start(load(&h, &text), h.options()).unwrap();
    wait_for("the first outputs", || {
        handle.metrics().node("count").records_out >= 1_000
    });
    // The rest of the input comes while the canary is watched.
    let feeder = {
        let input = input.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            append(&input, 3_000, ALL);
        })
    };
    let answer = handle
        .swap(SwapRequest {
            canary: Some(Canary {
                records: 500,
                max_error_rate: 0.05,
                time_ms: None,
            }),
            drop_states: Vec::new(),
            ..counter_with(config)
        })
        .map(|r| r.outcome)
        .map_err(|e| format!("{e:#}"));
    feeder.join().unwrap();
    let dir = h.dir.path().to_owned();
    wait_for("every record committed", || {
        outputs_in(&dir).len() as u64 >= ALL
    });
    handle.drain();
    let report = handle.wait().unwrap();
    report.check_accounts().unwrap();
    let log = weir::runtime::swap::read_log(&Path::new(&dir).join("state"));
    let last = log.last().expect("the swap is logged").outcome.clone();
    let dead = weir_tests::read_lines(&dir.join("dead")).len();
    (answer, outputs_in(&dir), last, dead)
}

#[test]
fn a_canary_failing_on_a_tenth_of_its_records_rolls_back_and_commits_only_the_old_output() {
    let (answer, out, logged, dead) = canary_swap(r#"{"tag":"v2","fail_every":10}"#, true);
    let why = answer.expect_err("the swap is rolled back");
    assert!(why.contains("failed the canary"), "{why}");
    assert!(why.contains("records failed"), "{why}");
    assert!(logged.starts_with("rolled back to checkpoint"), "{logged}");
    // Every record once, counts carried on, and none by the failed version: neither its
    // outputs nor its dead letters were committed.
    assert_eq!(switch_point(&out, ALL, "v1"), None);
    assert_eq!(dead, 0, "dead letters of the failed version committed");
}

#[test]
fn a_canary_whose_error_fails_a_task_rolls_back_instead_of_failing_the_job() {
    // Errors fail the job here, and its restart strategy is `none`: the rollback is not
    // a restart.
    let (answer, out, logged, _) = canary_swap(r#"{"tag":"v2","fail_every":10}"#, false);
    let why = answer.expect_err("the swap is rolled back");
    assert!(why.contains("a task failed"), "{why}");
    assert!(why.contains("fails (fail_every)"), "{why}");
    assert!(logged.starts_with("rolled back to checkpoint"), "{logged}");
    assert_eq!(switch_point(&out, ALL, "v1"), None);
}

#[test]
fn a_canary_that_does_well_is_applied_at_its_barrier() {
    let (answer, out, logged, _) = canary_swap(r#"{"tag":"v2"}"#, false);
    let outcome = answer.expect("the swap is applied");
    assert!(
        outcome.starts_with("applied (canary passed: 0 of"),
        "{outcome}"
    );
    assert_eq!(logged, outcome);
    let switch = switch_point(&out, ALL, "v1").expect("the new version's output");
    assert!(switch > 0, "switched at {switch}");
}

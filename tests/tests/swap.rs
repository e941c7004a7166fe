//! Swapping a running operator's function: every record processed by exactly one version,
//! the switch at one barrier on every instance, state carried over, and refusals that
//! leave the old version running.

mod swapping;

use serde_json::Value;
use swapping::*;
use weir::runtime::start;
use weir::runtime::swap::{ComponentSource, SwapRequest};
use weir_tests::{Harness, guests};

fn outputs(h: &Harness) -> Vec<Value> {
    outputs_in(h.dir.path())
}

fn run_swap(parallelism: u32, checkpoints: bool) {
    let h = Harness::new();
    let input = h.dir.path().join("in.txt");
    append(&input, 0, 3_000);
    let handle = start(load(&h, &manifest(parallelism, checkpoints)), h.options()).unwrap();
    wait_for("the first outputs", || {
        handle.metrics().node("count").records_out >= 1_000
    });
    let record = handle
        .swap(swap_request(
            ComponentSource::Path(guests::VERSIONED_COUNTER.into()),
            "v2",
            false,
        ))
        .expect("the swap is applied");
    assert_eq!(record.outcome, "applied");
    assert_eq!(record.old, record.new, "same component, another config");
    append(&input, 3_000, 6_000);
    wait_for("every record", || {
        handle.metrics().node("count").records_out >= 6_000
    });
    handle.drain();
    let report = handle.wait().unwrap();
    report.check_accounts().unwrap();
    let switch = check_one_switch(&outputs(&h), 6_000);
    assert!(switch > 0 && switch <= 3_000, "switched at {switch}");
    let log = weir::runtime::swap::read_log(&h.dir.path().join("state"));
    assert_eq!(log.last().unwrap().outcome, "applied");
    assert!(log.last().unwrap().pause_ms.is_some());
}

#[test]
fn a_swap_under_load_switches_every_instance_at_one_barrier_and_keeps_state() {
    run_swap(2, false);
}

#[test]
fn a_swap_with_checkpoints_is_a_checkpoint_and_keeps_exactly_once_output() {
    run_swap(2, true);
}

#[test]
fn a_swap_that_cannot_start_is_refused_and_the_old_version_keeps_running() {
    let h = Harness::new();
    let handle = running(&h, 500, false);
    let junk = h.dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not a component").unwrap();
    let cases: Vec<(SwapRequest, &str)> = vec![
        (
            swap_request(ComponentSource::Path(junk.clone()), "v2", false),
            "it is not Wasm",
        ),
        (
            swap_request(
                ComponentSource::Bytes(b"\0asm\x01\0\0\0".to_vec()),
                "v2",
                false,
            ),
            "core Wasm module",
        ),
        (
            swap_request(
                ComponentSource::Path(guests::WINDOW_COLLECT.into()),
                "v2",
                false,
            ),
            "does not export the `weir:udf/map` world",
        ),
        (
            counter_with("{\"tag\":\"v2\",\"fail_init\":true}"),
            "init refuses to start",
        ),
        (
            swap_request(
                ComponentSource::Path(guests::INACTIVITY_ALERT.into()),
                "v2",
                false,
            ),
            "the running version has no timers (world `timed-map`) and the new one does: the operator runs without a timer service",
        ),
        (
            counter_with("{\"tag\":\"v2\",\"count_as_map\":true}"),
            "state `count` exists as a value state of type `json:u64`; this function declares it as a map state",
        ),
        (
            counter_with("{\"tag\":\"v2\",\"count_type\":\"json:i64\"}"),
            "exists as a value state of type `json:u64`; this function declares it as a value state of type `json:i64`",
        ),
        (
            SwapRequest {
                operator: "nope".into(),
                ..swap_request(
                    ComponentSource::Path(guests::VERSIONED_COUNTER.into()),
                    "v2",
                    false,
                )
            },
            "no operator `nope`",
        ),
    ];
    for (req, says) in cases {
        let err = handle.swap(req).expect_err("refused").to_string();
        assert!(err.contains(says), "{says}: {err}");
    }
    // A dry run checks and changes nothing.
    let checked = handle
        .swap(swap_request(
            ComponentSource::Path(guests::VERSIONED_COUNTER.into()),
            "v2",
            true,
        ))
        .unwrap();
    assert!(
        checked.outcome.starts_with("checked"),
        "{}",
        checked.outcome
    );
    append(&h.dir.path().join("in.txt"), 500, 1_000);
    wait_for("the rest", || {
        handle.metrics().node("count").records_out >= 1_000
    });
    handle.drain();
    handle.wait().unwrap();
    let out = outputs(&h);
    assert_eq!(out.len(), 1_000);
    assert!(
        out.iter().all(|o| o["tag"] == "v1"),
        "the old version ran throughout"
    );
    let log = weir::runtime::swap::read_log(&h.dir.path().join("state"));
    assert_eq!(log.len(), 9);
    assert_eq!(
        log.iter()
            .filter(|r| r.outcome.starts_with("refused"))
            .count(),
        8
    );
    // The log names what was refused: the first refusal is the junk file.
    assert_eq!(log[0].new, sha256_of(junk.to_str().unwrap()));
}

#[test]
fn a_component_of_the_previous_interface_version_runs_and_swaps_to_the_current_one() {
    // `legacy-counter` is built against weir:udf@0.1.0 (tests/wit-0.1.0), without the SDK.
    let h = Harness::new();
    let input = h.dir.path().join("in.txt");
    append(&input, 0, 2_000);
    let text = manifest_with(2, true, guests::LEGACY_COUNTER)
        .replace(
            "config = { tag = \"v1\" }",
            "config = { tag = \"v1\" }\nprovenance = true",
        )
        .replace("path = \"out\"", "path = \"out\"\nformat = \"envelope\"");
    let handle = start(load(&h, &text), h.options()).unwrap();
    wait_for("the first outputs", || {
        handle.metrics().node("count").records_out >= 1_000
    });
    // The current SDK's version declares `count` with a type tag; the legacy one gave
    // none, so the state is taken over (and keeps counting).
    let record = handle
        .swap(swap_request(
            ComponentSource::Path(guests::VERSIONED_COUNTER.into()),
            "v2",
            false,
        ))
        .expect("the swap is applied");
    assert_ne!(record.old, record.new);
    append(&input, 2_000, 4_000);
    wait_for("every record", || {
        handle.metrics().node("count").records_out >= 4_000
    });
    handle.drain();
    handle.wait().unwrap().check_accounts().unwrap();
    let out = outputs(&h);
    let switch = check_switch(&out, 4_000, "legacy");
    assert!(switch > 0 && switch <= 2_000, "switched at {switch}");
    // Each record names the version that made it, by the content hash of its component.
    let legacy = format!("count@{}", sha256_of(guests::LEGACY_COUNTER));
    let current = format!("count@{}", sha256_of(guests::VERSIONED_COUNTER));
    for o in &out {
        let expected = if o["tag"] == "legacy" {
            &legacy
        } else {
            &current
        };
        assert_eq!(o["made_by"].as_str(), Some(expected.as_str()), "{o}");
    }
}

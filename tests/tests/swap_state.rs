//! Swaps that change an operator's state: a new version that stores a state as another
//! type migrates its values at the switch (counts carry on, also after a restore from a
//! checkpoint taken after the swap), and `drop_states` starts a state afresh; what no
//! migration or drop covers is refused, and so is a canary that would change state.

mod swapping;

use serde_json::Value;
use swapping::*;
use weir::runtime::start;
use weir::runtime::swap::{Canary, ComponentSource, SwapRequest};
use weir_tests::{Harness, guests};

fn to_migrating() -> SwapRequest {
    swap_request(
        ComponentSource::Path(guests::MIGRATING_COUNTER.into()),
        "v2",
        false,
    )
}

#[test]
fn a_new_version_migrates_the_state_it_stores_as_another_type() {
    let h = Harness::new();
    let input = h.dir.path().join("in.txt");
    let handle = running(&h, 2_000, true);
    // Without the migration, the new tag is a conflict (the plain counter with it).
    let refused = handle
        .swap(counter_with(
            "{\"tag\":\"v2\",\"count_type\":\"json:counter/v2\"}",
        ))
        .expect_err("refused");
    assert!(
        refused.to_string().contains("of type `json:u64`"),
        "{refused}"
    );
    let dry = handle
        .swap(SwapRequest {
            dry_run: true,
            ..to_migrating()
        })
        .expect("the check passes");
    assert_eq!(
        dry.states,
        vec![
            "state `count` is migrated from a value state of type `json:u64` to a value state of type `json:counter/v2`"
        ]
    );
    let applied = handle.swap(to_migrating()).expect("the swap is applied");
    assert_eq!(applied.outcome, "applied");
    assert_eq!(applied.states, dry.states);
    append(&input, 2_000, 4_000);
    wait_for("every record", || {
        handle.metrics().node("count").records_out >= 4_000
    });
    // Stop at a savepoint and go on in a new run: it restores the new version with the
    // migrated state.
    handle.stop();
    let first = handle.wait().unwrap();
    first.check_accounts().unwrap();
    assert!(first.stopped);
    append(&input, 4_000, 5_000);
    let again = start(load(&h, &manifest(2, true)), h.options()).unwrap();
    // (The counts go on from the savepoint's.)
    wait_for("the records after the restore", || {
        again.metrics().node("count").records_out >= 5_000
    });
    again.drain();
    let report = again.wait().unwrap();
    report.check_accounts().unwrap();
    assert_eq!(
        report.resumed.map(|r| r.1),
        Some(4_000),
        "resumed at the savepoint"
    );
    // Every record once, counts continuing per key through the migration and the
    // restore, v1 before the switch and v2 from it on.
    let out = outputs_in(h.dir.path());
    let switch = check_one_switch(&out, 5_000);
    assert!(switch <= 2_000, "switched at {switch}");
}

#[test]
fn a_dropped_state_starts_afresh_and_unknown_states_cannot_be_dropped() {
    let h = Harness::new();
    let input = h.dir.path().join("in.txt");
    let handle = running(&h, 1_000, true);
    let drop = |names: &[&str]| SwapRequest {
        drop_states: names.iter().map(|s| s.to_string()).collect(),
        // Another type: without the drop, a conflict.
        ..counter_with("{\"tag\":\"v2\",\"count_type\":\"json:other\"}")
    };
    let refused = handle
        .swap(SwapRequest {
            drop_states: vec!["nope".into()],
            ..counter_with("{\"tag\":\"v2\"}")
        })
        .expect_err("refused");
    assert!(
        refused.to_string().contains(
            "cannot drop state `nope`: the operator has no such state (its states: count)"
        ),
        "{refused}"
    );
    let canary = handle
        .swap(SwapRequest {
            canary: Some(Canary::of(100)),
            ..drop(&["count"])
        })
        .expect_err("refused");
    assert!(
        canary
            .to_string()
            .contains("a canary swap cannot change state (state `count` (a value state of type `json:u64`) is dropped)"),
        "{canary}"
    );
    let applied = handle.swap(drop(&["count"])).expect("applied");
    assert_eq!(
        applied.states,
        vec!["state `count` (a value state of type `json:u64`) is dropped"]
    );
    append(&input, 1_000, 3_000);
    wait_for("every record", || {
        handle.metrics().node("count").records_out >= 3_000
    });
    handle.drain();
    handle.wait().unwrap().check_accounts().unwrap();
    let out = outputs_in(h.dir.path());
    assert_eq!(out.len(), 3_000);
    // Counted from zero per key by each version: v1 over its records, v2 afresh over
    // its own (one switch point, as the outputs' order by sequence number shows).
    let mut by_seq: Vec<&Value> = out.iter().collect();
    by_seq.sort_by_key(|o| o["seq"].as_u64().unwrap());
    let mut counts: std::collections::BTreeMap<(String, String), u64> = Default::default();
    let mut seen_v2 = false;
    for o in by_seq {
        let tag = o["tag"].as_str().unwrap().to_owned();
        if tag == "v2" {
            seen_v2 = true;
        } else {
            assert!(!seen_v2, "a v1 record after the switch: {o}");
        }
        let c = counts
            .entry((tag, o["key"].as_str().unwrap().to_owned()))
            .or_default();
        *c += 1;
        assert_eq!(o["count"].as_u64().unwrap(), *c, "{o}");
    }
    assert!(seen_v2);
}

/// The README's walkthrough: the click-count example swapped to its version 2, which
/// stores each tally as another type and migrates version 1's.
#[test]
fn the_click_count_example_migrates_its_tallies_to_version_2() {
    let h = Harness::new();
    let clicks = h.dir.path().join("clicks.jsonl");
    let write = |from: u64, to: u64| {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&clicks)
            .unwrap();
        for i in from..to {
            writeln!(f, "{{\"user\":\"u{}\",\"n\":{i}}}", i % 7).unwrap();
        }
    };
    write(0, 700);
    let mut job = weir_tests::manifest(
        weir_tests::repo().join("examples/jobs/click-count/job.toml"),
        &[
            &format!("sources.clicks.path={}", clicks.display()),
            "sources.clicks.follow=true",
        ],
    );
    h.prepare(&mut job);
    let handle = start(job, h.options()).unwrap();
    wait_for("version 1's counts", || {
        handle.metrics().node("count").records_out >= 700
    });
    let applied = handle
        .swap(SwapRequest {
            operator: "count".into(),
            config: None,
            ..swap_request(
                ComponentSource::Path(guests::CLICK_COUNT_V2.into()),
                "",
                false,
            )
        })
        .expect("the swap is applied");
    assert_eq!(
        applied.states,
        vec![
            "state `tally` is migrated from a value state of type `json:click_count::Tally` to a value state of type `json:click_count_v2::Count`"
        ]
    );
    write(700, 1_400);
    wait_for("version 2's counts", || {
        handle.metrics().node("count").records_out >= 1_400
    });
    handle.drain();
    handle.wait().unwrap().check_accounts().unwrap();
    // Per user: every click counted once, version 1's then version 2's, the count going
    // on through the migration and `since_v2` counting from the switch.
    let mut by_user: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for line in h.output("out") {
        let envelope: Value = serde_json::from_str(&line).unwrap();
        let v: Value = serde_json::from_str(envelope["value"].as_str().unwrap()).unwrap();
        by_user
            .entry(v["user"].as_str().unwrap().to_owned())
            .or_default()
            .push(v);
    }
    assert_eq!(by_user.len(), 7);
    for (user, mut counts) in by_user {
        counts.sort_by_key(|v| v["clicks"].as_u64().unwrap());
        assert_eq!(counts.len(), 200, "{user}");
        let mut at_switch = None;
        for (i, v) in counts.iter().enumerate() {
            assert_eq!(v["clicks"].as_u64().unwrap(), i as u64 + 1, "{user}: {v}");
            match (v["version"].as_str().unwrap(), at_switch) {
                ("v1", None) => {}
                ("v2", None) => at_switch = Some(i as u64),
                ("v2", Some(s)) => {
                    assert_eq!(v["since_v2"].as_u64().unwrap(), i as u64 - s + 1, "{v}")
                }
                (other, _) => panic!("{user}: {other} after the switch: {v}"),
            }
        }
        assert!(at_switch.is_some_and(|s| s >= 100), "{user}: {at_switch:?}");
    }
}

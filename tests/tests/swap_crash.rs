//! A `weir` process killed with SIGKILL in the middle of a swap (one that migrates state
//! too) recovers to one consistent version: the swap is in the restored checkpoint (every
//! record from its barrier on went to the new version, with the state it left) or it is
//! not (every record went to the old one, with the state as it was), and the committed
//! output has every record exactly once with counts carried over.

mod swapping;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use swapping::*;
use weir_tests::{guests, weir_bin};

const FIRST: u64 = 2_000;
const ALL: u64 = 4_000;

fn weir(dir: &Path) -> Command {
    let mut c = Command::new(weir_bin());
    c.current_dir(dir)
        .env("WEIR_CACHE_DIR", dir.join("component-cache"))
        .env("WEIR_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn start(dir: &Path, crash_at: Option<&str>) -> Child {
    let mut c = weir(dir);
    c.arg("run").arg("job.toml");
    if let Some(point) = crash_at {
        c.env("WEIR_CRASH_AT", point);
    }
    c.spawn().expect("starting weir")
}

fn committed(dir: &Path) -> usize {
    weir_tests::read_lines(&dir.join("out")).len()
}

/// Kills a run at crash point `point` during a swap from v1 to v2, runs the job again,
/// feeds it the rest of the input, stops it at a savepoint and returns the first input
/// that went to v2, if any did.
fn crash_during_swap(point: &str) -> Option<u64> {
    crash_during_swap_to(point, guests::VERSIONED_COUNTER)
}

/// As [`crash_during_swap`], with `v2` as the new version.
fn crash_during_swap_to(point: &str, v2: &str) -> Option<u64> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("job.toml"),
        manifest_with(2, true, guests::VERSIONED_COUNTER),
    )
    .unwrap();
    append(&dir.join("in.txt"), 0, FIRST);
    let mut first = start(dir, Some(point));
    wait_for("the first committed outputs", || committed(dir) >= 500);
    let swap = weir(dir)
        .args(["swap", "job.toml", "count", v2])
        .args(["--config", r#"{"tag":"v2"}"#])
        .output()
        .expect("running weir swap");
    let status = first.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "the run was to die at `{point}`: {status:?}; weir swap said {}",
        String::from_utf8_lossy(&swap.stderr)
    );

    let second = start(dir, None);
    append(&dir.join("in.txt"), FIRST, ALL);
    wait_for("every record committed", || committed(dir) >= ALL as usize);
    // SIGTERM stops the job at a savepoint.
    unsafe {
        libc::kill(second.id() as i32, libc::SIGTERM);
    }
    let out = second.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the second run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    switch_point(&outputs_in(dir), ALL, "v1")
}

#[test]
fn a_kill_before_the_swaps_checkpoint_completes_goes_on_with_the_old_version() {
    // A task switched and died before the swap's checkpoint completed: the job restores
    // the checkpoint before it, which knows nothing of the swap.
    let switch = crash_during_swap("swap-switched");
    assert_eq!(switch, None, "no output of the new version was committed");
}

#[test]
fn a_kill_after_the_swaps_checkpoint_is_written_goes_on_with_the_new_version() {
    // The swap's checkpoint is complete on disk, its completion not yet announced: the job
    // restores it and runs the new version from its barrier on.
    let switch = crash_during_swap("swap-metadata-written").expect("the swap was restored");
    assert!(switch > 0 && switch <= FIRST, "switched at {switch}");
}

#[test]
fn a_kill_before_a_migrating_swaps_checkpoint_completes_restores_the_old_state() {
    // The task had migrated its state when it died: the checkpoint before the swap holds
    // the state as the old version wrote it, and the old version goes on with it (the
    // counts, checked per key, carry on).
    let switch = crash_during_swap_to("swap-switched", guests::MIGRATING_COUNTER);
    assert_eq!(switch, None, "no output of the new version was committed");
}

#[test]
fn a_kill_after_a_migrating_swaps_checkpoint_is_written_restores_the_migrated_state() {
    // The swap's checkpoint holds the migrated state and the new declarations: the new
    // version goes on with it.
    let switch = crash_during_swap_to("swap-metadata-written", guests::MIGRATING_COUNTER)
        .expect("the swap was restored");
    assert!(switch > 0 && switch <= FIRST, "switched at {switch}");
}

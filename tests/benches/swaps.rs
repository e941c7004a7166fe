//! What a swap costs a running job.
//!
//! YSB (file join, parallelism 2) runs again and again on the same data; during each run
//! the window operator (`count`, the stateful one) is swapped to a new version back to
//! back until the run ends, in as many runs as it takes to apply `--swaps` swaps (default
//! 50) and to have `--runs` runs of each kind. Printed: the pause of a swap (the longest
//! time a task held records back for it: from the barrier's first copy reaching the task,
//! alignment included, to the switch and its acknowledgement, after which the task's next
//! record goes to the new version) as p50, p99 and max; the time from request to
//! applied; and the throughput of runs with swaps against runs without (medians). Every run's output is checked against the answer
//! computed without weir: a swap loses and repeats nothing.
//!
//!   cargo bench -p weir-tests --bench swaps -- --data DIR [--swaps 50] [--runs 3]

use std::path::{Path, PathBuf};
use std::time::Instant;

use weir::runtime::start;
use weir::runtime::swap::{ComponentSource, SwapRequest};
use weir_tests::bench::{arg, job, median, rate};
use weir_tests::{Harness, guests, read_lines, ysb};

/// Views per (campaign, window).
type Counts = std::collections::BTreeMap<(String, i64), u64>;

/// One run: its throughput, and the pause and latency (ms) of each swap applied in it.
struct Run {
    rate: f64,
    pauses: Vec<f64>,
    latencies: Vec<f64>,
}

fn ysb_run(data: &ysb::Data, want: &Counts, dir: &Path, swaps: usize) -> Run {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let text = ysb::bench_manifest(data, dir, "");
    let mut j = job(&text, dir, &[]);
    j.state_dir = dir.join("state");
    j.checkpoint_dir = dir.join("state/checkpoints");
    let started = Instant::now();
    let handle = start(j, Harness::new().options()).expect("the job starts");
    let mut pauses = Vec::new();
    let mut latencies = Vec::new();
    while pauses.len() < swaps && !handle.is_finished() {
        let asked = Instant::now();
        let answer = handle.swap(SwapRequest {
            operator: "count".into(),
            component: ComponentSource::Path(PathBuf::from(guests::YSB_WINDOW)),
            config: None,
            dry_run: false,
            requested_by: "bench".into(),
            canary: None,
            drop_states: Vec::new(),
        });
        match answer {
            Ok(r) if r.outcome == "applied" => {
                latencies.push(asked.elapsed().as_secs_f64() * 1e3);
                pauses.push(r.pause_ms.expect("an applied swap's pause"));
            }
            Ok(r) => panic!("a swap was not applied: {}", r.outcome),
            // The job ended first.
            Err(_) if handle.is_finished() => break,
            Err(e) => {
                eprintln!("swap: {e:#}");
                break;
            }
        }
    }
    let report = handle.wait().expect("the job runs");
    let secs = started.elapsed().as_secs_f64();
    let got = ysb::output_counts(&read_lines(&dir.join("out")));
    assert_eq!(&got, want, "the output is the expected counts");
    Run {
        rate: report.records_in as f64 / secs,
        pauses,
        latencies,
    }
}

/// The `p`-th percentile (nearest rank) of `v`.
fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

fn main() {
    let swaps: usize = arg("--swaps").map_or(50, |v| v.parse().expect("--swaps N"));
    let runs: usize = arg("--runs").map_or(3, |v| v.parse().expect("--runs N"));
    let h = Harness::new();
    let data = match arg("--data") {
        Some(d) => ysb::existing(Path::new(&d)),
        None => ysb::generate(
            &h.dir.path().join("data"),
            &ysb::Spec {
                events: 5_000_000,
                shards: 2,
                ..ysb::Spec::default()
            },
        )
        .expect("generating events"),
    };
    let out = h.dir.path().join("run");
    // The answer every run's output is checked against, computed without weir.
    let want = ysb::expected_counts(&data).expect("the expected counts");
    // A run to warm the caches (the component's compilation included).
    ysb_run(&data, &want, &out, 1);
    let mut plain = Vec::new();
    let mut swapping = Vec::new();
    let mut pauses = Vec::new();
    let mut latencies = Vec::new();
    let mut swap_runs = 0;
    while pauses.len() < swaps || plain.len() < runs || swapping.len() < runs {
        if plain.len() < runs.max(swapping.len()) {
            plain.push(ysb_run(&data, &want, &out, 0).rate);
        }
        // Swaps back to back for the whole run (so its throughput is that of a job being
        // swapped all the time), in as many runs as it takes to have `swaps` of them.
        let r = ysb_run(&data, &want, &out, usize::MAX);
        swap_runs += 1;
        if !r.pauses.is_empty() {
            swapping.push(r.rate);
        }
        pauses.extend(r.pauses);
        latencies.extend(r.latencies);
        assert!(
            swap_runs < 20 * swaps,
            "runs end before any swap is applied"
        );
    }
    let n = pauses.len();
    println!(
        "YSB on {}, parallelism 2: {n} swaps of the window operator in {swap_runs} runs (output checked every run)",
        data.dir.display()
    );
    println!(
        "  pause of a swap (ms):          p50 {:.2}  p99 {:.2}  max {:.2}",
        percentile(&mut pauses, 50.0),
        percentile(&mut pauses, 99.0),
        percentile(&mut pauses, 100.0)
    );
    println!(
        "  request to applied (ms):       p50 {:.1}  p99 {:.1}",
        percentile(&mut latencies, 50.0),
        percentile(&mut latencies, 99.0)
    );
    let (p, s) = (median(&mut plain), median(&mut swapping));
    println!(
        "  throughput without swaps {}, with swaps back to back {} ({:+.1}%), medians of {} and {} runs",
        rate(p),
        rate(s),
        (s / p - 1.0) * 100.0,
        plain.len(),
        swapping.len()
    );
}

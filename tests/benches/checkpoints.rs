//! What checkpoints cost.
//!
//! 1. YSB (file join, parallelism 2) without checkpoints, every 1 s and every 100 ms, in
//!    alternating runs; medians, the overhead ratio, and every run's output checked
//!    against the answer computed without weir. With `--flink SCRIPT`, Flink's job with
//!    RocksDB incremental checkpoints every 1 s on the same data.
//! 2. A keyed job holding `--keys` keys (default 1,000,000) in window state: the duration
//!    of a checkpoint (the longest synchronous pause of a task, and in all), its size on
//!    disk, and the time to restore it.
//!
//!   cargo bench -p weir-tests --bench checkpoints -- --data DIR [--runs 3] [--keys N]
//!       [--flink ../shared/bench/flink/run.sh] [--only keyed]

use std::path::Path;
use std::time::{Duration, Instant};

use weir::runtime::{RunOptions, StartFrom, start};
use weir_tests::bench::{arg, job, median, rate};
use weir_tests::crash::write_lines;
use weir_tests::{Harness, guests, read_lines, ysb};

fn ysb_run(data: &ysb::Data, dir: &Path, interval: Option<u64>) -> f64 {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let checkpoint = match interval {
        Some(ms) => format!("\n[job.checkpoint]\ninterval = {ms}\n"),
        None => String::new(),
    };
    let text = ysb::bench_manifest(data, dir, &checkpoint);
    let mut j = job(&text, dir, &[]);
    j.state_dir = dir.join("state");
    j.checkpoint_dir = dir.join("state/checkpoints");
    let started = Instant::now();
    let report = weir::runtime::run(j, Harness::new().options()).expect("the job runs");
    let secs = started.elapsed().as_secs_f64();
    let got = ysb::output_counts(&read_lines(&dir.join("out")));
    let want = ysb::expected_counts(data).expect("the expected counts");
    assert_eq!(got, want, "the output is the expected counts");
    report.records_in as f64 / secs
}

fn flink(script: &str, data: &Path, out: &Path, checkpoint_ms: u64) -> f64 {
    let o = std::process::Command::new("bash")
        .arg(script)
        .arg(data)
        .arg(out.join("flink.out"))
        .arg("2")
        .arg(checkpoint_ms.to_string())
        .output()
        .expect("running the Flink script");
    let text = String::from_utf8_lossy(&o.stdout);
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("events_per_s="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("the Flink script printed no events_per_s: {text}"))
}

const KEYED: &str = r#"
[job]
name = "keys"
parallelism = 2

[job.checkpoint]
interval = "4s"

[sources.in]
kind = "file"
path = "in.jsonl"
follow = true

[sources.in.event_time]
field = "t"

[operators.count]
kind = "window"
input = "in"
key_by = { field = "k" }
window = { type = "tumbling", size = "1h" }
aggregate = "count"
component = "WINDOW"

[sinks.out]
kind = "file"
input = "count"
path = "out"

[sinks.late]
kind = "file"
input = "count.late"
path = "late"
"#;

fn keyed(h: &Harness, keys: usize) {
    let dir = h.dir.path().join("keyed");
    std::fs::create_dir_all(&dir).unwrap();
    write_lines(
        &dir.join("in.jsonl"),
        (0..keys).map(|i| format!("{{\"k\":\"user-{i:08}\",\"t\":{}}}", 1_000 + i % 1000)),
    );
    let text = KEYED.replace("WINDOW\"", &format!("{}\"", guests::YSB_WINDOW));
    let load = || {
        let mut j = job(&text, &dir, &[]);
        j.state_dir = dir.join("state");
        j.checkpoint_dir = dir.join("state/checkpoints");
        j
    };
    // Read every key into window state (the window is an hour long: nothing fires);
    // the first checkpoint, 4 s in, saves them all, the second only what changed.
    let handle = start(load(), h.options()).expect("the job starts");
    let t = Instant::now();
    while handle.metrics().node("count").absorbed < keys as u64 {
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "reading took too long"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let read = t.elapsed();
    let (first, second) = loop {
        {
            let s = handle.checkpoint_stats().lock().unwrap();
            if s.history.len() >= 2 {
                break (s.history[0].clone(), s.history[1].clone());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        read.as_millis() < 4_000,
        "all keys were read before the first checkpoint"
    );
    handle.cancel();
    let _ = handle.wait();
    let record = first;
    let size = du(&record.path);
    // Restore it.
    let handle = start(
        load(),
        RunOptions {
            start_from: StartFrom::Latest,
            ..h.options()
        },
    )
    .expect("the job restarts");
    let restore = loop {
        if let Some(ms) = handle.restore_ms() {
            break ms;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    handle.cancel();
    let _ = handle.wait();
    println!(
        "keyed state of {keys} keys (read in {:.1}s):",
        read.as_secs_f64()
    );
    println!(
        "  checkpoint {}: {} ms in all, longest task pause {:.1} ms, {:.1} MiB written ({:.1} MiB in its folder)",
        record.id,
        record.duration_ms,
        record.sync_ms,
        record.bytes as f64 / (1 << 20) as f64,
        size as f64 / (1 << 20) as f64
    );
    println!(
        "  the next checkpoint (nothing changed): {} ms in all, longest task pause {:.1} ms, {:.1} MiB written",
        second.duration_ms,
        second.sync_ms,
        second.bytes as f64 / (1 << 20) as f64
    );
    println!("  restore: {restore:.0} ms");
}

fn du(p: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
        let m = e.metadata().unwrap();
        total += if m.is_dir() { du(&e.path()) } else { m.len() };
    }
    total
}

fn main() {
    let runs: usize = arg("--runs").map_or(3, |v| v.parse().expect("--runs N"));
    let keys: usize = arg("--keys").map_or(1_000_000, |v| v.parse().expect("--keys N"));
    let h = Harness::new();
    let data = match arg("--data") {
        Some(d) => ysb::existing(Path::new(&d)),
        None => ysb::generate(
            &h.dir.path().join("data"),
            &ysb::Spec {
                events: arg("--events").map_or(1_000_000, |v| v.parse().unwrap()),
                shards: 2,
                ..ysb::Spec::default()
            },
        )
        .expect("generating events"),
    };
    if arg("--only").as_deref() == Some("keyed") {
        keyed(&h, keys);
        return;
    }
    let intervals = [None, Some(1_000), Some(100)];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); intervals.len()];
    let out = h.dir.path().join("runs");
    for round in 0..=runs {
        for (k, i) in intervals.iter().enumerate() {
            let r = ysb_run(&data, &out, *i);
            if round > 0 {
                rates[k].push(r);
            }
        }
    }
    let medians: Vec<f64> = rates.iter_mut().map(|r| median(r)).collect();
    println!(
        "YSB on {}, parallelism 2, median of {runs} runs (output checked every run):",
        data.dir.display()
    );
    for (i, m) in intervals.iter().zip(&medians) {
        let label = match i {
            None => "no checkpoints".to_owned(),
            Some(ms) => format!("checkpoints every {ms} ms"),
        };
        println!(
            "  {label:<26} {:>10}  overhead {:>5.1}%",
            rate(*m),
            (medians[0] / m - 1.0) * 100.0
        );
    }
    if let Some(script) = arg("--flink") {
        let mut f: Vec<f64> = (0..runs)
            .map(|_| flink(&script, &data.dir, &out, 1_000))
            .collect();
        let f = median(&mut f);
        println!(
            "  Flink, RocksDB incremental checkpoints every 1 s: {}  (weir every 1 s / Flink: {:.1}x)",
            rate(f),
            medians[1] / f
        );
    }
    keyed(&h, keys);
}

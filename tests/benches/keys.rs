//! Keyed windows at scale: the YSB job (10 s tumbling windows counting views per
//! campaign) at several campaign counts, so the number of keys and of windows fired
//! grows while the input stays the same size. Each point runs `weir run` as a whole
//! process (wall time and peak RSS, as a user would measure it), optionally Apache
//! Flink on the same input (`--flink`, the script in ../shared/bench/flink), and the
//! same job with the functions compiled natively into the host (in-process), and checks
//! every output against a count made without weir. Prints medians and the ratios.
//!
//!   cargo bench -p weir-tests --bench keys -- [--keys 100,10000,200000,1000000]
//!       [--events 5000000] [--runs 3] [--data-root DIR] [--checkpoint 1s]
//!       [--flink ../shared/bench/flink/run.sh] [--users 1000000]
//!       [--session-events 2000000]
//!
//! Then the sessions example (session windows keyed by user) with `--users` users
//! (0: skip it), against its native twin, checked against sessions computed without
//! weir.
//!
//! Inputs are generated once per (keys, events) under DIR (default: the target
//! directory's `bench-data`), two ads per campaign, two event files (as many as the
//! parallelism, which Flink needs to count every event). "per window" is the marginal
//! cost of a fired window: the extra time over the sweep's smallest key count divided
//! by the extra windows fired.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use weir::operator::NativeFunctions;
use weir::runtime::RunOptions;
use weir_tests::bench::{arg, job, median, natively, throughput};
use weir_tests::{Harness, native, read_lines, sessions, weir_bin, ysb};

/// One process's wall time (s) and peak resident memory (bytes).
struct Measured {
    secs: f64,
    rss: f64,
}

/// How to take a process's peak RSS.
#[derive(Clone, Copy)]
enum Peak {
    /// The process's own high-water mark, read from `/proc/PID/status` while it runs
    /// (the rusage `wait4` gives also counts this benchmark's pages, which the child
    /// shares until its `exec`).
    Own,
    /// The largest of the process and its children, from `wait4` (for a script that
    /// starts a JVM much larger than this benchmark).
    Tree,
}

/// Waits for `child`; its wall time since `started` and its peak RSS. On failure,
/// panics with what it logged.
fn wait(child: Child, started: Instant, what: &str, log: &Path, peak: Peak) -> Measured {
    let pid = child.id() as libc::pid_t;
    let running = Arc::new(AtomicBool::new(true));
    let poller = {
        let running = running.clone();
        std::thread::spawn(move || {
            let mut hwm = 0.0f64;
            while running.load(Ordering::Relaxed) {
                if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status"))
                    && let Some(kb) = s
                        .lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                {
                    hwm = hwm.max(kb * 1024.0);
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            hwm
        })
    };
    let mut status = 0;
    // SAFETY: zeroed is a valid rusage; wait4 on our own child with valid out-pointers.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let secs = started.elapsed().as_secs_f64();
    running.store(false, Ordering::Relaxed);
    let own = poller.join().expect("the RSS poller");
    assert_eq!(r, pid, "waiting for {what}");
    let status = std::process::ExitStatus::from_raw(status);
    assert!(
        status.success(),
        "{what} failed: {status}\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    std::mem::forget(child);
    Measured {
        secs,
        rss: match peak {
            Peak::Own => own,
            Peak::Tree => usage.ru_maxrss as f64 * 1024.0,
        },
    }
}

/// The data of one point, generated if missing.
fn data(root: &Path, keys: usize, events: usize) -> ysb::Data {
    let dir = root.join(format!("ysb-{keys}keys-{events}events"));
    if dir.join("done").is_file() {
        return ysb::existing(&dir);
    }
    eprintln!("generating {} ...", dir.display());
    let spec = ysb::Spec {
        events,
        campaigns: keys,
        ads_per_campaign: 2,
        shards: 2,
        ..ysb::Spec::default()
    };
    let d = ysb::generate(&dir, &spec).expect("generating events");
    std::fs::write(dir.join("done"), "").expect("marking the data complete");
    d
}

fn check(what: &str, lines: &[String], expected: &BTreeMap<(String, i64), u64>) {
    let got = ysb::output_counts(lines);
    assert!(
        &got == expected,
        "{what}: {} windows, expected {} (first difference: {:?})",
        got.len(),
        expected.len(),
        expected
            .iter()
            .find(|(k, v)| got.get(*k) != Some(v))
            .or_else(|| got.iter().find(|(k, _)| !expected.contains_key(*k)))
    );
}

/// Runs the job in `manifest`, whose sinks and state are under `out`.
fn weir(manifest: &Path, overrides: &[String], out: &Path, check: &dyn Fn(&[String])) -> Measured {
    for d in ["out", "late", ".weir"] {
        let _ = std::fs::remove_dir_all(out.join(d));
        let _ = std::fs::remove_file(out.join(d));
    }
    let started = Instant::now();
    let log = out.join("weir.log");
    let child = Command::new(weir_bin())
        .arg("run")
        .arg(manifest)
        .args(overrides.iter().flat_map(|o| ["--set", o.as_str()]))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("a log file"))
        .spawn()
        .expect("starting weir");
    let m = wait(child, started, "weir run", &log, Peak::Own);
    check(&read_lines(&out.join("out")));
    m
}

fn flink(
    script: &str,
    data: &ysb::Data,
    out: &Path,
    checkpoint_ms: u64,
    expected: &BTreeMap<(String, i64), u64>,
) -> Measured {
    let file = out.join("flink.out");
    let _ = std::fs::remove_file(&file);
    let log = out.join("flink.log");
    let started = Instant::now();
    let child = Command::new("bash")
        .arg(script)
        .arg(&data.dir)
        .arg(&file)
        .arg("2")
        .arg(checkpoint_ms.to_string())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("a log file"))
        .spawn()
        .expect("starting the Flink script");
    let m = wait(child, started, "the Flink script", &log, Peak::Tree);
    check("Flink", &read_lines(&file), expected);
    m
}

fn mib(bytes: f64) -> String {
    format!("{:.0} MB", bytes / 1e6)
}

fn main() {
    let keys: Vec<usize> = arg("--keys")
        .unwrap_or_else(|| "100,10000,200000,1000000".into())
        .split(',')
        .map(|k| k.parse().expect("--keys 100,10000"))
        .collect();
    let events: usize = arg("--events").map_or(5_000_000, |v| v.parse().expect("--events N"));
    let runs: usize = arg("--runs").map_or(3, |v| v.parse().expect("--runs N"));
    let flink_script = arg("--flink");
    let checkpoint = arg("--checkpoint");
    let checkpoint_ms: u64 = checkpoint.as_deref().map_or(0, |c| {
        weir::manifest::Millis::parse(c).expect("--checkpoint 1s").0
    });
    let root = arg("--data-root").map_or_else(
        || {
            let exe = std::env::current_exe().expect("the bench executable");
            exe.ancestors()
                .nth(3)
                .expect("benches run from <target>/<profile>/deps")
                .join("bench-data")
        },
        PathBuf::from,
    );
    let extra = checkpoint.as_ref().map_or(String::new(), |c| {
        format!("\n[job.checkpoint]\ninterval = {c:?}\n")
    });
    let h = Harness::new();
    let mut natives = NativeFunctions::default();
    native::register(&mut natives);
    let native_options = RunOptions {
        natives,
        ..h.options()
    };
    println!(
        "YSB at {events} events, parallelism 2, {} (median of {runs} runs)\n",
        match &checkpoint {
            Some(c) => format!("checkpoints every {c}"),
            None => "no checkpoints".to_owned(),
        }
    );
    println!(
        "| campaigns (keys) | windows fired | weir | weir RSS | per window | native functions | Flink | Flink RSS | weir / Flink |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut first: Option<(f64, f64)> = None;
    for &k in &keys {
        let d = data(&root, k, events);
        let expected = ysb::expected_counts(&d).expect("counting the input");
        let ysb_check = |lines: &[String]| check("weir", lines, &expected);
        let windows = expected.len() as f64;
        let point = h.dir.path().join(format!("k{k}"));
        std::fs::create_dir_all(&point).expect("a folder per point");
        let text = ysb::bench_manifest(&d, &point, &extra);
        // The campaign table (two ads per campaign) is the function's own memory: ~130
        // bytes an ad, past the default cap of 256 MiB at a million campaigns.
        let overrides = vec!["operators.campaign.limits.memory=1GiB".to_owned()];
        let manifest = point.join("job.toml");
        std::fs::write(&manifest, &text).expect("writing the manifest");
        let (mut w, mut w_rss, mut f, mut f_rss, mut n) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        if first.is_none() {
            // Warm up: the first run compiles the components into the on-disk cache.
            weir(&manifest, &overrides, &point, &ysb_check);
        }
        for _ in 0..runs {
            let m = weir(&manifest, &overrides, &point, &ysb_check);
            w.push(m.secs);
            w_rss.push(m.rss);
            let _ = std::fs::remove_dir_all(point.join("out"));
            let mut nj = job(&text, &point, &overrides);
            natively(&mut nj);
            let started = Instant::now();
            let rate = throughput(nj, native_options.clone());
            n.push(started.elapsed().as_secs_f64());
            assert!(rate > 0.0);
            check("native", &read_lines(&point.join("out")), &expected);
            if let Some(script) = &flink_script {
                let m = flink(script, &d, &point, checkpoint_ms, &expected);
                f.push(m.secs);
                f_rss.push(m.rss);
            }
        }
        let (w, w_rss, n) = (median(&mut w), median(&mut w_rss), median(&mut n));
        let per_window = match first {
            Some((t0, w0)) if windows > w0 => format!("{:.2} µs", (w - t0) / (windows - w0) * 1e6),
            _ => "—".to_owned(),
        };
        if first.is_none() {
            first = Some((w, windows));
        }
        let (flink, flink_rss, ratio) = if f.is_empty() {
            ("—".to_owned(), "—".to_owned(), "—".to_owned())
        } else {
            let (f, r) = (median(&mut f), median(&mut f_rss));
            (format!("{f:.2} s"), mib(r), format!("{:.1}×", f / w))
        };
        println!(
            "| {k} | {windows} | {w:.2} s | {} | {per_window} | {n:.2} s | {flink} | {flink_rss} | {ratio} |",
            mib(w_rss)
        );
    }
    let users: usize = arg("--users").map_or(1_000_000, |v| v.parse().expect("--users N"));
    if users > 0 {
        let clicks: usize =
            arg("--session-events").map_or(2_000_000, |v| v.parse().expect("--session-events N"));
        sessions_point(&root, &h, users, clicks, runs, &extra, &native_options);
    }
}

/// The sessions example (session windows keyed by user, elements kept in state, keyed
/// state in the function) at `users` users: weir and the native functions.
fn sessions_point(
    root: &Path,
    h: &Harness,
    users: usize,
    clicks: usize,
    runs: usize,
    extra: &str,
    native_options: &RunOptions,
) {
    let data = root.join(format!("sessions-{users}users-{clicks}clicks"));
    if !data.join("done").is_file() {
        eprintln!("generating {} ...", data.display());
        let spec = sessions::Spec {
            events: clicks,
            users,
            rate: 10_000,
            shards: 2,
            seed: 11,
        };
        sessions::generate(&data, &spec).expect("generating clicks");
        std::fs::write(data.join("done"), "").expect("marking the data complete");
    }
    let expected = sessions::expected(&data).expect("the input's sessions");
    let check = |lines: &[String]| {
        let got = sessions::output(lines);
        assert!(
            got == expected,
            "sessions: {} fired, expected {} (first difference: {:?})",
            got.len(),
            expected.len(),
            expected.iter().find(|(k, v)| got.get(*k) != Some(v))
        );
    };
    let point = h.dir.path().join("sessions");
    std::fs::create_dir_all(&point).expect("a folder for the point");
    let text = sessions::bench_manifest(&data, &point, extra);
    let manifest = point.join("job.toml");
    std::fs::write(&manifest, &text).expect("writing the manifest");
    // Warm up: the first run compiles the component into the on-disk cache.
    weir(&manifest, &[], &point, &check);
    let (mut w, mut w_rss, mut n) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let m = weir(&manifest, &[], &point, &check);
        w.push(m.secs);
        w_rss.push(m.rss);
        let _ = std::fs::remove_dir_all(point.join("out"));
        let mut nj = job(&text, &point, &[]);
        natively(&mut nj);
        let started = Instant::now();
        assert!(throughput(nj, native_options.clone()) > 0.0);
        n.push(started.elapsed().as_secs_f64());
        check(&read_lines(&point.join("out")));
    }
    let (w, w_rss, n) = (median(&mut w), median(&mut w_rss), median(&mut n));
    println!(
        "\nSessions (the sessions example: 30 s gap, elements kept, a keyed count) at {clicks} clicks, parallelism 2 (median of {runs} runs)\n"
    );
    println!(
        "| users (keys) | sessions fired | weir | weir RSS | per session | native functions |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {users} | {} | {w:.2} s | {} | {:.2} µs | {n:.2} s |",
        expected.len(),
        mib(w_rss),
        w / expected.len() as f64 * 1e6
    );
}

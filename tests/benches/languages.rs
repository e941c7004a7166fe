//! The same jobs with their functions in Rust, JavaScript and Python: the map bench
//! (parse + filter + project, `ad-filter`) and YSB (`ysb-campaign` + `ysb-window`), on
//! generated events in two files. Prints, per language and as medians of several
//! alternating runs: the time to build the map function after an edit (Rust: the crate
//! itself, its dependencies built; JavaScript and Python: the whole component, as their
//! toolchains always do), the component's size, records/s and the ratio to Rust, the
//! process CPU time per record (steadier than wall time on a shared machine) and the
//! peak resident memory of the process during each job.
//!
//!   cargo bench -p weir-tests --bench languages -- [--events 1000000] [--runs 3] [--parallelism 2]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime};

use weir::manifest::Job;
use weir::runtime::run;
use weir_tests::bench::{arg, job, median, rate};
use weir_tests::{Harness, guests, manifest, repo, ysb};

const MAP_JOB: &str = r#"
[job]
name = "parse-filter-project"

[sources.events]
kind = "file"
path = "events"

[operators.views]
kind = "map"
input = "events"
component = "FUNCTION"

[sinks.out]
kind = "file"
input = "views"
path = "views.jsonl"
"#;

/// Name, map function, YSB map function, YSB window function.
const LANGUAGES: [(&str, &str, &str, &str); 3] = [
    (
        "Rust",
        guests::AD_FILTER,
        guests::YSB_CAMPAIGN,
        guests::YSB_WINDOW,
    ),
    (
        "JavaScript",
        guests::JS_AD_FILTER,
        guests::JS_YSB_CAMPAIGN,
        guests::JS_YSB_WINDOW,
    ),
    (
        "Python",
        guests::PYTHON_AD_FILTER,
        guests::PYTHON_YSB_CAMPAIGN,
        guests::PYTHON_YSB_WINDOW,
    ),
];

/// CPU time of this process so far (user + system), in seconds, from /proc.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
    let rest = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// Peak resident memory of this process since the last [`reset_peak_rss`], in bytes.
fn peak_rss() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .expect("VmHWM in /proc/self/status");
    kb * 1024.0
}

/// Starts a new peak of resident memory (Linux: `5` into `clear_refs`).
fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting the peak RSS");
}

/// Runs `job` once in a fresh folder: (records in per second, CPU microseconds per
/// record, peak resident bytes).
fn measure(mut job: Job) -> (f64, f64, f64) {
    let h = Harness::new();
    h.prepare(&mut job);
    reset_peak_rss();
    let (cpu, started) = (cpu_seconds(), Instant::now());
    let report = run(job, h.options()).unwrap_or_else(|e| panic!("the job failed: {e}"));
    let wall = started.elapsed().as_secs_f64();
    let n = report.records_in as f64;
    (n / wall, (cpu_seconds() - cpu) * 1e6 / n, peak_rss())
}

/// Builds the map function of language `i` after an edit; returns the seconds it took.
/// JavaScript and Python are built into a fresh folder (their build scripts skip sources
/// they built before); Rust's crate is touched and rebuilt with its dependencies built.
fn build_seconds(i: usize, scratch: &Path) -> f64 {
    let root = repo();
    let sdk = root.join("guest-sdk");
    let out = tempfile::tempdir_in(scratch).expect("a build folder");
    let mut cmd = match i {
        0 => {
            let lib = root.join("examples/functions/ad-filter/src/lib.rs");
            std::fs::File::options()
                .append(true)
                .open(&lib)
                .and_then(|f| f.set_modified(SystemTime::now()))
                .expect("touching the Rust function");
            let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
            cmd.current_dir(root.join("examples")).args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "-p",
                "ad-filter",
            ]);
            cmd.env("CARGO_TARGET_DIR", scratch.join("rust"));
            for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET"] {
                cmd.env_remove(var);
            }
            cmd
        }
        1 => {
            let mut cmd = Command::new("node");
            cmd.arg(sdk.join("js/build.mjs"));
            cmd.arg(root.join("examples/functions/js/ad-filter"));
            cmd.arg(out.path());
            cmd
        }
        _ => {
            let mut cmd = Command::new(sdk.join("python/.venv/bin/python"));
            cmd.arg(sdk.join("python/build.py"));
            cmd.arg(root.join("examples/functions/python/ad-filter"));
            cmd.arg(out.path());
            cmd
        }
    };
    let started = Instant::now();
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("running a build");
    assert!(
        status.success(),
        "building the map function of language {i} failed"
    );
    started.elapsed().as_secs_f64()
}

/// Size of a component file in bytes.
fn size(path: &str) -> f64 {
    std::fs::metadata(PathBuf::from(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .len() as f64
}

fn mib(bytes: f64) -> String {
    if bytes >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", bytes / 1024.0 / 1024.0)
    } else {
        format!("{:.0} KiB", bytes / 1024.0)
    }
}

fn main() {
    let events: usize = arg("--events").map_or(1_000_000, |v| v.parse().expect("--events N"));
    let runs: usize = arg("--runs").map_or(3, |v| v.parse().expect("--runs N"));
    let parallelism = arg("--parallelism").unwrap_or_else(|| "2".into());
    let h = Harness::new();
    let data = ysb::generate(
        &h.dir.path().join("data"),
        &ysb::Spec {
            events,
            shards: 2,
            ..ysb::Spec::default()
        },
    )
    .expect("generating events");
    let ysb_manifest = repo().join("examples/jobs/ysb-js/job.toml");
    let map_job = |function: &str| {
        let overrides = [
            format!("job.parallelism={parallelism}"),
            format!("sources.events.path={}", data.events.display()),
        ];
        job(
            &MAP_JOB.replace("FUNCTION", function),
            h.dir.path(),
            &overrides,
        )
    };
    let ysb_job = |campaign: &str, window: &str| {
        let overrides = [
            format!("job.parallelism={parallelism}"),
            format!(
                "sources.events.path={:?}",
                data.events.display().to_string()
            ),
            format!(
                "operators.campaign.files.campaigns={:?}",
                data.campaigns.display().to_string()
            ),
            format!("operators.campaign.component={campaign:?}"),
            format!("operators.count.component={window:?}"),
        ];
        let overrides: Vec<&str> = overrides.iter().map(String::as_str).collect();
        manifest(&ysb_manifest, &overrides)
    };
    // Per language: build s; map rate, CPU, RSS; YSB rate, CPU, RSS.
    const COLUMNS: usize = 7;
    let mut results = vec![vec![Vec::new(); COLUMNS]; LANGUAGES.len()];
    // One warm-up round (page cache, compiled components, Rust's dependencies), then
    // alternate languages.
    for round in 0..=runs {
        for (i, (_, map_fn, campaign, window)) in LANGUAGES.iter().enumerate() {
            let build = build_seconds(i, h.dir.path());
            let (map_rate, map_cpu, map_rss) = measure(map_job(map_fn));
            let (ysb_rate, ysb_cpu, ysb_rss) = measure(ysb_job(campaign, window));
            if round > 0 {
                let row = [
                    build, map_rate, map_cpu, map_rss, ysb_rate, ysb_cpu, ysb_rss,
                ];
                for (c, v) in row.into_iter().enumerate() {
                    results[i][c].push(v);
                }
            }
        }
    }
    let medians: Vec<Vec<f64>> = results
        .iter_mut()
        .map(|r| r.iter_mut().map(|c| median(c)).collect())
        .collect();
    println!(
        "{events} events in 2 files, parallelism {parallelism}, median of {runs} alternating runs"
    );
    println!(
        "| language | build | .wasm | map bench | / Rust | CPU/record | RSS | YSB | / Rust | CPU/record | RSS |\n|---|---|---|---|---|---|---|---|---|---|---|"
    );
    let rust = &medians[0];
    for ((name, map_fn, ..), m) in LANGUAGES.iter().zip(&medians) {
        println!(
            "| {name} | {:.1} s | {} | {} | {:.3} | {:.2} µs | {} | {} | {:.3} | {:.2} µs | {} |",
            m[0],
            mib(size(map_fn)),
            rate(m[1]),
            m[1] / rust[1],
            m[2],
            mib(m[3]),
            rate(m[4]),
            m[4] / rust[4],
            m[5],
            mib(m[6]),
        );
    }
}

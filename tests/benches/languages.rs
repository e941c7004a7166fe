//! The same jobs with their functions in Rust, JavaScript and Python: the map bench
//! (parse + filter + project, `ad-filter`) and YSB (`ysb-campaign` + `ysb-window`), on
//! generated events in two files. Prints each language's records/s (median of several
//! alternating runs), its ratio to Rust, and the process CPU time per record (steadier
//! than wall time on a shared machine).
//!
//!   cargo bench -p weir-tests --bench languages -- [--events 1000000] [--runs 3] [--parallelism 2]

use std::time::Instant;

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

/// Runs `job` once: (records in per second, CPU microseconds per record).
fn measure(h: &Harness, mut job: Job) -> (f64, f64) {
    h.prepare(&mut job);
    let (cpu, started) = (cpu_seconds(), Instant::now());
    let report = run(job, h.options()).unwrap_or_else(|e| panic!("the job failed: {e}"));
    let wall = started.elapsed().as_secs_f64();
    let n = report.records_in as f64;
    (n / wall, (cpu_seconds() - cpu) * 1e6 / n)
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
    let mut results = vec![(Vec::new(), Vec::new(), Vec::new(), Vec::new()); LANGUAGES.len()];
    // One warm-up round (page cache, compiled components), then alternate languages.
    for round in 0..=runs {
        for (i, (_, map_fn, campaign, window)) in LANGUAGES.iter().enumerate() {
            let (map_rate, map_cpu) = measure(&h, map_job(map_fn));
            let (ysb_rate, ysb_cpu) = measure(&h, ysb_job(campaign, window));
            if round > 0 {
                let r = &mut results[i];
                r.0.push(map_rate);
                r.1.push(map_cpu);
                r.2.push(ysb_rate);
                r.3.push(ysb_cpu);
            }
        }
    }
    let medians: Vec<[f64; 4]> = results
        .iter_mut()
        .map(|r| {
            [
                median(&mut r.0),
                median(&mut r.1),
                median(&mut r.2),
                median(&mut r.3),
            ]
        })
        .collect();
    println!(
        "{events} events in 2 files, parallelism {parallelism}, median of {runs} alternating runs"
    );
    println!(
        "| language | map bench | / Rust | CPU/record | YSB | / Rust | CPU/record |\n|---|---|---|---|---|---|---|"
    );
    let rust = medians[0];
    for ((name, ..), m) in LANGUAGES.iter().zip(&medians) {
        println!(
            "| {name} | {} | {:.3} | {:.2} µs | {} | {:.3} | {:.2} µs |",
            rate(m[0]),
            m[0] / rust[0],
            m[1],
            rate(m[2]),
            m[2] / rust[2],
            m[3],
        );
    }
}

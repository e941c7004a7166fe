//! Measuring whole jobs: run a job several times, alternating variants, and report the
//! median throughput of each, so that ratios come from one sitting on a noisy machine.

use std::path::Path;
use std::time::Instant;

use weir::manifest::{Job, Override, load_str};
use weir::runtime::{RunOptions, run};

/// Parses `--name value` arguments (cargo bench passes `--bench` too; it is ignored).
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// A manifest from text, with overrides, relative paths from `base`.
pub fn job(text: &str, base: &Path, overrides: &[String]) -> Job {
    let overrides: Vec<Override> = overrides
        .iter()
        .map(|o| o.parse().expect("a valid override"))
        .collect();
    load_str(text, Path::new("bench.toml"), base, &overrides).unwrap_or_else(|d| panic!("{d}"))
}

/// Makes every Wasm operator of `job` run the same function compiled natively into the
/// host (registered by [`crate::native::register`] under its component's name).
pub fn natively(job: &mut Job) {
    for n in &mut job.nodes {
        if let weir::manifest::NodeKind::Operator(o) = &mut n.kind
            && let weir::manifest::ComponentRef::Wasm(path) = &o.component
        {
            let name = path
                .file_stem()
                .expect("a component file")
                .to_string_lossy()
                .replace('_', "-");
            o.component = weir::manifest::ComponentRef::Native(name);
        }
    }
}

/// Runs `make()`'s job once; returns records in per second.
pub fn throughput(job: Job, options: RunOptions) -> f64 {
    let started = Instant::now();
    let report = run(job, options).unwrap_or_else(|e| panic!("the job failed: {e}"));
    let secs = started.elapsed().as_secs_f64();
    report.records_in as f64 / secs
}

/// The median of some measurements.
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Records per second for people.
pub fn rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2}M/s", r / 1e6)
    } else {
        format!("{:.0}k/s", r / 1e3)
    }
}

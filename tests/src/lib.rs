//! Helpers for weir's end-to-end tests: the guest components built from source, and a
//! harness that runs whole jobs from manifests into a temporary folder.
//!
//! # Layout
//!
//! - [`guests`]: paths of every component `build.rs` built.
//! - [`Harness`]: run a manifest with its sinks and state in a temporary folder.
//! - [`canonical`]: output lines in a form that compares regardless of order.
//! - [`crash`]: killing `weir` processes with SIGKILL and running them again.
//! - [`bench`]: measuring whole jobs (medians of alternating runs).
//! - [`broker`]: a real Kafka-compatible broker (noida-db) started for a test.
//! - [`native`]: the example functions compiled natively, for measuring Wasm against them.
//! - [`ysb`]: YSB-shaped data and the benchmark's answer computed without weir.
//! - [`sessions`]: many users' clicks and their sessions computed without weir.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use weir::manifest::{ComponentRef, Job, NodeKind, Override, SinkKind, load_file};
use weir::runtime::{JobError, JobReport, RunOptions, run};

pub mod bench;
pub mod broker;
pub mod crash;
pub mod native;
pub mod sessions;
pub mod ysb;

/// The components built from `examples/` and `tests/guests/`.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));

    /// The component built from the crate named `name`.
    pub fn by_name(name: &str) -> Option<&'static str> {
        ALL.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
    }
}

/// The repository's root folder.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repository")
        .to_owned()
}

/// The `weir` binary of this build (cargo builds every binary of the workspace before it
/// runs any test of `cargo test --workspace`), or the one `WEIR_BIN` names.
pub fn weir_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("WEIR_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the test executable");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from <target>/<profile>/deps");
    let bin = dir.join("weir");
    assert!(
        bin.is_file(),
        "{} is missing: run the tests with `cargo test --workspace`",
        bin.display()
    );
    bin
}

/// Where compiled components are cached during tests.
fn cache_dir() -> PathBuf {
    Path::new(env!("OUT_DIR")).join("component-cache")
}

/// Loads a manifest with `--set`-style overrides, panicking with its problems.
pub fn manifest(path: impl AsRef<Path>, overrides: &[&str]) -> Job {
    let overrides: Vec<Override> = overrides
        .iter()
        .map(|o| o.parse().expect("a valid override"))
        .collect();
    match load_file(path.as_ref(), &overrides) {
        Ok(job) => job,
        Err(d) => panic!("{d}"),
    }
}

/// Runs jobs with their file sinks and state inside a temporary folder, and with
/// components named as crate folders replaced by the ones `build.rs` built.
pub struct Harness {
    /// The temporary folder.
    pub dir: tempfile::TempDir,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    /// A harness with a fresh folder.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
    }

    /// Rewrites `job` to run inside the harness.
    pub fn prepare(&self, job: &mut Job) {
        // Checkpoints kept in the job's state directory (the default) move with it: a
        // job run by several tests at once must not restore another test's checkpoint.
        let state_dir = self.dir.path().join("state");
        if let Ok(inside) = job.checkpoint_dir.strip_prefix(&job.state_dir) {
            job.checkpoint_dir = state_dir.join(inside);
        }
        job.state_dir = state_dir;
        for n in &mut job.nodes {
            match &mut n.kind {
                NodeKind::Sink {
                    kind: SinkKind::File { path, .. },
                    ..
                } => {
                    *path = self.dir.path().join(format!("{}.jsonl", n.name));
                }
                NodeKind::Operator(o) => {
                    if let ComponentRef::Wasm(p) = &mut o.component
                        && p.is_dir()
                    {
                        let mut name = p
                            .file_name()
                            .expect("a crate folder")
                            .to_string_lossy()
                            .into_owned();
                        // JavaScript and Python guests are named by language and folder.
                        if p.join("package.json").is_file() {
                            name = format!("js/{name}");
                        } else if p.join("pyproject.toml").is_file() {
                            name = format!("python/{name}");
                        }
                        let built = guests::by_name(&name).unwrap_or_else(|| {
                            panic!("no component was built for {}", p.display())
                        });
                        *p = PathBuf::from(built);
                    }
                }
                _ => {}
            }
        }
    }

    /// The options tests run with (a shared component cache).
    pub fn options(&self) -> RunOptions {
        RunOptions {
            cache_dir: Some(cache_dir()),
            ..RunOptions::default()
        }
    }

    /// Prepares and runs `job`.
    pub fn run(&self, mut job: Job) -> Result<JobReport, JobError> {
        self.prepare(&mut job);
        run(job, self.options())
    }

    /// Prepares and runs `job` with `options`.
    pub fn run_with(&self, mut job: Job, options: RunOptions) -> Result<JobReport, JobError> {
        self.prepare(&mut job);
        run(job, options)
    }

    /// The lines a file sink wrote.
    pub fn output(&self, sink: &str) -> Vec<String> {
        let path = self.dir.path().join(format!("{sink}.jsonl"));
        read_lines(&path)
    }

    /// The lines of every file sink, by sink name.
    pub fn outputs(&self) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        for e in std::fs::read_dir(self.dir.path())
            .expect("the harness folder")
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(sink) = name.strip_suffix(".jsonl")
                && !name.starts_with('.')
            {
                out.insert(sink.to_owned(), read_lines(&e.path()));
            }
        }
        out
    }
}

/// The lines of a file (none if it does not exist), or of the committed parts of a
/// sink's folder (with checkpoints), in order.
pub fn read_lines(path: &Path) -> Vec<String> {
    if path.is_dir() {
        return weir::connector::committed_parts(path)
            .expect("a sink folder")
            .iter()
            .flat_map(|p| read_lines(p))
            .collect();
    }
    match std::fs::read_to_string(path) {
        Ok(s) => s.lines().map(str::to_owned).collect(),
        Err(_) => Vec::new(),
    }
}

/// Lines in a form that compares regardless of order and JSON formatting: each JSON line
/// re-serialized with sorted keys, then all lines sorted.
pub fn canonical<S: AsRef<str>>(lines: &[S]) -> Vec<String> {
    let mut out: Vec<String> = lines
        .iter()
        .map(|l| {
            let l = l.as_ref();
            match serde_json::from_str::<serde_json::Value>(l) {
                Ok(v) => v.to_string(),
                Err(_) => l.to_owned(),
            }
        })
        .collect();
    out.sort();
    out
}

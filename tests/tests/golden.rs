//! Golden job cases: every folder `tests/jobs/<case>/` holds a `job.toml`, its input
//! files, and `expected/<sink>.jsonl` for every file sink of the job. Each case runs at
//! parallelism 1, 2 and 3 (nodes that set their own parallelism keep it) and, unless its
//! manifest sets `batch_size` (a case whose watermarks follow batches), at batch size 1
//! and 1024; every sink's lines must equal the expected ones in any order. Every record
//! must be accounted for at every node (the job report's check).
//!
//! `WEIR_GOLDEN=<text>` runs only the cases whose folder name contains `<text>`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use weir::manifest::{Job, NodeKind, Override, SinkKind, load_file};
use weir_tests::{Harness, canonical, read_lines, repo};

/// The parallelisms every case runs at.
const PARALLELISMS: [u32; 3] = [1, 2, 3];

/// The batch sizes a case runs at when its manifest sets none: its output must not
/// depend on them (its watermarks come from the data, e.g. marker records).
const BATCH_SIZES: [u32; 2] = [1, 1024];

#[test]
fn golden_job_cases_match_their_expected_output() {
    let filter = std::env::var("WEIR_GOLDEN").unwrap_or_default();
    let cases: Vec<PathBuf> = cases()
        .into_iter()
        .filter(|c| name(c).contains(&filter))
        .collect();
    assert!(!cases.is_empty(), "no golden case matches `{filter}`");
    let mut failures = Vec::new();
    let mut runs = 0;
    for case in &cases {
        let sizes: Vec<Option<u32>> = if sets_batch_size(case) {
            vec![None]
        } else {
            BATCH_SIZES.iter().copied().map(Some).collect()
        };
        for p in PARALLELISMS {
            for &size in &sizes {
                runs += 1;
                if let Err(why) = run_case(case, p, size) {
                    failures.push(format!(
                        "case {} at parallelism {p}, batch size {}:\n{why}",
                        name(case),
                        size.map_or("as set".to_owned(), |s| s.to_string())
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} golden runs failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The case folders, in name order.
fn cases() -> Vec<PathBuf> {
    let root = repo().join("tests/jobs");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("listing {}: {e}", root.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("job.toml").is_file())
        .collect();
    out.sort();
    out
}

/// Whether the case's manifest sets its batch size.
fn sets_batch_size(case: &Path) -> bool {
    std::fs::read_to_string(case.join("job.toml"))
        .unwrap_or_default()
        .lines()
        .any(|l| l.trim_start().starts_with("batch_size"))
}

fn name(case: &Path) -> String {
    case.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The names of the job's file sinks.
fn file_sinks(job: &Job) -> Vec<String> {
    job.nodes
        .iter()
        .filter(|n| {
            matches!(
                n.kind,
                NodeKind::Sink {
                    kind: SinkKind::File { .. },
                    ..
                }
            )
        })
        .map(|n| n.name.clone())
        .collect()
}

/// The expected files of a case, by sink name.
fn expected(case: &Path) -> BTreeMap<String, Vec<String>> {
    let dir = case.join("expected");
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        if let Some(sink) = file.strip_suffix(".jsonl") {
            out.insert(sink.to_owned(), read_lines(&e.path()));
        }
    }
    out
}

/// Runs one case at one parallelism; on a mismatch, says which sinks differ and how.
fn run_case(case: &Path, parallelism: u32, batch_size: Option<u32>) -> Result<(), String> {
    let mut sets = vec![format!("job.parallelism={parallelism}")];
    if let Some(b) = batch_size {
        sets.push(format!("job.batch_size={b}"));
    }
    let sets: Vec<Override> = sets
        .iter()
        .map(|s| s.parse().expect("a valid override"))
        .collect();
    let job = load_file(&case.join("job.toml"), &sets)
        .map_err(|d| format!("  the manifest is invalid:\n{d}"))?;
    let sinks = file_sinks(&job);
    let mut expected = expected(case);
    let h = Harness::new();
    let report = h.run(job).map_err(|e| format!("  the job failed: {e}"))?;
    let mut problems = Vec::new();
    if let Err(unaccounted) = report.check_accounts() {
        problems.push(format!(
            "  records unaccounted for: {unaccounted:?}\n{report}"
        ));
    }
    for sink in &sinks {
        let Some(want) = expected.remove(sink) else {
            problems.push(format!("  sink `{sink}` has no expected/{sink}.jsonl"));
            continue;
        };
        let got = h.output(sink);
        if let Some(d) = diff(&canonical(&want), &canonical(&got)) {
            problems.push(format!("  sink `{sink}`:\n{d}"));
        }
    }
    for stale in expected.keys() {
        problems.push(format!(
            "  expected/{stale}.jsonl belongs to no file sink of the job"
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Lines only in `want` (`-`) and only in `got` (`+`), counting repeats; `None` when the
/// two sorted lists are equal.
fn diff(want: &[String], got: &[String]) -> Option<String> {
    if want == got {
        return None;
    }
    let (mut i, mut j) = (0, 0);
    let mut out = String::new();
    while i < want.len() || j < got.len() {
        match (want.get(i), got.get(j)) {
            (Some(w), Some(g)) if w == g => {
                i += 1;
                j += 1;
            }
            (Some(w), Some(g)) if w < g => {
                out.push_str(&format!("    - {w}\n"));
                i += 1;
            }
            (Some(w), None) => {
                out.push_str(&format!("    - {w}\n"));
                i += 1;
            }
            (_, Some(g)) => {
                out.push_str(&format!("    + {g}\n"));
                j += 1;
            }
            (None, None) => break,
        }
    }
    Some(out)
}

//! The example jobs produce what an independent computation of their semantics gives.

use std::collections::BTreeMap;

use serde_json::Value;
use weir_tests::{Harness, manifest, repo};

/// Sessions of one user: clicks closer than the gap are one session.
fn sessions(mut times: Vec<i64>, gap: i64) -> Vec<(i64, i64, usize)> {
    times.sort_unstable();
    let mut out: Vec<(i64, i64, usize)> = Vec::new();
    for t in times {
        match out.last_mut() {
            // Windows [start, last + gap) and [t, t + gap) touch when t <= last + gap.
            Some((_, end, n)) if t <= *end => {
                *end = (*end).max(t + gap);
                *n += 1;
            }
            _ => out.push((t, t + gap, 1)),
        }
    }
    out
}

#[test]
fn the_sessions_example_finds_every_session_of_every_user() {
    let dir = repo().join("examples/jobs/sessions");
    let mut by_user: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for line in std::fs::read_to_string(dir.join("data/clicks.jsonl"))
        .unwrap()
        .lines()
    {
        let v: Value = serde_json::from_str(line).unwrap();
        by_user
            .entry(v["user"].as_str().unwrap().to_owned())
            .or_default()
            .push(v["ts"].as_i64().unwrap());
    }
    let mut expected = Vec::new();
    for (user, times) in by_user {
        for (i, (start, end, n)) in sessions(times, 30_000).into_iter().enumerate() {
            expected.push((user.clone(), start, end, n, i as u64 + 1));
        }
    }
    for parallelism in [1, 3] {
        let h = Harness::new();
        let job = manifest(
            dir.join("job.toml"),
            &[&format!("job.parallelism={parallelism}")],
        );
        h.run(job).expect("the job runs");
        let mut got: Vec<(String, i64, i64, usize, u64)> = h
            .output("out")
            .iter()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (
                    v["user"].as_str().unwrap().to_owned(),
                    v["start"].as_i64().unwrap(),
                    v["end"].as_i64().unwrap(),
                    v["events"].as_u64().unwrap() as usize,
                    v["session"].as_u64().unwrap(),
                )
            })
            .collect();
        got.sort();
        expected.sort();
        assert_eq!(got, expected, "parallelism {parallelism}");
        assert!(h.output("late").is_empty());
    }
}

#[test]
fn every_example_job_accounts_for_every_record_at_every_node() {
    let root = repo().join("examples/jobs");
    let mut jobs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        // The Kafka examples need a broker: `kafka_examples` runs them against one.
        .filter(|d| !d.to_string_lossy().ends_with("-kafka"))
        .map(|d| d.join("job.toml"))
        .filter(|p| p.is_file())
        .collect();
    jobs.sort();
    assert!(jobs.len() >= 5, "{jobs:?}");
    for path in jobs {
        for parallelism in [1, 2] {
            let h = Harness::new();
            let job = manifest(&path, &[&format!("job.parallelism={parallelism}")]);
            let report = h
                .run(job)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if let Err(p) = report.check_accounts() {
                panic!(
                    "{} at parallelism {parallelism}: {p:#?}\n{report}",
                    path.display()
                );
            }
            assert!(report.records_in > 0, "{}", path.display());
        }
    }
}

//! The YSB example job counts exactly what an independent computation counts, on
//! generated data read by several parallel readers, and with a window cache too small to
//! hold a window's accumulators (written back to RocksDB and read again all the time).

use weir_tests::{Harness, manifest, repo, ysb};

fn run_ysb(parallelism: u32, spec: &ysb::Spec) {
    run_ysb_with(parallelism, spec, &[]);
}

fn run_ysb_with(parallelism: u32, spec: &ysb::Spec, extra: &[&str]) {
    let h = Harness::new();
    let data = ysb::generate(&h.dir.path().join("data"), spec).unwrap();
    let expected = ysb::expected_counts(&data).unwrap();
    let events = format!("sources.events.path={}", data.events.display());
    let campaigns = format!(
        "operators.campaign.files.campaigns={}",
        data.campaigns.display()
    );
    let parallelism = format!("job.parallelism={parallelism}");
    let mut overrides = vec![
        events.as_str(),
        campaigns.as_str(),
        parallelism.as_str(),
        "job.batch_size=256",
    ];
    overrides.extend_from_slice(extra);
    let job = manifest(repo().join("examples/jobs/ysb/job.toml"), &overrides);
    let report = h.run(job).expect("the job runs");
    assert_eq!(report.records_in, spec.events as u64);
    assert_eq!(
        report.late, 0,
        "no event is later than the watermark's bound"
    );
    let got = ysb::output_counts(&h.output("out"));
    assert_eq!(
        got.len(),
        expected.len(),
        "number of (campaign, window) counts"
    );
    for (k, n) in &expected {
        assert_eq!(got.get(k), Some(n), "count of {k:?}");
    }
}

#[test]
fn ysb_counts_match_an_independent_count_at_parallelism_1() {
    run_ysb(
        1,
        &ysb::Spec {
            events: 60_000,
            campaigns: 20,
            rate: 2_000,
            shards: 2,
            ..ysb::Spec::default()
        },
    );
}

#[test]
fn ysb_counts_match_an_independent_count_at_parallelism_3_with_more_files_than_readers() {
    run_ysb(
        3,
        &ysb::Spec {
            events: 60_000,
            campaigns: 20,
            rate: 2_000,
            shards: 5,
            seed: 11,
            ..ysb::Spec::default()
        },
    );
}

#[test]
fn ysb_counts_match_when_one_file_is_split_among_readers() {
    run_ysb(
        2,
        &ysb::Spec {
            events: 40_000,
            campaigns: 10,
            rate: 1_000,
            shards: 1,
            seed: 5,
            ..ysb::Spec::default()
        },
    );
}

#[test]
fn ysb_counts_match_when_accumulators_overflow_the_window_cache_into_rocksdb() {
    // 2,000 campaigns, ~700 of them in each 10 s window, against a cache of a few dozen
    // accumulators per instance: most batches write back and most reads go to RocksDB.
    run_ysb_with(
        2,
        &ysb::Spec {
            events: 60_000,
            campaigns: 2_000,
            ads_per_campaign: 2,
            rate: 1_000,
            shards: 2,
            seed: 3,
            ..ysb::Spec::default()
        },
        &["job.window_cache=8KiB", "job.batch_size=64"],
    );
}

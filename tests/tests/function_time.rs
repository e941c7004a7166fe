//! Sources whose timestamps come from the function that reads them keep a watermark per
//! split: a file far ahead in event time does not make another file's events late.

use std::path::Path;

use weir::manifest::load_str;
use weir_tests::{Harness, manifest, repo, ysb};

#[test]
fn each_file_keeps_its_own_watermark_when_the_function_sets_timestamps() {
    let h = Harness::new();
    // Two files of one reader, 100 s apart in event time.
    let early = ysb::generate(
        &h.dir.path().join("early"),
        &ysb::Spec {
            events: 3_000,
            rate: 1_000,
            campaigns: 5,
            ..ysb::Spec::default()
        },
    )
    .unwrap();
    let late_start = ysb::Spec::default().start_ms + 100_000;
    let later = ysb::generate(
        &h.dir.path().join("later"),
        &ysb::Spec {
            events: 3_000,
            rate: 1_000,
            campaigns: 5,
            start_ms: late_start,
            ..ysb::Spec::default()
        },
    )
    .unwrap();
    // Same seed, so the same campaigns and ads: one campaigns file serves both.
    let events = h.dir.path().join("events");
    std::fs::create_dir_all(&events).unwrap();
    std::fs::copy(&early.events, events.join("a.jsonl")).unwrap();
    std::fs::copy(&later.events, events.join("b.jsonl")).unwrap();
    let mut expected = ysb::expected_counts(&early).unwrap();
    expected.extend(
        ysb::expected_counts(&ysb::Data {
            campaigns: early.campaigns.clone(),
            ..later
        })
        .unwrap(),
    );

    let job = manifest(
        repo().join("examples/jobs/ysb/job.toml"),
        &[
            &format!("sources.events.path={}", events.display()),
            &format!(
                "operators.campaign.files.campaigns={}",
                early.campaigns.display()
            ),
            "job.parallelism=1",
            "job.batch_size=100",
        ],
    );
    let report = h.run(job).expect("the job runs");
    assert_eq!(report.late, 0, "no event of the early file is late");
    assert_eq!(ysb::output_counts(&h.output("out")), expected);
}

#[test]
fn function_timestamps_need_a_map_reading_the_source_in_its_task() {
    let text = r#"
[job]
name = "x"

[sources.events]
kind = "file"
path = "."

[sources.events.event_time]
from = "function"

[operators.count]
kind = "window"
input = "events"
key_by = { field = "k" }
window = { type = "tumbling", size = "10s" }
component = "native:any"

[sinks.out]
kind = "stdout"
input = "count"

[sinks.late]
kind = "stdout"
input = "count.late"
"#;
    let err = load_str(text, Path::new("job.toml"), Path::new("."), &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("job.toml:9:1: sources.events.event_time.from"),
        "{err}"
    );
    assert!(err.contains("exactly one map operator"), "{err}");
}

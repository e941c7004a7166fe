//! The example job runs end to end on its shipped input.

use weir_tests::{Harness, canonical, manifest, repo};

#[test]
fn the_ad_views_example_runs_and_dead_letters_its_two_bad_lines() {
    let h = Harness::new();
    let job = manifest(repo().join("examples/jobs/ad-views/job.toml"), &[]);
    let report = h.run(job).expect("the job runs");
    assert_eq!(report.records_in, 602);
    assert_eq!(report.dead_letters, 2);
    let views = h.output("out");
    assert_eq!(views.len() as u64, report.records_out);
    let input =
        std::fs::read_to_string(repo().join("examples/jobs/ad-views/data/events.jsonl")).unwrap();
    let expected = input
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event_type"] == "view")
        .count();
    assert_eq!(views.len(), expected);
    for v in canonical(&views) {
        let v: serde_json::Value = serde_json::from_str(&v).unwrap();
        assert!(v["user_id"].as_str().unwrap().starts_with('u'), "{v}");
        assert!(v["event_time"].is_i64());
    }
}

//! The `weir` command: `validate` reports located problems with exit code 2, and `run`
//! runs an example job end to end and prints its summary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's root folder.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ is in the repository")
        .to_owned()
}

/// Runs `weir` with `args` in `dir`, with compiled components cached under the target
/// folder rather than the user's cache.
fn weir(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .current_dir(dir)
        .env(
            "WEIR_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("weir-cache"),
        )
        .env("WEIR_LOG", "warn")
        .output()
        .expect("running weir")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn validate_reports_every_problem_with_its_line_and_exits_with_2() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("bad.toml");
    std::fs::write(
        &manifest,
        r#"[job]
name = "bad"

[sources.events]
kind = "file"
path = "missing.jsonl"

[sinks.out]
kind = "stdout"
input = "evnets"
"#,
    )
    .unwrap();
    let out = weir(dir.path(), &["validate", manifest.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the manifest has 3 problems"), "{stderr}");
    let at = |line: u32| format!("{}:{line}:", manifest.display());
    for (line, field, says) in [
        (4, "sources.events", "nothing reads this source"),
        (6, "sources.events.path", "does not exist"),
        (10, "sinks.out.input", "nothing is named `evnets`"),
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(&at(line)) && l.contains(field) && l.contains(says)),
            "no `{}` problem about {field}: {stderr}",
            at(line)
        );
    }
}

#[test]
fn validate_accepts_a_good_manifest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.jsonl"), "{}\n").unwrap();
    let manifest = dir.path().join("good.toml");
    std::fs::write(
        &manifest,
        r#"[job]
name = "good"
parallelism = 2

[sources.events]
kind = "file"
path = "in.jsonl"

[sinks.out]
kind = "stdout"
input = "events"
"#,
    )
    .unwrap();
    let out = weir(dir.path(), &["validate", manifest.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("job `good` is valid") && stdout.contains("parallelism 2"),
        "{stdout}"
    );
}

#[test]
fn run_runs_the_ad_views_example_into_overridden_sinks() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = repo().join("examples/jobs/ad-views/job.toml");
    let views = dir.path().join("views.jsonl");
    let rejected = dir.path().join("rejected.jsonl");
    let rejected_views = dir.path().join("rejected-views.jsonl");
    let set = |sink: &str, path: &Path| format!("sinks.{sink}.path={}", path.display());
    let args = [
        "run".to_owned(),
        manifest.display().to_string(),
        "--set".to_owned(),
        set("out", &views),
        "--set".to_owned(),
        set("rejected", &rejected),
        "--set".to_owned(),
        set("rejected-views", &rejected_views),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // The example's components are crate folders: the first run builds them.
    let out = weir(dir.path(), &args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("job `ad-views` finished"), "{stderr}");
    assert!(stderr.contains("records in:   602 "), "{stderr}");
    assert!(stderr.contains("dead-letter:  2\n"), "{stderr}");

    let lines = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let input =
        std::fs::read_to_string(repo().join("examples/jobs/ad-views/data/events.jsonl")).unwrap();
    let input_views = input
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event_type"] == "view")
        .count();
    let written = lines(&views);
    assert_eq!(written.len(), input_views);
    assert!(
        stderr.contains(&format!("records out:  {input_views}\n")),
        "{stderr}"
    );
    for l in &written {
        let v: serde_json::Value = serde_json::from_str(l).expect("views are JSON");
        assert!(v["user_id"].is_string(), "{l}");
    }
    let dead: Vec<String> = lines(&rejected)
        .into_iter()
        .chain(lines(&rejected_views))
        .collect();
    assert_eq!(dead.len(), 2, "{dead:#?}");
    for d in &dead {
        let v: serde_json::Value = serde_json::from_str(d).expect("dead letters are JSON");
        assert!(
            v["error"].is_string() && v["record"]["value"].is_string(),
            "{d}"
        );
    }
}

//! The control endpoint of a running job: its answers, its refusals, its token.

use std::time::{Duration, Instant};

use serde_json::Value;
use weir::manifest::load_str;
use weir::runtime::{RunOptions, start};
use weir_tests::{Harness, guests};

fn job_text(control: &str) -> String {
    format!(
        r#"[job]
name = "ctl"

[job.checkpoint]
interval = "50ms"

{control}

[sources.in]
kind = "file"
path = "in.txt"
format = "text-lines"
follow = true

[operators.split]
kind = "map"
input = "in"
component = {split:?}

[operators.count]
kind = "map"
input = "split"
key_by = "key"
component = {counter:?}

[sinks.out]
kind = "file"
input = "count"
path = "out"
"#,
        split = guests::KEY_SPLIT,
        counter = guests::KEYED_COUNTER
    )
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn url_of(h: &Harness) -> String {
    let file = h.dir.path().join("state/control.json");
    let t = Instant::now();
    loop {
        if let Ok(b) = std::fs::read(&file) {
            let a: Value = serde_json::from_slice(&b).unwrap();
            return a["url"].as_str().unwrap().to_owned();
        }
        assert!(t.elapsed() < Duration::from_secs(30), "no control.json");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn get(url: &str, token: Option<&str>) -> (u16, Value) {
    let mut r = agent().get(url);
    if let Some(t) = token {
        r = r.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = r.call().unwrap();
    (resp.status().as_u16(), resp.body_mut().read_json().unwrap())
}

fn post(url: &str, body: &str) -> (u16, Value) {
    let mut resp = agent()
        .post(url)
        .header("Content-Type", "application/json")
        .send(body)
        .unwrap();
    (resp.status().as_u16(), resp.body_mut().read_json().unwrap())
}

#[test]
fn the_endpoint_answers_refuses_malformed_requests_and_takes_savepoints() {
    let h = Harness::new();
    std::fs::write(h.dir.path().join("in.txt"), "a:1\nb:2\na:3\n").unwrap();
    let mut job = load_str(
        &job_text(""),
        &h.dir.path().join("job.toml"),
        h.dir.path(),
        &[],
    )
    .unwrap_or_else(|d| panic!("{d}"));
    job.state_dir = h.dir.path().join("state");
    job.checkpoint_dir = h.dir.path().join("state/checkpoints");
    let handle = start(
        job,
        RunOptions {
            control: true,
            ..h.options()
        },
    )
    .unwrap();
    let url = url_of(&h);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let (status, job) = get(&format!("{url}/v1/job"), None);
    assert_eq!(status, 200);
    assert_eq!(job["name"], "ctl");
    let names: Vec<&str> = job["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["in", "split", "count", "out"]);
    let (status, body) = get(&format!("{url}/v1/nowhere"), None);
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("no such route"));
    for bad in ["{", "{\"stop\": \"yes\"}", "{\"unknown\": 1}", "[]"] {
        let (status, body) = post(&format!("{url}/v1/savepoints"), bad);
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["error"].is_string(), "{body}");
    }
    // Wait for a checkpoint, then stop with a savepoint.
    let t = Instant::now();
    loop {
        let (_, c) = get(&format!("{url}/v1/checkpoints"), None);
        if c["completed"].as_u64().unwrap() >= 1 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, body) = post(&format!("{url}/v1/savepoints"), "{\"stop\": true}");
    assert_eq!(status, 200, "{body}");
    assert!(body["path"].as_str().unwrap().contains("chk-"), "{body}");
    let report = handle.wait().unwrap();
    assert!(report.stopped);
    assert!(
        !h.dir.path().join("state/control.json").exists(),
        "the address goes with the job"
    );
}

#[test]
fn off_loopback_every_request_needs_the_token() {
    let h = Harness::new();
    std::fs::write(h.dir.path().join("in.txt"), "a:1\n").unwrap();
    // SAFETY: set before any thread of this test reads the environment; no other test
    // of this binary uses the variable.
    unsafe { std::env::set_var("WEIR_CONTROL_TEST_TOKEN", "s3cret") };
    let control = "[job.control]\nbind = \"0.0.0.0:0\"\ntoken_env = \"WEIR_CONTROL_TEST_TOKEN\"";
    let mut job = load_str(
        &job_text(control),
        &h.dir.path().join("job.toml"),
        h.dir.path(),
        &[],
    )
    .unwrap_or_else(|d| panic!("{d}"));
    job.state_dir = h.dir.path().join("state");
    job.checkpoint_dir = h.dir.path().join("state/checkpoints");
    let handle = start(
        job,
        RunOptions {
            control: true,
            ..h.options()
        },
    )
    .unwrap();
    let url = url_of(&h).replace("0.0.0.0", "127.0.0.1");
    for token in [None, Some("wrong")] {
        let (status, body) = get(&format!("{url}/v1/job"), token);
        assert_eq!(status, 401, "{body}");
    }
    let (status, _) = get(&format!("{url}/v1/job"), Some("s3cret"));
    assert_eq!(status, 200);
    handle.cancel();
    let _ = handle.wait();
    // Without a token the manifest is refused.
    let text = job_text("[job.control]\nbind = \"0.0.0.0:8081\"");
    let err = load_str(&text, &h.dir.path().join("job.toml"), h.dir.path(), &[])
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("job.control.bind") && err.contains("token"),
        "{err}"
    );
}

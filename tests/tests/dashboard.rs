//! The dashboard in a real browser: headless Chromium, driven through chromedriver's W3C
//! WebDriver API, loads the page of a running job, is asked for the endpoint's token,
//! shows every node of the graph with records flowing, takes a savepoint that then shows
//! in the checkpoint list, swaps an operator's function (check, then apply) and shows the
//! new version, and stops the job with a savepoint. Screenshots go to
//! `<target>/dashboard-screenshots/`.
//!
//! Needs `chromium` and `chromium-driver` (Debian's; `.ci/setup` installs them).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weir::manifest::load_str;
use weir::runtime::{RunOptions, start};
use weir_tests::{Harness, guests};

/// The element reference's key in W3C WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const TOKEN_VAR: &str = "WEIR_DASHBOARD_TEST_TOKEN";
const TOKEN: &str = "d4shb0ard";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// A chromedriver process and one headless Chromium session in it.
struct Browser {
    driver: Child,
    base: String,
    session: String,
}

impl Browser {
    fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; .ci/setup installs it)");
        let base = format!("http://127.0.0.1:{port}");
        let t = Instant::now();
        while agent().get(format!("{base}/status")).call().is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "chromedriver is not up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut browser = Browser {
            driver,
            base,
            session: String::new(),
        };
        let answer = browser.send(
            "POST",
            "/session",
            json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium(),
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--window-size=1440,2200",
                             "--hide-scrollbars", "--lang=en-US"],
                },
            }}}),
        );
        browser.session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_owned();
        browser
    }

    /// `method path` on the driver; returns the answer's `value`.
    fn send(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let resp = match method {
            "GET" => agent().get(&url).call(),
            "DELETE" => agent().delete(&url).call(),
            _ => agent().post(&url).send_json(&body),
        };
        let mut resp = resp.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let answer: Value = resp.body_mut().read_json().expect("a JSON answer");
        assert!(status < 300, "{method} {path}: {status} {answer}");
        answer["value"].clone()
    }

    fn session(&self, method: &str, path: &str, body: Value) -> Value {
        self.send(method, &format!("/session/{}{path}", self.session), body)
    }

    fn open(&self, url: &str) {
        self.session("POST", "/url", json!({ "url": url }));
    }

    /// Runs `script` (the body of a function) in the page and returns what it returns.
    fn eval(&self, script: &str) -> Value {
        self.session(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
    }

    fn element(&self, css: &str) -> String {
        let e = self.session(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        e[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {e}"))
            .to_owned()
    }

    fn click(&self, css: &str) {
        let e = self.element(css);
        self.session("POST", &format!("/element/{e}/click"), json!({}));
    }

    fn clear(&self, css: &str) {
        let e = self.element(css);
        self.session("POST", &format!("/element/{e}/clear"), json!({}));
    }

    /// Types `text` into the element (for a file input: the file's path).
    fn type_into(&self, css: &str, text: &str) {
        let e = self.element(css);
        self.session(
            "POST",
            &format!("/element/{e}/value"),
            json!({ "text": text }),
        );
    }

    /// Waits until `script` returns something other than null or false, and returns it.
    fn wait_for(&self, what: &str, script: &str) -> Value {
        let t = Instant::now();
        loop {
            let v = self.eval(script);
            if !v.is_null() && v != Value::Bool(false) {
                return v;
            }
            if t.elapsed() > Duration::from_secs(60) {
                self.screenshot("failed");
                let text = self.eval("return document.body.innerText;");
                panic!(
                    "waited a minute for {what}; the page says:\n{}",
                    text.as_str().unwrap_or("")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves a screenshot of the page as `<name>.png`; returns its path.
    fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.session("GET", "/screenshot", json!(null));
        let bytes = base64_decode(png.as_str().expect("base64 PNG"));
        let dir = target_dir().join("dashboard-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = agent()
                .delete(format!("{}/session/{}", self.base, self.session))
                .call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Debian's Chromium binary (found on PATH otherwise).
fn chromium() -> String {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("chromium")
        .to_owned()
}

/// The build's target folder: `CARGO_TARGET_DIR`, else the one holding this test.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return dir.into();
    }
    let exe = std::env::current_exe().expect("the test executable");
    // <target>/<profile>/deps/<test>
    exe.ancestors()
        .nth(3)
        .expect("tests run from <target>/<profile>/deps")
        .to_owned()
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .map(value)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut n = 0u32;
        for (i, d) in chunk.iter().enumerate() {
            n |= u32::from(*d) << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

fn sha256_of(path: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

const JOB: &str = r#"[job]
name = "clicks"
parallelism = 2
batch_size = 16

[job.checkpoint]
interval = "2s"

[job.control]
token_env = "TOKEN_VAR"

[sources.in]
kind = "file"
path = "in.txt"
format = "text-lines"
follow = true
parallelism = 1
event_time = { from = "ingestion" }

[operators.split]
kind = "map"
input = "in"
component = "SPLIT"
parallelism = 1
on_error = "dead-letter"

[operators.count]
kind = "map"
input = "split"
key_by = "key"
component = "COUNTER"
config = { tag = "v1" }

[sinks.out]
kind = "file"
input = "count"
path = "out"

[sinks.dead]
kind = "file"
input = "split.dead-letter"
path = "dead"
"#;

/// Appends lines to `path` until `stop`: keyed ones, and now and then one without a key
/// (dead-lettered by the split).
fn feed(path: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .unwrap();
            let mut text = String::new();
            for _ in 0..100 {
                if i.is_multiple_of(40) {
                    text.push_str(&format!("line {i} has no key\n"));
                } else {
                    text.push_str(&format!("user-{}:{i}\n", i % 17));
                }
                i += 1;
            }
            f.write_all(text.as_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(50));
        }
    })
}

#[test]
fn the_dashboard_shows_the_job_and_acts_on_it_in_a_browser() {
    let h = Harness::new();
    // SAFETY: set before the job (or any other thread of this binary) reads the
    // environment; no other test of this binary exists.
    unsafe { std::env::set_var(TOKEN_VAR, TOKEN) };
    let input = h.dir.path().join("in.txt");
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = feed(input.clone(), stop.clone());
    let text = JOB
        .replace("TOKEN_VAR", TOKEN_VAR)
        .replace("SPLIT", guests::KEY_SPLIT)
        .replace("COUNTER", guests::LEGACY_COUNTER);
    let mut job = load_str(&text, &h.dir.path().join("job.toml"), h.dir.path(), &[])
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
    let file = h.dir.path().join("state/control.json");
    let t = Instant::now();
    let url = loop {
        if let Ok(b) = std::fs::read(&file) {
            let a: Value = serde_json::from_slice(&b).unwrap();
            break a["url"].as_str().unwrap().to_owned();
        }
        assert!(t.elapsed() < Duration::from_secs(30), "no control.json");
        std::thread::sleep(Duration::from_millis(10));
    };

    let browser = Browser::start();
    browser.open(&url);

    // The endpoint needs the token: the page asks for it, and goes on with it.
    browser.wait_for(
        "the token form",
        "return !document.getElementById('token-form').hidden;",
    );
    browser.screenshot("token");
    browser.type_into("#token", TOKEN);
    browser.click("#token-submit");

    // Every node of the graph, with records flowing through it.
    let nodes = browser.wait_for(
        "every node with a non-zero rate",
        r#"const nodes = Array.from(document.querySelectorAll('#graph .node'));
           if (nodes.length !== 5) return false;
           const shown = nodes.map((n) => ({
             name: n.dataset.name,
             in: n.querySelector('.rate-in').textContent,
             out: n.querySelector('.rate-out').textContent,
           }));
           const flowing = (n) => n.in !== '0/s' || n.out !== '0/s';
           return shown.every(flowing) ? shown : false;"#,
    );
    let mut names: Vec<&str> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["count", "dead", "in", "out", "split"], "{nodes}");
    // Edges with their partitioning, watermarks and dead letters with their errors.
    let labels = browser.eval(
        "return Array.from(document.querySelectorAll('#graph .edge-label')).map((e) => e.textContent);",
    );
    for label in [
        "forward (chained)",
        "hash(record key)",
        "dead-letter · forward",
        "rebalance",
    ] {
        assert!(
            labels.as_array().unwrap().iter().any(|l| l == label),
            "no edge {label}: {labels}"
        );
    }
    browser.wait_for(
        "a watermark lag and a dead letter",
        r#"const lag = document.querySelector('#operator-rows tr[data-name="count"] .lag');
           const error = document.querySelector('.dead-letters[data-name="split"] td.error');
           return lag && lag.textContent !== '–' && error
             && error.textContent.includes('is not of the form key:value');"#,
    );
    let legacy = sha256_of(guests::LEGACY_COUNTER);
    let shown = browser.eval(
        "return document.querySelector('#graph .node[data-name=\"count\"]').dataset.version;",
    );
    assert_eq!(shown, legacy.as_str());
    browser.wait_for(
        "a throughput plot with points",
        "return document.querySelectorAll('#plots .series-in[points*=\" \"]').length >= 5;",
    );

    // A savepoint from the page shows in the checkpoint list.
    browser.click("#savepoint");
    let path = browser.wait_for(
        "the savepoint's path",
        "const p = document.querySelector('#action-result .savepoint-path'); return p && p.textContent;",
    );
    let path = path.as_str().unwrap().to_owned();
    let folder = Path::new(&path).file_name().unwrap().to_str().unwrap();
    browser.wait_for(
        "the savepoint in the checkpoint list",
        &format!(
            "return Array.from(document.querySelectorAll('#checkpoint-rows tr.savepoint.completed td.path'))
               .some((td) => td.textContent === {folder:?});"
        ),
    );

    // A swap from the page: check the component, then apply it.
    browser.eval(
        "const s = document.getElementById('swap-operator');
         s.value = 'count'; s.dispatchEvent(new Event('change'));",
    );
    // Something that is not a component is refused, as the CLI refuses it, with nothing
    // to apply.
    let bogus = h.dir.path().join("not-a-component.wasm");
    std::fs::write(&bogus, b"not wasm").unwrap();
    browser.type_into("#swap-file", bogus.to_str().unwrap());
    browser.click("#swap-check");
    let reason = browser.wait_for(
        "the refusal",
        "const r = document.querySelector('#swap-result.refused .reason');
         return r && document.getElementById('swap-apply').hidden && r.textContent;",
    );
    assert!(!reason.as_str().unwrap().is_empty());
    browser.clear("#swap-file");
    browser.type_into("#swap-file", guests::VERSIONED_COUNTER);
    browser.type_into("#swap-config", r#"{"tag": "v2"}"#);
    browser.click("#swap-check");
    let checked = browser.wait_for(
        "the check's answer",
        "const c = document.querySelector('#swap-result .checked-hash'); return c && c.textContent;",
    );
    let current = sha256_of(guests::VERSIONED_COUNTER);
    assert_eq!(checked, current.as_str());
    browser.screenshot("swap-checked");
    browser.click("#swap-apply");
    browser.wait_for(
        "the swap applied",
        "return document.querySelector('#swap-result .applied-hash') !== null;",
    );
    browser.wait_for(
        "the new version in the graph and the swap log",
        &format!(
            r#"const node = document.querySelector('#graph .node[data-name="count"]');
               const log = document.querySelector('#swap-rows tr.applied');
               return node.dataset.version === {current:?} && log !== null;"#
        ),
    );
    // Some history in the plots for the picture.
    browser.wait_for(
        "15 seconds of throughput",
        "const p = document.querySelector('#plots .series-in');
         return p && p.getAttribute('points').split(' ').length >= 15;",
    );
    let screenshot = browser.screenshot("dashboard");
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 10_000);

    // Stop with a savepoint, confirmed.
    browser.click("#stop");
    browser.click("#stop-yes");
    browser.wait_for(
        "the stop's savepoint",
        "return document.querySelector('#action-result .savepoint-path') !== null
           && document.getElementById('action-result').textContent.includes('the job stops');",
    );
    handle.wait().expect("the job stops cleanly");
    stop.store(true, Ordering::Relaxed);
    feeder.join().unwrap();
}

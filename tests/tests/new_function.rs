//! `weir new` and `weir build`: a template of every language and kind, and templates that
//! build and run as a new user would (through the `weir` binary, with a cache of their own).

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use weir_tests::{canonical, weir_bin};

fn weir(cache: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(weir_bin())
        .args(args)
        .env("WEIR_CACHE_DIR", cache)
        .output()
        .expect("running weir");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn every_language_and_kind_has_a_template() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        (
            "rust",
            ["Cargo.toml", ".cargo/config.toml", "src/lib.rs"].as_slice(),
        ),
        ("js", ["package.json", "index.js"].as_slice()),
        ("python", ["pyproject.toml", "app.py"].as_slice()),
    ];
    for (lang, names) in files {
        for kind in ["map", "window", "broadcast"] {
            let folder = dir.path().join(format!("{lang}-{kind}-fn"));
            let (ok, text) = weir(
                dir.path(),
                &[
                    "new",
                    "--lang",
                    lang,
                    "--kind",
                    kind,
                    folder.to_str().unwrap(),
                ],
            );
            assert!(ok, "{lang} {kind}: {text}");
            for name in names {
                let body = std::fs::read_to_string(folder.join(name))
                    .unwrap_or_else(|e| panic!("{lang} {kind}: {name}: {e}"));
                assert!(
                    !body.contains("__"),
                    "{lang} {kind}: {name} has a placeholder left"
                );
            }
            let main = std::fs::read_to_string(folder.join(names[names.len() - 1])).unwrap();
            let cap = |w: &str| w[..1].to_uppercase() + &w[1..];
            let class = format!("{}{}Fn", cap(lang), cap(kind));
            assert!(main.contains(&class), "{lang} {kind}: no class {class}");
        }
    }
    // A folder that is not empty is left alone.
    let (ok, text) = weir(
        dir.path(),
        &[
            "new",
            "--lang",
            "js",
            dir.path().join("js-map-fn").to_str().unwrap(),
        ],
    );
    assert!(!ok && text.contains("not empty"), "{text}");
}

/// Writes a manifest and its inputs into `dir`, runs it, and returns the `out` sink's lines.
fn run(dir: &Path, cache: &Path, manifest: &str, inputs: &[(&str, &[Value])]) -> Vec<String> {
    for (name, lines) in inputs {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(dir.join(name), text).unwrap();
    }
    std::fs::write(dir.join("job.toml"), manifest).unwrap();
    let (ok, text) = weir(cache, &["run", dir.join("job.toml").to_str().unwrap()]);
    assert!(ok, "{manifest}\n{text}");
    let out = std::fs::read_to_string(dir.join("out/out.jsonl")).unwrap();
    canonical(&out.lines().collect::<Vec<_>>())
}

#[test]
fn new_javascript_and_python_functions_build_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let d = dir.path();

    // A Python window function counting the elements of each key's 10 s window.
    let (ok, text) = weir(
        &cache,
        &[
            "new",
            "--lang",
            "python",
            "--kind",
            "window",
            d.join("counts").to_str().unwrap(),
        ],
    );
    assert!(ok, "{text}");
    let (ok, text) = weir(&cache, &["build", d.join("counts").to_str().unwrap()]);
    assert!(ok && text.contains("python function"), "{text}");
    let manifest = r#"
[job]
name = "new-window"
[sources.events]
kind = "file"
path = "events.jsonl"
event_time = { field = "t" }
[operators.w]
kind = "window"
input = "events"
key_by = { field = "user" }
window = { type = "tumbling", size = "10s" }
component = "counts"
[sinks.out]
kind = "file"
input = "w"
path = "out/out.jsonl"
[sinks.late]
kind = "file"
input = "w.late"
path = "out/late.jsonl"
"#;
    let events = [
        json!({"user": "a", "t": 1_000}),
        json!({"user": "a", "t": 9_000}),
        json!({"user": "b", "t": 2_000}),
        json!({"user": "a", "t": 12_000}),
    ];
    let got = run(d, &cache, manifest, &[("events.jsonl", &events)]);
    let want = [
        json!({"key": "a", "start": 0, "end": 10_000, "elements": 2}),
        json!({"key": "a", "start": 10_000, "end": 20_000, "elements": 1}),
        json!({"key": "b", "start": 0, "end": 10_000, "elements": 1}),
    ];
    assert_eq!(got, canonical(&want.map(|v| v.to_string())));

    // A JavaScript broadcast function enriching records from a broadcast table.
    let (ok, text) = weir(
        &cache,
        &[
            "new",
            "--lang",
            "js",
            "--kind",
            "broadcast",
            d.join("enrich").to_str().unwrap(),
        ],
    );
    assert!(ok, "{text}");
    let manifest = r#"
[job]
name = "new-broadcast"
parallelism = 2
[sources.main]
kind = "file"
path = "main.jsonl"
[sources.table]
kind = "file"
path = "table.jsonl"
[operators.e]
kind = "broadcast"
input = "main"
broadcast = "table"
bootstrap = true
component = "enrich"
[sinks.out]
kind = "file"
input = "e"
path = "out/out.jsonl"
"#;
    let table = [
        json!({"id": "x", "value": 1}),
        json!({"id": "y", "value": [2]}),
        json!({"id": "x", "remove": true}),
    ];
    let main = [json!({"id": "x"}), json!({"id": "y", "n": 5})];
    let got = run(
        d,
        &cache,
        manifest,
        &[("main.jsonl", &main), ("table.jsonl", &table)],
    );
    let want = [
        json!({"id": "x", "value": null}),
        json!({"id": "y", "n": 5, "value": [2]}),
    ];
    assert_eq!(got, canonical(&want.map(|v| v.to_string())));
}

/// The README's job of three new functions (`## Functions in JavaScript and Python`), run
/// as written there.
#[test]
fn the_readme_job_of_three_new_functions_runs() {
    let readme = std::fs::read_to_string(weir_tests::repo().join("README.md")).unwrap();
    let start = readme
        .find("[job]\nname = \"three-kinds\"")
        .expect("the README's three-kinds job");
    let manifest = &readme[start..start + readme[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let (d, cache) = (dir.path(), dir.path().join("cache"));
    for (lang, kind, name) in [
        ("js", "map", "tagger"),
        ("python", "window", "counts"),
        ("js", "broadcast", "enrich"),
    ] {
        let folder = d.join(name);
        let args = ["new", "--lang", lang, "--kind", kind];
        let (ok, text) = weir(&cache, &[&args[..], &[folder.to_str().unwrap()]].concat());
        assert!(ok, "{text}");
    }
    let events = [
        json!({"id": "a", "t": 1_000}),
        json!({"id": "a", "t": 9_000}),
        json!({"id": "b", "t": 2_000}),
    ];
    let table = [json!({"id": "a", "value": "gold"})];
    let text = |lines: &[Value]| lines.iter().map(|l| format!("{l}\n")).collect::<String>();
    std::fs::write(d.join("events.jsonl"), text(&events)).unwrap();
    std::fs::write(d.join("table.jsonl"), text(&table)).unwrap();
    std::fs::write(d.join("job.toml"), manifest).unwrap();
    let (ok, text) = weir(&cache, &["run", d.join("job.toml").to_str().unwrap()]);
    assert!(ok, "{manifest}\n{text}");
    let read = |name: &str| {
        let out = std::fs::read_to_string(d.join("out").join(name)).unwrap();
        canonical(&out.lines().collect::<Vec<_>>())
    };
    let counts = [
        json!({"key": "a", "start": 0, "end": 10_000, "elements": 2}),
        json!({"key": "b", "start": 0, "end": 10_000, "elements": 1}),
    ];
    assert_eq!(
        read("counts.jsonl"),
        canonical(&counts.map(|v| v.to_string()))
    );
    let enriched = [
        json!({"id": "a", "t": 1_000, "value": "gold"}),
        json!({"id": "a", "t": 9_000, "value": "gold"}),
        json!({"id": "b", "t": 2_000, "value": null}),
    ];
    assert_eq!(
        read("enriched.jsonl"),
        canonical(&enriched.map(|v| v.to_string()))
    );
}

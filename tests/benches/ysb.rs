//! The Yahoo Streaming Benchmark job on weir: functions as Wasm components and as the same
//! Rust compiled natively into the host, at parallelism 1 and 2, with the ad→campaign join
//! done from a file handed to `init` and from a broadcast input. With `--flink`, the same
//! job also runs on Apache Flink (the script in ../shared/bench/flink) on the same data.
//! Prints medians of alternating runs and the ratios.
//!
//!   cargo bench -p weir-tests --bench ysb -- --data DIR [--runs 3] [--parallelism 1,2]
//!       [--variants file,broadcast] [--flink ../shared/bench/flink/run.sh]
//!
//! DIR comes from `python3 ysb_gen.py DIR --events 5000000 --rate 10000 --shards 2`; without
//! `--data`, `--events N` (default 1000000) events are generated in two shards.

use std::path::{Path, PathBuf};
use std::process::Command;

use weir::operator::NativeFunctions;
use weir::runtime::RunOptions;
use weir_tests::bench::{arg, job, median, natively, rate, throughput};
use weir_tests::{Harness, guests, native, ysb};

const FILE_JOIN: &str = r#"
[job]
name = "ysb"

[sources.events]
kind = "file"
path = "EVENTS"

[sources.events.event_time]
from = "function"
max_out_of_orderness = "1s"

[operators.campaign]
kind = "map"
input = "events"
component = "CAMPAIGN"
files = { campaigns = "CAMPAIGNS" }

[operators.count]
kind = "window"
input = "campaign"
key_by = "key"
window = { type = "tumbling", size = "10s" }
aggregate = "count"
component = "WINDOW"

[sinks.out]
kind = "file"
input = "count"
path = "OUT"

[sinks.late]
kind = "file"
input = "count.late"
path = "LATE"
"#;

const BROADCAST_JOIN: &str = r#"
[job]
name = "ysb-broadcast"

[sources.events]
kind = "file"
path = "EVENTS"

[sources.events.event_time]
field = "event_time"
max_out_of_orderness = "1s"

[sources.campaigns]
kind = "file"
path = "CAMPAIGNS"
parallelism = 1

[operators.campaign]
kind = "broadcast"
input = "events"
broadcast = "campaigns"
bootstrap = true
component = "BROADCAST"

[operators.count]
kind = "window"
input = "campaign"
key_by = "key"
window = { type = "tumbling", size = "10s" }
aggregate = "count"
component = "WINDOW"

[sinks.out]
kind = "file"
input = "count"
path = "OUT"

[sinks.late]
kind = "file"
input = "count.late"
path = "LATE"
"#;

fn manifest(template: &str, data: &ysb::Data, out: &Path) -> String {
    template
        .replace("EVENTS", &data.events.display().to_string())
        .replace("CAMPAIGNS", &data.campaigns.display().to_string())
        .replace("CAMPAIGN\"", &format!("{}\"", guests::YSB_CAMPAIGN))
        .replace("BROADCAST\"", &format!("{}\"", guests::YSB_BROADCAST))
        .replace("WINDOW\"", &format!("{}\"", guests::YSB_WINDOW))
        .replace("OUT", &out.join("counts.jsonl").display().to_string())
        .replace("LATE", &out.join("late.jsonl").display().to_string())
}

fn flink(script: &str, data: &Path, out: &Path, parallelism: u32) -> f64 {
    let o = Command::new("bash")
        .arg(script)
        .arg(data)
        .arg(out.join(format!("flink-p{parallelism}.out")))
        .arg(parallelism.to_string())
        .output()
        .expect("running the Flink script");
    let text = String::from_utf8_lossy(&o.stdout);
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("events_per_s="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "the Flink script printed no events_per_s: {text}{}",
                String::from_utf8_lossy(&o.stderr)
            )
        })
}

fn main() {
    let runs: usize = arg("--runs").map_or(3, |v| v.parse().expect("--runs N"));
    let parallelisms: Vec<u32> = arg("--parallelism")
        .unwrap_or_else(|| "1,2".into())
        .split(',')
        .map(|p| p.parse().expect("--parallelism 1,2"))
        .collect();
    let variants: Vec<String> = arg("--variants")
        .unwrap_or_else(|| "file,broadcast".into())
        .split(',')
        .map(str::to_owned)
        .collect();
    let h = Harness::new();
    let data = match arg("--data") {
        Some(d) => {
            let dir = PathBuf::from(d);
            let events = if dir.join("events").is_dir() {
                dir.join("events")
            } else {
                dir.join("events.jsonl")
            };
            ysb::Data {
                campaigns: dir.join("campaigns.jsonl"),
                events,
                dir,
            }
        }
        None => {
            let events: usize =
                arg("--events").map_or(1_000_000, |v| v.parse().expect("--events N"));
            let spec = ysb::Spec {
                events,
                shards: 2,
                ..ysb::Spec::default()
            };
            ysb::generate(&h.dir.path().join("data"), &spec).expect("generating events")
        }
    };
    let mut natives = NativeFunctions::default();
    native::register(&mut natives);
    let wasm_options = h.options();
    let native_options = RunOptions {
        natives,
        ..h.options()
    };
    let out = h.dir.path().join("out");
    let mut rows = Vec::new();
    for variant in &variants {
        let template = match variant.as_str() {
            "file" => FILE_JOIN,
            "broadcast" => BROADCAST_JOIN,
            other => panic!("unknown variant {other} (file, broadcast)"),
        };
        let text = manifest(template, &data, &out);
        for &p in &parallelisms {
            let overrides = vec![format!("job.parallelism={p}")];
            let (mut w, mut n) = (Vec::new(), Vec::new());
            for round in 0..=runs {
                let wj = job(&text, h.dir.path(), &overrides);
                let mut nj = job(&text, h.dir.path(), &overrides);
                natively(&mut nj);
                let (a, b) = (
                    throughput(wj, wasm_options.clone()),
                    throughput(nj, native_options.clone()),
                );
                if round > 0 {
                    w.push(a);
                    n.push(b);
                }
            }
            rows.push((variant.clone(), p, median(&mut w), median(&mut n)));
        }
    }
    let mut flink_rates = std::collections::BTreeMap::new();
    if let Some(script) = arg("--flink") {
        for &p in &parallelisms {
            let mut f: Vec<f64> = (0..runs)
                .map(|_| flink(&script, &data.dir, &out, p))
                .collect();
            flink_rates.insert(p, median(&mut f));
        }
    }
    println!(
        "YSB on {}, median of {runs} runs (events/s)",
        data.dir.display()
    );
    println!(
        "{:<16} {:>2} {:>10} {:>10} {:>12} {:>10} {:>11}",
        "join", "p", "wasm", "native", "wasm/native", "flink", "wasm/flink"
    );
    for (variant, p, w, n) in rows {
        let (f, ratio) = match flink_rates.get(&p) {
            Some(f) => (rate(*f), format!("{:.1}", w / f)),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{variant:<16} {p:>2} {:>10} {:>10} {:>12.2} {f:>10} {ratio:>11}",
            rate(w),
            rate(n),
            w / n
        );
    }
}

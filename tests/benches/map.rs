//! The parse + filter + project job (examples/functions/ad-filter) on generated ad
//! events, with the function as a Wasm component and as the same Rust compiled natively
//! into the host. Prints records/s of each (median of several alternating runs) and the
//! ratio.
//!
//!   cargo bench -p weir-tests --bench map -- [--events 1000000] [--runs 5] [--parallelism 1]

use weir::operator::NativeFunctions;
use weir_tests::bench::{arg, job, median, rate, throughput};
use weir_tests::{Harness, native, ysb};

const JOB: &str = r#"
[job]
name = "parse-filter-project"

[sources.events]
kind = "file"
path = "events.jsonl"

[operators.views]
kind = "map"
input = "events"
component = "FUNCTION"

[sinks.out]
kind = "file"
input = "views"
path = "views.jsonl"
"#;

fn main() {
    let events: usize = arg("--events").map_or(1_000_000, |v| v.parse().expect("--events N"));
    let runs: usize = arg("--runs").map_or(5, |v| v.parse().expect("--runs N"));
    let parallelism = arg("--parallelism").unwrap_or_else(|| "1".into());
    let h = Harness::new();
    let data = ysb::generate(
        h.dir.path(),
        &ysb::Spec {
            events,
            ..ysb::Spec::default()
        },
    )
    .expect("generating events");
    let wasm = weir_tests::guests::AD_FILTER;
    let text = JOB.replace("FUNCTION", wasm);
    let overrides = vec![
        format!("job.parallelism={parallelism}"),
        format!("sources.events.path={}", data.events.display()),
        format!(
            "sinks.out.path={}",
            h.dir.path().join("views.jsonl").display()
        ),
    ];
    let mut natives = NativeFunctions::default();
    native::register(&mut natives);
    let options = h.options();
    let native_options = weir::runtime::RunOptions {
        natives,
        ..h.options()
    };
    let (mut w, mut n) = (Vec::new(), Vec::new());
    // One warm-up of each (page cache, compiled component cache), then alternate.
    for round in 0..=runs {
        let mut wj = job(&text, h.dir.path(), &overrides);
        h.prepare(&mut wj);
        let mut nj = job(&text, h.dir.path(), &overrides);
        h.prepare(&mut nj);
        native::use_natives_named(&mut nj, "ad-filter");
        let a = throughput(wj, options.clone());
        let b = throughput(nj, native_options.clone());
        if round > 0 {
            w.push(a);
            n.push(b);
        }
    }
    let (w, n) = (median(&mut w), median(&mut n));
    println!(
        "parse+filter+project, {events} events, parallelism {parallelism}, median of {runs} runs"
    );
    println!("  wasm    {}", rate(w));
    println!("  native  {}", rate(n));
    println!("  wasm / native = {:.2}", w / n);
}

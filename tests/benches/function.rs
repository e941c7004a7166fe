//! One function alone, without a job around it: the YSB map function called on the same
//! batch over and over, as a Wasm component (through the host's boundary, with its
//! sandbox) and as the same Rust compiled natively. Prints ns per record (best of several
//! rounds, so the noise of a shared machine counts less) and the ratio.
//!
//!   cargo bench -p weir-tests --bench function -- [--batch 1024] [--rounds 9]

use std::sync::Arc;
use std::time::Instant;

use weir::manifest::Limits;
use weir::record::Batch;

use weir::wasm::bindings::types::InitContext;
use weir::wasm::{ComponentLoader, FunctionInfo, FunctionInstance, Prepared, WasmEngine, linker};
use weir_tests::bench::arg;
use weir_tests::{guests, native, ysb};

fn main() {
    let size: usize = arg("--batch").map_or(1024, |v| v.parse().expect("--batch N"));
    let rounds: usize = arg("--rounds").map_or(9, |v| v.parse().expect("--rounds N"));
    let dir = tempfile::tempdir().expect("a temporary folder");
    let data = ysb::generate(
        dir.path(),
        &ysb::Spec {
            events: size,
            ..ysb::Spec::default()
        },
    )
    .expect("events");
    let mut batch = Batch::default();
    for line in std::fs::read_to_string(&data.events).unwrap().lines() {
        batch.push(None, line.as_bytes(), None);
    }
    let campaigns = std::fs::read(&data.campaigns).unwrap();
    let init = InitContext {
        operator: "campaign".into(),
        config: "{}".into(),
        files: vec![("campaigns".into(), campaigns)],
        subtask: 0,
        parallelism: 1,
    };

    let engine = Arc::new(WasmEngine::new().expect("an engine"));
    let component = ComponentLoader::new(None)
        .load(&engine, std::path::Path::new(guests::YSB_CAMPAIGN))
        .expect("loads");
    let info = FunctionInfo {
        operator: "campaign".into(),
        component,
        limits: Limits::default(),
    };
    let prepared: Arc<Prepared<weir::wasm::MapExports>> = Arc::new(
        Prepared::new(
            engine.clone(),
            &linker(&engine).unwrap(),
            info,
            init.clone(),
        )
        .expect("links"),
    );
    let mut wasm = FunctionInstance::new(prepared, 0, None).expect("starts");

    let mut twin = native::map_by_name("ysb-campaign", &init);

    let per_round = (2_000_000 / size).max(1);
    // Rounds alternate between the two, so a slow spell of the machine hits both.
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        for _ in 0..per_round {
            f();
        }
        t.elapsed().as_secs_f64() * 1e9 / (per_round * size) as f64
    };
    let (mut out_w, mut out_n) = (0, 0);
    let (mut w, mut n) = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        w = w.min(time(&mut || {
            out_w = wasm.process(&batch, None, 0).expect("runs").records.len()
        }));
        n = n.min(time(&mut || {
            out_n = twin.process(&batch, None, 0).expect("runs").records.len()
        }));
    }
    assert_eq!(out_w, out_n, "both emit the same records");
    println!("ysb-campaign on batches of {size} records (best of {rounds} rounds)");
    println!("  wasm    {w:>6.1} ns/record");
    println!("  native  {n:>6.1} ns/record");
    println!("  native / wasm = {:.2}", n / w);
}

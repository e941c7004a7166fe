//! What starting a function costs: compiling a component, loading its compiled code from
//! the disk cache, and instantiating it (with `init`) from the pre-linked component.
//!
//!   cargo bench -p weir-tests --bench components

use std::sync::Arc;
use std::time::Instant;

use weir::manifest::Limits;

use weir::wasm::bindings::types::InitContext;
use weir::wasm::{ComponentLoader, FunctionInstance, Prepared, WasmEngine, linker};
use weir_tests::bench::median;
use weir_tests::guests;

fn main() {
    let engine = Arc::new(WasmEngine::new().expect("an engine"));
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = std::path::Path::new(guests::AD_FILTER);
    let runs = 20;

    let mut compile = Vec::new();
    let mut cached = Vec::new();
    for _ in 0..runs {
        let cache = dir.path().join(format!("c{}", compile.len()));
        let t = Instant::now();
        let c = ComponentLoader::new(Some(cache.clone()))
            .load(&engine, path)
            .expect("compiles");
        compile.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(!c.cached);
        let t = Instant::now();
        let c = ComponentLoader::new(Some(cache))
            .load(&engine, path)
            .expect("loads");
        cached.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(c.cached);
    }

    let component = ComponentLoader::new(None)
        .load(&engine, path)
        .expect("compiles");
    let linker = linker(&engine).expect("a linker");
    let info = weir::wasm::FunctionInfo {
        operator: "bench".into(),
        component,
        limits: Limits::default(),
    };
    let init = InitContext {
        operator: "bench".into(),
        config: "{}".into(),
        files: Vec::new(),
        subtask: 0,
        parallelism: 1,
    };
    let prepared: Arc<Prepared<weir::wasm::MapExports>> =
        Arc::new(Prepared::new(engine.clone(), &linker, info, init).expect("links"));
    let mut instantiate = Vec::new();
    for _ in 0..1000 {
        let t = Instant::now();
        let i = FunctionInstance::new(prepared.clone(), 0, None).expect("starts");
        instantiate.push(t.elapsed().as_secs_f64() * 1e6);
        drop(i);
    }
    println!(
        "component {} ({} KiB)",
        path.display(),
        std::fs::metadata(path).unwrap().len() / 1024
    );
    println!(
        "  compile                 {:>8.2} ms (median of {runs})",
        median(&mut compile)
    );
    println!(
        "  load from disk cache    {:>8.2} ms (median of {runs})",
        median(&mut cached)
    );
    println!(
        "  instantiate + init      {:>8.1} µs (median of 1000)",
        median(&mut instantiate)
    );
}

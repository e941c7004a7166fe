//! The Wasm engine shared by every function of a job, and the epoch ticker that gives
//! calls their CPU deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Result;
use wasmtime::{Config, Engine, OptLevel, ProfilingStrategy};

/// How often the epoch advances; deadlines are rounded up to whole ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The engine and its epoch ticker thread (stopped on drop).
pub struct WasmEngine {
    engine: Engine,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

/// The engine configuration every component is compiled for.
///
/// - `concurrency_support(false)`: the component-model-async bookkeeping it skips costs
///   ~380 ns on every call, and weir calls functions synchronously.
/// - epoch interruption: a cheap check in loops and function entries, so a call that runs
///   past its deadline traps instead of hanging its task (a few percent of throughput).
/// - `WEIR_WASM_PROFILER=perfmap` in the environment names compiled guest code for `perf`
///   (`/tmp/perf-<pid>.map`), so `perf report` shows guest functions by name.
pub fn config() -> Config {
    let mut c = Config::new();
    c.wasm_component_model(true);
    c.concurrency_support(false);
    c.epoch_interruption(true);
    c.cranelift_opt_level(OptLevel::Speed);
    c.parallel_compilation(true);
    if std::env::var_os("WEIR_WASM_PROFILER").is_some_and(|v| v == "perfmap") {
        c.profiler(ProfilingStrategy::PerfMap);
    }
    c
}

impl WasmEngine {
    /// A new engine with its ticker running.
    pub fn new() -> Result<Self> {
        let engine = Engine::new(&config())?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let engine = engine.weak();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("weir-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        match engine.upgrade() {
                            Some(e) => e.increment_epoch(),
                            None => return,
                        }
                    }
                })?
        };
        Ok(Self {
            engine,
            stop,
            ticker: Some(ticker),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Epoch ticks for a deadline (at least two, so a call never starts at its deadline).
    pub fn deadline_ticks(deadline_ms: u64) -> u64 {
        let tick = EPOCH_TICK.as_millis() as u64;
        deadline_ms.div_ceil(tick).max(1) + 1
    }
}

impl Drop for WasmEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

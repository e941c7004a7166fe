//! What a function's store holds: the sandbox, the host sides of its imports, and what a
//! failed call leaves behind for its error message.

use std::sync::Arc;

use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};

use super::bindings::log::{self, Level};
use super::broadcast_host::BroadcastHost;
use super::keyed_host::KeyedHost;
use super::log::{FunctionLog, Severity};
use super::sandbox::{MemoryLimiter, wasi_ctx};

/// The host side of `weir:udf/log`: lines go to the instance's [`FunctionLog`].
pub struct LogHost {
    /// The instance's log.
    pub log: FunctionLog,
}

impl log::Host for LogHost {
    fn log(&mut self, level: Level, message: String) {
        let severity = match level {
            Level::Trace => Severity::Trace,
            Level::Debug => Severity::Debug,
            Level::Info => Severity::Info,
            Level::Warn => Severity::Warn,
            Level::Error => Severity::Error,
        };
        self.log.push(severity, message);
    }
}

/// The data of a function's store.
pub struct StoreData {
    wasi: WasiCtx,
    table: ResourceTable,
    /// The memory cap.
    pub limiter: MemoryLimiter,
    /// `log`.
    pub log: LogHost,
    /// `keyed-state`.
    pub keyed: KeyedHost,
    /// `broadcast-state`.
    pub broadcast: BroadcastHost,
}

impl StoreData {
    /// Store data for a function labelled `label` in logs.
    pub fn new(
        label: Arc<str>,
        memory_cap: u64,
        keyed: KeyedHost,
        broadcast: BroadcastHost,
    ) -> Self {
        let log = FunctionLog::new(label);
        Self {
            wasi: wasi_ctx(&log),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory_cap),
            log: LogHost { log },
            keyed,
            broadcast,
        }
    }

    /// The same function's data for a fresh instance, keeping its state.
    pub fn renew(self) -> Self {
        let cap = self.limiter.cap();
        Self::new(
            self.log.log.label().clone(),
            cap,
            self.keyed,
            self.broadcast,
        )
    }
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

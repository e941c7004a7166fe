//! What a function's store holds: the sandbox, the host sides of its imports, and what a
//! failed call leaves behind for its error message.

use std::sync::Arc;

use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};

use super::bindings::log::{self, Level};
use super::broadcast_host::BroadcastHost;
use super::keyed_host::KeyedHost;
use super::sandbox::{MemoryLimiter, wasi_ctx};

/// Longest log line a function may write in one call to `log`.
const MAX_LOG_LINE: usize = 64 * 1024;

/// The host side of `weir:udf/log`.
pub struct LogHost {
    label: Arc<str>,
    /// The last panic message the function logged (SDK functions log their panics).
    pub last_panic: Option<String>,
}

impl log::Host for LogHost {
    fn log(&mut self, level: Level, mut message: String) {
        if message.len() > MAX_LOG_LINE {
            message.truncate(message.floor_char_boundary(MAX_LOG_LINE));
            message.push('…');
        }
        let f = &*self.label;
        match level {
            Level::Trace => tracing::trace!(target: "weir::function", function = f, "{message}"),
            Level::Debug => tracing::debug!(target: "weir::function", function = f, "{message}"),
            Level::Info => tracing::info!(target: "weir::function", function = f, "{message}"),
            Level::Warn => tracing::warn!(target: "weir::function", function = f, "{message}"),
            Level::Error => {
                if let Some(p) = message.strip_prefix("panic: ") {
                    self.last_panic = Some(p.to_owned());
                } else {
                    tracing::error!(target: "weir::function", function = f, "{message}");
                }
            }
        }
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
        Self {
            wasi: wasi_ctx(&label),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory_cap),
            log: LogHost {
                label,
                last_panic: None,
            },
            keyed,
            broadcast,
        }
    }

    /// The same function's data for a fresh instance, keeping its state.
    pub fn renew(self) -> Self {
        let cap = self.limiter.cap();
        Self::new(self.log.label, cap, self.keyed, self.broadcast)
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

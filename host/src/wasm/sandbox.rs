//! The sandbox a function runs in: WASI linked but granting nothing, guest output into
//! the job log, and a memory cap.

use bytes::Bytes;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use super::log::{FunctionLog, MAX_LINE, Severity};

/// Caps an instance's linear memory and remembers whether the cap was hit, so the trap
/// that follows (a Rust guest aborts when an allocation fails) is reported as what it is.
#[derive(Debug)]
pub struct MemoryLimiter {
    cap: usize,
    hit: bool,
}

impl MemoryLimiter {
    /// A limiter allowing `cap` bytes of linear memory.
    pub fn new(cap: u64) -> Self {
        Self {
            cap: usize::try_from(cap).unwrap_or(usize::MAX),
            hit: false,
        }
    }

    /// The cap in bytes.
    pub fn cap(&self) -> u64 {
        self.cap as u64
    }

    /// Whether a growth was refused since the last [`reset`](Self::reset).
    pub fn hit(&self) -> bool {
        self.hit
    }

    /// Forgets earlier refusals.
    pub fn reset(&mut self) {
        self.hit = false;
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        // Growth past the memory's own maximum (4 GiB for a 32-bit memory) fails before
        // the cap is asked: it is the cap all the same.
        tracing::debug!("memory growth failed: {error:#}");
        self.hit = true;
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// A WASI context that grants nothing: no files, no environment, no arguments, no
/// network; stdout and stderr go to the job log under the function's name.
pub fn wasi_ctx(log: &FunctionLog) -> WasiCtx {
    let mut b = WasiCtxBuilder::new();
    b.stdout(LogStream::new(log.clone(), false))
        .stderr(LogStream::new(log.clone(), true))
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(async { false }));
    b.build()
}

/// Guest stdout or stderr, logged line by line.
#[derive(Clone)]
pub struct LogStream {
    log: FunctionLog,
    stderr: bool,
}

impl LogStream {
    fn new(log: FunctionLog, stderr: bool) -> Self {
        Self { log, stderr }
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(LogWriter {
            log: self.log.clone(),
            stderr: self.stderr,
            line: Vec::new(),
        })
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(tokio::io::sink())
    }
}

struct LogWriter {
    log: FunctionLog,
    stderr: bool,
    line: Vec<u8>,
}

impl LogWriter {
    fn emit(&mut self) {
        let text = String::from_utf8_lossy(&self.line);
        let text = text.trim_end_matches(['\n', '\r']);
        if self.stderr {
            self.log.push(Severity::Warn, format!("stderr: {text}"));
        } else {
            self.log.push(Severity::Info, format!("stdout: {text}"));
        }
        self.line.clear();
    }
}

impl OutputStream for LogWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        for chunk in bytes.split_inclusive(|&b| b == b'\n') {
            self.line.extend_from_slice(chunk);
            if chunk.ends_with(b"\n") || self.line.len() >= MAX_LINE {
                self.emit();
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[async_trait::async_trait]
impl Pollable for LogWriter {
    async fn ready(&mut self) {}
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        if !self.line.is_empty() {
            self.emit();
        }
    }
}

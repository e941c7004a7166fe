//! How a function call can fail, told apart so the error says what happened.

use wasmtime::Trap;

use super::store::StoreData;

/// Why a call failed. The call's state writes are dropped in every case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The function trapped (a panic, `unreachable`, an out-of-bounds access...).
    #[error("the function trapped: {0}")]
    Trap(String),
    /// The call ran past its CPU deadline.
    #[error("the call ran past its deadline of {0} ms")]
    Deadline(u64),
    /// The instance tried to grow its memory past its cap.
    #[error("the function exceeded its memory limit of {}", bytes(*.0))]
    MemoryLimit(u64),
    /// The function's `init` returned an error.
    #[error("the function's init failed: {0}")]
    Init(String),
    /// The function returned something the host cannot use.
    #[error("the function returned malformed output: {0}")]
    Malformed(String),
    /// The host itself failed (for instance reading or writing state). Not the
    /// function's fault nor the record's: the task fails (and restarts, with
    /// checkpoints), nothing goes to the dead-letter output.
    #[error("the host failed: {0}")]
    Host(String),
}

impl Failure {
    /// Whether this is a failure of the host, not of the function on a record.
    pub fn is_host(&self) -> bool {
        matches!(self, Self::Host(_))
    }

    /// Whether the instance is unusable afterwards (a new one must be made).
    pub fn poisons(&self) -> bool {
        matches!(
            self,
            Self::Trap(_) | Self::Deadline(_) | Self::MemoryLimit(_)
        )
    }
}

/// `n` bytes for people.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if v.fract() == 0.0 {
        format!("{v} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Classifies an error from a call, consulting what the store saw.
pub(crate) fn classify(err: wasmtime::Error, data: &StoreData, deadline_ms: u64) -> Failure {
    if let Some(e) = data.keyed.host_error() {
        return Failure::Host(e);
    }
    if data.limiter.hit() {
        return Failure::MemoryLimit(data.limiter.cap());
    }
    if matches!(err.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
        return Failure::Deadline(deadline_ms);
    }
    let mut message = match &data.log.log.last_panic() {
        Some(p) => format!("panicked: {p}"),
        None => err
            .downcast_ref::<Trap>()
            .map_or_else(|| format!("{err}"), |t| t.to_string()),
    };
    // The Wasm backtrace, when there is one, names the function frames.
    if let Some(bt) = err.downcast_ref::<wasmtime::WasmBacktrace>() {
        let frames: Vec<String> = bt
            .frames()
            .iter()
            .take(8)
            .map(|f| match f.func_name() {
                Some(name) => format!("{:#}", rustc_demangle::demangle(name)),
                None => "<unnamed>".to_owned(),
            })
            .collect();
        if !frames.is_empty() {
            message.push_str(&format!(" (wasm backtrace: {})", frames.join(" <- ")));
        }
    }
    Failure::Trap(message)
}

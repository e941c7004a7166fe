//! What functions log — through the `log` import or their stdout and stderr — held per
//! call and passed to the job log only once the call's fate is known: a call that fails
//! and is replayed in parts logs nothing itself (its parts log once each). A call may log
//! at most [`CALL_BUDGET`] bytes; the rest is dropped and counted in one line.

use std::sync::{Arc, Mutex};

/// Longest line passed to the log in one piece.
pub const MAX_LINE: usize = 16 * 1024;
/// Most bytes one call may log.
pub const CALL_BUDGET: usize = 256 * 1024;

/// How severe a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Tracing detail.
    Trace,
    /// Debugging detail.
    Debug,
    /// Information (and stdout).
    Info,
    /// A warning (and stderr).
    Warn,
    /// An error.
    Error,
}

#[derive(Debug, Default)]
struct Buffer {
    lines: Vec<(Severity, String)>,
    bytes: usize,
    dropped_bytes: usize,
    last_panic: Option<String>,
}

/// The log of one function instance, shared by its `log` import and its output streams.
#[derive(Debug, Clone)]
pub struct FunctionLog {
    label: Arc<str>,
    buffer: Arc<Mutex<Buffer>>,
}

impl FunctionLog {
    /// The log of the function labelled `label`.
    pub fn new(label: Arc<str>) -> Self {
        Self {
            label,
            buffer: Arc::default(),
        }
    }

    /// The function's label.
    pub fn label(&self) -> &Arc<str> {
        &self.label
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buffer> {
        self.buffer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a line (cut at [`MAX_LINE`], dropped past the call's budget). A line
    /// `panic: <message>` at error level is the panic of an SDK function: it is kept for
    /// the failure's message instead.
    pub fn push(&self, severity: Severity, mut text: String) {
        let mut b = self.lock();
        if severity == Severity::Error
            && let Some(p) = text.strip_prefix("panic: ")
        {
            let mut p = p.to_owned();
            truncate(&mut p, MAX_LINE);
            b.last_panic = Some(p);
            return;
        }
        truncate(&mut text, MAX_LINE);
        if b.bytes + text.len() > CALL_BUDGET {
            b.dropped_bytes += text.len();
            return;
        }
        b.bytes += text.len();
        b.lines.push((severity, text));
    }

    /// A call begins: forgets the last one's panic.
    pub fn begin_call(&self) {
        self.lock().last_panic = None;
    }

    /// The panic message the call logged, if any.
    pub fn last_panic(&self) -> Option<String> {
        self.lock().last_panic.clone()
    }

    /// Passes the call's lines to the job log.
    pub fn flush(&self) {
        let (lines, dropped) = {
            let mut b = self.lock();
            let lines = std::mem::take(&mut b.lines);
            let dropped = std::mem::take(&mut b.dropped_bytes);
            b.bytes = 0;
            (lines, dropped)
        };
        let f = &*self.label;
        for (severity, message) in lines {
            match severity {
                Severity::Trace => {
                    tracing::trace!(target: "weir::function", function = f, "{message}")
                }
                Severity::Debug => {
                    tracing::debug!(target: "weir::function", function = f, "{message}")
                }
                Severity::Info => {
                    tracing::info!(target: "weir::function", function = f, "{message}")
                }
                Severity::Warn => {
                    tracing::warn!(target: "weir::function", function = f, "{message}")
                }
                Severity::Error => {
                    tracing::error!(target: "weir::function", function = f, "{message}")
                }
            }
        }
        if dropped > 0 {
            tracing::warn!(
                target: "weir::function",
                function = f,
                "dropped {dropped} bytes of log lines past the budget of {CALL_BUDGET} bytes per call"
            );
        }
    }

    /// Forgets the call's lines (it failed and will be replayed in parts).
    pub fn discard(&self) {
        let mut b = self.lock();
        b.lines.clear();
        b.bytes = 0;
        b.dropped_bytes = 0;
    }
}

fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        text.truncate(text.floor_char_boundary(max));
        text.push('…');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_logs_at_most_its_budget_and_panics_are_kept_apart() {
        let log = FunctionLog::new(Arc::from("f"));
        for _ in 0..100 {
            log.push(Severity::Info, "x".repeat(1 << 20));
        }
        {
            let b = log.lock();
            assert!(b.bytes <= CALL_BUDGET, "{}", b.bytes);
            assert!(b.dropped_bytes > 0);
            assert!(
                b.lines
                    .iter()
                    .all(|(_, l)| l.len() <= MAX_LINE + '…'.len_utf8())
            );
        }
        log.push(Severity::Error, "panic: boom".into());
        assert_eq!(log.last_panic().as_deref(), Some("boom"));
        log.discard();
        assert!(log.lock().lines.is_empty());
        log.begin_call();
        assert_eq!(log.last_panic(), None);
    }
}

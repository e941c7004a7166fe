//! What happens to a record a function fails on: the job stops with an error naming the
//! function and the record, or the record goes to the operator's dead-letter output with
//! the error, and the job goes on.

use std::sync::Arc;

use serde_json::json;

use super::function::FunctionLabel;
use super::{Collector, Side};
use crate::manifest::ErrorPolicy;
use crate::record::{Batch, RecordRef};
use crate::runtime::NodeMetrics;

/// How much of a record an error message shows.
const SHOWN_BYTES: usize = 256;

/// A record, shortened for an error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSummary(pub String);

impl RecordSummary {
    /// Summarises `r`.
    pub fn of(r: &RecordRef<'_>) -> Self {
        let mut s = String::new();
        if let Some(k) = r.key {
            s.push_str(&format!("key {} ", shorten(k)));
        }
        if let Some(t) = r.timestamp {
            s.push_str(&format!("timestamp {t} "));
        }
        s.push_str(&format!("value {}", shorten(r.value)));
        Self(s)
    }
}

impl std::fmt::Display for RecordSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn shorten(b: &[u8]) -> String {
    let cut = &b[..b.len().min(SHOWN_BYTES)];
    let text = String::from_utf8_lossy(cut);
    if b.len() > SHOWN_BYTES {
        format!("{text:?} (first {SHOWN_BYTES} of {} bytes)", b.len())
    } else {
        format!("{text:?}")
    }
}

/// A function failed on a record, under the `fail` policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{function} failed on a record: {message}\n  record: {record}")]
pub struct FunctionError {
    /// The operator and function.
    pub function: FunctionLabel,
    /// What went wrong.
    pub message: String,
    /// The record.
    pub record: RecordSummary,
}

/// Applies an operator's error policy.
#[derive(Clone)]
pub struct ErrorHandler {
    policy: ErrorPolicy,
    label: Arc<FunctionLabel>,
    metrics: Arc<NodeMetrics>,
}

impl ErrorHandler {
    /// The handler of an operator.
    pub fn new(policy: ErrorPolicy, label: FunctionLabel, metrics: Arc<NodeMetrics>) -> Self {
        Self {
            policy,
            label: Arc::new(label),
            metrics,
        }
    }

    /// The same policy for another function (after a swap).
    pub fn relabel(&mut self, label: FunctionLabel) {
        self.label = Arc::new(label);
    }

    /// Counts `n` inputs as rejected (sent to [`failed`](Self::failed) as inputs, not as
    /// elements of a window that failed).
    pub fn count_rejected(&self, n: usize) {
        self.metrics.rejected.add(n as u64);
    }

    /// Counts a window the function failed on.
    pub fn window_failed(&self) {
        self.metrics.windows_failed.add(1);
    }

    /// Record `r` failed with `message`: fails the job, or sends it to the dead-letter
    /// output.
    pub fn failed(
        &self,
        r: &RecordRef<'_>,
        message: &str,
        out: &mut Collector,
    ) -> anyhow::Result<()> {
        match self.policy {
            ErrorPolicy::Fail => Err(FunctionError {
                function: (*self.label).clone(),
                message: message.to_owned(),
                record: RecordSummary::of(r),
            }
            .into()),
            ErrorPolicy::DeadLetter => {
                let mut b = Batch::default();
                let line = dead_letter_line(&self.label, message, r);
                b.push(None, &line, r.timestamp);
                self.metrics.dead_letters.add(1);
                self.metrics.live.dead_letter(&line);
                out.side(Side::DeadLetter, b);
                Ok(())
            }
        }
    }
}

/// The dead-letter form of a failed record: one JSON object with the operator, the
/// function, the error and the record (its value as text when it is UTF-8, else hex).
pub fn dead_letter_line(label: &FunctionLabel, message: &str, r: &RecordRef<'_>) -> Vec<u8> {
    use crate::record::envelope::{bytes_json as bytes, headers_json};
    let headers = headers_json(r);
    let mut record = json!({ "value": bytes(r.value) });
    if let Some(k) = r.key {
        record["key"] = bytes(k);
    }
    if let Some(t) = r.timestamp {
        record["timestamp"] = json!(t);
    }
    if !headers.is_empty() {
        record["headers"] = serde_json::Value::Object(headers);
    }
    serde_json::to_vec(&json!({
        "operator": label.operator,
        "function": label.function,
        "error": message,
        "record": record,
    }))
    .expect("JSON values serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letters_carry_error_and_record() {
        let label = FunctionLabel {
            operator: "parse".into(),
            function: "component x.wasm".into(),
        };
        let mut b = Batch::default();
        b.push(Some(b"k"), b"not json", Some(5));
        b.push(None, &[0xff, 0x00], None);
        let line: serde_json::Value =
            serde_json::from_slice(&dead_letter_line(&label, "invalid JSON", &b.get(0))).unwrap();
        assert_eq!(line["operator"], "parse");
        assert_eq!(line["error"], "invalid JSON");
        assert_eq!(line["record"]["value"], "not json");
        assert_eq!(line["record"]["key"], "k");
        assert_eq!(line["record"]["timestamp"], 5);
        let line: serde_json::Value =
            serde_json::from_slice(&dead_letter_line(&label, "x", &b.get(1))).unwrap();
        assert_eq!(line["record"]["value"]["hex"], "ff00");
    }

    #[test]
    fn summaries_truncate_long_values() {
        let long = vec![b'a'; 1000];
        let mut b = Batch::default();
        b.push(None, &long, None);
        let s = RecordSummary::of(&b.get(0)).0;
        assert!(s.contains("first 256 of 1000 bytes"), "{s}");
    }
}

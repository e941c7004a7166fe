//! What a running instance shows besides its counts: the watermark it has reached and
//! the latest records it sent to its dead-letter output.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

/// The watermark of an instance that has none yet.
pub const NO_WATERMARK: i64 = i64::MIN;

/// How many dead letters an instance keeps for the control endpoint.
const KEPT: usize = 100;

/// One dead-lettered record, as the control endpoint shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeadLetterEntry {
    /// When it was dead-lettered (epoch ms).
    pub at_ms: i64,
    /// The instance.
    pub subtask: u32,
    /// The dead-letter record (operator, function, error, record), as JSON.
    pub line: serde_json::Value,
}

/// An instance's watermark and latest dead letters.
#[derive(Debug)]
pub struct Live {
    watermark: AtomicI64,
    recent: Mutex<VecDeque<DeadLetterEntry>>,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            watermark: AtomicI64::new(NO_WATERMARK),
            recent: Mutex::default(),
        }
    }
}

impl Live {
    /// The instance's input watermark reached `w`.
    pub fn set_watermark(&self, w: i64) {
        self.watermark.store(w, Ordering::Relaxed);
    }

    /// Its watermark, if it has one.
    pub fn watermark(&self) -> Option<i64> {
        let w = self.watermark.load(Ordering::Relaxed);
        (w != NO_WATERMARK).then_some(w)
    }

    /// Keeps a dead letter (the oldest kept goes when there are too many).
    pub fn dead_letter(&self, line: &[u8]) {
        let entry = DeadLetterEntry {
            at_ms: crate::runtime::epoch_ms(),
            subtask: 0,
            line: serde_json::from_slice(line).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(line).into())
            }),
        };
        let mut r = self.recent.lock().expect("dead letters");
        if r.len() == KEPT {
            r.pop_front();
        }
        r.push_back(entry);
    }

    /// The dead letters kept, oldest first, as instance `subtask`'s.
    pub fn dead_letters(&self, subtask: u32) -> Vec<DeadLetterEntry> {
        self.recent
            .lock()
            .expect("dead letters")
            .iter()
            .map(|e| DeadLetterEntry {
                subtask,
                ..e.clone()
            })
            .collect()
    }
}

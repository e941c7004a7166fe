//! A process-window function: each fired window (its key, bounds and elements) in,
//! records out. Build it with `weir build .` or name this folder as a window operator's
//! `component`.

use serde_json::json;
use weir_sdk::{FiredWindow, InitContext, Output, ProcessWindow, Result};

/// The function.
pub struct __CLASS__;

impl ProcessWindow for __CLASS__ {
    fn init(_: &InitContext) -> Result<Self> {
        Ok(__CLASS__)
    }

    fn process(&mut self, window: &FiredWindow<'_>, out: &mut Output) -> Result<()> {
        // With `aggregate = "count"` the window holds one element, its count:
        // `window.elements.accumulator::<u64>()`.
        out.emit_json(&json!({
            "key": window.key_str()?,
            "start": window.window.start,
            "end": window.window.end,
            "elements": window.elements.len(),
        }))
    }
}

weir_sdk::export_window!(__CLASS__);

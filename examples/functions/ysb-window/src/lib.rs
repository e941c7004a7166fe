//! The Yahoo Streaming Benchmark's window step: the host counts views per campaign and
//! 10 s window (`aggregate = "count"`); this function formats each count as
//! `{"campaign_id","window_start","window_end","count"}`.

use serde::Serialize;
use weir_sdk::{FiredWindow, InitContext, Output, ProcessWindow, Result};

#[derive(Serialize)]
struct Count<'a> {
    campaign_id: &'a str,
    window_start: i64,
    window_end: i64,
    count: u64,
}

/// The function.
pub struct YsbWindow;

impl ProcessWindow for YsbWindow {
    fn init(_: &InitContext) -> Result<Self> {
        Ok(YsbWindow)
    }

    fn process(&mut self, w: &FiredWindow<'_>, out: &mut Output) -> Result<()> {
        out.emit_json(&Count {
            campaign_id: w.key_str()?,
            window_start: w.window.start,
            window_end: w.window.end,
            count: w.elements.accumulator()?,
        })
    }
}

weir_sdk::export_window!(YsbWindow);

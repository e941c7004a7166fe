//! A process-window function that shows exactly what fired: emits
//! `{"key","start","end","values":[...],"update"}` with the element values in order.
//! A window holding the element `"fail-window"` fails.

use serde_json::{Value, json};
use weir_sdk::{FiredWindow, InitContext, Output, ProcessWindow, Result};

pub struct WindowCollect;

impl ProcessWindow for WindowCollect {
    fn init(_: &InitContext) -> Result<Self> {
        Ok(WindowCollect)
    }

    fn process(&mut self, w: &FiredWindow<'_>, out: &mut Output) -> Result<()> {
        if w.elements.iter().any(|e| e.value == b"\"fail-window\"") {
            weir_sdk::bail!("this window holds `fail-window`");
        }
        let values: Vec<Value> = w
            .elements
            .iter()
            .map(|e| {
                serde_json::from_slice(e.value).unwrap_or_else(|_| {
                    Value::String(String::from_utf8_lossy(e.value).into_owned())
                })
            })
            .collect();
        out.emit_json(&json!({
            "key": w.key_str()?,
            "start": w.window.start,
            "end": w.window.end,
            "values": values,
            "update": w.update,
        }))
    }
}

weir_sdk::export_window!(WindowCollect);

//! A process-window function that shows exactly what fired: emits
//! `{"key","start","end","values":[...],"update"}` with the element values in order (and
//! `"timing"`, the firing's pane timing, with the config `show_timing = true`).
//! A window holding the element `"fail-window"` fails.

use serde::Deserialize;
use serde_json::{Value, json};
use weir_sdk::{FiredWindow, InitContext, Output, ProcessWindow, Result, Timing};

#[derive(Deserialize, Default)]
struct Config {
    #[serde(default)]
    show_timing: bool,
}

pub struct WindowCollect {
    show_timing: bool,
}

impl ProcessWindow for WindowCollect {
    fn init(ctx: &InitContext) -> Result<Self> {
        let config: Config = ctx.config().unwrap_or_default();
        Ok(WindowCollect {
            show_timing: config.show_timing,
        })
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
        let mut result = json!({
            "key": w.key_str()?,
            "start": w.window.start,
            "end": w.window.end,
            "values": values,
            "update": w.update,
        });
        if self.show_timing {
            result["timing"] = json!(match w.timing {
                Timing::Early => "early",
                Timing::OnTime => "on-time",
                Timing::Late => "late",
            });
        }
        out.emit_json(&result)
    }
}

weir_sdk::export_window!(WindowCollect);

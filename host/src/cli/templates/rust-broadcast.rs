//! A broadcast-process function: the broadcast input fills a table that every parallel
//! instance holds; each main-input record is enriched from it. Build it with
//! `weir build .` or name this folder as a broadcast operator's `component`.

use serde_json::{Map as JsonMap, Value};
use weir_sdk::{BroadcastProcess, BroadcastState, InitContext, Output, Record, Result, bail};

/// The function: the table.
pub struct __CLASS__ {
    table: BroadcastState<String, Value>,
}

impl BroadcastProcess for __CLASS__ {
    fn init(_: &InitContext) -> Result<Self> {
        Ok(__CLASS__ {
            table: BroadcastState::new("table"),
        })
    }

    /// Broadcast records: `{"id": "...", "value": ...}`, or `{"id": "...", "remove": true}`.
    fn process_broadcast(&mut self, record: &Record<'_>, _out: &mut Output) -> Result<()> {
        let update: JsonMap<String, Value> = record.json()?;
        let Some(Value::String(id)) = update.get("id") else {
            bail!("the update has no id");
        };
        if update.get("remove") == Some(&Value::Bool(true)) {
            self.table.remove(id)?;
        } else {
            self.table.put(id, update.get("value").unwrap_or(&Value::Null))?;
        }
        Ok(())
    }

    /// Main records: `{"id": "...", ...}`, emitted with the table's value added.
    fn process_element(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()> {
        let mut event: JsonMap<String, Value> = record.json()?;
        let Some(Value::String(id)) = event.get("id") else {
            bail!("the record has no id");
        };
        let value = self.table.get(id.as_str())?.unwrap_or(Value::Null);
        event.insert("value".into(), value);
        out.emit_json(&event)
    }
}

weir_sdk::export_broadcast!(__CLASS__);

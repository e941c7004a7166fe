//! A map function: each input record in, zero or more records out. Build it with
//! `weir build .` or name this folder as an operator's `component`.

use serde_json::{Map as JsonMap, Value};
use weir_sdk::{InitContext, Map, Output, Record, Result};

/// The function.
pub struct __CLASS__ {
    tag: String,
}

impl Map for __CLASS__ {
    fn init(ctx: &InitContext) -> Result<Self> {
        // The operator's `config` table; declare keyed state here (`ctx.value_state`).
        let config: JsonMap<String, Value> = ctx.config()?;
        let tag = config.get("tag").and_then(Value::as_str).unwrap_or("__NAME__");
        Ok(__CLASS__ { tag: tag.to_owned() })
    }

    fn map(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()> {
        let mut event: JsonMap<String, Value> = record.json()?; // an error rejects the record
        event.insert("tag".into(), Value::String(self.tag.clone()));
        match record.key {
            Some(key) => out.emit_keyed_json(key, &event),
            None => out.emit_json(&event),
        }
    }
}

weir_sdk::export_map!(__CLASS__);

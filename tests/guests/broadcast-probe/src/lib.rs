//! A broadcast-process function for testing broadcast state. Broadcast records
//! `{"put":k,"value":v}`, `{"remove":k}` or `{"clear":true}` change the state `table`.
//! Main records are keys: each emits `{"key","value","write"}` where `value` is the
//! table's entry and `write` is what an attempt to write the table from the element side
//! returned (it must be the read-only error). A main record `trap` panics; `init` fails
//! when the table holds the key `fail-init` (so a fresh instance, made after a trap,
//! cannot start).

use serde::Deserialize;
use serde_json::json;
use weir_sdk::{BroadcastProcess, BroadcastState, InitContext, Output, Record, Result, bail};

#[derive(Deserialize)]
struct Change {
    put: Option<String>,
    value: Option<String>,
    remove: Option<String>,
    clear: Option<bool>,
}

pub struct BroadcastProbe {
    table: BroadcastState<String, String>,
}

impl BroadcastProcess for BroadcastProbe {
    fn init(_: &InitContext) -> Result<Self> {
        let table = BroadcastState::new("table");
        if table.get("fail-init")?.is_some() {
            bail!("init refuses to start: the table holds `fail-init`");
        }
        Ok(BroadcastProbe { table })
    }

    fn process_element(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()> {
        let key = record.text()?.to_owned();
        if key == "trap" {
            panic!("the record asked for a trap");
        }
        let value = self.table.get(&key)?;
        let write = match self.table.put(&key, &"from the element side".to_owned()) {
            Ok(()) => "allowed".to_owned(),
            Err(e) => e.to_string(),
        };
        out.emit_json(&json!({ "key": key, "value": value, "write": write }))
    }

    fn process_broadcast(&mut self, record: &Record<'_>, _out: &mut Output) -> Result<()> {
        let c: Change = record.json()?;
        match c {
            Change {
                put: Some(k),
                value: Some(v),
                ..
            } => self.table.put(&k, &v)?,
            Change {
                remove: Some(k), ..
            } => self.table.remove(&k)?,
            Change {
                clear: Some(true), ..
            } => self.table.clear()?,
            _ => bail!("not a change"),
        }
        Ok(())
    }
}

weir_sdk::export_broadcast!(BroadcastProbe);

//! A keyed map function that traps after writing state: every record adds one to the
//! count of its key, then a record whose value is `trap` panics. Other records emit
//! `{"key","value","count"}`, so what later records see shows whether the failed
//! record's write was kept.

use serde_json::json;
use weir_sdk::{InitContext, Map, Output, Record, Result, ValueState};

pub struct KeyedTrap {
    count: ValueState<u64>,
}

impl Map for KeyedTrap {
    fn init(ctx: &InitContext) -> Result<Self> {
        Ok(KeyedTrap {
            count: ctx.value_state("count")?,
        })
    }

    fn map(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()> {
        let count = self.count.update(|n| n.unwrap_or(0) + 1)?;
        let value = record.text()?;
        if value == "trap" {
            panic!("trapping after writing count {count}");
        }
        out.emit_json(&json!({
            "key": String::from_utf8_lossy(record.key.unwrap_or_default()),
            "value": value,
            "count": count,
        }))
    }
}

weir_sdk::export_map!(KeyedTrap);

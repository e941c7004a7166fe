//! A keyed map function exercising every kind of keyed state: for each record it counts
//! the records of its key (value state), remembers the last three values (list state),
//! and counts values per distinct value (map state); it emits
//! `{"key","count","recent","distinct","seen_this"}`.
//!
//! Config: `ttl_ms` (optional) gives the count state a time to live.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use weir_sdk::{InitContext, ListState, Map, MapState, Output, Record, Result, ValueState};

#[derive(Deserialize, Default)]
struct Config {
    ttl_ms: Option<u64>,
}

pub struct KeyedCounter {
    count: ValueState<u64>,
    recent: ListState<String>,
    per_value: MapState<String, u64>,
}

impl Map for KeyedCounter {
    fn init(ctx: &InitContext) -> Result<Self> {
        let config: Config = ctx.config()?;
        let mut count = ctx.state("count");
        if let Some(ms) = config.ttl_ms {
            count = count.ttl(Duration::from_millis(ms));
        }
        Ok(KeyedCounter {
            count: count.value()?,
            recent: ctx.list_state("recent")?,
            per_value: ctx.map_state("per-value")?,
        })
    }

    fn map(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()> {
        let value = record.text()?.to_owned();
        let count = self.count.update(|n| n.unwrap_or(0) + 1)?;
        let mut recent = self.recent.get()?;
        recent.push(value.clone());
        if recent.len() > 3 {
            recent.remove(0);
            self.recent.update(&recent)?;
        } else {
            self.recent.add(&value)?;
        }
        let seen = self.per_value.get(&value)?.unwrap_or(0) + 1;
        self.per_value.put(&value, &seen)?;
        let distinct = self.per_value.keys()?.len();
        out.emit_json(&json!({
            "key": String::from_utf8_lossy(record.key.unwrap_or_default()),
            "count": count,
            "recent": recent,
            "distinct": distinct,
            "seen_this": seen,
        }))
    }
}

weir_sdk::export_map!(KeyedCounter);

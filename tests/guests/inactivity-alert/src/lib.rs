//! Per-key inactivity alerts, a keyed map function with timers (Flink's
//! `KeyedProcessFunction`): each record of a key moves the key's timer to the record's
//! timestamp plus `gap_ms`; when the timer fires (no record of the key for `gap_ms`), it
//! emits `{"key","last_seen","alert_at","records"}` and forgets the key.
//!
//! Config: `gap_ms` (default 30 minutes); `domain` = `"event"` (default) or
//! `"processing"` (the timer follows the wall clock from when the record was handled);
//! `every_record = true`: every record registers its own timer (none is deleted) and each
//! timer emits `{"key","alert_at"}` (a checkable trace of every timer).

use serde::Deserialize;
use serde_json::json;
use weir_sdk::timers::{self, TimeDomain, Timer};
use weir_sdk::{InitContext, Map, OnTimer, Output, Record, Result, ValueState};

#[derive(Deserialize)]
struct Config {
    #[serde(default = "default_gap")]
    gap_ms: i64,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    every_record: bool,
}

fn default_gap() -> i64 {
    30 * 60 * 1000
}

pub struct InactivityAlert {
    gap_ms: i64,
    every_record: bool,
    domain: TimeDomain,
    /// When the key's pending timer fires.
    due: ValueState<i64>,
    /// The key's latest record timestamp.
    last_seen: ValueState<i64>,
    /// Records of the key since its last alert.
    records: ValueState<u64>,
}

impl Map for InactivityAlert {
    fn init(ctx: &InitContext) -> Result<Self> {
        let config: Config = ctx.config()?;
        let domain = match config.domain.as_deref() {
            None | Some("event") => TimeDomain::EventTime,
            Some("processing") => TimeDomain::ProcessingTime,
            Some(other) => weir_sdk::bail!("unknown domain `{other}`"),
        };
        Ok(InactivityAlert {
            gap_ms: config.gap_ms,
            every_record: config.every_record,
            domain,
            due: ctx.value_state("due")?,
            last_seen: ctx.value_state("last-seen")?,
            records: ctx.value_state("records")?,
        })
    }

    fn map(&mut self, record: &Record<'_>, _out: &mut Output) -> Result<()> {
        let Some(t) = record.timestamp else {
            weir_sdk::bail!("the record has no timestamp");
        };
        if self.every_record {
            return timers::register(self.domain, t + self.gap_ms);
        }
        if let Some(old) = self.due.get()? {
            timers::delete(self.domain, old)?;
        }
        let base = match self.domain {
            TimeDomain::EventTime => t,
            TimeDomain::ProcessingTime => timers::current_processing_time(),
        };
        let due = base + self.gap_ms;
        timers::register(self.domain, due)?;
        self.due.set(&due)?;
        let last = self.last_seen.get()?.map_or(t, |l| l.max(t));
        self.last_seen.set(&last)?;
        self.records.update(|n| n.unwrap_or(0) + 1)?;
        Ok(())
    }
}

impl OnTimer for InactivityAlert {
    fn on_timer(&mut self, timer: &Timer<'_>, out: &mut Output) -> Result<()> {
        if self.every_record {
            return out.emit_json(&json!({"key": timer.key_str()?, "alert_at": timer.time}));
        }
        out.emit_json(&json!({
            "key": timer.key_str()?,
            "last_seen": self.last_seen.get()?,
            "alert_at": timer.time,
            "records": self.records.get()?.unwrap_or(0),
        }))?;
        self.due.clear()?;
        self.last_seen.clear()?;
        self.records.clear()
    }
}

weir_sdk::export_map!(InactivityAlert, timers);

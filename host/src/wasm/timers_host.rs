//! The host side of `weir:udf/timers` (timers of the keys of the call in progress,
//! registered and deleted as keyed state is written: kept only if the call succeeds) and
//! of `weir:udf/panes` (the timings of the windows a call fires).

use super::bindings::panes;
use super::bindings::timers::{self, TimeDomain};
use super::keyed_host::KeyedHost;
use crate::time::Timing;

/// A timer a call registered or deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerChange {
    /// The key.
    pub key: Vec<u8>,
    /// Event or processing time.
    pub event_time: bool,
    /// When.
    pub time: i64,
    /// Deleted (`true`) or registered.
    pub delete: bool,
}

impl KeyedHost {
    fn timer_change(
        &mut self,
        key: u32,
        domain: TimeDomain,
        time: i64,
        delete: bool,
    ) -> Result<(), String> {
        let Some(key) = self.call_key(key) else {
            return Err(if self.keyed_call() {
                format!("key index {key} is not in the call's key table")
            } else {
                "timers need keyed input (`key_by` on the operator)".to_owned()
            });
        };
        let change = TimerChange {
            key,
            event_time: domain == TimeDomain::EventTime,
            time,
            delete,
        };
        self.timers_pending.push(change);
        Ok(())
    }
}

impl panes::Host for KeyedHost {
    fn timings(&mut self) -> Vec<panes::Timing> {
        self.panes
            .iter()
            .map(|t| match t {
                Timing::Early => panes::Timing::Early,
                Timing::OnTime => panes::Timing::OnTime,
                Timing::Late => panes::Timing::Late,
            })
            .collect()
    }
}

impl timers::Host for KeyedHost {
    fn register(&mut self, key: u32, domain: TimeDomain, time: i64) -> Result<(), String> {
        self.timer_change(key, domain, time, false)
    }

    fn delete(&mut self, key: u32, domain: TimeDomain, time: i64) -> Result<(), String> {
        self.timer_change(key, domain, time, true)
    }

    fn current_watermark(&mut self) -> i64 {
        self.watermark
    }

    fn current_processing_time(&mut self) -> i64 {
        self.now_ms
    }
}

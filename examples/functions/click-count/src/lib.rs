//! Counts each user's clicks: for every click `{"user": ...}` (keyed by user) it adds one
//! to the user's tally, kept in keyed state, and emits `{"user", "clicks", "version"}`.
//!
//! `VERSION` names the version that counted. The README's "Shipping a new version" swaps
//! a running job from this version to one with another `VERSION`: the tallies carry on
//! across the swap, because the host keeps the state, not the function.

use serde::{Deserialize, Serialize};
use serde_json::json;
use weir_sdk::{InitContext, Map, Output, Record, Result, ValueState};

/// The version that counted, in every output.
const VERSION: &str = "v1";

/// A user's tally, as kept in keyed state (its type names the state's type tag).
#[derive(Serialize, Deserialize, Default)]
struct Tally {
    clicks: u64,
}

/// A click (other fields are skipped).
#[derive(Deserialize)]
struct Click {
    user: String,
}

/// The function.
pub struct ClickCount {
    tally: ValueState<Tally>,
}

impl Map for ClickCount {
    fn init(ctx: &InitContext) -> Result<Self> {
        Ok(ClickCount {
            tally: ctx.state("tally").value()?,
        })
    }

    fn map(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()> {
        let Click { user } = record.json()?;
        let mut tally = self.tally.get()?.unwrap_or_default();
        tally.clicks += 1;
        self.tally.set(&tally)?;
        out.emit_json(&json!({ "user": user, "clicks": tally.clicks, "version": VERSION }))
    }
}

weir_sdk::export_map!(ClickCount);

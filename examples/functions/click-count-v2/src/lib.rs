//! Version 2 of `click-count`: each user's tally is now a `Count`, which also counts the
//! clicks since this version took over, so the state is stored as another type (type tag
//! `json:click_count_v2::Count`, where version 1 wrote `json:click_count::Tally`). The
//! function exports a migration from version 1's tallies, so the running job can be
//! swapped to it with every user's count carried over: the host hands each stored
//! `Tally` to the migration at the switch, before this version sees a click.
//!
//! It emits `{"user", "clicks", "since_v2", "version"}`.

use serde::{Deserialize, Serialize};
use serde_json::json;
use weir_sdk::{InitContext, Map, Migrate, Migration, Output, Record, Result, ValueState};

/// The version that counted, in every output.
const VERSION: &str = "v2";

/// A user's tally as version 1 stored it.
#[derive(Deserialize)]
struct Tally {
    clicks: u64,
}

/// A user's tally as this version stores it.
#[derive(Serialize, Deserialize, Default)]
struct Count {
    clicks: u64,
    since_v2: u64,
}

/// A click (other fields are skipped).
#[derive(Deserialize)]
struct Click {
    user: String,
}

/// The function.
pub struct ClickCount {
    tally: ValueState<Count>,
}

impl Map for ClickCount {
    fn init(ctx: &InitContext) -> Result<Self> {
        Ok(ClickCount {
            tally: ctx.state("tally").value()?,
        })
    }

    fn map(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()> {
        let Click { user } = record.json()?;
        let mut count = self.tally.get()?.unwrap_or_default();
        count.clicks += 1;
        count.since_v2 += 1;
        self.tally.set(&count)?;
        out.emit_json(&json!({
            "user": user,
            "clicks": count.clicks,
            "since_v2": count.since_v2,
            "version": VERSION,
        }))
    }
}

impl Migrate for ClickCount {
    fn migrations() -> Vec<Migration> {
        // Version 1's tag, as a refused swap names it.
        vec![Migration::json(
            "tally",
            "json:click_count::Tally",
            |old: Tally| {
                Ok(Some(Count {
                    clicks: old.clicks,
                    since_v2: 0,
                }))
            },
        )]
    }
}

weir_sdk::export_map!(ClickCount);
weir_sdk::export_migrations!(ClickCount);

//! Parses ad events (JSON), keeps the `view` events and projects each to
//! `{"ad_id", "user_id", "event_time"}`, keyed by its ad.
//!
//! A line that is not a JSON ad event is an error for that record: it goes to the
//! operator's dead-letter output.
//!
//! It reads the four fields it needs with `Record::fields`, which skips the rest of the
//! event instead of deserializing it.

use serde::{Deserialize, Serialize};
use weir_sdk::json::required;
use weir_sdk::{InitContext, Map, Output, Record, Result};

/// What it emits for each view.
#[derive(Serialize)]
struct View<'a> {
    ad_id: &'a str,
    user_id: &'a str,
    event_time: i64,
}

/// Configuration: which event type to keep (`"view"` unless the manifest says otherwise).
#[derive(Deserialize)]
struct Config {
    #[serde(default = "default_keep")]
    keep: String,
}

fn default_keep() -> String {
    "view".to_owned()
}

/// The function.
pub struct AdFilter {
    keep: String,
}

impl Map for AdFilter {
    fn init(ctx: &InitContext) -> Result<Self> {
        let config: Config = ctx.config()?;
        Ok(AdFilter { keep: config.keep })
    }

    fn map(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()> {
        let [event_type, ad_id, user_id, event_time] =
            record.fields(["event_type", "ad_id", "user_id", "event_time"])?;
        if required(event_type, "event_type")?.as_str()? != self.keep {
            return Ok(());
        }
        let ad_id = required(ad_id, "ad_id")?;
        let ad_id = ad_id.as_str()?;
        out.emit_keyed_json(
            ad_id,
            &View {
                ad_id,
                user_id: required(user_id, "user_id")?.as_str()?,
                event_time: required(event_time, "event_time")?.as_i64()?,
            },
        )
    }
}

weir_sdk::export_map!(AdFilter);

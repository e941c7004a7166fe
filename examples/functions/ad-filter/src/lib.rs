//! Parses ad events (JSON), keeps the `view` events and projects each to
//! `{"ad_id", "user_id", "event_time"}`, keyed by its ad.
//!
//! A line that is not a JSON ad event is an error for that record: it goes to the
//! operator's dead-letter output.

use serde::{Deserialize, Serialize};
use weir_sdk::{InitContext, Map, Output, Record, Result};

/// The fields of an ad event this function reads (the others are skipped).
#[derive(Deserialize)]
struct AdEvent<'a> {
    ad_id: &'a str,
    user_id: &'a str,
    event_type: &'a str,
    event_time: &'a str,
}

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
        let event: AdEvent = record.json()?;
        if event.event_type != self.keep {
            return Ok(());
        }
        let event_time = event
            .event_time
            .parse()
            .map_err(|_| weir_sdk::Error::msg(format!("event_time {:?} is not epoch ms", event.event_time)))?;
        out.emit_keyed_json(
            event.ad_id,
            &View {
                ad_id: event.ad_id,
                user_id: event.user_id,
                event_time,
            },
        )
    }
}

weir_sdk::export_map!(AdFilter);

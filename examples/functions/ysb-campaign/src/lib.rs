//! The Yahoo Streaming Benchmark's map step: parse an ad event, keep views, look up the
//! ad's campaign, and emit the view keyed by campaign with the event's time.
//!
//! The ad→campaign table is a file the manifest names under `files.campaigns`; the host
//! reads it and hands it to `init` (the function itself has no file access).

use std::collections::HashMap;

use serde::Deserialize;
use weir_sdk::{Context, InitContext, Map, Output, Record, Result};

#[derive(Deserialize)]
struct Event<'a> {
    ad_id: &'a str,
    event_type: &'a str,
    event_time: &'a str,
}

#[derive(Deserialize)]
struct Campaign {
    ad_id: String,
    campaign_id: String,
}

/// The function: the ad→campaign table.
pub struct YsbCampaign {
    campaigns: HashMap<String, String>,
}

/// Reads `{"ad_id", "campaign_id"}` lines.
pub fn read_campaigns(lines: &[u8]) -> Result<HashMap<String, String>> {
    let mut campaigns = HashMap::new();
    for (n, line) in lines.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let c: Campaign = serde_json::from_slice(line).context(format!("campaigns line {}", n + 1))?;
        campaigns.insert(c.ad_id, c.campaign_id);
    }
    Ok(campaigns)
}

impl Map for YsbCampaign {
    fn init(ctx: &InitContext) -> Result<Self> {
        Ok(YsbCampaign {
            campaigns: read_campaigns(ctx.file("campaigns")?)?,
        })
    }

    fn map(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()> {
        let e: Event = record.json()?;
        if e.event_type != "view" {
            return Ok(());
        }
        let Some(campaign) = self.campaigns.get(e.ad_id) else {
            return Ok(());
        };
        let t: i64 = e.event_time.parse().context("event_time")?;
        out.record().key(campaign).timestamp(t).value(e.ad_id);
        Ok(())
    }
}

weir_sdk::export_map!(YsbCampaign);

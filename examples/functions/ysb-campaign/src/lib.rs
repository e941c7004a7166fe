//! The Yahoo Streaming Benchmark's map step: parse an ad event, keep views, look up the
//! ad's campaign, and emit the view keyed by campaign with the event's time.
//!
//! The ad→campaign table is a file the manifest names under `files.campaigns`; the host
//! reads it and hands it to `init` (the function itself has no file access).

use serde::Deserialize;
use weir_sdk::hash::FastMap;
use weir_sdk::json::required;
use weir_sdk::{Context, InitContext, Map, Output, Record, Result};

#[derive(Deserialize)]
struct Campaign {
    ad_id: String,
    campaign_id: String,
}

/// The function: the ad→campaign table.
pub struct YsbCampaign {
    campaigns: FastMap<String, String>,
}

/// Reads `{"ad_id", "campaign_id"}` lines.
pub fn read_campaigns(lines: &[u8]) -> Result<FastMap<String, String>> {
    let mut campaigns = FastMap::default();
    for (n, line) in lines.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let c: Campaign =
            serde_json::from_slice(line).context(format!("campaigns line {}", n + 1))?;
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
        let [event_type, ad_id, event_time] =
            record.fields(["event_type", "ad_id", "event_time"])?;
        if required(event_type, "event_type")?.as_str()? != "view" {
            return Ok(());
        }
        let ad_id = required(ad_id, "ad_id")?;
        let ad_id = ad_id.as_str()?;
        let Some(campaign) = self.campaigns.get(ad_id) else {
            return Ok(());
        };
        let t = required(event_time, "event_time")?.as_i64()?;
        out.record().key(campaign).timestamp(t).value(ad_id);
        Ok(())
    }
}

weir_sdk::export_map!(YsbCampaign);

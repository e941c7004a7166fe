//! The Yahoo Streaming Benchmark's map step with the ad→campaign table as a broadcast
//! input (`{"ad_id","campaign_id"}` lines) instead of a file: every instance keeps the
//! table in broadcast state; views are keyed by their ad's campaign.

use serde::Deserialize;
use weir_sdk::json::required;
use weir_sdk::{BroadcastProcess, BroadcastState, InitContext, Output, Record, Result};

#[derive(Deserialize)]
struct Campaign {
    ad_id: String,
    campaign_id: String,
}

/// The function: the broadcast ad→campaign table.
pub struct YsbBroadcast {
    campaigns: BroadcastState<String, String>,
}

impl BroadcastProcess for YsbBroadcast {
    fn init(_: &InitContext) -> Result<Self> {
        Ok(YsbBroadcast {
            campaigns: BroadcastState::new("campaigns"),
        })
    }

    fn process_element(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()> {
        let [event_type, ad_id, event_time] =
            record.fields(["event_type", "ad_id", "event_time"])?;
        if required(event_type, "event_type")?.as_str()? != "view" {
            return Ok(());
        }
        let ad_id = required(ad_id, "ad_id")?;
        let ad_id = ad_id.as_str()?;
        let Some(campaign) = self.campaigns.get(ad_id)? else {
            return Ok(());
        };
        let t = required(event_time, "event_time")?.as_i64()?;
        out.record().key(campaign).timestamp(t).value(ad_id);
        Ok(())
    }

    fn process_broadcast(&mut self, record: &Record<'_>, _out: &mut Output) -> Result<()> {
        let c: Campaign = record.json()?;
        self.campaigns.put(&c.ad_id, &c.campaign_id)?;
        Ok(())
    }
}

weir_sdk::export_broadcast!(YsbBroadcast);

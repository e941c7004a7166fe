//! The Yahoo Streaming Benchmark's map step with the ad→campaign table as a broadcast
//! input (`{"ad_id","campaign_id"}` lines) instead of a file: every instance keeps the
//! table in broadcast state; views are keyed by their ad's campaign.

use serde::Deserialize;
use weir_sdk::{BroadcastProcess, BroadcastState, Context, InitContext, Output, Record, Result};

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
        let e: Event = record.json()?;
        if e.event_type != "view" {
            return Ok(());
        }
        let Some(campaign) = self.campaigns.get(&e.ad_id.to_owned())? else {
            return Ok(());
        };
        let t: i64 = e.event_time.parse().context("event_time")?;
        out.record().key(campaign).timestamp(t).value(e.ad_id);
        Ok(())
    }

    fn process_broadcast(&mut self, record: &Record<'_>, _out: &mut Output) -> Result<()> {
        let c: Campaign = record.json()?;
        self.campaigns.put(&c.ad_id, &c.campaign_id)?;
        Ok(())
    }
}

weir_sdk::export_broadcast!(YsbBroadcast);

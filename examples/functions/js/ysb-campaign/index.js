// The Yahoo Streaming Benchmark's map step: the Rust `ysb-campaign` in JavaScript. Parse
// an ad event, keep views, look up the ad's campaign (a table the host reads from the
// file the manifest names under `files.campaigns`), and emit the ad id keyed by campaign
// with the event's time as the record's timestamp.
import { MapFunction, fields } from "weir-sdk";

const { string, integer } = fields;

export default class YsbCampaign extends MapFunction {
  init(ctx) {
    this.campaigns = new Map();
    ctx.file("campaigns").split("\n").forEach((line, n) => {
      if (line.trim() === "") return;
      let c;
      try {
        c = JSON.parse(line);
      } catch (e) {
        throw new Error(`campaigns line ${n + 1}: ${e.message}`);
      }
      this.campaigns.set(string(c, "ad_id"), string(c, "campaign_id"));
    });
  }

  map(record, out) {
    const event = record.json();
    if (string(event, "event_type") !== "view") return;
    const adId = string(event, "ad_id");
    const campaign = this.campaigns.get(adId);
    if (campaign === undefined) return;
    out.emit(adId, { key: campaign, timestamp: integer(event, "event_time") });
  }
}

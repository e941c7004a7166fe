"""The Yahoo Streaming Benchmark's map step: the Rust ``ysb-campaign`` in Python. Parse an
ad event, keep views, look up the ad's campaign (a table the host reads from the file the
manifest names under ``files.campaigns``), and emit the ad id keyed by campaign with the
event's time as the record's timestamp."""

import json

import weir
from weir.fields import integer, string


@weir.map
class YsbCampaign:
    def init(self, ctx):
        self.campaigns = {}
        for n, line in enumerate(ctx.file("campaigns").split("\n")):
            if not line.strip():
                continue
            try:
                c = json.loads(line)
            except ValueError as e:
                raise ValueError(f"campaigns line {n + 1}: {e}") from None
            self.campaigns[string(c, "ad_id")] = string(c, "campaign_id")

    def map(self, record, out):
        event = record.json()
        if string(event, "event_type") != "view":
            return
        ad_id = string(event, "ad_id")
        campaign = self.campaigns.get(ad_id)
        if campaign is None:
            return
        out.emit(ad_id, key=campaign, timestamp=integer(event, "event_time"))

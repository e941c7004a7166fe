"""Parses ad events (JSON), keeps one event type (the config's ``keep``, "view" by
default) and projects each to ``{"ad_id", "user_id", "event_time"}``, keyed by its ad: the
Rust ``ad-filter`` in Python. A line that is not a JSON ad event raises, and the record
goes to the operator's error policy with the exception's message and traceback."""

import weir
from weir.fields import integer, string


@weir.map
class AdFilter:
    def init(self, ctx):
        self.keep = ctx.config.get("keep", "view")

    def map(self, record, out):
        event = record.json()
        if string(event, "event_type") != self.keep:
            return
        ad_id = string(event, "ad_id")
        view = {"ad_id": ad_id, "user_id": string(event, "user_id"), "event_time": integer(event, "event_time")}
        out.emit_json(view, key=ad_id)

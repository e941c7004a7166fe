// Parses ad events (JSON), keeps one event type (the config's `keep`, "view" by default)
// and projects each to {"ad_id", "user_id", "event_time"}, keyed by its ad: the Rust
// `ad-filter` in JavaScript. A line that is not a JSON ad event throws, and the record
// goes to the operator's error policy with the exception's message and stack.
import { MapFunction, fields } from "weir-sdk";

const { string, integer } = fields;

export default class AdFilter extends MapFunction {
  init(ctx) {
    this.keep = ctx.config.keep ?? "view";
  }

  map(record, out) {
    const event = record.json();
    if (string(event, "event_type") !== this.keep) return;
    const adId = string(event, "ad_id");
    const view = { ad_id: adId, user_id: string(event, "user_id"), event_time: integer(event, "event_time") };
    out.emitJson(view, { key: adId });
  }
}

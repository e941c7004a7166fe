// The Yahoo Streaming Benchmark's window step: the host counts views per campaign and
// 10 s window (`aggregate = "count"`); this function formats each count as
// {"campaign_id", "window_start", "window_end", "count"}. The Rust `ysb-window` in JavaScript.
import { ProcessWindowFunction } from "weir-sdk";

export default class YsbWindow extends ProcessWindowFunction {
  process(window, out) {
    out.emitJson({
      campaign_id: window.key,
      window_start: window.start,
      window_end: window.end,
      count: window.elements.accumulator(),
    });
  }
}

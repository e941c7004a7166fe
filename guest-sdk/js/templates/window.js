// A process-window function: each fired window (its key, bounds and elements) in,
// records out. Build it with `weir build .` or name this folder as a window operator's
// `component`.
import { ProcessWindowFunction } from "weir-sdk";

export default class __CLASS__ extends ProcessWindowFunction {
  process(window, out) {
    // With `aggregate = "count"` the window holds one element, its count:
    // window.elements.accumulator().
    out.emitJson({
      key: window.key,
      start: window.start,
      end: window.end,
      elements: window.elements.length,
    });
  }
}

// A broadcast-process function: the broadcast input fills a table that every parallel
// instance holds; each main-input record is enriched from it. Build it with
// `weir build .` or name this folder as a broadcast operator's `component`.
import { BroadcastProcessFunction, BroadcastState } from "weir-sdk";

export default class __CLASS__ extends BroadcastProcessFunction {
  init() {
    this.table = new BroadcastState("table");
  }

  // Broadcast records: {"id": "...", "value": ...}, or {"id": "...", "remove": true}.
  processBroadcast(record) {
    const update = record.json();
    if (update.remove) this.table.remove(update.id);
    else this.table.put(update.id, update.value);
  }

  // Main records: {"id": "...", ...}, emitted with the table's value added.
  processElement(record, out) {
    const event = record.json();
    out.emitJson({ ...event, value: this.table.get(event.id) ?? null });
  }
}

// A map function: each input record in, zero or more records out. Build it with
// `weir build .` or name this folder as an operator's `component`.
import { MapFunction } from "weir-sdk";

export default class __CLASS__ extends MapFunction {
  init(ctx) {
    // ctx.config is the operator's `config` table; declare keyed state here, e.g.
    // this.seen = ctx.valueState("seen") (on keyed input).
    this.tag = ctx.config.tag ?? "__NAME__";
  }

  map(record, out) {
    const event = record.json(); // an exception rejects this record, with its message
    out.emitJson({ ...event, tag: this.tag }, { key: record.key ?? undefined });
  }
}

// A test guest, by the config's `mode`:
// - "count" (default): the Rust `keyed-counter` in JavaScript (value, list and map state);
// - "throw": a record whose value contains "bad" throws; others are emitted as they are;
// - "file": tries to read a file as Node.js code would (`require("fs")`);
// - "socket": tries to open a connection (`fetch`).
// With `subtask_1_tag`, instance 1 declares `count` with that type tag (others with the default).
import { MapFunction } from "weir-sdk";

function explode(value) {
  throw new RangeError(`probe refuses ${value}`);
}

export default class Probe extends MapFunction {
  init(ctx) {
    this.mode = ctx.config.mode ?? "count";
    if (this.mode === "count") {
      const typeTag = ctx.subtask === 1 ? ctx.config.subtask_1_tag : undefined;
      this.count = ctx.valueState("count", { ttl: ctx.config.ttl_ms, typeTag });
      this.recent = ctx.listState("recent");
      this.perValue = ctx.mapState("per-value");
    }
  }

  map(record, out) {
    const value = record.value;
    switch (this.mode) {
      case "count": {
        const count = this.count.update((n) => (n ?? 0) + 1);
        const recent = this.recent.get();
        recent.push(value);
        if (recent.length > 3) {
          recent.shift();
          this.recent.update(recent);
        } else {
          this.recent.add(value);
        }
        const seen = (this.perValue.get(value) ?? 0) + 1;
        this.perValue.put(value, seen);
        const distinct = this.perValue.keys().length;
        out.emitJson({ key: record.key, count, recent, distinct, seen_this: seen });
        return;
      }
      case "throw":
        if (value.includes("bad")) explode(value);
        out.emit(value);
        return;
      case "file":
        // eslint-disable-next-line no-undef
        out.emit(require("fs").readFileSync("/etc/hostname", "utf8"));
        return;
      case "socket":
        // eslint-disable-next-line no-undef
        fetch("http://127.0.0.1:9/");
        out.emit(value);
        return;
      default:
        throw new Error(`unknown mode ${this.mode}`);
    }
  }
}

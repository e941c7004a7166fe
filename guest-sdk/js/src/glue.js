// The WIT exports of each function kind, around a user's class: batches in, records
// out, each record's exception caught and returned as that record's error (with its
// message and stack) instead of trapping the whole call.

import { BatchView, Record } from "./batch.js";
import { InitContext } from "./context.js";
import { Output } from "./output.js";
import * as state from "./state.js";
import { describe, encoder } from "./text.js";

function initExport(Class, methods) {
  return (holder) => (ctx) => {
    state.setDeclaring(true);
    try {
      const f = new Class();
      for (const m of methods) {
        if (typeof f[m] !== "function") throw new TypeError(`${Class.name} has no \`${m}\` method`);
      }
      if (typeof f.init === "function") f.init(new InitContext(ctx));
      holder.f = f;
    } catch (e) {
      throw describe(e);
    } finally {
      state.setDeclaring(false);
    }
  };
}

function eachRecord(input, keys, out, f, method) {
  const view = new BatchView(input);
  state.beginCall(keys ? keys.ends.length : null, []);
  const n = view.length;
  // Calls are what an interpreter spends its time on: one per record to the function.
  if (keys) {
    const of = keys.ofRecord;
    for (let i = 0; i < n; i++) {
      out.current = i;
      state.setCurrent(of[i], null);
      try {
        f[method](new Record(view, i), out);
      } catch (e) {
        out.fail(e);
      }
    }
  } else {
    for (let i = 0; i < n; i++) {
      out.current = i;
      try {
        f[method](new Record(view, i), out);
      } catch (e) {
        out.fail(e);
      }
    }
  }
  state.endCall();
}

/** The `map-function` export for a class with `map(record, out)`. */
export function exportMap(Class) {
  const holder = { f: null };
  return {
    init: initExport(Class, ["map"])(holder),
    process(input, keys) {
      const f = holder.f;
      const out = new Output();
      eachRecord(input, keys, out, f, "map");
      return out.finish();
    },
  };
}

/** The `broadcast-function` export for a class with `processElement` and `processBroadcast`. */
export function exportBroadcast(Class) {
  const holder = { f: null };
  return {
    init: initExport(Class, ["processElement", "processBroadcast"])(holder),
    processElement(input, keys) {
      const f = holder.f;
      const out = new Output();
      eachRecord(input, keys, out, f, "processElement");
      return out.finish();
    },
    processBroadcast(input) {
      const f = holder.f;
      const out = new Output();
      eachRecord(input, null, out, f, "processBroadcast");
      return out.finish();
    },
  };
}

/** The elements of a fired window (or its one accumulator). */
export class Elements {
  constructor(view, first, count) {
    this._v = view;
    this._first = first;
    /** Number of elements. */
    this.length = count;
  }

  /** Element `i`. */
  get(i) {
    if (i < 0 || i >= this.length) throw new RangeError(`element ${i} of ${this.length}`);
    return new Record(this._v, this._first + i);
  }

  /** Every element. */
  *[Symbol.iterator]() {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }

  /** The elements as an array. */
  toArray() {
    return [...this];
  }

  /** With an aggregate (`count`, or the function's own), the accumulator, parsed. */
  accumulator() {
    if (this.length !== 1) throw new Error(`expected one accumulator element, the window has ${this.length}`);
    return this.get(0).json();
  }
}

function keyText(keys, i) {
  const start = i === 0 ? 0 : keys.ends[i - 1];
  return keys.data.subarray(start, keys.ends[i]);
}

function valuesOut(items) {
  const parts = items.map((v) => (v === null ? null : encoder.encode(JSON.stringify(v))));
  const ends = new Uint32Array(parts.length);
  const present = [];
  let size = 0;
  parts.forEach((p, i) => {
    size += p === null ? 0 : p.length;
    ends[i] = size;
    present.push(p !== null);
  });
  const data = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    if (p !== null) {
      data.set(p, at);
      at += p.length;
    }
  }
  return { data, ends, present };
}

function valuesIn(v) {
  const out = [];
  let start = 0;
  for (let i = 0; i < v.ends.length; i++) {
    const end = v.ends[i];
    out.push(v.present[i] ? JSON.parse(new TextDecoder().decode(v.data.subarray(start, end))) : null);
    start = end;
  }
  return out;
}

/**
 * The `window-function` export for a class with `process(window, out)`, and, for
 * `aggregate = "function"`, `createAccumulator()`, `add(acc, record)` and `merge(a, b)`.
 */
export function exportWindow(Class) {
  const holder = { f: null };
  const decoder = new TextDecoder();
  return {
    init: initExport(Class, ["process"])(holder),
    process(keys, windows, elements) {
      const f = holder.f;
      const out = new Output();
      const view = new BatchView(elements);
      const fired = windows.map((w) => ({ start: Number(w.window.start), end: Number(w.window.end) }));
      state.beginCall(keys.ends.length, fired.map((w, i) => [keys.ofRecord[i], w]));
      for (let i = 0; i < windows.length; i++) {
        out.current = i;
        const k = keys.ofRecord[i];
        state.setCurrent(k, fired[i]);
        const keyBytes = keyText(keys, k);
        const w = {
          keyBytes,
          key: decoder.decode(keyBytes),
          start: fired[i].start,
          end: fired[i].end,
          window: fired[i],
          update: windows[i].update,
          elements: new Elements(view, windows[i].first, windows[i].count),
        };
        try {
          f.process(w, out);
        } catch (e) {
          out.fail(e);
        }
      }
      state.endCall();
      return out.finish();
    },
    aggregate(keys, folds, accumulators, elements) {
      const f = holder.f;
      if (typeof f.add !== "function") throw new Error(`${Class.name} has no \`add\` (needed by aggregate = "function")`);
      const view = new BatchView(elements);
      const accs = valuesIn(accumulators);
      const errors = [];
      const result = folds.map((fold, i) => {
        let acc = accs[i] !== null ? accs[i] : f.createAccumulator();
        for (let j = fold.first; j < fold.first + fold.count; j++) {
          try {
            acc = f.add(acc, new Record(view, j));
          } catch (e) {
            errors.push({ index: j, message: describe(e) });
          }
        }
        return acc;
      });
      return { accumulators: valuesOut(result), errors };
    },
    merge(accumulators, groups) {
      const f = holder.f;
      try {
        const accs = valuesIn(accumulators);
        const merged = [];
        let next = 0;
        for (const n of groups) {
          let acc = f.createAccumulator();
          for (let i = next; i < next + n; i++) if (accs[i] !== null) acc = f.merge(acc, accs[i]);
          next += n;
          merged.push(acc);
        }
        return valuesOut(merged);
      } catch (e) {
        throw describe(e);
      }
    },
  };
}

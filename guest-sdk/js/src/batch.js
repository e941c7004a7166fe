// Input batches (the flat layout of `wit/types.wit`) and the records a function sees.

import { utf8 } from "./text.js";

/**
 * A view over one lifted `batch`: record boundaries are read from `ends` on demand, and a
 * record's bytes are a subarray of the batch's buffer (no copy). Text is decoded from it
 * when asked for: measured inside a component, decoding a record's subarray costs less
 * than decoding the whole batch once and taking substrings of it (each a builtin call).
 */
export class BatchView {
  /** @param {{data: Uint8Array, ends: Uint32Array, flags: Uint8Array, timestamps: BigInt64Array, headers: Array}} batch */
  constructor(batch) {
    this.data = batch.data;
    this.ends = batch.ends;
    this.flags = batch.flags;
    this.timestamps = batch.timestamps;
    this.headers = batch.headers;
    this.length = batch.flags.length;
  }

  /** Where record `i` starts. */
  start(i) {
    return i === 0 ? 0 : this.ends[2 * i - 1];
  }

  /** Record `i`. */
  get(i) {
    return new Record(this, i);
  }
}

/** One input record. Everything is read lazily from the batch. */
export class Record {
  constructor(view, i) {
    this._v = view;
    this._i = i;
    this._json = undefined;
  }

  /** The record's key as bytes (a subarray of the batch, not a copy), or null. */
  get keyBytes() {
    const v = this._v;
    if ((v.flags[this._i] & 1) === 0) return null;
    return v.data.subarray(v.start(this._i), v.ends[2 * this._i]);
  }

  /** The record's key as text, or null when it has none. */
  get key() {
    const v = this._v;
    if ((v.flags[this._i] & 1) === 0) return null;
    return utf8.decode(v.data.subarray(v.start(this._i), v.ends[2 * this._i]));
  }

  /** The record's value as bytes (a subarray of the batch, not a copy). */
  get valueBytes() {
    const v = this._v;
    return v.data.subarray(v.ends[2 * this._i], v.ends[2 * this._i + 1]);
  }

  /** The record's value as text (UTF-8). */
  get value() {
    const v = this._v;
    return utf8.decode(v.data.subarray(v.ends[2 * this._i], v.ends[2 * this._i + 1]));
  }

  /** Event time in epoch milliseconds, or null. */
  get timestamp() {
    const v = this._v;
    return (v.flags[this._i] & 2) === 0 ? null : Number(v.timestamps[this._i]);
  }

  /** The record's headers: `[{name, value: Uint8Array}]`. */
  get headers() {
    const hs = this._v.headers;
    if (hs.length === 0) return [];
    return hs.filter((h) => h.record === this._i).map((h) => ({ name: h.name, value: h.value }));
  }

  /** The value of the first header named `name`, or undefined. */
  header(name) {
    const h = this._v.headers.find((h) => h.record === this._i && h.name === name);
    return h === undefined ? undefined : h.value;
  }

  /** The value parsed as JSON (parsed once, on first use). */
  json() {
    if (this._json === undefined) {
      const v = this._v;
      const i = 2 * this._i;
      this._json = JSON.parse(utf8.decode(v.data.subarray(v.ends[i], v.ends[i + 1])));
    }
    return this._json;
  }
}

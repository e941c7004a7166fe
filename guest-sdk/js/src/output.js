// What a function emits: records into one growing flat buffer, and per-input errors.

import { encoder, bytesOf, describe } from "./text.js";

const HAS_KEY = 1;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const HAS_TIMESTAMP = 2;

/**
 * Collects the records a function emits; each remembers the input it came from. Text
 * stays text until the call ends: then all of it is joined and encoded at once (one
 * native call instead of one per record), and when it is ASCII the character offsets
 * kept along the way are the byte offsets.
 */
export class Output {
  constructor() {
    this._parts = [];
    this._pos = 0; // in characters while every part is a string
    this._text = true;
    this._ends = [];
    this._flags = [];
    this._timestamps = [];
    this._headers = [];
    this._origins = [];
    this._errors = [];
    /** Index of the input being processed (set by the SDK). */
    this.current = 0;
  }

  _part(v, what) {
    if (typeof v !== "string") {
      v = bytesOf(v, what);
      this._text = false;
    }
    const parts = this._parts;
    parts[parts.length] = v;
    this._pos += v.length;
  }

  /**
   * Emits a record with this value (a string or a Uint8Array).
   * @param {string|Uint8Array} value
   * @param {{key?: string|Uint8Array, timestamp?: number, headers?: Array<{name: string, value: string|Uint8Array}>}} [opts]
   */
  emit(value, opts) {
    let flags = 0;
    let ts = 0;
    if (opts !== undefined) {
      if (opts.key !== undefined && opts.key !== null) {
        this._part(opts.key, "a record key");
        flags = HAS_KEY;
      }
      if (opts.timestamp !== undefined && opts.timestamp !== null) {
        const t = opts.timestamp;
        if (typeof t !== "number" || t % 1 !== 0 || t > MAX_SAFE || t < -MAX_SAFE) {
          throw new TypeError(`a timestamp is whole epoch milliseconds, not ${opts.timestamp}`);
        }
        ts = opts.timestamp;
        flags |= HAS_TIMESTAMP;
      }
      if (opts.headers) {
        const record = this._flags.length;
        for (const h of opts.headers) {
          this._headers.push({ record, name: h.name, value: bytesOf(h.value, "a header value") });
        }
      }
    }
    // Stores by index rather than `push`: in an interpreter every builtin call costs
    // about as much as parsing a small record, and a store is no call.
    const ends = this._ends;
    ends[ends.length] = this._pos;
    if (typeof value === "string") {
      const parts = this._parts;
      parts[parts.length] = value;
      this._pos += value.length;
    } else {
      this._part(value, "a record value");
    }
    ends[ends.length] = this._pos;
    const n = this._flags.length;
    this._flags[n] = flags;
    this._timestamps[n] = ts;
    this._origins[n] = this.current;
  }

  /** Emits a record whose value is `value` as JSON (options as for `emit`). */
  emitJson(value, opts) {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`${typeof value} cannot be emitted as JSON`);
    this.emit(text, opts);
  }

  /** Marks the current input as failed with this reason (an Error or a message). */
  fail(reason) {
    const message = typeof reason === "string" ? reason : describe(reason);
    this._errors.push({ index: this.current, message });
  }

  /** Number of records emitted so far. */
  get length() {
    return this._flags.length;
  }

  _data() {
    if (this._text) {
      const text = this._parts.join("");
      const data = encoder.encode(text);
      if (data.length === text.length) return [data, Uint32Array.from(this._ends)];
    }
    const parts = this._parts.map((p) => (typeof p === "string" ? encoder.encode(p) : p));
    let size = 0;
    for (const p of parts) size += p.length;
    const data = new Uint8Array(size);
    const ends = new Uint32Array(this._ends.length);
    let pos = 0;
    let k = 0;
    for (let i = 0; i < this._flags.length; i++) {
      if (this._flags[i] & HAS_KEY) {
        data.set(parts[k], pos);
        pos += parts[k++].length;
      }
      ends[2 * i] = pos;
      data.set(parts[k], pos);
      pos += parts[k++].length;
      ends[2 * i + 1] = pos;
    }
    return [data, ends];
  }

  /** The WIT `output` record. */
  finish() {
    const n = this._flags.length;
    const timestamps = new BigInt64Array(n);
    for (let i = 0; i < n; i++) if (this._flags[i] & HAS_TIMESTAMP) timestamps[i] = BigInt(this._timestamps[i]);
    const [data, ends] = this._data();
    return {
      records: { data, ends, flags: Uint8Array.from(this._flags), timestamps, headers: this._headers },
      origins: Uint32Array.from(this._origins),
      errors: this._errors,
    };
  }
}

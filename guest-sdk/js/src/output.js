// What a function emits: records into one growing flat buffer, and per-input errors.

import { encoder, bytesOf, describe } from "./text.js";

const HAS_KEY = 1;
const HAS_TIMESTAMP = 2;

/**
 * Collects the records a function emits. Text is encoded straight into one growing
 * buffer (no per-record arrays), and each record remembers the input it came from.
 */
export class Output {
  constructor() {
    this._buf = new Uint8Array(64 * 1024);
    this._pos = 0;
    this._ends = [];
    this._flags = [];
    this._timestamps = [];
    this._headers = [];
    this._origins = [];
    this._errors = [];
    /** Index of the input being processed (set by the SDK). */
    this.current = 0;
  }

  _reserve(n) {
    if (this._pos + n <= this._buf.length) return;
    let size = this._buf.length * 2;
    while (size < this._pos + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this._buf.subarray(0, this._pos));
    this._buf = grown;
  }

  _put(v) {
    if (typeof v === "string") {
      // A UTF-16 unit takes at most 3 bytes of UTF-8.
      this._reserve(v.length * 3);
      this._pos += encoder.encodeInto(v, this._buf.subarray(this._pos)).written;
    } else {
      const b = bytesOf(v, "a record's key or value");
      this._reserve(b.length);
      this._buf.set(b, this._pos);
      this._pos += b.length;
    }
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
        this._put(opts.key);
        flags |= HAS_KEY;
      }
      if (opts.timestamp !== undefined && opts.timestamp !== null) {
        if (!Number.isSafeInteger(opts.timestamp)) {
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
    this._ends.push(this._pos);
    this._put(value);
    this._ends.push(this._pos);
    this._flags.push(flags);
    this._timestamps.push(ts);
    this._origins.push(this.current);
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

  /** The WIT `output` record. */
  finish() {
    const n = this._flags.length;
    const timestamps = new BigInt64Array(n);
    for (let i = 0; i < n; i++) if (this._flags[i] & HAS_TIMESTAMP) timestamps[i] = BigInt(this._timestamps[i]);
    return {
      records: {
        data: this._buf.subarray(0, this._pos),
        ends: Uint32Array.from(this._ends),
        flags: Uint8Array.from(this._flags),
        timestamps,
        headers: this._headers,
      },
      origins: Uint32Array.from(this._origins),
      errors: this._errors,
    };
  }
}

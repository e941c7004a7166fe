// Broadcast state: named maps with the same contents on every parallel instance.

import { bytesOf, jsonBytes, parseJson, utf8 } from "./text.js";

let bs = null;

/** Hands the SDK the `broadcast-state` import (the broadcast-process world's entry does). */
export function setBroadcastHost(imports) {
  bs = imports;
}

/** A failed broadcast-state operation: `kind` is `read-only`, `too-large` or `backend`. */
export class BroadcastError extends Error {
  constructor(e) {
    const payload = e && e.payload !== undefined ? e.payload : e;
    const kind = payload && payload.tag ? payload.tag : "backend";
    const val = payload && payload.val !== undefined ? `: ${payload.val}` : "";
    super(`broadcast state: ${kind}${val}`);
    this.name = "BroadcastError";
    this.kind = kind;
  }
}

function host(f) {
  if (bs === null) throw new Error("broadcast state exists only in a broadcast-process function");
  try {
    return f();
  } catch (e) {
    throw new BroadcastError(e);
  }
}

/**
 * A named broadcast map state from string keys to JSON values. Reads are cached: only
 * this instance's own `processBroadcast` changes its broadcast state.
 */
export class BroadcastState {
  /** @param {string} name */
  constructor(name) {
    this.name = name;
    this._cache = new Map();
  }

  /** The value under `key`, or undefined. */
  get(key) {
    let raw = this._cache.get(key);
    if (raw === undefined) {
      const found = host(() => bs.get(this.name, bytesOf(key, "a broadcast key")));
      raw = found === undefined || found === null ? null : found;
      if (this._cache.size >= 1 << 20) this._cache.clear();
      this._cache.set(key, raw);
    }
    return raw === null ? undefined : parseJson(raw);
  }

  /** Whether `key` has a value. */
  has(key) {
    return this.get(key) !== undefined;
  }

  /** Puts `value` under `key` (only from `processBroadcast`). */
  put(key, value) {
    const v = jsonBytes(value);
    host(() => bs.put(this.name, bytesOf(key, "a broadcast key"), v));
    this._cache.set(key, v);
  }

  /** Removes `key` (only from `processBroadcast`). */
  remove(key) {
    host(() => bs.remove(this.name, bytesOf(key, "a broadcast key")));
    this._cache.set(key, null);
  }

  /** Removes every entry (only from `processBroadcast`). */
  clear() {
    host(() => bs.clear(this.name));
    this._cache.clear();
  }

  /** Number of entries. */
  size() {
    return Number(host(() => bs.len(this.name)));
  }

  /** Every entry as `[key, value]`, in key byte order. */
  entries() {
    const out = [];
    let after;
    for (;;) {
      const page = host(() => bs.scan(this.name, after, 1024));
      let start = 0;
      for (let i = 0; i + 1 < page.ends.length; i += 2) {
        const k = page.data.subarray(start, page.ends[i]);
        out.push([utf8.decode(k), parseJson(page.data.subarray(page.ends[i], page.ends[i + 1]))]);
        start = page.ends[i + 1];
        after = k.slice();
      }
      if (!page.more || after === undefined) return out;
    }
  }
}

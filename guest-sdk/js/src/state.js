// Keyed state: typed handles over the `keyed-state` interface. Reads of a value state
// are fetched for every key of the call at once; writes are kept until the call ends and
// handed to the host in one `apply` (as the Rust SDK does).

import * as ks from "weir:udf/keyed-state@0.1.3";
import { bytesOf, jsonBytes, parseJson, utf8 } from "./text.js";

/**
 * A failed keyed-state operation (the WIT `state-error`): `kind` is its case. A declaration
 * that conflicts with the state as it exists (another kind, time to live or type tag) has
 * kind `conflict`, and its message shows both declarations.
 */
export class StateError extends Error {
  constructor(e) {
    const payload = e && e.payload !== undefined ? e.payload : e;
    const kind = payload && payload.tag ? payload.tag : "backend";
    const val = payload && payload.val !== undefined ? `: ${payload.val}` : "";
    super(`keyed state: ${kind}${val}`);
    this.name = "StateError";
    this.kind = kind;
  }
}

function host(f) {
  try {
    return f();
  } catch (e) {
    throw new StateError(e);
  }
}

function win(w) {
  return w === null ? undefined : { start: BigInt(w.start), end: BigInt(w.end) };
}

/** The state of the call in progress. */
class Call {
  constructor(keyCount, windows) {
    this.keyCount = keyCount; // null: the input is not keyed
    this.windows = windows; // [[keyIndex, {start, end}]] of a process-window call
    this.key = null;
    this.window = null;
    this.values = new Map(); // "state|scope" -> {value: Uint8Array|null, dirty, state, scope}
    this.prefetched = new Set();
    this.lists = new Map();
    this.maps = new Map();
    this.log = []; // list and map writes in call order
  }
}

let call = new Call(null, []);
let declaring = false;

function scopeId(s) {
  return s.window === null ? `${s.key}` : `${s.key}|${s.window.start}|${s.window.end}`;
}

/** Starts a call: `keyCount` distinct keys (null when unkeyed), the fired windows. */
export function beginCall(keyCount, windows) {
  call = new Call(keyCount, windows);
}

/** Makes `key` (and `window`) the scope of every handle until the next change. */
export function setCurrent(key, window) {
  call.key = key;
  call.window = window;
}

/** Allows declarations (only in `init`). */
export function setDeclaring(on) {
  declaring = on;
}

/** Ends the call: every write in one `apply`. Throws when the host refuses them. */
export function endCall() {
  const c = call;
  call = new Call(null, []);
  const mutations = [];
  const parts = [];
  let size = 0;
  const push = (op, state, scope, userKey, value) => {
    mutations.push({
      op,
      state,
      scope: { key: scope.key, window: win(scope.window) },
      userKeyLen: userKey.length,
      valueLen: value.length,
    });
    parts.push(userKey, value);
    size += userKey.length + value.length;
  };
  const none = new Uint8Array(0);
  for (const slot of c.values.values()) {
    if (!slot.dirty) continue;
    if (slot.value === null) push("clear", slot.state, slot.scope, none, none);
    else push("set-value", slot.state, slot.scope, none, slot.value);
  }
  for (const l of c.log) push(l.op, l.state, l.scope, l.userKey, l.value);
  if (mutations.length === 0) return;
  const data = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  host(() => ks.apply(mutations, data));
}

function scope(perWindow) {
  if (call.keyCount === null || call.key === null) {
    throw new StateError({ tag: "not-keyed" });
  }
  if (perWindow && call.window === null) throw new StateError({ tag: "no-such-window" });
  return { key: call.key, window: perWindow ? call.window : null };
}

/**
 * The type tag of a state declared without `typeTag`: its values are JSON, of no type the
 * host can tell apart. The host keeps a state's tag and refuses a later declaration of
 * the state (a new version swapped in, a restore) with another tag.
 */
export const DEFAULT_TYPE_TAG = "json";

function declare(name, kind, opts) {
  if (!declaring) throw new StateError({ tag: "declare-outside-init" });
  const ttl = opts && opts.ttl !== undefined && opts.ttl !== null ? BigInt(Math.round(opts.ttl)) : undefined;
  const tag = opts && opts.typeTag !== undefined && opts.typeTag !== null ? String(opts.typeTag) : DEFAULT_TYPE_TAG;
  try {
    return ks.declareTyped({ name, kind, ttlMs: ttl }, tag);
  } catch (e) {
    // A `declare-error`: `state` wraps a `state-error`; `conflict` shows both declarations.
    const err = e && e.payload !== undefined ? e.payload : e;
    if (err && err.tag === "state") throw new StateError(err.val);
    throw new StateError(err);
  }
}

class Handle {
  constructor(name, kind, opts) {
    /** The state's name. */
    this.name = name;
    this._id = declare(name, kind, opts);
    this._perWindow = !!(opts && opts.perWindow);
  }
}

/** One JSON value per key (and window, with `perWindow`). */
export class ValueState extends Handle {
  constructor(name, opts) {
    super(name, "value", opts);
  }

  _slot() {
    const s = scope(this._perWindow);
    const id = `${this._id}|${scopeId(s)}`;
    let slot = call.values.get(id);
    if (slot === undefined) {
      this._prefetch(s);
      slot = call.values.get(id);
    }
    return slot;
  }

  _prefetch(s) {
    const scopes = [];
    const tag = `${this._id}|${s.window !== null}`;
    if (!call.prefetched.has(tag)) {
      call.prefetched.add(tag);
      if (s.window !== null) {
        for (const [key, window] of call.windows) scopes.push({ key, window });
      } else {
        for (let key = 0; key < call.keyCount; key++) scopes.push({ key, window: null });
      }
    }
    if (!scopes.some((x) => scopeId(x) === scopeId(s))) scopes.push(s);
    const wanted = scopes.filter((x) => !call.values.has(`${this._id}|${scopeId(x)}`));
    const found = host(() =>
      ks.getValues(this._id, wanted.map((x) => ({ key: x.key, window: win(x.window) }))),
    );
    let start = 0;
    wanted.forEach((x, i) => {
      const end = found.ends[i];
      const value = found.present[i] ? found.data.slice(start, end) : null;
      start = end;
      call.values.set(`${this._id}|${scopeId(x)}`, { value, dirty: false, state: this._id, scope: x });
    });
  }

  /** The value, or undefined. */
  get() {
    const slot = this._slot();
    return slot.value === null ? undefined : parseJson(slot.value);
  }

  /** Sets the value. */
  set(value) {
    const s = scope(this._perWindow);
    call.values.set(`${this._id}|${scopeId(s)}`, { value: jsonBytes(value), dirty: true, state: this._id, scope: s });
  }

  /** Clears the value. */
  clear() {
    const s = scope(this._perWindow);
    call.values.set(`${this._id}|${scopeId(s)}`, { value: null, dirty: true, state: this._id, scope: s });
  }

  /** Sets the value to `f(current value or undefined)` and returns it. */
  update(f) {
    const next = f(this.get());
    this.set(next);
    return next;
  }
}

function splitValues(v) {
  const out = [];
  let start = 0;
  for (let i = 0; i < v.ends.length; i++) {
    const end = v.ends[i];
    if (v.present[i]) out.push(v.data.subarray(start, end));
    start = end;
  }
  return out;
}

/** An ordered list of JSON values per key (and window). */
export class ListState extends Handle {
  constructor(name, opts) {
    super(name, "list", opts);
  }

  _slot(load) {
    const s = scope(this._perWindow);
    const id = `${this._id}|${scopeId(s)}`;
    let slot = call.lists.get(id);
    if (slot === undefined) {
      slot = { base: null, cleared: false, appended: [] };
      call.lists.set(id, slot);
    }
    if (load && slot.base === null && !slot.cleared) {
      slot.base = splitValues(host(() => ks.getList(this._id, { key: s.key, window: win(s.window) })));
    }
    return [slot, s];
  }

  /** Appends a value. */
  add(value) {
    const [slot, s] = this._slot(false);
    const bytes = jsonBytes(value);
    slot.appended.push(bytes);
    call.log.push({ op: "add-to-list", state: this._id, scope: s, userKey: new Uint8Array(0), value: bytes });
  }

  /** Every value, oldest first. */
  get() {
    const [slot] = this._slot(true);
    return [...(slot.base || []), ...slot.appended].map(parseJson);
  }

  /** Replaces the list with `values`. */
  update(values) {
    this.clear();
    for (const v of values) this.add(v);
  }

  /** Empties the list. */
  clear() {
    const [slot, s] = this._slot(false);
    slot.base = [];
    slot.cleared = true;
    slot.appended = [];
    call.log.push({ op: "clear", state: this._id, scope: s, userKey: new Uint8Array(0), value: new Uint8Array(0) });
  }
}

/** A map from string keys to JSON values per key (and window), ordered by key bytes. */
export class MapState extends Handle {
  constructor(name, opts) {
    super(name, "map", opts);
  }

  _slot() {
    const s = scope(this._perWindow);
    const id = `${this._id}|${scopeId(s)}`;
    let slot = call.maps.get(id);
    if (slot === undefined) {
      slot = { cleared: false, written: new Map(), read: new Map() };
      call.maps.set(id, slot);
    }
    return [slot, s];
  }

  _raw(userKey) {
    const [slot, s] = this._slot();
    if (slot.written.has(userKey)) return slot.written.get(userKey);
    if (slot.cleared) return null;
    if (!slot.read.has(userKey)) {
      const found = host(() =>
        ks.getEntries(this._id, { key: s.key, window: win(s.window) }, [bytesOf(userKey, "a map key")]),
      );
      slot.read.set(userKey, found.present[0] ? found.data.slice(0, found.ends[0]) : null);
    }
    return slot.read.get(userKey);
  }

  /** The value under `userKey` (a string), or undefined. */
  get(userKey) {
    const raw = this._raw(userKey);
    return raw === null ? undefined : parseJson(raw);
  }

  /** Whether `userKey` has a value. */
  has(userKey) {
    return this._raw(userKey) !== null;
  }

  /** Puts `value` under `userKey`. */
  put(userKey, value) {
    const [slot, s] = this._slot();
    const bytes = jsonBytes(value);
    slot.written.set(userKey, bytes);
    call.log.push({ op: "put-entry", state: this._id, scope: s, userKey: bytesOf(userKey, "a map key"), value: bytes });
  }

  /** Removes `userKey`. */
  remove(userKey) {
    const [slot, s] = this._slot();
    slot.written.set(userKey, null);
    call.log.push({ op: "remove-entry", state: this._id, scope: s, userKey: bytesOf(userKey, "a map key"), value: new Uint8Array(0) });
  }

  /** Removes every entry. */
  clear() {
    const [slot, s] = this._slot();
    slot.cleared = true;
    slot.written = new Map();
    slot.read = new Map();
    call.log.push({ op: "clear", state: this._id, scope: s, userKey: new Uint8Array(0), value: new Uint8Array(0) });
  }

  /** Every entry as `[key, value]`, in key order. */
  entries() {
    const [slot, s] = this._slot();
    const all = new Map();
    if (!slot.cleared) {
      let after;
      for (;;) {
        const page = host(() => ks.scanEntries(this._id, { key: s.key, window: win(s.window) }, after, 1024));
        let start = 0;
        for (let i = 0; i + 1 < page.ends.length; i += 2) {
          const k = page.data.subarray(start, page.ends[i]);
          const v = page.data.slice(page.ends[i], page.ends[i + 1]);
          start = page.ends[i + 1];
          all.set(utf8.decode(k), v);
          after = k.slice();
        }
        if (!page.more || after === undefined) break;
      }
    }
    for (const [k, v] of slot.written) {
      if (v === null) all.delete(k);
      else all.set(k, v);
    }
    const keys = [...all.keys()].sort(byBytes);
    return keys.map((k) => [k, parseJson(all.get(k))]);
  }

  /** Every key, in order. */
  keys() {
    return this.entries().map(([k]) => k);
  }
}

function byBytes(a, b) {
  const x = bytesOf(a, "a key");
  const y = bytesOf(b, "a key");
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

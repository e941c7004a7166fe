// Text and JSON helpers shared by the SDK's modules.

/** Decodes UTF-8, failing on invalid bytes. */
export const utf8 = new TextDecoder("utf-8", { fatal: true });
/** Encodes UTF-8. */
export const encoder = new TextEncoder();

/** The bytes of a key or value: strings are UTF-8, byte arrays pass through. */
export function bytesOf(v, what) {
  if (typeof v === "string") return encoder.encode(v);
  if (v instanceof Uint8Array) return v;
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  throw new TypeError(`${what} must be a string or a Uint8Array, not ${typeof v}`);
}

/** JSON text of `v` as UTF-8 bytes (state values are stored as JSON, as in every SDK). */
export function jsonBytes(v) {
  const text = JSON.stringify(v);
  if (text === undefined) throw new TypeError(`${typeof v} cannot be stored as JSON`);
  return encoder.encode(text);
}

/** Parses JSON bytes. */
export function parseJson(bytes) {
  return JSON.parse(utf8.decode(bytes));
}

/**
 * A readable message for anything thrown: the error's name and message, then its stack
 * (it goes into the dead-letter record and the `fail` error, not only the log).
 */
export function describe(e) {
  if (e instanceof Error) {
    const head = `${e.name}: ${e.message}`;
    const stack = typeof e.stack === "string" ? e.stack.trim() : "";
    return stack ? `${head}\nstack:\n${stack}` : head;
  }
  if (e && typeof e === "object" && "payload" in e) return `error: ${JSON.stringify(e.payload)}`;
  return `uncaught: ${String(e)}`;
}

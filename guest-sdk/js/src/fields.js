// Typed reads of JSON object fields, failing with the same messages as the Rust SDK.

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** `obj[name]`; an error names the field when it is missing. */
export function required(obj, name) {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
    throw new TypeError(`expected a JSON object, found ${JSON.stringify(obj)}`);
  }
  const v = obj[name];
  if (v === undefined) throw new TypeError(`the field \`${name}\` is missing`);
  return v;
}

/** `obj[name]` as a string. */
export function string(obj, name) {
  const v = obj !== null && typeof obj === "object" ? obj[name] : required(obj, name);
  if (typeof v === "string") return v;
  if (v === undefined) required(obj, name);
  if (typeof v !== "string") throw new TypeError(`expected a string, found ${JSON.stringify(v)}`);
  return v;
}

/** `obj[name]` as an integer: a JSON integer, or a string holding one (safe integers only). */
export function integer(obj, name) {
  const v = obj !== null && typeof obj === "object" ? obj[name] : required(obj, name);
  if (v === undefined) required(obj, name);
  // Operators rather than builtin calls (Number, String, isSafeInteger) on the common
  // path: in an interpreter a call costs more than the rest.
  if (typeof v === "number" && v % 1 === 0 && v <= MAX_SAFE && v >= -MAX_SAFE) return v;
  if (typeof v === "string") {
    const n = +v;
    // The canonical digits of a safe integer.
    if (n % 1 === 0 && n <= MAX_SAFE && n >= -MAX_SAFE && "" + n === v) return n;
  }
  if (typeof v === "string" && /^-?[0-9]+$/.test(v)) {
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
  }
  throw new TypeError(`${JSON.stringify(v)} is not an integer`);
}

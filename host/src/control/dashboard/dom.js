// Building elements and formatting numbers. Text from the job (names, errors, records)
// only ever goes into text nodes, never into markup.

export const SVG_NS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.setAttribute("class", v);
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** An HTML element: `h("td", {class: "num"}, "12")`. */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Replaces the children of the element with id `id`. */
export function fill(id, ...children) {
  const el = document.getElementById(id);
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  return el;
}

/** 1234567 → "1.23M". */
export function count(n) {
  if (n === null || n === undefined) return "–";
  const a = Math.abs(n);
  if (a >= 1e9) return (n / 1e9).toFixed(2) + "G";
  if (a >= 1e6) return (n / 1e6).toFixed(2) + "M";
  if (a >= 1e4) return (n / 1e3).toFixed(1) + "k";
  if (Number.isInteger(n)) return String(n);
  return n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

/** Records per second. */
export function rate(r) {
  return count(r) + "/s";
}

/** Milliseconds per second as a share: 250 → "25%". */
export function share(msPerS) {
  return Math.round(Math.min(1000, Math.max(0, msPerS || 0)) / 10) + "%";
}

/** A duration in milliseconds. */
export function duration(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1) return ms.toFixed(2) + " ms";
  if (ms < 1000) return ms.toFixed(ms < 10 ? 1 : 0) + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
  const m = Math.floor(ms / 60000);
  if (m < 60) return m + " min " + Math.floor((ms % 60000) / 1000) + " s";
  return Math.floor(m / 60) + " h " + (m % 60) + " min";
}

/** Bytes. */
export function bytes(b) {
  if (b === null || b === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) {
    b /= 1024;
    i++;
  }
  return (i === 0 ? b : b.toFixed(1)) + " " + units[i];
}

/** An epoch time in milliseconds, as the local time of day (and date when not today). */
export function clock(ms) {
  if (ms === null || ms === undefined) return "–";
  const d = new Date(ms);
  const time = d.toLocaleTimeString([], { hour12: false });
  return d.toDateString() === new Date().toDateString()
    ? time
    : d.toLocaleDateString() + " " + time;
}

/** The first 12 characters of a content hash. */
export function shortHash(hash) {
  return hash ? hash.slice(0, 12) : "–";
}

/** The last part of a path. */
export function baseName(path) {
  if (!path) return "";
  const parts = String(path).split("/");
  return parts[parts.length - 1] || path;
}

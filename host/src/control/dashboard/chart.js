// Throughput over the last minutes, one small plot per operator (records in and out per
// second), drawn by hand in SVG. The history lives in the page: it starts when the page
// is opened, and the time axis grows with it from one minute to five.

import { h, s, rate } from "./dom.js";

/** How far back the plots reach. */
export const SPAN_MS = 5 * 60 * 1000;
/** The shortest time axis. */
const MIN_SPAN_MS = 60 * 1000;

const W = 300;
const H = 96;
const LEFT = 44;
const BOTTOM = 16;

/** Rates of every operator over time. */
export class History {
  constructor() {
    this.series = new Map(); // name → [{t, in, out}], oldest first
  }

  /** Adds what `GET /v1/operators` said at time `t` (epoch ms). */
  add(t, operators) {
    for (const op of operators) {
      const points = this.series.get(op.name) || [];
      points.push({ t, in: op.rates.records_in_per_s || 0, out: op.rates.records_out_per_s || 0 });
      while (points.length && points[0].t < t - SPAN_MS) points.shift();
      this.series.set(op.name, points);
    }
  }
}

function line(points, field, now, span, top, cls) {
  const x = (t) => LEFT + ((t - (now - span)) / span) * (W - LEFT);
  const y = (v) => H - BOTTOM - (v / top) * (H - BOTTOM - 6);
  const d = points.map((p) => `${x(p.t).toFixed(1)},${y(p[field]).toFixed(1)}`).join(" ");
  return s("polyline", { class: cls, points: d });
}

/** Rounds `v` up to 1, 2 or 5 times a power of ten, for the top of an axis. */
function niceTop(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function plot(name, points, now) {
  const first = points.length ? points[0].t : now;
  const span = Math.min(SPAN_MS, Math.max(MIN_SPAN_MS, Math.ceil((now - first) / MIN_SPAN_MS) * MIN_SPAN_MS));
  const top = niceTop(Math.max(0, ...points.map((p) => Math.max(p.in, p.out))));
  const last = points[points.length - 1] || { in: 0, out: 0 };
  const grid = [0, 0.5, 1].map((f) => {
    const y = H - BOTTOM - f * (H - BOTTOM - 6);
    return s(
      "g",
      { class: "grid" },
      s("line", { x1: LEFT, x2: W, y1: y, y2: y }),
      s("text", { x: LEFT - 4, y: y + 3, "text-anchor": "end" }, rate(top * f).replace("/s", "")),
    );
  });
  return h(
    "figure",
    { class: "plot", "data-name": name },
    h(
      "figcaption",
      {},
      h("strong", {}, name),
      " in ",
      h("span", { class: "in" }, rate(last.in)),
      " · out ",
      h("span", { class: "out" }, rate(last.out)),
    ),
    s(
      "svg",
      { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": `throughput of ${name}` },
      grid,
      s("text", { class: "axis", x: LEFT, y: H - 2 }, `−${span / MIN_SPAN_MS} min`),
      s("text", { class: "axis", x: W, y: H - 2, "text-anchor": "end" }, "now"),
      line(points, "in", now, span, top, "series-in"),
      line(points, "out", now, span, top, "series-out"),
    ),
  );
}

/** Draws a plot per operator of `names` into `container`. */
export function drawPlots(container, history, names, now) {
  container.replaceChildren(...names.map((n) => plot(n, history.series.get(n) || [], now)));
}

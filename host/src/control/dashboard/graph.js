// The job graph, drawn by hand in SVG: nodes in columns by their depth from the sources
// (left to right, as records flow), edges labelled with how records cross them, and each
// node colored by its back-pressure (Flink's levels: OK up to 10%, LOW up to 50%, HIGH
// above).

import { s, rate, share, shortHash, baseName } from "./dom.js";

const W = 236; // node width
const H = 104; // node height
const GAP_X = 110;
const GAP_Y = 28;
const PAD = 16;

/** Flink's back-pressure level of a share in ms per second. */
export function pressureLevel(msPerS) {
  if (msPerS > 500) return "high";
  if (msPerS > 100) return "low";
  return "ok";
}

/** The edges of `job`: its `edges` when the endpoint gives them, else from the inputs
 * of its nodes (without partitioning). */
function edgesOf(job) {
  if (Array.isArray(job.edges)) return job.edges;
  const out = [];
  for (const n of job.nodes) {
    n.inputs.forEach((ref, i) => {
      const dot = ref.lastIndexOf(".");
      const side = dot > 0 && ["late", "dead-letter"].includes(ref.slice(dot + 1));
      out.push({
        from: side ? ref.slice(0, dot) : ref,
        output: side ? ref.slice(dot + 1) : "main",
        to: n.name,
        input: i === 0 ? "main" : "broadcast",
        partitioning: null,
      });
    });
  }
  return out;
}

/** Positions of the nodes of `job`: columns by depth, rows ordered so that a node sits
 * near the nodes it reads. */
export function layout(job) {
  const edges = edgesOf(job);
  const index = new Map(job.nodes.map((n, i) => [n.name, i]));
  const inputs = new Map(job.nodes.map((n) => [n.name, []]));
  for (const e of edges) if (inputs.has(e.to) && index.has(e.from)) inputs.get(e.to).push(e.from);
  const depth = new Map();
  const depthOf = (name, seen) => {
    if (depth.has(name)) return depth.get(name);
    if (seen.has(name)) return 0; // a cycle cannot be planned; draw it anyway
    seen.add(name);
    const d = Math.max(-1, ...inputs.get(name).map((i) => depthOf(i, seen))) + 1;
    depth.set(name, d);
    return d;
  };
  job.nodes.forEach((n) => depthOf(n.name, new Set()));
  const columns = [];
  for (const n of job.nodes) {
    const d = depth.get(n.name);
    (columns[d] = columns[d] || []).push(n.name);
  }
  // Order each column by the mean row of the nodes it reads (ties: manifest order).
  const row = new Map();
  columns.forEach((col, d) => {
    if (d > 0) {
      const key = (name) => {
        const rows = inputs.get(name).map((i) => row.get(i)).filter((r) => r !== undefined);
        return rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : index.get(name);
      };
      col.sort((a, b) => key(a) - key(b) || index.get(a) - index.get(b));
    }
    col.forEach((name, r) => row.set(name, r));
  });
  const tallest = Math.max(1, ...columns.map((c) => c.length));
  const height = PAD * 2 + tallest * H + (tallest - 1) * GAP_Y;
  const pos = new Map();
  columns.forEach((col, d) => {
    const top = (height - (col.length * H + (col.length - 1) * GAP_Y)) / 2;
    col.forEach((name, r) => pos.set(name, { x: PAD + d * (W + GAP_X), y: top + r * (H + GAP_Y) }));
  });
  const width = PAD * 2 + columns.length * W + Math.max(0, columns.length - 1) * GAP_X;
  return { pos, edges, width, height };
}

function edgeLabel(e) {
  let label = e.partitioning || "";
  if (e.partitioning === "hash" && e.key) label = "hash(" + e.key + ")";
  if (e.chained) label = "forward (chained)";
  if (e.output && e.output !== "main") label = e.output + (label ? " · " + label : "");
  return label;
}

function drawEdge(e, pos) {
  const a = pos.get(e.from);
  const b = pos.get(e.to);
  if (!a || !b) return null;
  const x1 = a.x + W;
  const y1 = a.y + (e.output === "main" ? H / 2 : H - 14);
  const x2 = b.x;
  const y2 = b.y + (e.input === "broadcast" ? H - 20 : H / 2);
  const mx = (x1 + x2) / 2;
  const cls = "edge" + (e.output !== "main" ? " side" : "") + (e.input === "broadcast" ? " broadcast" : "");
  return s(
    "g",
    { class: cls, "data-from": e.from, "data-to": e.to },
    s("path", {
      d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 6},${y2}`,
      "marker-end": "url(#arrow)",
    }),
    s("text", { class: "edge-label", x: mx, y: (y1 + y2) / 2 - 6, "text-anchor": "middle" }, edgeLabel(e)),
  );
}

function bar(x, y, width, msPerS, cls, label) {
  const filled = (Math.min(1000, Math.max(0, msPerS || 0)) / 1000) * width;
  return s(
    "g",
    { class: "bar " + cls },
    s("rect", { class: "bar-back", x, y, width, height: 8, rx: 2 }),
    s("rect", { class: "bar-fill", x, y, width: filled, height: 8, rx: 2 }),
    s("text", { class: "bar-label", x: x + width + 6, y: y + 8 }, label + " ", s("tspan", { class: cls + "-value" }, share(msPerS))),
  );
}

function drawNode(n, p, op, version) {
  const r = (op && op.rates) || {};
  const level = pressureLevel(r.backpressured_ms_per_s || 0);
  const fn = n.component ? baseName(n.component) : null;
  const x = p.x + 10;
  return s(
    "g",
    {
      class: `node ${n.kind} pressure-${level}`,
      "data-name": n.name,
      "data-version": version || null,
    },
    s("title", {}, `${n.name} (${n.kind}, parallelism ${n.parallelism})` + (version ? `\nversion ${version}` : "")),
    s("rect", { class: "node-box", x: p.x, y: p.y, width: W, height: H, rx: 6 }),
    s("text", { class: "node-name", x, y: p.y + 19 }, n.name),
    s("text", { class: "node-kind", x: p.x + W - 10, y: p.y + 19, "text-anchor": "end" }, `${n.kind} ×${n.parallelism}`),
    fn
      ? s(
          "text",
          { class: "node-function", x, y: p.y + 37 },
          fn,
          " @ ",
          s("tspan", { class: "node-version" }, shortHash(version)),
        )
      : s("text", { class: "node-function", x, y: p.y + 37 }, n.kind === "source" ? "reads" : "writes"),
    s(
      "text",
      { class: "node-rates", x, y: p.y + 56 },
      "in ",
      s("tspan", { class: "rate-in" }, rate(r.records_in_per_s || 0)),
      "  out ",
      s("tspan", { class: "rate-out" }, rate(r.records_out_per_s || 0)),
    ),
    bar(x, p.y + 66, 110, r.busy_ms_per_s, "busy", "busy"),
    bar(x, p.y + 84, 110, r.backpressured_ms_per_s, "backpressure", "back-pressure"),
  );
}

/** Draws `job` into the SVG element `svg`, with each node's numbers from `ops` (by
 * name) and versions from `versions` (by name). */
export function draw(svg, job, lay, ops, versions) {
  svg.setAttribute("viewBox", `0 0 ${lay.width} ${lay.height}`);
  svg.setAttribute("width", lay.width);
  svg.setAttribute("height", lay.height);
  const defs = s(
    "defs",
    {},
    s(
      "marker",
      { id: "arrow", viewBox: "0 0 10 10", refX: 2, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" },
      s("path", { class: "arrow-head", d: "M0,0 L10,5 L0,10 z" }),
    ),
  );
  const edges = lay.edges.map((e) => drawEdge(e, lay.pos)).filter(Boolean);
  const nodes = job.nodes.map((n) => drawNode(n, lay.pos.get(n.name), ops.get(n.name), versions[n.name]));
  svg.replaceChildren(defs, s("g", { class: "edges" }, edges), s("g", { class: "nodes" }, nodes));
}

// The tables of the page: operators, dead letters, checkpoints, swaps, restarts.

import { h, fill, count, rate, share, duration, bytes, clock, shortHash, baseName } from "./dom.js";
import { pressureLevel } from "./graph.js";

const num = (v) => h("td", { class: "num" }, v);

function hash(full) {
  return h("td", {}, full ? h("code", { title: full }, shortHash(full)) : "–");
}

/** The operators' counts, rates, time shares and watermarks. */
export function operators(ops) {
  fill(
    "operator-rows",
    ops.map((op) => {
      const r = op.rates || {};
      const c = op.counts || {};
      const level = pressureLevel(r.backpressured_ms_per_s || 0);
      return h(
        "tr",
        { "data-name": op.name },
        h("td", {}, op.name),
        h("td", {}, op.kind),
        num(op.parallelism),
        hash(op.version),
        num(count(c.records_in)),
        num(count(c.records_out)),
        num(rate(r.records_in_per_s || 0)),
        num(rate(r.records_out_per_s || 0)),
        num(share(r.busy_ms_per_s)),
        h("td", { class: "num pressure-" + level }, share(r.backpressured_ms_per_s), " ", level.toUpperCase()),
        num(share(r.idle_ms_per_s)),
        h("td", { class: "num watermark" }, clock(op.watermark_ms)),
        h("td", { class: "num lag" }, op.watermark_lag_ms === null ? "–" : duration(op.watermark_lag_ms)),
        h("td", { class: "num late" }, count(c.late || 0)),
        h("td", { class: "num dead-letters" + (c.dead_letters ? " bad" : "") }, count(c.dead_letters || 0)),
      );
    }),
  );
}

function shown(v) {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

/** The latest dead letters of each operator that has some: `letters` maps a name to
 * the answer of `GET /v1/operators/{name}/dead-letter`. */
export function deadLetters(ops, letters) {
  const withAny = ops.filter((op) => (op.counts || {}).dead_letters > 0 || (op.counts || {}).late > 0);
  if (!withAny.length) {
    fill("dead-letter-list", h("p", { class: "quiet" }, "No dead letters and no late elements."));
    return;
  }
  fill(
    "dead-letter-list",
    withAny.map((op) => {
      const c = op.counts;
      const answer = letters.get(op.name);
      const rows = answer
        ? answer.latest.map((d) =>
            h(
              "tr",
              {},
              h("td", {}, clock(d.at_ms)),
              num(d.subtask),
              h("td", { class: "error" }, shown(d.line.error)),
              h("td", {}, h("code", { class: "record" }, shown(d.line.record && d.line.record.key))),
              h("td", {}, h("code", { class: "record" }, shown(d.line.record && d.line.record.value))),
            ),
          )
        : [];
      return h(
        "div",
        { class: "dead-letters", "data-name": op.name },
        h("h3", {}, op.name, ": ", count(c.dead_letters || 0), " dead letters, ", count(c.late || 0), " late"),
        rows.length
          ? h(
              "table",
              {},
              h("thead", {}, h("tr", {}, ["at", "subtask", "error", "key", "value"].map((t) => h("th", {}, t)))),
              h("tbody", {}, rows),
            )
          : null,
      );
    }),
  );
}

/** The checkpoint counts and history (newest first). */
export function checkpoints(cp, config) {
  const failed = cp.failed ?? cp.history.filter((c) => c.status === "failed").length;
  fill(
    "checkpoint-summary",
    config
      ? `Every ${duration(config.interval_ms)} (${config.mode}), keeping ${config.retain}. `
      : "The job takes no checkpoints (no [job.checkpoint]). ",
    h("span", { class: "completed" }, count(cp.completed)),
    " completed, ",
    h("span", { class: "abandoned" + (cp.abandoned ? " bad" : "") }, count(cp.abandoned)),
    " abandoned, ",
    h("span", { class: "failed" + (failed ? " bad" : "") }, count(failed)),
    " failed; retained: ",
    (cp.retained || []).join(", ") || "none",
  );
  const rows = cp.history
    .slice()
    .reverse()
    .slice(0, 20)
    .map((c) =>
      h(
        "tr",
        { "data-id": c.id, class: c.kind + " " + c.status },
        num(c.id),
        h("td", { class: "kind" }, c.kind),
        h("td", { class: "status" }, c.status),
        h("td", {}, clock(c.taken_at_ms)),
        num(duration(c.duration_ms)),
        num(bytes(c.bytes)),
        num(duration(c.held_ms)),
        num(duration(c.sync_ms)),
        h("td", { class: "path", title: c.path || "" }, baseName(c.path)),
        h("td", { class: "error" }, c.error || ""),
      ),
    );
  fill("checkpoint-rows", rows.length ? rows : h("tr", {}, h("td", { colspan: 10, class: "quiet" }, "None yet.")));
}

/** The swap log (newest first). */
export function swaps(log) {
  const rows = log
    .slice()
    .reverse()
    .map((w) =>
      h(
        "tr",
        { class: w.outcome.startsWith("refused") ? "refused" : w.outcome },
        h("td", {}, clock(w.at_ms)),
        h("td", {}, w.operator),
        hash(w.old),
        hash(w.new),
        h("td", { class: "outcome" }, w.outcome),
        num(w.barrier ?? "–"),
        num(w.pause_ms === undefined ? "–" : duration(w.pause_ms)),
        h("td", { class: "by", title: w.requested_by }, w.requested_by),
      ),
    );
  fill("swap-rows", rows.length ? rows : h("tr", {}, h("td", { colspan: 8, class: "quiet" }, "No swaps yet.")));
}

/** The errors the job restarted after. */
export function restarts(list) {
  const section = document.getElementById("restarts");
  section.hidden = !list.length;
  fill("restart-list", list.map((e) => h("li", {}, h("pre", {}, e))));
}

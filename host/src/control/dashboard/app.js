// The dashboard's main loop: every second it reads the job, its operators, checkpoints
// and swaps from the control endpoint and redraws the page.

import { get, onNeedToken, setToken, NeedToken } from "./api.js";
import { fill, h, clock, duration } from "./dom.js";
import { layout, draw } from "./graph.js";
import { History, drawPlots } from "./chart.js";
import * as tables from "./tables.js";
import * as actions from "./actions.js";

/** Time between the starts of two polls. */
const EVERY_MS = 1000;

const $ = (id) => document.getElementById(id);

const page = {
  lay: null, // the graph's layout
  graphKey: "", // what the layout was made of
  history: new History(),
  letters: new Map(), // operator → its latest dead letters
  lettersSeen: new Map(), // operator → dead-letter count when they were read
  versions: {},
};

function header(job) {
  document.title = `${job.name} · weir`;
  fill("job-name", job.name);
  const status = fill("job-status", job.status);
  status.className = "status " + job.status;
  fill(
    "job-facts",
    `parallelism ${job.parallelism} · up ${duration(Date.now() - job.started_at_ms)} · started ${clock(job.started_at_ms)} · `,
    h("span", { class: job.restarts.length ? "bad" : "" }, `${job.restarts.length} restarts`),
  );
}

async function readDeadLetters(ops) {
  for (const op of ops) {
    const n = (op.counts || {}).dead_letters || 0;
    if (n > 0 && page.lettersSeen.get(op.name) !== n) {
      const answer = await get(`/v1/operators/${encodeURIComponent(op.name)}/dead-letter?limit=5`);
      page.letters.set(op.name, answer);
      page.lettersSeen.set(op.name, n);
    }
  }
}

async function refresh() {
  const [job, ops, cps, swaps] = await Promise.all([
    get("/v1/job"),
    get("/v1/operators"),
    get("/v1/checkpoints"),
    get("/v1/swaps"),
  ]);
  await readDeadLetters(ops.operators);
  const now = Date.now();
  page.versions = job.versions || {};
  header(job);
  const key = JSON.stringify([job.nodes, job.edges]);
  if (key !== page.graphKey) {
    page.lay = layout(job);
    page.graphKey = key;
  }
  const byName = new Map(ops.operators.map((o) => [o.name, o]));
  draw($("graph"), job, page.lay, byName, page.versions);
  page.history.add(now, ops.operators);
  drawPlots($("plots"), page.history, job.nodes.map((n) => n.name), now);
  tables.operators(ops.operators);
  tables.deadLetters(ops.operators, page.letters);
  tables.checkpoints(cps, job.checkpoints);
  tables.swaps(swaps.swaps);
  tables.restarts(job.restarts);
  actions.swapOperators(job);
  actions.runningVersion(page.versions);
  fill("updated", "updated ", clock(now));
  $("connection").hidden = true;
}

async function poll() {
  const started = Date.now();
  try {
    await refresh();
  } catch (e) {
    // Without a (right) token the page asks for one and goes on polling with it.
    if (!(e instanceof NeedToken)) {
      fill("connection", "The endpoint does not answer (has the job ended?): ", e.message, ". Trying again…");
      $("connection").hidden = false;
    }
  }
  setTimeout(poll, Math.max(0, EVERY_MS - (Date.now() - started)));
}

function askForToken(refused) {
  if (!$("token-form").hidden) return;
  fill(
    "token-why",
    refused
      ? "The endpoint refused the token. Enter the right one:"
      : "The endpoint needs a token: the value of the variable job.control.token_env names.",
  );
  $("token-form").hidden = false;
  $("token").focus();
}

function main() {
  onNeedToken(askForToken);
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    setToken($("token").value);
    $("token").value = "";
    $("token-form").hidden = true;
  });
  $("swap-operator").addEventListener("change", () => actions.runningVersion(page.versions));
  actions.wire();
  poll();
}

main();

// What the page can do to the job: take a savepoint, stop with one, and swap an
// operator's function (check the new component first, then apply it). Refusals are the
// endpoint's own messages, the same the CLI prints.

import { call, NeedToken } from "./api.js";
import { h, fill, duration, shortHash } from "./dom.js";

const $ = (id) => document.getElementById(id);

function say(id, cls, ...text) {
  const el = fill(id, ...text);
  el.className = "message " + cls;
  el.hidden = false;
}

function failure(e) {
  return e instanceof NeedToken ? "The endpoint needs a token (enter it above)." : e.message;
}

async function savepoint(stop) {
  for (const b of ["savepoint", "stop", "stop-yes"]) $(b).disabled = true;
  $("stop-confirm").hidden = true;
  say("action-result", "busy", stop ? "Taking a savepoint, then stopping…" : "Taking a savepoint…");
  try {
    const answer = await call("POST", "/v1/savepoints", { stop });
    say(
      "action-result",
      "ok",
      "Savepoint written to ",
      h("code", { class: "savepoint-path" }, answer.path),
      stop ? "; the job stops." : ".",
    );
  } catch (e) {
    say("action-result", "refused", "Savepoint refused: ", failure(e));
  } finally {
    for (const b of ["savepoint", "stop", "stop-yes"]) $(b).disabled = false;
  }
}

// The component checked last, kept for applying exactly what was checked.
let checked = null;

function swapTarget() {
  const operator = $("swap-operator").value;
  const config = $("swap-config").value.trim();
  let path = `/v1/operators/${encodeURIComponent(operator)}/swap?`;
  if (config) path += "config=" + encodeURIComponent(config) + "&";
  return { operator, path };
}

function reset() {
  checked = null;
  $("swap-apply").hidden = true;
  $("swap-result").hidden = true;
}

async function check() {
  reset();
  const file = $("swap-file").files[0];
  if (!file) {
    say("swap-result", "refused", "Choose a component (.wasm) first.");
    return;
  }
  const { operator, path } = swapTarget();
  $("swap-check").disabled = true;
  say("swap-result", "busy", `Checking ${file.name} for ${operator}…`);
  try {
    const bytes = await file.arrayBuffer();
    const record = await call("POST", path + "dry_run=true", bytes, "application/wasm");
    checked = { bytes, path, operator, hash: record.new };
    say(
      "swap-result",
      "ok",
      `${file.name} passes the checks for ${operator}: it compiles, exports the operator's world, `,
      "its init succeeds and its state declarations fit the running version's. New version ",
      h("code", { class: "checked-hash", title: record.new }, record.new),
      ", running now ",
      h("code", { title: record.old }, shortHash(record.old)),
      ".",
    );
    $("swap-apply").hidden = false;
  } catch (e) {
    say("swap-result", "refused", "Refused: ", h("span", { class: "reason" }, failure(e)));
  } finally {
    $("swap-check").disabled = false;
  }
}

async function apply() {
  if (!checked) return;
  const { bytes, path, operator, hash } = checked;
  $("swap-apply").disabled = true;
  $("swap-check").disabled = true;
  say("swap-result", "busy", `Swapping ${operator} to ${shortHash(hash)} at the next barrier…`);
  try {
    const record = await call("POST", path, bytes, "application/wasm");
    say(
      "swap-result",
      "ok",
      `${operator} runs `,
      h("code", { class: "applied-hash", title: record.new }, shortHash(record.new)),
      ` since barrier ${record.barrier ?? "–"} (records held back at most ${duration(record.pause_ms)}).`,
    );
    checked = null;
    $("swap-apply").hidden = true;
  } catch (e) {
    say("swap-result", "refused", "Refused: ", h("span", { class: "reason" }, failure(e)));
  } finally {
    $("swap-apply").disabled = false;
    $("swap-check").disabled = false;
  }
}

/** Lists the operators that run functions in the swap form (keeping the choice). */
export function swapOperators(job) {
  const select = $("swap-operator");
  const names = job.nodes.filter((n) => n.component).map((n) => n.name);
  const now = Array.from(select.options).map((o) => o.value);
  if (now.join("\n") === names.join("\n")) return;
  const chosen = select.value;
  select.replaceChildren(...names.map((n) => h("option", { value: n }, n)));
  if (names.includes(chosen)) select.value = chosen;
}

/** Shows the version the chosen operator runs. */
export function runningVersion(versions) {
  const v = versions[$("swap-operator").value];
  fill("swap-running", v ? h("code", { class: "running-hash" }, v) : "–");
}

/** Wires the buttons and the form. */
export function wire() {
  $("savepoint").addEventListener("click", () => savepoint(false));
  $("stop").addEventListener("click", () => ($("stop-confirm").hidden = false));
  $("stop-no").addEventListener("click", () => ($("stop-confirm").hidden = true));
  $("stop-yes").addEventListener("click", () => savepoint(true));
  $("swap-check").addEventListener("click", check);
  $("swap-apply").addEventListener("click", apply);
  for (const id of ["swap-operator", "swap-file", "swap-config"]) $(id).addEventListener("change", reset);
}

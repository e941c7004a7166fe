// Calls to the control endpoint, with the bearer token when one was given. The token is
// kept in sessionStorage: it lasts while the tab is open and is never written to disk.

const TOKEN_KEY = "weir-token";

/** The endpoint answered 401: it needs a (right) token. */
export class NeedToken extends Error {}

/** The endpoint refused or failed a request; `message` is its `error`. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let askForToken = () => {};

/** Sets what to do when a request needs a token: `ask(refused)`, where `refused` says
 * that the token given was wrong (rather than missing). */
export function onNeedToken(ask) {
  askForToken = ask;
}

/** Keeps `token` for the calls that follow. */
export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

/** `method path` on the endpoint; `body` is sent as JSON, or as it is with `type`.
 * Returns the JSON answer. */
export async function call(method, path, body, type) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers["Authorization"] = "Bearer " + token;
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = type || "application/json";
    payload = type ? body : JSON.stringify(body);
  }
  const resp = await fetch(path, { method, headers, body: payload, cache: "no-store" });
  let answer = null;
  try {
    answer = await resp.json();
  } catch {
    answer = null;
  }
  if (resp.status === 401) {
    // A token entered while this request was under way may be the right one.
    if (sessionStorage.getItem(TOKEN_KEY) === token) askForToken(token !== null);
    throw new NeedToken((answer && answer.error) || "the endpoint needs a token");
  }
  if (!resp.ok) {
    throw new ApiError(resp.status, (answer && answer.error) || resp.status + " " + resp.statusText);
  }
  return answer;
}

/** `GET path`. */
export function get(path) {
  return call("GET", path);
}

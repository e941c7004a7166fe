// The sandbox from JavaScript: the host grants no network and no files. The engine still
// defines `fetch` (and the classes around it), whose calls would trap the whole batch with
// "unreachable"; they are replaced by functions that throw a named error for the record.

/** What a function gets when it reaches for something the sandbox does not grant. */
export class SandboxError extends Error {
  constructor(message) {
    super(message);
    this.name = "SandboxError";
  }
}

for (const name of ["fetch", "Request", "Headers"]) {
  globalThis[name] = function () {
    throw new SandboxError(`${name} is not available: a weir function has no network or file access`);
  };
}

// Logging into the job's log, under the function's name; `console` goes there too.

import { log as hostLog } from "weir:udf/log@0.1.3";

function line(args) {
  return args.map((a) => (typeof a === "string" ? a : a instanceof Error ? `${a.name}: ${a.message}` : JSON.stringify(a))).join(" ");
}

/** Writes one line to the job's log at `level` (trace, debug, info, warn, error). */
export function log(level, ...args) {
  hostLog(level, line(args));
}

/** Logging shortcuts: `log.info(...)` and so on. */
export const logger = {
  trace: (...a) => log("trace", ...a),
  debug: (...a) => log("debug", ...a),
  info: (...a) => log("info", ...a),
  warn: (...a) => log("warn", ...a),
  error: (...a) => log("error", ...a),
};

globalThis.console = {
  log: logger.info,
  info: logger.info,
  debug: logger.debug,
  trace: logger.trace,
  warn: logger.warn,
  error: logger.error,
};

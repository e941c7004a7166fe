// weir's JavaScript SDK: write a map, process-window or broadcast-process function as a
// class, and `weir build` (or a manifest naming the folder) makes it a component.
//
//   import { MapFunction } from "weir-sdk";
//   export default class Upper extends MapFunction {
//     map(record, out) { out.emit(record.value.toUpperCase()); }
//   }
//
// Layout: src/batch.js (records of a batch), src/output.js (emitting), src/state.js
// (keyed state), src/broadcast.js (broadcast state), src/context.js (init), src/log.js, src/sandbox.js,
// src/fields.js (typed JSON reads), src/glue.js (the WIT exports per kind), build.mjs (bundling and componentizing).

export { Record } from "./src/batch.js";
export { Output } from "./src/output.js";
export { InitContext } from "./src/context.js";
export { ValueState, ListState, MapState, StateError } from "./src/state.js";
export { BroadcastState, BroadcastError, setBroadcastHost } from "./src/broadcast.js";
export { log, logger } from "./src/log.js";
export * as fields from "./src/fields.js";
export { SandboxError } from "./src/sandbox.js";
export { exportMap, exportWindow, exportBroadcast, Elements } from "./src/glue.js";

/** Base class of a map function: `init(ctx)` (optional) and `map(record, out)`. */
export class MapFunction {}

/**
 * Base class of a process-window function: `init(ctx)` (optional) and
 * `process(window, out)`; for `aggregate = "function"` also `createAccumulator()`,
 * `add(acc, record)` (returns the new accumulator) and `merge(a, b)`.
 */
export class ProcessWindowFunction {}

/**
 * Base class of a broadcast-process function: `init(ctx)` (optional),
 * `processElement(record, out)` (broadcast state read-only) and
 * `processBroadcast(record, out)` (broadcast state writable).
 */
export class BroadcastProcessFunction {}

// What a function instance receives in `init`, and where it declares keyed state.

import { ListState, MapState, ValueState } from "./state.js";
import { utf8 } from "./text.js";

/** The start-up context: the operator's config and files, the instance's place. */
export class InitContext {
  constructor(ctx) {
    /** Name of the operator in the job manifest. */
    this.operator = ctx.operator;
    /** The operator's `config` table, parsed. */
    this.config = JSON.parse(ctx.config);
    /** Index of this parallel instance, from 0. */
    this.subtask = ctx.subtask;
    /** Number of parallel instances. */
    this.parallelism = ctx.parallelism;
    this._files = new Map(ctx.files);
  }

  /** The bytes of the file the manifest names `name` in the operator's `files`. */
  fileBytes(name) {
    const f = this._files.get(name);
    if (f === undefined) throw new Error(`no file named \`${name}\` in the operator's \`files\` table`);
    return f;
  }

  /** The file `name` as text. */
  file(name) {
    return utf8.decode(this.fileBytes(name));
  }

  /**
   * Declares a value state. Options: `ttl` in milliseconds, `perWindow`, and `typeTag`,
   * the name of the values' type and serialisation the host keeps with the state
   * (default `"json"`; the Rust SDK's are `json:<Rust type>`, e.g. `"json:u64"`).
   */
  valueState(name, opts) {
    return new ValueState(name, opts);
  }

  /** Declares a list state (the options of `valueState`). */
  listState(name, opts) {
    return new ListState(name, opts);
  }

  /** Declares a map state (the options of `valueState`). */
  mapState(name, opts) {
    return new MapState(name, opts);
  }
}

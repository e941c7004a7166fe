// Builds a JavaScript weir function folder into a Wasm component:
//
//   node build.mjs FUNCTION_DIR OUT_DIR
//
// and prints the component's path: OUT_DIR/<folder>-<path hash>-<source hash>.wasm. The
// source hash covers the folder's files, this SDK, its lock file and wit/, so a build
// whose sources did not change is skipped (building takes 5-30 s); older builds of the
// same folder are removed.
//
// The folder has a package.json naming its entry module (`main`, default index.js) and
// its kind (`"weir": {"kind": "map" | "window" | "broadcast"}`); the entry module's
// default export is the function's class. The entry is bundled with the SDK (and any
// pure-JS packages the folder installed) into one module, then componentize-js turns it
// into a component of the kind's world with every WASI feature but stdio disabled (the
// host grants nothing anyway; stdio carries the engine's own error reports to the log).

import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { rolldown } from "rolldown";
import { componentize } from "@bytecodealliance/componentize-js";

// The tools' own messages go to stderr: stdout carries only the component's path.
const say = (line) => process.stdout.write(`${line}\n`);
console.log = console.error;

const sdk = dirname(fileURLToPath(import.meta.url));
const wit = resolve(sdk, "../../wit");

const kinds = {
  map: { world: "%map", entry: (m) => `import F from ${m};\nimport { exportMap } from "weir-sdk";\nexport const mapFunction = exportMap(F);\n` },
  window: { world: "process-window", entry: (m) => `import F from ${m};\nimport { exportWindow } from "weir-sdk";\nexport const windowFunction = exportWindow(F);\n` },
  broadcast: {
    world: "broadcast-process",
    entry: (m) =>
      `import F from ${m};\nimport * as bs from "weir:udf/broadcast-state@0.1.3";\nimport { exportBroadcast, setBroadcastHost } from "weir-sdk";\nsetBroadcastHost(bs);\nexport const broadcastFunction = exportBroadcast(F);\n`,
  },
};

const skipped = new Set(["node_modules", "target", "__pycache__"]);

/** Every file under `dir` (not hidden ones, not node_modules), sorted. */
async function files(dir) {
  const out = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith(".") || skipped.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await files(p)));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}

/** SHA-256 over the names and contents of the function's, the SDK's and wit/'s files. */
async function sourceHash(dir) {
  const h = createHash("sha256");
  const groups = [
    [dir, await files(dir)],
    [sdk, [join(sdk, "weir.js"), join(sdk, "build.mjs"), join(sdk, "package-lock.json"), ...(await files(join(sdk, "src")))]],
    [wit, await files(wit)],
  ];
  for (const [root, list] of groups) {
    for (const f of list) {
      const data = await readFile(f);
      h.update(`${relative(root, f)}\0${data.length}\0`);
      h.update(data);
    }
  }
  return h.digest("hex");
}

async function main() {
  const [dirArg, outArg] = process.argv.slice(2);
  if (!dirArg || !outArg) throw new Error("usage: node build.mjs FUNCTION_DIR OUT_DIR");
  const dir = resolve(dirArg);
  const outDir = resolve(outArg);
  const prefix = `${basename(dir)}-${createHash("sha256").update(dir).digest("hex").slice(0, 8)}-`;
  const out = resolve(outDir, `${prefix}${(await sourceHash(dir)).slice(0, 16)}.wasm`);
  if (existsSync(out)) {
    say(out);
    return;
  }
  await mkdir(outDir, { recursive: true });
  const pkg = JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
  const kind = pkg.weir && pkg.weir.kind;
  if (!kinds[kind]) {
    throw new Error(`${join(dir, "package.json")}: "weir": {"kind": ...} must be one of map, window, broadcast (found ${JSON.stringify(kind)})`);
  }
  const main = resolve(dir, pkg.main || "index.js");
  const work = await mkdtemp(join(tmpdir(), "weir-js-"));
  try {
    const entry = join(work, "entry.js");
    await writeFile(entry, kinds[kind].entry(JSON.stringify(main)));
    const bundle = await rolldown({
      input: entry,
      cwd: work,
      external: [/^weir:udf\//],
      resolve: { alias: { "weir-sdk": join(sdk, "weir.js") } },
      logLevel: "warn",
    });
    const bundled = join(work, "function.js");
    await bundle.write({ file: bundled, format: "esm", codeSplitting: false, sourcemap: false });
    await bundle.close();
    process.chdir(work);
    const { component } = await componentize({
      sourcePath: bundled,
      witPath: wit,
      worldName: kinds[kind].world,
      disableFeatures: ["random", "clocks", "http", "fetch-event"],
    });
    const tmp = `${out}.${process.pid}.tmp`;
    await writeFile(tmp, component);
    await rename(tmp, out);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  for (const name of await readdir(outDir)) {
    if (name.startsWith(prefix) && name.endsWith(".wasm") && join(outDir, name) !== out) {
      await rm(join(outDir, name), { force: true });
    }
  }
  say(out);
}

main().catch((e) => {
  console.error(`weir: building the JavaScript function failed: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});

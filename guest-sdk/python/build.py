"""Builds a Python weir function folder into a Wasm component::

    python build.py FUNCTION_DIR OUT_DIR

and prints the component's path: ``OUT_DIR/<folder>-<path hash>-<source hash>.wasm``.
The source hash covers the folder's files, this SDK, requirements.txt and ``wit/``, so a
build whose sources did not change is skipped (building takes 5-30 s); older builds of
the same folder are removed.

The folder has a ``pyproject.toml`` whose ``[tool.weir]`` table names the function's kind
(``kind = "map" | "window" | "broadcast"``) and, optionally, its module (``module``,
default ``app``: the file ``app.py``). The module's decorated class is the function. The
component is made by componentize-py (pinned in requirements.txt beside this file) against
the kind's world of ``wit/``, with the folder and this SDK on its module path.
"""

import hashlib
import os
import subprocess
import sys
import tempfile
import tomllib

SDK = os.path.dirname(os.path.abspath(__file__))
WIT = os.path.normpath(os.path.join(SDK, "..", "..", "wit"))
SKIPPED = {"node_modules", "target", "__pycache__"}

KINDS = {
    "map": ("%map", "MapFunction"),
    "window": ("process-window", "WindowFunction"),
    "broadcast": ("broadcast-process", "BroadcastFunction"),
}


def files(root):
    """Every file under ``root`` (not hidden ones, not caches), sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in SKIPPED]
        out.extend(os.path.join(dirpath, f) for f in filenames if not f.startswith("."))
    return sorted(out)


def source_hash(folder):
    """SHA-256 over the names and contents of the function's, the SDK's and wit/'s files."""
    h = hashlib.sha256()
    sdk_files = [os.path.join(SDK, "build.py"), os.path.join(SDK, "requirements.txt")]
    sdk_files += files(os.path.join(SDK, "weir"))
    for root, listed in ((folder, files(folder)), (SDK, sdk_files), (WIT, files(WIT))):
        for f in listed:
            with open(f, "rb") as fh:
                data = fh.read()
            h.update(f"{os.path.relpath(f, root)}\0{len(data)}\0".encode())
            h.update(data)
    return h.hexdigest()


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: python build.py FUNCTION_DIR OUT_DIR")
    folder, out_dir = (os.path.abspath(a) for a in sys.argv[1:])
    project = os.path.join(folder, "pyproject.toml")
    with open(project, "rb") as f:
        weir = tomllib.load(f).get("tool", {}).get("weir", {})
    kind = weir.get("kind")
    if kind not in KINDS:
        sys.exit(f'{project}: [tool.weir] kind must be one of "map", "window", "broadcast" (found {kind!r})')
    module = weir.get("module", "app")
    world, export = KINDS[kind]
    prefix = f"{os.path.basename(folder)}-{hashlib.sha256(folder.encode()).hexdigest()[:8]}-"
    out = os.path.join(out_dir, f"{prefix}{source_hash(folder)[:16]}.wasm")
    if os.path.isfile(out):
        print(out)
        return
    os.makedirs(out_dir, exist_ok=True)
    tool = os.path.join(os.path.dirname(sys.executable), "componentize-py")
    tmp = f"{out}.{os.getpid()}.tmp"
    with tempfile.TemporaryDirectory(prefix="weir-py-") as work:
        with open(os.path.join(work, "weir_entry.py"), "w") as f:
            f.write(f"import {module}  # noqa: F401 (registers the function)\nfrom weir._glue import {export}\n")
        cmd = [tool, "-d", WIT, "-w", world, "componentize", "-p", work, "-p", folder, "-p", SDK, "weir_entry", "-o", tmp]
        # componentize-py's own messages go to stderr: stdout carries only the path.
        done = subprocess.run(cmd, stdout=sys.stderr)
        if done.returncode != 0:
            sys.exit(f"componentize-py failed ({done.returncode}) building {folder}")
    os.replace(tmp, out)
    for name in os.listdir(out_dir):
        if name.startswith(prefix) and name.endswith(".wasm") and os.path.join(out_dir, name) != out:
            os.remove(os.path.join(out_dir, name))
    print(out)


if __name__ == "__main__":
    main()

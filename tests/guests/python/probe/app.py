"""A test guest, by the config's ``mode``:

- "count" (default): the Rust ``keyed-counter`` in Python (value, list and map state);
- "throw": a record whose value contains "bad" raises; others are emitted as they are;
- "file": tries to read a file (``open``);
- "socket": tries to open a connection (``socket.create_connection``: CPython for WASI has no
  ``socket`` module).

With ``subtask_1_tag``, instance 1 declares ``count`` with that type tag (others with the
default).
"""

import weir


def explode(value):
    raise LookupError(f"probe refuses {value}")


@weir.map
class Probe:
    def init(self, ctx):
        self.mode = ctx.config.get("mode", "count")
        if self.mode == "count":
            tag = ctx.config.get("subtask_1_tag") if ctx.subtask == 1 else None
            self.count = ctx.value_state("count", ttl=ctx.config.get("ttl_ms"), type_tag=tag)
            self.recent = ctx.list_state("recent")
            self.per_value = ctx.map_state("per-value")

    def map(self, record, out):
        value = record.value
        if self.mode == "count":
            count = self.count.update(lambda n: (n or 0) + 1)
            recent = self.recent.get()
            recent.append(value)
            if len(recent) > 3:
                recent.pop(0)
                self.recent.update(recent)
            else:
                self.recent.add(value)
            seen = self.per_value.get(value, 0) + 1
            self.per_value.put(value, seen)
            distinct = len(self.per_value.keys())
            out.emit_json({"key": record.key, "count": count, "recent": recent, "distinct": distinct, "seen_this": seen})
        elif self.mode == "throw":
            if "bad" in value:
                explode(value)
            out.emit(value)
        elif self.mode == "file":
            with open("/etc/hostname") as f:
                out.emit(f.read())
        elif self.mode == "socket":
            import socket

            socket.create_connection(("127.0.0.1", 9), timeout=1)
            out.emit(value)
        else:
            raise ValueError(f"unknown mode {self.mode}")

"""Broadcast state: named maps with the same contents on every parallel instance."""

import json

from ._state import _kebab
from ._text import as_bytes, json_bytes


class BroadcastError(Exception):
    """A failed broadcast-state operation; ``kind`` is ``read-only``, ``too-large`` or ``backend``."""

    def __init__(self, kind: str, detail=None):
        self.kind = kind
        super().__init__(f"broadcast state: {kind}" + ("" if detail is None else f": {detail}"))


def _host(name, *args):
    from componentize_py_types import Err

    try:
        from wit_world.imports import broadcast_state as bs
    except ImportError:
        raise RuntimeError("broadcast state exists only in a broadcast-process function") from None
    try:
        return getattr(bs, name)(*args)
    except Err as e:
        v = e.value
        raise BroadcastError(_kebab(type(v).__name__.split("_", 1)[-1]), getattr(v, "value", None)) from None


class BroadcastState:
    """A named broadcast map state from str keys to JSON values. Reads are cached: only
    this instance's own ``process_broadcast`` changes its broadcast state."""

    def __init__(self, name: str):
        self.name = name
        self._cache = {}

    def get(self, key, default=None):
        """The value under ``key``, or ``default``."""
        raw = self._cache.get(key, False)
        if raw is False:
            raw = _host("get", self.name, as_bytes(key, "a broadcast key"))
            if len(self._cache) >= 1 << 20:
                self._cache.clear()
            self._cache[key] = raw
        return default if raw is None else json.loads(raw)

    def __contains__(self, key):
        return self.get(key) is not None

    def put(self, key, value):
        """Puts ``value`` under ``key`` (only from ``process_broadcast``)."""
        b = json_bytes(value)
        _host("put", self.name, as_bytes(key, "a broadcast key"), b)
        self._cache[key] = b

    def remove(self, key):
        """Removes ``key`` (only from ``process_broadcast``)."""
        _host("remove", self.name, as_bytes(key, "a broadcast key"))
        self._cache[key] = None

    def clear(self):
        """Removes every entry (only from ``process_broadcast``)."""
        _host("clear", self.name)
        self._cache.clear()

    def __len__(self):
        return _host("len", self.name)

    def entries(self):
        """Every entry as ``(key, value)``, in key byte order."""
        out, after = [], None
        while True:
            page = _host("scan", self.name, after, 1024)
            start = 0
            for i in range(0, len(page.ends) - 1, 2):
                k = page.data[start : page.ends[i]]
                out.append((k.decode(), json.loads(page.data[page.ends[i] : page.ends[i + 1]])))
                start = page.ends[i + 1]
                after = k
            if not page.more or after is None:
                return out

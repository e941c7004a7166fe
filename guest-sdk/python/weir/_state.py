"""Keyed state: handles over the ``keyed-state`` interface. Reads of a value state are
fetched for every key of the call at once; writes are kept until the call ends and handed
to the host in one ``apply`` (as the Rust and JavaScript SDKs do)."""

import json
import re

from ._text import as_bytes, json_bytes


DEFAULT_TYPE_TAG = "json"
"""The type tag of a state declared without ``type_tag``: its values are JSON, of no type
the host can tell apart. The host keeps a state's tag and refuses a later declaration of
the state (a new version swapped in, a restore) with another tag."""


class StateError(Exception):
    """A failed keyed-state operation (the WIT ``state-error``); ``kind`` is its case. A
    declaration that conflicts with the state as it exists (another kind, time to live or
    type tag) has kind ``conflict``, and its message shows both declarations."""

    def __init__(self, kind: str, detail=None):
        self.kind = kind
        super().__init__(f"keyed state: {kind}" + ("" if detail is None else f": {detail}"))


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _error(v) -> StateError:
    """The ``StateError`` of a WIT ``state-error`` case."""
    return StateError(_kebab(type(v).__name__.split("_", 1)[-1]), getattr(v, "value", None))


def _host(f, *args):
    from componentize_py_types import Err

    try:
        return f(*args)
    except Err as e:
        raise _error(e.value) from None


def _declare(spec, type_tag: str):
    """``declare-typed``: a ``declare-error`` is either a ``state-error`` or a conflict."""
    from componentize_py_types import Err
    from wit_world.imports import keyed_state as ks

    try:
        return ks.declare_typed(spec, type_tag)
    except Err as e:
        v = e.value
        if isinstance(v, ks.DeclareError_Conflict):
            raise StateError("conflict", v.value) from None
        raise _error(v.value) from None


class _Call:
    __slots__ = ("key_count", "windows", "key", "window", "values", "prefetched", "lists", "maps", "log")

    def __init__(self, key_count=None, windows=()):
        self.key_count = key_count  # None: the input is not keyed
        self.windows = windows  # [(key index, (start, end))] of a process-window call
        self.key = None
        self.window = None
        self.values = {}  # (state, scope) -> [value bytes or None, dirty]
        self.prefetched = set()
        self.lists = {}
        self.maps = {}
        self.log = []  # list and map writes, in call order


_call = _Call()
_declaring = False


def begin_call(key_count, windows=()):
    """Starts a call: ``key_count`` distinct keys (None when unkeyed), the fired windows."""
    global _call
    _call = _Call(key_count, list(windows))


def set_current(key, window=None):
    """Makes ``key`` (and ``window``, a ``(start, end)`` pair) the scope of every handle."""
    _call.key = key
    _call.window = window


def set_declaring(on: bool):
    """Allows declarations (only in ``init``)."""
    global _declaring
    _declaring = on


def _wit_scope(scope):
    from wit_world.imports.keyed_state import Scope
    from wit_world.imports.types import TimeWindow

    key, window = scope
    return Scope(key, None if window is None else TimeWindow(window[0], window[1]))


def end_call():
    """Ends the call: every write in one ``apply``. Raises when the host refuses them."""
    global _call
    from wit_world.imports import keyed_state as ks

    c, _call = _call, _Call()
    mutations, parts = [], []

    def push(op, state, scope, user_key, value):
        mutations.append(ks.Mutation(op, state, _wit_scope(scope), len(user_key), len(value)))
        parts.append(user_key)
        parts.append(value)

    for (state, scope), (value, dirty) in c.values.items():
        if dirty:
            if value is None:
                push(ks.Op.CLEAR, state, scope, b"", b"")
            else:
                push(ks.Op.SET_VALUE, state, scope, b"", value)
    ops = {"add": ks.Op.ADD_TO_LIST, "put": ks.Op.PUT_ENTRY, "remove": ks.Op.REMOVE_ENTRY, "clear": ks.Op.CLEAR}
    for op, state, scope, user_key, value in c.log:
        push(ops[op], state, scope, user_key, value)
    if mutations:
        _host(ks.apply, mutations, b"".join(parts))


def _scope(per_window: bool):
    if _call.key_count is None or _call.key is None:
        raise StateError("not-keyed")
    if per_window and _call.window is None:
        raise StateError("no-such-window")
    return (_call.key, _call.window if per_window else None)


def _split(values):
    out, start = [], 0
    for end, present in zip(values.ends, values.present):
        if present:
            out.append(values.data[start:end])
        start = end
    return out


class _Handle:
    def __init__(self, name: str, kind: str, ttl=None, per_window=False, type_tag=None):
        from wit_world.imports import keyed_state as ks

        if not _declaring:
            raise StateError("declare-outside-init")
        kinds = {"value": ks.StateKind.VALUE, "list": ks.StateKind.LIST, "map": ks.StateKind.MAP}
        ttl_ms = None if ttl is None else int(ttl)
        tag = DEFAULT_TYPE_TAG if type_tag is None else str(type_tag)
        self.name = name
        self._id = _declare(ks.StateSpec(name, kinds[kind], ttl_ms), tag)
        self._per_window = per_window


class ValueState(_Handle):
    """One JSON value per key (and window, with ``per_window``)."""

    def __init__(self, name, ttl=None, per_window=False, type_tag=None):
        super().__init__(name, "value", ttl, per_window, type_tag)

    def _prefetch(self, scope):
        from wit_world.imports import keyed_state as ks

        scopes = []
        tag = (self._id, scope[1] is not None)
        if tag not in _call.prefetched:
            _call.prefetched.add(tag)
            if scope[1] is not None:
                scopes.extend(_call.windows)
            else:
                scopes.extend((k, None) for k in range(_call.key_count))
        if scope not in scopes:
            scopes.append(scope)
        wanted = [s for s in scopes if (self._id, s) not in _call.values]
        found = _host(ks.get_values, self._id, [_wit_scope(s) for s in wanted])
        start = 0
        for s, end, present in zip(wanted, found.ends, found.present):
            _call.values[(self._id, s)] = [found.data[start:end] if present else None, False]
            start = end

    def get(self, default=None):
        """The value, or ``default``."""
        scope = _scope(self._per_window)
        slot = _call.values.get((self._id, scope))
        if slot is None:
            self._prefetch(scope)
            slot = _call.values[(self._id, scope)]
        return default if slot[0] is None else json.loads(slot[0])

    def set(self, value):
        """Sets the value."""
        _call.values[(self._id, _scope(self._per_window))] = [json_bytes(value), True]

    def clear(self):
        """Clears the value."""
        _call.values[(self._id, _scope(self._per_window))] = [None, True]

    def update(self, f):
        """Sets the value to ``f(current value or None)`` and returns it."""
        value = f(self.get())
        self.set(value)
        return value


class ListState(_Handle):
    """An ordered list of JSON values per key (and window)."""

    def __init__(self, name, ttl=None, per_window=False, type_tag=None):
        super().__init__(name, "list", ttl, per_window, type_tag)

    def _slot(self, load):
        from wit_world.imports import keyed_state as ks

        scope = _scope(self._per_window)
        slot = _call.lists.setdefault((self._id, scope), {"base": None, "cleared": False, "appended": []})
        if load and slot["base"] is None and not slot["cleared"]:
            slot["base"] = _split(_host(ks.get_list, self._id, _wit_scope(scope)))
        return slot, scope

    def add(self, value):
        """Appends a value."""
        slot, scope = self._slot(False)
        b = json_bytes(value)
        slot["appended"].append(b)
        _call.log.append(("add", self._id, scope, b"", b))

    def get(self):
        """Every value, oldest first."""
        slot, _ = self._slot(True)
        return [json.loads(b) for b in (slot["base"] or []) + slot["appended"]]

    def update(self, values):
        """Replaces the list with ``values``."""
        self.clear()
        for v in values:
            self.add(v)

    def clear(self):
        """Empties the list."""
        slot, scope = self._slot(False)
        slot.update(base=[], cleared=True, appended=[])
        _call.log.append(("clear", self._id, scope, b"", b""))


class MapState(_Handle):
    """A map from str keys to JSON values per key (and window), ordered by key bytes."""

    def __init__(self, name, ttl=None, per_window=False, type_tag=None):
        super().__init__(name, "map", ttl, per_window, type_tag)

    def _slot(self):
        scope = _scope(self._per_window)
        return _call.maps.setdefault((self._id, scope), {"cleared": False, "written": {}, "read": {}}), scope

    def _raw(self, user_key):
        from wit_world.imports import keyed_state as ks

        slot, scope = self._slot()
        if user_key in slot["written"]:
            return slot["written"][user_key]
        if slot["cleared"]:
            return None
        if user_key not in slot["read"]:
            found = _host(ks.get_entries, self._id, _wit_scope(scope), [as_bytes(user_key, "a map key")])
            slot["read"][user_key] = found.data[: found.ends[0]] if found.present[0] else None
        return slot["read"][user_key]

    def get(self, user_key, default=None):
        """The value under ``user_key``, or ``default``."""
        raw = self._raw(user_key)
        return default if raw is None else json.loads(raw)

    def __contains__(self, user_key):
        return self._raw(user_key) is not None

    def put(self, user_key, value):
        """Puts ``value`` under ``user_key``."""
        slot, scope = self._slot()
        b = json_bytes(value)
        slot["written"][user_key] = b
        _call.log.append(("put", self._id, scope, as_bytes(user_key, "a map key"), b))

    def remove(self, user_key):
        """Removes ``user_key``."""
        slot, scope = self._slot()
        slot["written"][user_key] = None
        _call.log.append(("remove", self._id, scope, as_bytes(user_key, "a map key"), b""))

    def clear(self):
        """Removes every entry."""
        slot, scope = self._slot()
        slot.update(cleared=True, written={}, read={})
        _call.log.append(("clear", self._id, scope, b"", b""))

    def entries(self):
        """Every entry as ``(key, value)``, in key byte order."""
        from wit_world.imports import keyed_state as ks

        slot, scope = self._slot()
        found = {}
        if not slot["cleared"]:
            after = None
            while True:
                page = _host(ks.scan_entries, self._id, _wit_scope(scope), after, 1024)
                start = 0
                for i in range(0, len(page.ends) - 1, 2):
                    k = page.data[start : page.ends[i]]
                    found[k.decode()] = page.data[page.ends[i] : page.ends[i + 1]]
                    start = page.ends[i + 1]
                    after = k
                if not page.more or after is None:
                    break
        for k, v in slot["written"].items():
            if v is None:
                found.pop(k, None)
            else:
                found[k] = v
        return [(k, json.loads(found[k])) for k in sorted(found, key=lambda k: k.encode())]

    def keys(self):
        """Every key, in order."""
        return [k for k, _ in self.entries()]

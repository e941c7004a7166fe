"""The WIT exports of each function kind, around a user's class: batches in, records out,
each record's exception caught and returned as that record's error (with its message and
traceback) instead of trapping the whole call."""

import json

from . import _state as state
from ._batch import BatchView, Record
from ._context import InitContext
from ._output import Output
from ._text import describe, json_bytes

_classes = {}
_instance = [None]


def register(kind: str, cls, methods):
    """Registers ``cls`` as the module's function of ``kind``."""
    for m in methods:
        if not callable(getattr(cls, m, None)):
            raise TypeError(f"{cls.__name__} has no `{m}` method (a {kind} function needs {', '.join(methods)})")
    if kind in _classes:
        raise TypeError(f"two {kind} functions: {_classes[kind].__name__} and {cls.__name__}")
    _classes[kind] = cls
    return cls


def _init(kind, ctx):
    from componentize_py_types import Err

    state.set_declaring(True)
    try:
        cls = _classes.get(kind)
        if cls is None:
            raise TypeError(f"the module defines no {kind} function (decorate a class with @weir.{kind})")
        f = cls()
        if hasattr(f, "init"):
            f.init(InitContext(ctx))
        _instance[0] = f
    except Exception as e:
        raise Err(describe(e))
    finally:
        state.set_declaring(False)


def _each_record(input, keys, method):
    view = BatchView(input)
    out = Output()
    state.begin_call(None if keys is None else len(keys.ends))
    of = None if keys is None else keys.of_record
    set_current = state.set_current
    for i in range(view.length):
        out.current = i
        if of is not None:
            set_current(of[i])
        try:
            method(Record(view, i), out)
        except Exception as e:
            out.fail(e)
    state.end_call()
    return out.finish()


class MapFunction:
    """The ``map-function`` export."""

    def init(self, ctx):
        _init("map", ctx)

    def process(self, input, keys):
        return _each_record(input, keys, _instance[0].map)


class BroadcastFunction:
    """The ``broadcast-function`` export."""

    def init(self, ctx):
        _init("broadcast_process", ctx)

    def process_element(self, input, keys):
        return _each_record(input, keys, _instance[0].process_element)

    def process_broadcast(self, input):
        return _each_record(input, None, _instance[0].process_broadcast)


class Elements:
    """The elements of a fired window (or its one accumulator)."""

    def __init__(self, view, first, count):
        self._v = view
        self._first = first
        self._count = count

    def __len__(self):
        return self._count

    def __getitem__(self, i):
        if not 0 <= i < self._count:
            raise IndexError(f"element {i} of {self._count}")
        return Record(self._v, self._first + i)

    def __iter__(self):
        return (Record(self._v, self._first + i) for i in range(self._count))

    def accumulator(self):
        """With an aggregate (``count``, or the function's own), the accumulator, parsed."""
        if self._count != 1:
            raise ValueError(f"expected one accumulator element, the window has {self._count}")
        return self[0].json()


class FiredWindow:
    """One window that fires: its key, bounds, whether it fires again, its elements."""

    __slots__ = ("key_bytes", "key", "start", "end", "update", "elements")

    def __init__(self, key_bytes, start, end, update, elements):
        self.key_bytes = key_bytes
        self.key = key_bytes.decode(errors="replace")
        self.start = start
        self.end = end
        self.update = update
        self.elements = elements


def _values_out(items):
    from wit_world.imports.types import Values

    parts = [None if v is None else json_bytes(v) for v in items]
    ends, size = [], 0
    for p in parts:
        size += 0 if p is None else len(p)
        ends.append(size)
    return Values(b"".join(p for p in parts if p is not None), ends, [p is not None for p in parts])


def _values_in(v):
    out, start = [], 0
    for end, present in zip(v.ends, v.present):
        out.append(json.loads(v.data[start:end]) if present else None)
        start = end
    return out


class WindowFunction:
    """The ``window-function`` export."""

    def init(self, ctx):
        _init("process_window", ctx)

    def process(self, keys, windows, elements):
        f = _instance[0]
        view = BatchView(elements)
        out = Output()
        fired = [(w.window.start, w.window.end) for w in windows]
        state.begin_call(len(keys.ends), [(keys.of_record[i], w) for i, w in enumerate(fired)])
        for i, w in enumerate(windows):
            out.current = i
            k = keys.of_record[i]
            state.set_current(k, fired[i])
            start = 0 if k == 0 else keys.ends[k - 1]
            fw = FiredWindow(keys.data[start : keys.ends[k]], fired[i][0], fired[i][1], w.update, Elements(view, w.first, w.count))
            try:
                f.process(fw, out)
            except Exception as e:
                out.fail(e)
        state.end_call()
        return out.finish()

    def aggregate(self, keys, folds, accumulators, elements):
        from wit_world.exports.window_function import FoldOutput
        from wit_world.imports.types import RecordError

        f = _instance[0]
        view = BatchView(elements)
        accs = _values_in(accumulators)
        errors, result = [], []
        for i, fold in enumerate(folds):
            acc = accs[i] if accs[i] is not None else f.create_accumulator()
            for j in range(fold.first, fold.first + fold.count):
                try:
                    acc = f.add(acc, Record(view, j))
                except Exception as e:
                    errors.append(RecordError(j, describe(e)))
            result.append(acc)
        return FoldOutput(_values_out(result), errors)

    def merge(self, accumulators, groups):
        from componentize_py_types import Err

        f = _instance[0]
        try:
            accs = _values_in(accumulators)
            merged, nxt = [], 0
            for n in groups:
                acc = f.create_accumulator()
                for a in accs[nxt : nxt + n]:
                    if a is not None:
                        acc = f.merge(acc, a)
                nxt += n
                merged.append(acc)
            return _values_out(merged)
        except Exception as e:
            raise Err(describe(e))

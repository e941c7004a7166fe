"""weir's Python SDK: write a map, process-window or broadcast-process function as a
decorated class, and ``weir build`` (or a manifest naming the folder) makes it a
component::

    import weir

    @weir.map
    class Upper:
        def map(self, record, out):
            out.emit(record.value.upper())

Layout: ``_batch`` (records of a batch), ``_output`` (emitting), ``_state`` (keyed
state), ``_broadcast`` (broadcast state), ``_context`` (init), ``_log``, ``_fields``
(typed JSON reads), ``_glue`` (the WIT exports per kind); ``build.py`` beside the package
builds a function folder.
"""

from . import fields
from ._batch import Record
from ._broadcast import BroadcastError, BroadcastState
from ._context import InitContext
from ._glue import Elements, FiredWindow
from ._glue import register as _register
from ._log import debug, error, info, log, trace, warn
from ._output import Output
from ._state import ListState, MapState, StateError, ValueState


def map(cls):
    """Class decorator: ``cls`` is the module's map function (``init(ctx)`` optional,
    ``map(record, out)``)."""
    return _register("map", cls, ["map"])


def process_window(cls):
    """Class decorator: ``cls`` is the module's process-window function (``init(ctx)``
    optional, ``process(window, out)``; for ``aggregate = "function"`` also
    ``create_accumulator()``, ``add(acc, record)`` returning the new accumulator, and
    ``merge(a, b)``)."""
    return _register("process_window", cls, ["process"])


def broadcast_process(cls):
    """Class decorator: ``cls`` is the module's broadcast-process function (``init(ctx)``
    optional, ``process_element(record, out)`` with broadcast state read-only,
    ``process_broadcast(record, out)`` with it writable)."""
    return _register("broadcast_process", cls, ["process_element", "process_broadcast"])


__all__ = [
    "map", "process_window", "broadcast_process", "Record", "Output", "InitContext", "Elements",
    "FiredWindow", "ValueState", "ListState", "MapState", "StateError", "BroadcastState",
    "BroadcastError", "fields", "log", "trace", "debug", "info", "warn", "error",
]

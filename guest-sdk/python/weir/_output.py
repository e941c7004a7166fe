"""What a function emits: records into one flat buffer, and per-input errors."""

from ._text import as_bytes, describe, dumps

HAS_KEY = 1
HAS_TIMESTAMP = 2


class Output:
    """Collects the records a function emits; each remembers the input it came from."""

    __slots__ = ("_parts", "_pos", "_ends", "_flags", "_timestamps", "_headers", "_origins", "_errors", "current")

    def __init__(self):
        self._parts = []
        self._pos = 0
        self._ends = []
        self._flags = bytearray()
        self._timestamps = []
        self._headers = []
        self._origins = []
        self._errors = []
        self.current = 0
        """Index of the input being processed (set by the SDK)."""

    def emit(self, value, key=None, timestamp=None, headers=None):
        """Emits a record with this value (str or bytes), and optionally a key, an event
        timestamp (epoch milliseconds) and headers (``(name, value)`` pairs)."""
        flags = 0
        if key is not None:
            k = key.encode() if key.__class__ is str else as_bytes(key, "a record key")
            self._parts.append(k)
            self._pos += len(k)
            flags = HAS_KEY
        self._ends.append(self._pos)
        v = value.encode() if value.__class__ is str else as_bytes(value, "a record value")
        self._parts.append(v)
        self._pos += len(v)
        self._ends.append(self._pos)
        if timestamp is not None:
            if not isinstance(timestamp, int):
                raise TypeError(f"a timestamp is whole epoch milliseconds, not {timestamp!r}")
            flags |= HAS_TIMESTAMP
            self._timestamps.append(timestamp)
        else:
            self._timestamps.append(0)
        if headers:
            from wit_world.imports.types import Header

            record = len(self._flags)
            for name, hv in headers:
                self._headers.append(Header(record, name, as_bytes(hv, "a header value")))
        self._flags.append(flags)
        self._origins.append(self.current)

    def emit_json(self, value, key=None, timestamp=None, headers=None):
        """Emits a record whose value is ``value`` as compact JSON (options as for ``emit``)."""
        self.emit(dumps(value), key, timestamp, headers)

    def fail(self, reason):
        """Marks the current input as failed with this reason (an exception or a message)."""
        message = reason if isinstance(reason, str) else describe(reason)
        self._errors.append((self.current, message))

    def __len__(self):
        return len(self._flags)

    def finish(self):
        """The WIT ``output`` record."""
        from wit_world.imports.types import Batch, Output as WitOutput, RecordError

        return WitOutput(
            Batch(b"".join(self._parts), self._ends, bytes(self._flags), self._timestamps, self._headers),
            self._origins,
            [RecordError(i, m) for i, m in self._errors],
        )

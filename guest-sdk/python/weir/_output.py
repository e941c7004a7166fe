"""What a function emits: records into one flat buffer, and per-input errors."""

from ._text import as_bytes, describe, dumps

HAS_KEY = 1
HAS_TIMESTAMP = 2


class Output:
    """Collects the records a function emits; each remembers the input it came from."""

    __slots__ = ("_parts", "_pos", "_text", "_ends", "_flags", "_timestamps", "_headers", "_origins", "_errors", "current")

    def __init__(self):
        self._parts = []
        self._pos = 0
        self._text = True
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
        # Text is kept as str and encoded once for the whole call in ``finish``; ``_pos``
        # counts characters while every part is str (bytes make ``_text`` False).
        flags = 0
        parts = self._parts
        if key is not None:
            if key.__class__ is not str:
                key = as_bytes(key, "a record key")
                self._text = False
            parts.append(key)
            self._pos += len(key)
            flags = HAS_KEY
        if value.__class__ is not str:
            value = as_bytes(value, "a record value")
            self._text = False
        parts.append(value)
        ends = self._ends
        ends.append(self._pos)
        self._pos += len(value)
        ends.append(self._pos)
        if timestamp is None:
            self._timestamps.append(0)
        else:
            if timestamp.__class__ is not int:
                raise TypeError(f"a timestamp is whole epoch milliseconds, not {timestamp!r}")
            flags |= HAS_TIMESTAMP
            self._timestamps.append(timestamp)
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

        data, ends = self._data()
        return WitOutput(
            Batch(data, ends, bytes(self._flags), self._timestamps, self._headers),
            self._origins,
            [RecordError(i, m) for i, m in self._errors],
        )

    def _data(self):
        """The records' bytes and ends: one encoding of all the text when it is ASCII (then
        character offsets are byte offsets), else each part encoded on its own."""
        if self._text:
            text = "".join(self._parts)
            if text.isascii():
                return text.encode("ascii"), self._ends
        parts = [p.encode() if p.__class__ is str else p for p in self._parts]
        data = b"".join(parts)
        ends, pos, k = [], 0, 0
        for flags in self._flags:
            if flags & HAS_KEY:
                pos += len(parts[k])
                k += 1
            ends.append(pos)
            pos += len(parts[k])
            k += 1
            ends.append(pos)
        return data, ends

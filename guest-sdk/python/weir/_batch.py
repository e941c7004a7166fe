"""Input batches (the flat layout of ``wit/types.wit``) and the records a function sees."""

from ._text import loads

_UNPARSED = object()


class BatchView:
    """A view over one lifted ``batch``. When the whole buffer is ASCII it is decoded to
    one string once, so each record's text is a slice of it."""

    __slots__ = ("data", "ends", "flags", "timestamps", "headers", "length", "_text")

    def __init__(self, batch):
        self.data = batch.data
        self.ends = batch.ends
        self.flags = batch.flags
        self.timestamps = batch.timestamps
        self.headers = batch.headers
        self.length = len(batch.flags)
        self._text = batch.data.decode("ascii") if batch.data.isascii() else None

    def start(self, i: int) -> int:
        """Where record ``i`` starts."""
        return 0 if i == 0 else self.ends[2 * i - 1]

    def get(self, i: int) -> "Record":
        """Record ``i``."""
        return Record(self, i)


class Record:
    """One input record. Everything is read lazily from its batch."""

    __slots__ = ("_v", "_i", "_json")

    def __init__(self, view: BatchView, i: int):
        self._v = view
        self._i = i
        self._json = _UNPARSED

    @property
    def key_bytes(self):
        """The record's key as bytes, or None."""
        v = self._v
        if not v.flags[self._i] & 1:
            return None
        return v.data[v.start(self._i) : v.ends[2 * self._i]]

    @property
    def key(self):
        """The record's key as text, or None when it has none."""
        v = self._v
        if not v.flags[self._i] & 1:
            return None
        a, b = v.start(self._i), v.ends[2 * self._i]
        return v._text[a:b] if v._text is not None else v.data[a:b].decode()

    @property
    def value_bytes(self) -> bytes:
        """The record's value as bytes."""
        v = self._v
        i = 2 * self._i
        return v.data[v.ends[i] : v.ends[i + 1]]

    @property
    def value(self) -> str:
        """The record's value as text (UTF-8)."""
        v = self._v
        i = 2 * self._i
        a, b = v.ends[i], v.ends[i + 1]
        return v._text[a:b] if v._text is not None else v.data[a:b].decode()

    @property
    def timestamp(self):
        """Event time in epoch milliseconds, or None."""
        v = self._v
        return v.timestamps[self._i] if v.flags[self._i] & 2 else None

    @property
    def headers(self):
        """The record's headers as ``(name, value bytes)`` pairs."""
        return [(h.name, h.value) for h in self._v.headers if h.record == self._i]

    def header(self, name: str):
        """The value of the first header named ``name``, or None."""
        for h in self._v.headers:
            if h.record == self._i and h.name == name:
                return h.value
        return None

    def json(self):
        """The value parsed as JSON (parsed once, on first use)."""
        if self._json is _UNPARSED:
            v = self._v
            i = 2 * self._i
            a, b = v.ends[i], v.ends[i + 1]
            self._json = loads(v._text[a:b] if v._text is not None else v.data[a:b].decode())
        return self._json

"""Text and JSON helpers shared by the SDK's modules."""

import json
import traceback
from json.encoder import c_make_encoder, encode_basestring

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_scan = json.decoder.JSONDecoder().scan_once


def _default(v):
    raise TypeError(f"Object of type {type(v).__name__} is not JSON serializable")


if c_make_encoder is not None:
    # The C encoder called directly: half the time of ``json.dumps``, whose Python
    # wrapper costs as much as the encoding of a small record (same output; NaN refused).
    _encode = c_make_encoder(None, _default, encode_basestring, None, ":", ",", False, False, False)

    def dumps(value) -> str:
        """Compact JSON text of ``value`` (what ``emit_json`` and state writes use)."""
        if value.__class__ is str:
            return encode_basestring(value)
        return "".join(_encode(value, 0))

else:  # pragma: no cover (CPython builds have the C encoder)
    dumps = _dumps


def loads(text: str):
    """Parses one JSON document. The C scanner is called directly (``json.loads`` wraps it
    in Python that costs more than the parse of a small record); anything it does not
    take whole goes through ``json.loads``, for its error message."""
    try:
        value, end = _scan(text, 0)
    except (StopIteration, ValueError):
        return json.loads(text)
    if end != len(text):
        return json.loads(text)
    return value


def json_bytes(value) -> bytes:
    """JSON of ``value`` as UTF-8 bytes (state values are stored as JSON, as in every SDK)."""
    return dumps(value).encode()


def as_bytes(v, what: str) -> bytes:
    """The bytes of a key or value: strings are UTF-8, bytes-like objects pass through."""
    if isinstance(v, str):
        return v.encode()
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    raise TypeError(f"{what} must be str or bytes, not {type(v).__name__}")


def describe(e: BaseException) -> str:
    """The exception's type and message, then its traceback: this goes into the
    dead-letter record and the ``fail`` error, not only the log."""
    head = f"{type(e).__name__}: {e}"
    tb = "".join(traceback.format_exception(type(e), e, e.__traceback__)).rstrip()
    return f"{head}\n{tb}" if tb else head

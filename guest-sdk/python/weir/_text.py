"""Text and JSON helpers shared by the SDK's modules."""

import json
import traceback

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def dumps(value) -> str:
    """Compact JSON text of ``value`` (what ``emit_json`` and state writes use)."""
    return _dumps(value)


def json_bytes(value) -> bytes:
    """JSON of ``value`` as UTF-8 bytes (state values are stored as JSON, as in every SDK)."""
    return _dumps(value).encode()


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

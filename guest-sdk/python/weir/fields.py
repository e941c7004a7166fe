"""Typed reads of JSON object fields, failing with the same messages as the Rust SDK."""


def _missing(obj, name):
    if not isinstance(obj, dict):
        return ValueError(f"expected a JSON object, found {type(obj).__name__}")
    return ValueError(f"the field `{name}` is missing")


def required(obj, name: str):
    """``obj[name]``; an error names the field when it is missing."""
    try:
        return obj[name]
    except (KeyError, TypeError, IndexError):
        raise _missing(obj, name) from None


def string(obj, name: str) -> str:
    """``obj[name]`` as a string."""
    try:
        v = obj[name]
    except (KeyError, TypeError, IndexError):
        raise _missing(obj, name) from None
    if v.__class__ is str:
        return v
    raise ValueError(f"expected a string, found {v!r}")


def integer(obj, name: str) -> int:
    """``obj[name]`` as an integer: a JSON integer, or a string holding one."""
    try:
        v = obj[name]
    except (KeyError, TypeError, IndexError):
        raise _missing(obj, name) from None
    if v.__class__ is int:
        return v
    if v.__class__ is str and v.isascii() and (v.isdigit() or (v[:1] == "-" and v[1:].isdigit())):
        return int(v)
    raise ValueError(f"{v!r} is not an integer")

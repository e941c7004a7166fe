"""Typed reads of JSON object fields, failing with the same messages as the Rust SDK."""


def required(obj, name: str):
    """``obj[name]``; an error names the field when it is missing."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, found {type(obj).__name__}")
    try:
        return obj[name]
    except KeyError:
        raise ValueError(f"the field `{name}` is missing") from None


def string(obj, name: str) -> str:
    """``obj[name]`` as a string."""
    v = required(obj, name)
    if not isinstance(v, str):
        raise ValueError(f"expected a string, found {v!r}")
    return v


def integer(obj, name: str) -> int:
    """``obj[name]`` as an integer: a JSON integer, or a string holding one."""
    v = required(obj, name)
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lstrip("-").isdigit() and v.isascii():
        return int(v)
    raise ValueError(f"{v!r} is not an integer")

"""Logging into the job's log, under the function's name."""


def log(level: str, message: str):
    """Writes one line to the job's log at ``level`` (trace, debug, info, warn, error)."""
    from wit_world.imports import log as wl

    wl.log(getattr(wl.Level, level.upper()), str(message))


def trace(message):
    """Logs at trace level."""
    log("trace", message)


def debug(message):
    """Logs at debug level."""
    log("debug", message)


def info(message):
    """Logs at info level."""
    log("info", message)


def warn(message):
    """Logs at warn level."""
    log("warn", message)


def error(message):
    """Logs at error level."""
    log("error", message)

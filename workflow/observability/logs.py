"""Log lines someone on call can search: one JSON object per line (or readable text).

Every line has ``time`` (ISO 8601, Asia/Shanghai), ``level``, ``logger`` and ``message``; what
a call site passes as ``extra=`` comes along as fields of its own (the API's access line: its
``request_id``, ``actor``, ``method``, ``path``, ``status``, ``duration_ms``; a scheduler run:
``run_id``, ``job``, ``outcome``; a dispatcher batch: ``claimed``, ``sent``, ``retrying``,
``dead``). A line logged while an API request is being answered carries that request's id,
whichever logger wrote it, so an engine warning can be tied to the request that caused it.

`configure` sets up the root logger for a command (``scheduler run``, ``notifications
dispatch``); `uvicorn_config` is the same set-up as a ``logging.config`` dictionary, which
uvicorn applies in each of its worker processes (``serve``).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import IO, Any

from workflow.clock import SHANGHAI

FORMATS = ("json", "text")
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)

# what every LogRecord has: anything else on a record came from ``extra=`` (or `ContextFilter`)
_STANDARD = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName"}
)
_HANDLER_MARK = "_convalescence_handler"
_LEFT_OUT = frozenset({"color_message"})  # uvicorn's copy of the message with ANSI colours


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _STANDARD
        and key not in _LEFT_OUT
        and not key.startswith("_")
        and value is not None
    }


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, SHANGHAI).isoformat(timespec="milliseconds")


class ContextFilter(logging.Filter):
    """Adds the id of the API request being answered (if any) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            request_id = REQUEST_ID.get()
            if request_id is not None:
                record.request_id = request_id
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; values JSON cannot hold are written as their ``str``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """``time LEVEL logger message key=value ...``: the same fields, for a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{_time(record)} {record.levelname} {record.name} {record.getMessage()}"
        extras = " ".join(f"{key}={_value(value)}" for key, value in _fields(record).items())
        if extras:
            text += " " + extras
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def _value(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    return str(value)


def formatter(log_format: str) -> logging.Formatter:
    if log_format not in FORMATS:
        raise ValueError(f"log format {log_format!r} is not one of {FORMATS}")
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure(
    log_format: str, *, level: int = logging.INFO, stream: IO[str] | None = None
) -> logging.Handler:
    """Send every logger's records at ``level`` and above to ``stream`` (standard error) in
    ``log_format``; a second call replaces the handler the first one installed."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter(log_format))
    handler.addFilter(ContextFilter())
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(level)
    return handler


@contextmanager
def configured(log_format: str, *, level: int = logging.INFO) -> Iterator[logging.Handler]:
    """`configure` for the life of a command; the handler (bound to this command's standard
    error) is taken away and the root level restored when the block ends."""
    root = logging.getLogger()
    previous = root.level
    handler = configure(log_format, level=level)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def uvicorn_config(log_format: str, level: str = "INFO") -> dict[str, Any]:
    """`configure` as uvicorn's ``log_config``: uvicorn's own loggers go through the root
    handler too (their access log is off: the API's middleware writes a richer line)."""
    formatter(log_format)  # refuses an unknown format here, not in a worker
    name = "JsonFormatter" if log_format == "json" else "TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": f"{__name__}.ContextFilter"}},
        "formatters": {"line": {"()": f"{__name__}.{name}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "line",
                "filters": ["context"],
            }
        },
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": True},
        },
        "root": {"handlers": ["stderr"], "level": level},
    }

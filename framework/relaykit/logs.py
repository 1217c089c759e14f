"""Structured logging: one JSON object per line, the same keys on Lambda and in containers.

The keys follow Powertools' Logger (``level``, ``location``, ``message``, ``timestamp``,
``service``) plus the invocation's fields (``request_id``, ``handler``, ``xray_trace_id``,
``error_id``), so log queries work unchanged on both targets. Nothing is configured at import:
``configure`` runs when a target starts.

A target that knows the invocation (the Lambda handler) sets its fields once with
``set_invocation`` and puts the previous ones back with ``reset_invocation`` at its end
(``invocation_fields`` does both around a block); a filter copies them into every record of the
``relaykit`` loggers, so lines written outside a handler's ``ctx.logger`` carry the request id
and ``cold_start`` too.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

LOGGER_NAME = "relaykit"
_FIELDS = (
    "request_id",
    "correlation_id",
    "handler",
    "xray_trace_id",
    "function_arn",
    "cold_start",
    "error_id",
)
_INVOCATION: ContextVar[Mapping[str, Any] | None] = ContextVar("relaykit_invocation", default=None)


TRACE_ENV = "_X_AMZN_TRACE_ID"
"""Where Lambda puts the invocation's X-Ray trace header (the managed runtime)."""


def trace_root(header: str | None) -> str | None:
    """The X-Ray trace id (``Root=1-...``) from a trace header, or the header itself."""
    if not header:
        return None
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "Root" and value:
            return value
    return header


def set_invocation(fields: Mapping[str, Any]) -> Token[Mapping[str, Any] | None]:
    """Put ``fields`` (``None`` values dropped) on every relaykit log line written in this
    context until ``reset_invocation`` is given the token returned."""
    return _INVOCATION.set({key: value for key, value in fields.items() if value is not None})


def reset_invocation(token: Token[Mapping[str, Any] | None]) -> None:
    """Put back the fields that were current before ``set_invocation`` returned ``token``."""
    _INVOCATION.reset(token)


@contextmanager
def invocation_fields(**fields: Any) -> Iterator[None]:
    """Put ``fields`` (``None`` values dropped) on every relaykit log line written inside."""
    token = set_invocation(fields)
    try:
        yield
    finally:
        _INVOCATION.reset(token)


def add_invocation_fields(record: logging.LogRecord) -> bool:
    """A handler filter (a function: a ``logging.Filter`` class costs a cold start ~30 µs to
    create): adds the current invocation's fields to a record that does not carry them."""
    for key, value in (_INVOCATION.get() or {}).items():
        if record.__dict__.get(key) is None:
            record.__dict__[key] = value
    return True


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line with the service name and invocation fields."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": record.getMessage(),
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "service": self.service,
            "logger": record.name,
        }
        for key in _FIELDS:
            value = record.__dict__.get(key)
            if value is not None:
                entry[key] = value
        extra = record.__dict__.get("relaykit_extra")
        if isinstance(extra, Mapping):
            entry.update(extra)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
            entry["exception_name"] = getattr(record.exc_info[0], "__name__", "Exception")
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """A readable single-line format for local development."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(
            f"{key}={record.__dict__[key]}" for key in _FIELDS if record.__dict__.get(key)
        )
        line = f"{record.levelname:<7} {record.name}: {record.getMessage()}"
        if fields:
            line += f" [{fields}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure(*, service: str, level: str, fmt: str) -> logging.Logger:
    """Attach one stderr handler to the ``relaykit`` logger (idempotent; replaces our own)."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        if getattr(handler, "relaykit_handler", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.relaykit_handler = True  # type: ignore[attr-defined]
    formatter = JsonFormatter(service) if fmt == "json" else TextFormatter()
    handler.setFormatter(RedactingFormatter(formatter))
    handler.addFilter(add_invocation_fields)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger


class RedactingFormatter(logging.Formatter):
    """Formats with ``inner``, then removes secret values (``relaykit.redact``) from the line."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        from relaykit.redact import redact

        return redact(self.inner.format(record))


if TYPE_CHECKING:
    _Adapter = logging.LoggerAdapter[logging.Logger]
else:
    _Adapter = logging.LoggerAdapter  # subscripting costs at import; only type checkers read it


class BoundLogger(_Adapter):
    """A logger carrying one invocation's fields into every line it writes."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        extra = dict(self.extra or {})
        given = kwargs.get("extra")
        if given:
            extra["relaykit_extra"] = dict(given)
        kwargs["extra"] = extra
        return msg, kwargs


def bind(**fields: Any) -> BoundLogger:
    """A logger under ``relaykit.handler`` carrying ``fields`` (``None`` values are dropped)."""
    kept = {key: value for key, value in fields.items() if value is not None}
    return BoundLogger(logging.getLogger(f"{LOGGER_NAME}.handler"), kept)

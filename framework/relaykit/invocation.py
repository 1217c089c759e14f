"""What a Lambda invocation tells relaykit about itself, read from the Lambda context object.

The managed runtime hands every handler a context object (``aws_request_id``,
``invoked_function_arn``, ``get_remaining_time_in_millis()``...) and puts the X-Ray trace header
in the ``_X_AMZN_TRACE_ID`` environment variable for the duration of the invocation. This module
turns both into plain values that any target can put on a ``Context`` and on log lines. It is
core: every adapter that receives a Lambda context (the HTTP bridge inside the ASGI app, the
event-source adapters, the runtime loop) reads it here, so none reaches into another.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from relaykit.logs import TRACE_ENV, trace_root


class LambdaContext(Protocol):
    """The part of the Lambda context object relaykit reads."""

    aws_request_id: str
    invoked_function_arn: str
    function_name: str

    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True)
class Invocation:
    """One Lambda invocation: ids, deadline (Unix epoch seconds) and whether it is a cold start."""

    request_id: str
    function_arn: str | None
    function_name: str | None
    deadline: float | None
    trace_id: str | None
    cold_start: bool = False
    meta: Mapping[str, Any] = field(default_factory=dict)

    def context_fields(self) -> dict[str, Any]:
        """Keyword arguments for ``App.new_context``."""
        return {
            "request_id": self.request_id,
            "deadline": self.deadline,
            "function_arn": self.function_arn,
            "trace_id": self.trace_id,
            "target": "lambda",
            "meta": dict(self.meta),
        }

    def log_fields(self) -> dict[str, Any]:
        """The fields every log line of this invocation carries."""
        return {
            "request_id": self.request_id,
            "function_arn": self.function_arn,
            "xray_trace_id": self.trace_id,
            "cold_start": self.cold_start,
        }


def from_lambda(
    context: Any, *, cold_start: bool = False, environ: Mapping[str, str] | None = None
) -> Invocation:
    """Read an ``Invocation`` from a Lambda context object (missing attributes become ``None``).

    The deadline is computed from ``get_remaining_time_in_millis()`` at the moment of the call,
    which is how the runtime defines it; the trace id comes from ``_X_AMZN_TRACE_ID``.
    """
    env = os.environ if environ is None else environ
    # A runtime that serves several invocations at once keeps the trace header per invocation on
    # its context object; the managed runtime only sets the environment variable.
    trace_header = getattr(context, "trace_id", None) or env.get(TRACE_ENV)
    meta: dict[str, Any] = {}
    for key in _META:
        value = getattr(context, key, None)
        if value is not None:
            meta[key] = value
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    deadline = time.time() + remaining() / 1000.0 if callable(remaining) else None
    request_id = getattr(context, "aws_request_id", None)
    # What ``Invocation(...)`` makes, without the frozen dataclass's ``__init__`` (one
    # ``object.__setattr__`` per field): this runs on every invocation.
    invocation: Invocation = _new(Invocation)
    invocation.__dict__.update(
        request_id=str(request_id) if request_id else "",
        function_arn=getattr(context, "invoked_function_arn", None),
        function_name=getattr(context, "function_name", None),
        deadline=deadline,
        trace_id=trace_root(trace_header),
        cold_start=cold_start,
        meta=meta,
    )
    return invocation


_new = object.__new__
_META = ("client_context", "identity", "tenant_id")

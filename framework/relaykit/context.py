"""``Context``: what every handler gets with each invocation.

A context is built per invocation by the target that received it (container request, Lambda
event, CLI invoke) and never shared between invocations. It carries the request id, the deadline,
a logger bound to the invocation, the app's settings, and ``llm``, the app's model.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from relaykit.model import Model
from relaykit.settings import Settings

if TYPE_CHECKING:
    from relaykit.logs import BoundLogger
    from relaykit.measure import Recorder


def new_request_id() -> str:
    """A fresh, unguessable request id (128 random bits, hex)."""
    return os.urandom(16).hex()


@dataclass
class Context:
    """Per-invocation context handed to every handler.

    (An event-source record's context binds ``llm`` when it is first read; to its reader that
    is the same bound model.)"""

    request_id: str
    settings: Settings
    llm: Model
    handler: str = ""
    target: str = "container"
    deadline: float | None = None
    """Absolute deadline as Unix epoch seconds, or ``None`` when the target has none."""
    function_arn: str | None = None
    trace_id: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    recorder: Recorder | None = field(default=None, repr=False, compare=False)
    """Where this invocation's measurement goes (``relaykit.measure``); ``None``: not measured."""
    _logger: BoundLogger | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def logger(self) -> BoundLogger:
        """A logger whose every line carries this invocation's ids (built on first use)."""
        if self._logger is None:
            from relaykit.logs import bind

            self._logger = bind(
                request_id=self.request_id,
                handler=self.handler or None,
                xray_trace_id=self.trace_id,
                function_arn=self.function_arn,
            )
        return self._logger

    @property
    def usage(self) -> Any:
        """This invocation's model usage (a ``relaykit.llm.usage.UsageMeter``: calls, tokens,
        latency, cost), or ``None`` when ``llm`` is not a bound model."""
        return getattr(self.llm, "usage", None)

    if not TYPE_CHECKING:  # for mypy, a Context keeps only the attributes it declares

        def __getattr__(self, name: str) -> Any:
            # ``llm`` of a context that an event-source Runner made for one record: the app's
            # model is bound to the context when the handler first reads it (or ``usage``).
            binding = self.__dict__.get("_llm_binding") if name == "llm" else None
            if binding is None:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            bind, model = binding
            llm = self.llm = bind(model, self)
            del self.__dict__["_llm_binding"]
            return llm

    def remaining_seconds(self) -> float:
        """Seconds left before the deadline (never below 0); ``math.inf`` when there is none."""
        if self.deadline is None:
            return math.inf
        return max(0.0, self.deadline - time.time())

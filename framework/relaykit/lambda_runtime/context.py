"""The Lambda context object the runtime hands to handlers, built from ``/next`` headers.

It has the attributes of the managed runtime's context (``aws_request_id``,
``invoked_function_arn``, ``get_remaining_time_in_millis()``, ...) so that code written for the
managed Python runtime, Mangum and Powertools included, reads it unchanged.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from typing import Any

from relaykit.lambda_runtime.client import NextInvocation


def _json_or_none(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


class RuntimeContext:
    """The per-invocation context: ids, deadline, identity, and the function's configuration."""

    def __init__(
        self, invocation: NextInvocation, environ: Mapping[str, str] | None = None
    ) -> None:
        env = os.environ if environ is None else environ
        self.aws_request_id = invocation.request_id
        self.invoked_function_arn = invocation.function_arn
        self.deadline_ms = invocation.deadline_ms
        self.trace_id = invocation.trace_id
        self.tenant_id = invocation.tenant_id
        self.client_context = _json_or_none(invocation.client_context)
        self.identity = _json_or_none(invocation.cognito_identity)
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds before the deadline, never below 0."""
        return max(0, self.deadline_ms - int(time.time() * 1000))

    def __repr__(self) -> str:
        return f"RuntimeContext(aws_request_id={self.aws_request_id!r})"

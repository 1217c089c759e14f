"""What the emulator knows about a function: its configuration and the platform's limits.

The numbers are the service's documented (or, where marked, observed) values; see
``docs/lambda-emulator.md`` for the sources.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

InvokeMode = Literal["BUFFERED", "RESPONSE_STREAM"]

RUNTIME_API_VERSION = "2018-06-01"
"""The only Runtime API version Lambda serves."""

MAX_RUNTIME_RESPONSE_BYTES = 6 * 1024 * 1024 + 100
"""A buffered ``/response`` above 6,291,556 bytes gets 413 (RIE ``interop/model.go``)."""

MAX_SYNC_REQUEST_BYTES = 6 * 1024 * 1024
"""A synchronous Invoke request body above 6,291,456 bytes gets RequestEntityTooLargeException."""

MAX_ASYNC_REQUEST_BYTES = 1024 * 1024
"""An ``Event`` invoke above 1 MB is refused (DG ``API_Invoke``; the exact byte count is
UNCONFIRMED: 1 MiB is assumed)."""

MAX_STREAMED_RESPONSE_BYTES = 200 * 1024 * 1024
"""A streamed response may carry up to 200 MB."""

ASYNC_RETRY_DELAYS = (60.0, 120.0)
"""Seconds before the second and the third attempt of a failed ``Event`` invocation."""

LOG_TAIL_BYTES = 4096
"""``X-Amz-Log-Result`` / ``InvokeComplete.LogResult`` carry the last 4 KB of the log."""

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class FunctionConfig:
    """One function as the emulator runs it.

    ``command`` is the argv of the runtime process (for example
    ``[sys.executable, "-m", "awslambdaric", "app.handler"]``); it runs with ``env`` on top of the
    standard Lambda variables and ``cwd`` (default: ``task_root``). ``timeout`` is in seconds
    and may be far below the service minimum of 1 s or maximum of 900 s so that deadlines can be
    exercised quickly. ``concurrency`` bounds the number of execution environments.
    """

    name: str
    command: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 3.0
    init_timeout: float = 10.0
    """The limit on the init phase (spawn to the first ``/next``): Lambda gives an on-demand
    environment 10 s, apart from the invocation's own timeout. (AWS's runtime interface
    emulator bounds init by the function timeout instead; pass ``timeout`` for that.)"""
    memory_mb: int = 128
    handler: str = "index.handler"
    invoke_mode: InvokeMode = "BUFFERED"
    concurrency: int = 10
    max_concurrency: int = 1
    """Invocations one environment serves at once. Above 1 the environment is a Lambda Managed
    Instances one: ``AWS_LAMBDA_MAX_CONCURRENCY`` is set and concurrent ``/next`` calls are
    answered, each with its own invocation."""
    task_root: str | None = None
    cwd: str | None = None
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID
    inherit_env: bool = True
    """Whether the worker also sees the emulator's own environment (PATH, PYTHONPATH, ...).
    Lambda's variables and ``env`` always win."""

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or ":" in self.name:
            raise ValueError(f"FunctionConfig.name {self.name!r}: use letters, digits, - and _")
        if not self.command:
            raise ValueError(f"FunctionConfig {self.name!r}: command must not be empty")
        if self.timeout <= 0:
            raise ValueError(f"FunctionConfig {self.name!r}: timeout must be > 0 seconds")
        if self.init_timeout <= 0:
            raise ValueError(f"FunctionConfig {self.name!r}: init_timeout must be > 0 seconds")
        if self.concurrency < 1:
            raise ValueError(f"FunctionConfig {self.name!r}: concurrency must be >= 1")
        if self.max_concurrency < 1:
            raise ValueError(f"FunctionConfig {self.name!r}: max_concurrency must be >= 1")
        if self.invoke_mode not in ("BUFFERED", "RESPONSE_STREAM"):
            raise ValueError(
                f"FunctionConfig {self.name!r}: invoke_mode must be BUFFERED or RESPONSE_STREAM"
            )

    @property
    def arn(self) -> str:
        """The unqualified function ARN, as sent in ``Lambda-Runtime-Invoked-Function-Arn``."""
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.name}"

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"

"""One invocation as the emulator tracks it: the request, the response as it arrives, the result.

The consumer (Invoke API, InvokeWithResponseStream, Function URL, a test) holds an
:class:`Invocation`. It can wait for the response to start, iterate the raw response bytes as the
runtime produces them (:meth:`Invocation.stream`), and await the final
:class:`InvocationResult`. Chunks are forwarded, never coalesced.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

ResponseMode = Literal["buffered", "streaming"]

FUNCTION_ERROR_UNHANDLED = "Unhandled"


@dataclass(frozen=True)
class ChunkRecord:
    """One body chunk as the Runtime API received it."""

    index: int
    size: int
    received_at: float
    """``time.monotonic()`` at arrival."""


@dataclass(frozen=True)
class InvocationResult:
    """How an invocation ended.

    ``payload`` is the buffered response, the whole streamed body (prelude included), or, on a
    function error, the error document the caller receives. ``error_type`` is None on success.
    ``init_duration_ms`` is set on a cold start.
    """

    request_id: str
    payload: bytes
    content_type: str
    error_type: str | None = None
    response_mode: ResponseMode = "buffered"
    prelude: dict[str, Any] | None = None
    trailers: dict[str, str] = field(default_factory=dict)
    chunks: tuple[ChunkRecord, ...] = ()
    init_duration_ms: float | None = None
    duration_ms: float = 0.0
    log_tail: bytes = b""
    pid: int | None = None
    attempt: int = 1

    @property
    def ok(self) -> bool:
        return self.error_type is None

    @property
    def function_error(self) -> str | None:
        """The ``X-Amz-Function-Error`` value: ``Unhandled`` for any function error."""
        return None if self.ok else FUNCTION_ERROR_UNHANDLED

    def error_document(self) -> dict[str, Any]:
        """The error as JSON (empty when the payload is not a JSON object)."""
        try:
            doc = json.loads(self.payload)
        except ValueError:
            return {}
        return doc if isinstance(doc, dict) else {}


def error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def timeout_payload(request_id: str, timeout: float) -> bytes:
    """What the caller gets when the deadline passes (shape UNCONFIRMED; see the docs)."""
    message = f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
    return error_payload("Sandbox.Timedout", message)


def exit_payload(request_id: str, returncode: int | None) -> bytes:
    """What the caller gets when the runtime process exits mid-invocation."""
    if returncode is None:
        reason = "unknown"
    elif returncode < 0:
        reason = f"signal: {_signal_name(-returncode)}"
    else:
        reason = f"exit status {returncode}"
    message = f"RequestId: {request_id} Error: Runtime exited with error: {reason}"
    return error_payload("Runtime.ExitError", message)


def _signal_name(number: int) -> str:
    import signal

    try:
        return {signal.SIGKILL: "killed", signal.SIGTERM: "terminated"}.get(
            signal.Signals(number), signal.Signals(number).name
        )
    except ValueError:
        return str(number)


class Invocation:
    """A request travelling through the emulator, and the channel its response comes back on."""

    def __init__(
        self,
        payload: bytes,
        *,
        function_arn: str,
        client_context: str | None = None,
        cognito_identity: str | None = None,
        tenant_id: str | None = None,
        request_id: str | None = None,
        trace_id: str | None = None,
    ) -> None:
        self.request_id = request_id or str(uuid.uuid4())
        self.payload = payload
        self.function_arn = function_arn
        self.client_context = client_context
        self.cognito_identity = cognito_identity
        self.tenant_id = tenant_id
        self.trace_id = trace_id or _new_trace_id()
        self.deadline_ms = 0
        self.response_mode: ResponseMode | None = None
        self.content_type = "application/json"
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._started = asyncio.Event()
        self._result: asyncio.Future[InvocationResult] = asyncio.get_running_loop().create_future()

    # -- producer side (Runtime API, execution environment) ---------------------------------

    def begin_response(self, mode: ResponseMode, content_type: str) -> None:
        self.response_mode = mode
        self.content_type = content_type
        self._started.set()

    def push_chunk(self, data: bytes) -> None:
        self._queue.put_nowait(data)

    def finish(self, result: InvocationResult) -> None:
        """Complete the invocation; the first call wins."""
        if self._result.done():
            return
        self._result.set_result(result)
        self._queue.put_nowait(None)
        self._started.set()

    def abort(self, reason: str) -> None:
        """End the invocation with a platform error (emulator stopped, throttled, ...)."""
        payload = error_payload("ServiceException", reason)
        self.finish(
            InvocationResult(
                self.request_id, payload, "application/json", error_type="ServiceException"
            )
        )

    @property
    def finished(self) -> bool:
        return self._result.done()

    # -- consumer side ------------------------------------------------------------------------

    async def started(self) -> None:
        """Return once the runtime has begun a response, or the invocation has ended."""
        await self._started.wait()

    async def stream(self) -> AsyncIterator[bytes]:
        """Yield the response bytes as they arrive (prelude included); may be used once."""
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item

    async def result(self) -> InvocationResult:
        return await asyncio.shield(self._result)


def _new_trace_id() -> str:
    epoch = f"{int(time.time()):08x}"
    return f"Root=1-{epoch}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"

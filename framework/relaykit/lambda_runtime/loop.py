"""The runtime loop: init once, then ``/next`` → dispatch → response, for ever.

Every invocation goes through the same dispatch seam as ``app.lambda_handler`` (the event kinds,
their logging and metrics), awaited on this process's one event loop. HTTP events that the HTTP
kind wants streamed (Function URLs in RESPONSE_STREAM mode) are written to a chunked streaming
response; everything else is answered buffered. The invocation's metrics line is written after
its response is posted, so it never delays the caller. An invocation error is posted to
``/error`` with the standard error JSON and no stack trace (the traceback goes to the log); a 413
from the API is not followed by an ``/error`` post; a 500 from the API ends the process, as the
API asks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import sys
import traceback
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from relaykit.lambda_runtime.client import (
    NextInvocation,
    PayloadRejected,
    ResponseStream,
    RuntimeClient,
    RuntimeGone,
)
from relaykit.lambda_runtime.context import RuntimeContext
from relaykit.logs import TRACE_ENV

logger = logging.getLogger("relaykit.lambda")
_ERROR_TYPE = re.compile(r"^[A-Z][A-Za-z0-9]+$")


def error_document(exc: BaseException, error_id: str) -> tuple[str, dict[str, Any]]:
    """The error type header and the standard error JSON, with no stack trace in it."""
    name = type(exc).__name__
    header = f"Function.{name}" if _ERROR_TYPE.match(name) else "Function.Unhandled"
    message = f"the invocation failed; the log has the details under error id {error_id}"
    return header, {"errorMessage": message, "errorType": name, "stackTrace": []}


class Served(Protocol):
    """What the runtime serves: ``app.lambda_handler`` (``LambdaHandler``), or the lean handler
    of a plain ASGI application (``AsgiLambdaHandler``)."""

    async def start(self) -> None: ...

    async def respond(
        self, event: Any, context: Any, open_stream: Any = None
    ) -> tuple[Any, Callable[[], None]]: ...

    async def aclose(self) -> None: ...


class Runtime:
    """Serves one handler's invocations from the Runtime API at ``address``."""

    def __init__(self, handler: Served, address: str) -> None:
        self.client = RuntimeClient(address)
        self.handler = handler
        raw = os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY", "1")
        self.slots = int(raw) if raw.isdigit() and int(raw) > 0 else 1
        """How many invocations this process serves at once (``AWS_LAMBDA_MAX_CONCURRENCY``)."""

    async def init(self) -> bool:
        """Start the app (hooks, adapters, lifespan); report a failure to ``/init/error``."""
        try:
            await self.handler.start()
        except Exception as exc:
            error_id = f"err_{uuid.uuid4().hex[:16]}"
            logger.error("init failed (error id %s)", error_id, exc_info=True)
            header, body = error_document(exc, error_id)
            await self.client.init_error(header.replace("Function.", "Runtime.Init", 1), body)
            return False
        return True

    async def serve(self, *, max_invocations: int | None = None) -> None:
        """Take invocations until the process ends (or ``max_invocations`` for tests).

        On Lambda Managed Instances (``AWS_LAMBDA_MAX_CONCURRENCY`` above 1) this keeps that many
        invocations in flight from this one process: one ``/next`` long-poll per free slot, every
        invocation with its own context (request id, deadline, trace id), sharing the app, its
        model client and its connection pools.
        """
        slots = self.slots
        counter = iter(range(max_invocations)) if max_invocations is not None else None

        async def slot() -> None:
            while counter is None or next(counter, None) is not None:
                invocation = await self.client.next_invocation()
                await self.invoke(invocation)

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(slots):
                    group.create_task(slot())
        except BaseExceptionGroup as failures:
            gone = failures.subgroup(RuntimeGone)
            first = failures.exceptions[0] if gone is None else gone.exceptions[0]
            raise first from None

    async def invoke(self, invocation: NextInvocation) -> None:
        """Serve one invocation and post its outcome."""
        if self.slots == 1:
            # One invocation per process: export the trace header as the managed runtime does
            # (SDKs read it). With several in flight it stays on each invocation's context only.
            if invocation.trace_id:
                os.environ[TRACE_ENV] = invocation.trace_id
            else:
                os.environ.pop(TRACE_ENV, None)
        context = RuntimeContext(invocation)
        request_id = invocation.request_id
        try:
            event = json.loads(invocation.body or b"null")
        except ValueError as exc:
            body = {"errorMessage": f"the event is not JSON: {exc}", "errorType": "UnmarshalError"}
            await self.client.error(request_id, "Runtime.UnmarshalError", body)
            return
        opened: list[ResponseStream] = []

        async def open_stream(content_type: str) -> ResponseStream:
            stream = await self.client.open_stream(request_id, content_type)
            opened.append(stream)
            return stream

        try:
            result, flush_metrics = await self.handler.respond(event, context, open_stream)
        except RuntimeGone:
            raise
        except Exception as exc:
            await self._report(request_id, exc, streamed=bool(opened))
            return
        try:
            if not opened:
                await self._respond(request_id, result)
        finally:
            # After the response: the caller has it while the metrics line is written.
            try:
                flush_metrics()
            except Exception:
                logger.error("writing the invocation's metrics failed", exc_info=True)

    async def _respond(self, request_id: str, result: Any) -> None:
        if isinstance(result, bytes | bytearray):
            body, content_type = bytes(result), "application/unknown"
        else:
            body, content_type = json.dumps(result).encode(), "application/json"
        try:
            await self.client.respond(request_id, body, content_type)
        except PayloadRejected:
            # Lambda has recorded the failure itself; an /error post now would be refused.
            logger.error("the response (%d bytes) was refused as too large", len(body))

    async def _report(self, request_id: str, exc: Exception, *, streamed: bool) -> None:
        error_id = f"err_{uuid.uuid4().hex[:16]}"
        logger.error(
            "invocation failed (error id %s)", error_id, exc_info=True, extra={"error_id": error_id}
        )
        header, body = error_document(exc, error_id)
        if streamed:
            return  # the kind already ended its stream; nothing else can be posted for it
        with contextlib.suppress(PayloadRejected):
            await self.client.error(request_id, header, body)

    async def aclose(self) -> None:
        await self.handler.aclose()
        await self.client.aclose()


def print_init_failure(exc: BaseException) -> None:
    """Last resort when the app cannot even be loaded: the reason on stderr (for the log)."""
    print(f"relaykit.lambda_runtime: init failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    traceback.print_exc(file=sys.stderr)

"""The Lambda Runtime API (version 2018-06-01) of one execution environment.

Routes, under ``/2018-06-01``::

    GET  /runtime/invocation/next             long-poll; 200 with the event and its headers
    POST /runtime/invocation/{id}/response    202; buffered, or chunked with
                                              Lambda-Runtime-Function-Response-Mode: streaming
    POST /runtime/invocation/{id}/error       202
    POST /runtime/init/error                  202

Errors: 400 ``InvalidFunctionResponseMode``, 403 ``InvalidStateTransition`` (unknown id, second
response, init error after init), 413 ``RequestEntityTooLarge`` above 6,291,556 buffered bytes,
404 for unknown routes, 500 when the emulator itself fails.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from dataclasses import dataclass, field
from typing import Any

from .config import MAX_RUNTIME_RESPONSE_BYTES, RUNTIME_API_VERSION
from .http11 import HTTPServer, Request, Responder
from .invocation import ChunkRecord, Invocation, ResponseMode, error_payload
from .prelude import HTTP_INTEGRATION_CONTENT_TYPE, PreludeError, parse_buffered

PREFIX = f"/{RUNTIME_API_VERSION}"
ERROR_TYPE_HEADER = "lambda-runtime-function-error-type"
ERROR_BODY_TRAILER = "lambda-runtime-function-error-body"
RESPONSE_MODE_HEADER = "lambda-runtime-function-response-mode"
_JSON = [("content-type", "application/json")]


@dataclass
class RuntimeOutcome:
    """What the runtime reported for the invocation in flight."""

    payload: bytes
    content_type: str
    error_type: str | None = None
    mode: ResponseMode = "buffered"
    prelude: dict[str, Any] | None = None
    trailers: dict[str, str] = field(default_factory=dict)
    declared_trailers: tuple[str, ...] = ()
    chunks: tuple[ChunkRecord, ...] = ()


class RuntimeAPI:
    """Serves one environment's runtime; the environment offers invocations and awaits outcomes."""

    def __init__(self, timeout: float, max_response_bytes: int = MAX_RUNTIME_RESPONSE_BYTES):
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.server = HTTPServer(self._handle, "runtime-api")
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[float] = loop.create_future()
        """Resolves with ``time.monotonic()`` of the first ``/next``: init is over."""
        self.init_error: asyncio.Future[tuple[str | None, bytes]] = loop.create_future()
        self._offered: asyncio.Queue[Invocation] = asyncio.Queue()
        self._inflight: dict[str, tuple[Invocation, asyncio.Future[RuntimeOutcome]]] = {}

    @property
    def address(self) -> str:
        """The value of ``AWS_LAMBDA_RUNTIME_API``."""
        return f"127.0.0.1:{self.server.port}"

    async def start(self) -> None:
        await self.server.start()

    async def close(self) -> None:
        await self.server.close()

    def offer(self, invocation: Invocation) -> asyncio.Future[RuntimeOutcome]:
        """Queue ``invocation`` for the next ``/next``; its deadline starts now."""
        invocation.deadline_ms = int((time.time() + self.timeout) * 1000)
        outcome: asyncio.Future[RuntimeOutcome] = asyncio.get_running_loop().create_future()
        self._inflight[invocation.request_id] = (invocation, outcome)
        outcome.add_done_callback(lambda _: self._inflight.pop(invocation.request_id, None))
        self._offered.put_nowait(invocation)
        return outcome

    # -- routing ------------------------------------------------------------------------------

    async def _handle(self, request: Request, responder: Responder) -> None:
        try:
            await self._route(request, responder)
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as exc:  # the emulator's own failure: tell the runtime to exit
            if not responder.started:
                await _reply(responder, 500, "ServiceException", f"emulator error: {exc!r}")
            raise ConnectionError("runtime API handler failed") from exc

    async def _route(self, request: Request, responder: Responder) -> None:
        path = request.path
        if not path.startswith(PREFIX + "/runtime/"):
            await request.drain()
            await _reply(responder, 404, "NotFound", f"no route {request.method} {path}")
            return
        parts = path[len(PREFIX) :].strip("/").split("/")
        if request.method == "GET" and parts == ["runtime", "invocation", "next"]:
            await self._next(responder)
        elif request.method == "POST" and parts == ["runtime", "init", "error"]:
            await self._init_error(request, responder)
        elif (
            request.method == "POST" and len(parts) == 4 and parts[:2] == ["runtime", "invocation"]
        ):
            if parts[3] == "response":
                await self._response(parts[2], request, responder)
            elif parts[3] == "error":
                await self._error(parts[2], request, responder)
            else:
                await request.drain()
                await _reply(responder, 404, "NotFound", f"no route POST {path}")
        else:
            await request.drain()
            await _reply(responder, 404, "NotFound", f"no route {request.method} {path}")

    # -- handlers -----------------------------------------------------------------------------

    async def _next(self, responder: Responder) -> None:
        if not self.ready.done():
            self.ready.set_result(time.monotonic())
        invocation = await self._offered.get()
        headers = [
            ("content-type", "application/json"),
            ("lambda-runtime-aws-request-id", invocation.request_id),
            ("lambda-runtime-deadline-ms", str(invocation.deadline_ms)),
            ("lambda-runtime-invoked-function-arn", invocation.function_arn),
            ("lambda-runtime-trace-id", invocation.trace_id),
        ]
        optional = [
            ("lambda-runtime-client-context", invocation.client_context),
            ("lambda-runtime-cognito-identity", invocation.cognito_identity),
            ("lambda-runtime-aws-tenant-id", invocation.tenant_id),
        ]
        headers += [(k, v) for k, v in optional if v is not None]
        await responder.send(200, headers, invocation.payload)

    def _in_flight(self, request_id: str) -> Invocation | None:
        entry = self._inflight.get(request_id)
        if entry is None:
            return None
        inv, outcome = entry
        if inv.finished or outcome.done() or inv.response_mode is not None:
            return None
        return inv

    async def _response(self, request_id: str, request: Request, responder: Responder) -> None:
        mode = request.header(RESPONSE_MODE_HEADER)
        if mode is not None and mode.strip().lower() != "streaming":
            await request.drain()
            await _reply(
                responder,
                400,
                "InvalidFunctionResponseMode",
                f"Invalid function response mode: {mode}",
            )
            return
        inv = self._in_flight(request_id)
        if inv is None:
            await request.drain()
            await _reply(
                responder,
                403,
                "InvalidStateTransition",
                f"State transition is not allowed for invocation {request_id}",
            )
            return
        content_type = request.header("content-type") or "application/octet-stream"
        if mode is None:
            await self._buffered(inv, content_type, request, responder)
        else:
            await self._streaming(inv, content_type, request, responder)

    async def _buffered(
        self, inv: Invocation, content_type: str, request: Request, responder: Responder
    ) -> None:
        body, total = await request.read_body(self.max_response_bytes)
        if total > self.max_response_bytes:
            limit = self.max_response_bytes
            message = (
                f"Response payload size exceeded maximum allowed payload size ({limit} bytes)."
            )
            self._settle(
                inv.request_id,
                RuntimeOutcome(
                    error_payload("Function.ResponseSizeTooLarge", message),
                    "application/json",
                    error_type="Function.ResponseSizeTooLarge",
                ),
            )
            await _reply(
                responder,
                413,
                "RequestEntityTooLarge",
                f"Exceeded maximum allowed payload size ({limit} bytes).",
            )
            return
        inv.begin_response("buffered", content_type)
        inv.push_chunk(body)
        prelude = _buffered_prelude(body, content_type)
        record = ChunkRecord(0, len(body), time.monotonic())
        self._settle(
            inv.request_id, RuntimeOutcome(body, content_type, prelude=prelude, chunks=(record,))
        )
        await responder.send(202, _JSON, b'{"status":"OK"}')

    async def _streaming(
        self, inv: Invocation, content_type: str, request: Request, responder: Responder
    ) -> None:
        declared = tuple(
            name.strip().lower()
            for value in request.header_list("trailer")
            for name in value.split(",")
            if name.strip()
        )
        inv.begin_response("streaming", content_type)
        body = bytearray()
        records: list[ChunkRecord] = []
        async for chunk in request.chunks():
            records.append(ChunkRecord(len(records), len(chunk), time.monotonic()))
            body += chunk
            inv.push_chunk(chunk)
        trailers = {k.lower(): v for k, v in request.trailers}
        prelude = _buffered_prelude(bytes(body), content_type)
        outcome = RuntimeOutcome(
            bytes(body),
            content_type,
            mode="streaming",
            prelude=prelude,
            trailers=trailers,
            declared_trailers=declared,
            chunks=tuple(records),
        )
        error_type = trailers.get(ERROR_TYPE_HEADER)
        if error_type is not None or ERROR_BODY_TRAILER in trailers:
            outcome.error_type = error_type or "Unhandled"
            outcome.payload = _decode_error_body(
                trailers.get(ERROR_BODY_TRAILER), outcome.error_type
            )
        self._settle(inv.request_id, outcome)
        await responder.send(202, _JSON, b'{"status":"OK"}')

    async def _error(self, request_id: str, request: Request, responder: Responder) -> None:
        body, _total = await request.read_body(self.max_response_bytes)
        inv = self._in_flight(request_id)
        if inv is None:
            await _reply(
                responder,
                403,
                "InvalidStateTransition",
                f"State transition is not allowed for invocation {request_id}",
            )
            return
        error_type, payload = _error_report(request, body)
        self._settle(request_id, RuntimeOutcome(payload, "application/json", error_type=error_type))
        await responder.send(202, _JSON, b'{"status":"OK"}')

    async def _init_error(self, request: Request, responder: Responder) -> None:
        body, _total = await request.read_body(self.max_response_bytes)
        if self.ready.done() or self.init_error.done():
            await _reply(
                responder,
                403,
                "InvalidStateTransition",
                "State transition is not allowed: init has already ended",
            )
            return
        error_type, payload = _error_report(request, body)
        self.init_error.set_result((error_type, payload))
        await responder.send(202, _JSON, b'{"status":"OK"}')

    def _settle(self, request_id: str, outcome: RuntimeOutcome) -> None:
        entry = self._inflight.get(request_id)
        if entry is not None and not entry[1].done():
            entry[1].set_result(outcome)


async def _reply(responder: Responder, status: int, error_type: str, message: str) -> None:
    body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
    await responder.send(status, _JSON, body)


def _buffered_prelude(body: bytes, content_type: str) -> dict[str, Any] | None:
    if content_type.split(";")[0].strip().lower() != HTTP_INTEGRATION_CONTENT_TYPE:
        return None
    try:
        prelude, _rest = parse_buffered(body)
    except PreludeError:
        return None
    return prelude.raw if prelude is not None else None


def _error_report(request: Request, body: bytes) -> tuple[str, bytes]:
    """The error type and the document the caller will see, from an /error-style post."""
    header_type = request.header(ERROR_TYPE_HEADER)
    try:
        doc = json.loads(body) if body else None
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        body_type = doc.get("errorType")
        error_type = header_type or (body_type if isinstance(body_type, str) else None)
        return error_type or "Unhandled", body
    error_type = header_type or "Unhandled"
    return error_type, error_payload(error_type, body.decode("utf-8", "replace"))


def _decode_error_body(value: str | None, error_type: str) -> bytes:
    if not value:
        return error_payload(error_type, "")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return error_payload(error_type, value)

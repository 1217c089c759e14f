"""The Lambda Invoke API as boto3 reaches it through ``endpoint_url`` (REST-JSON protocol).

::

    POST /2015-03-31/functions/{name}/invocations                  Invoke
    POST /2021-11-15/functions/{name}/response-streaming-invocations InvokeWithResponseStream

Errors follow the REST-JSON convention botocore parses: the status, ``X-Amzn-ErrorType: <code>``
and a JSON body with ``Type`` and ``message``. An oversized payload answers
``RequestEntityTooLargeException`` (what the service sends, although the botocore model only
declares ``RequestTooLargeException``); an unknown function ``ResourceNotFoundException``.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from urllib.parse import parse_qs, unquote

from .async_queue import AsyncQueue
from .config import LOG_TAIL_BYTES, MAX_ASYNC_REQUEST_BYTES, MAX_SYNC_REQUEST_BYTES
from .eventstream import encode_event
from .http11 import HTTPServer, Request, Responder
from .invocation import Invocation, InvocationResult
from .pool import FunctionPool, ThrottledError

INVOKE_PREFIX = "/2015-03-31/functions/"
STREAM_PREFIX = "/2021-11-15/functions/"


class InvokeAPI:
    """One HTTP server for every function of the emulator."""

    def __init__(self, pools: Mapping[str, FunctionPool], queue: AsyncQueue) -> None:
        self.pools = pools
        self.queue = queue
        self.server = HTTPServer(self._handle, "invoke-api")

    @property
    def url(self) -> str:
        return self.server.url

    async def start(self) -> None:
        await self.server.start()

    async def close(self) -> None:
        await self.server.close()

    async def _handle(self, request: Request, responder: Responder) -> None:
        request_id = str(uuid.uuid4())
        path = unquote(request.path)
        streaming = path.startswith(STREAM_PREFIX) and path.endswith(
            "/response-streaming-invocations"
        )
        buffered = path.startswith(INVOKE_PREFIX) and path.endswith("/invocations")
        if request.method != "POST" or not (streaming or buffered):
            await request.drain()
            await _error(
                responder,
                request_id,
                404,
                "UnknownOperationException",
                f"no operation at {request.method} {path}",
            )
            return
        prefix, suffix = (
            (STREAM_PREFIX, "/response-streaming-invocations")
            if streaming
            else (INVOKE_PREFIX, "/invocations")
        )
        name, qualifier = _function_name(path[len(prefix) : -len(suffix)], request.query)
        pool = self.pools.get(name)
        if pool is None or qualifier not in (None, "$LATEST"):
            await request.drain()
            arn = (
                pool.config.arn
                if pool
                else f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
            )
            await _error(
                responder,
                request_id,
                404,
                "ResourceNotFoundException",
                f"Function not found: {arn}" + (f":{qualifier}" if qualifier else ""),
                key="Message",
            )
            return
        kind = request.header("x-amz-invocation-type") or "RequestResponse"
        limit = MAX_ASYNC_REQUEST_BYTES if kind == "Event" else MAX_SYNC_REQUEST_BYTES
        payload, size = await request.read_body(limit)
        if size > limit:
            message = (
                f"{size} byte payload is too large for the Event invocation type "
                f"(limit {limit} bytes)"
                if kind == "Event"
                else f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
            )
            await _error(responder, request_id, 413, "RequestEntityTooLargeException", message)
            return
        if kind not in (
            ("RequestResponse", "DryRun") if streaming else ("RequestResponse", "Event", "DryRun")
        ):
            await _error(
                responder,
                request_id,
                400,
                "InvalidParameterValueException",
                f"Unsupported invocation type {kind}",
            )
            return
        payload = payload or b"{}"
        try:
            json.loads(payload)
        except ValueError as exc:
            await _error(
                responder,
                request_id,
                400,
                "InvalidRequestContentException",
                f"Could not parse request body into json: {exc}",
            )
            return
        client_context = _client_context(request.header("x-amz-client-context"))
        tenant_id = request.header("x-amz-tenant-id")
        if kind == "DryRun":
            await responder.send(204, _common(request_id))
            return
        if kind == "Event":
            self.queue.submit(pool, payload, request_id, client_context, tenant_id)
            await responder.send(202, _common(request_id))
            return
        invocation = pool.new_invocation(
            payload, request_id=request_id, client_context=client_context, tenant_id=tenant_id
        )
        try:
            pool.start(invocation)
        except ThrottledError:
            await _error(
                responder,
                request_id,
                429,
                "TooManyRequestsException",
                "Rate Exceeded.",
                extra={"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"},
            )
            return
        tail = (request.header("x-amz-log-type") or "None") == "Tail"
        if streaming:
            await _stream(responder, invocation, tail)
        else:
            await _buffered(responder, await invocation.result(), tail)


async def _buffered(responder: Responder, result: InvocationResult, tail: bool) -> None:
    headers = [*_common(result.request_id), ("content-type", "application/json")]
    if result.function_error is not None:
        headers.append(("x-amz-function-error", result.function_error))
    if tail:
        headers.append(("x-amz-log-result", log_result(result)))
    await responder.send(200, headers, result.payload)


async def _stream(responder: Responder, invocation: Invocation, tail: bool) -> None:
    """PayloadChunk events as the runtime produces bytes, then InvokeComplete."""
    await invocation.started()
    headers = [
        *_common(invocation.request_id),
        ("content-type", "application/vnd.amazon.eventstream"),
        ("transfer-encoding", "chunked"),
    ]
    await responder.start(200, headers)
    async for chunk in invocation.stream():
        await responder.write(encode_event("PayloadChunk", chunk, "application/octet-stream"))
    result = await invocation.result()
    complete: dict[str, str] = {}
    if not result.ok:
        assert result.error_type is not None
        complete["ErrorCode"] = result.error_type
        complete["ErrorDetails"] = result.payload.decode("utf-8", "replace")
    if tail:
        complete["LogResult"] = log_result(result)
    body = json.dumps(complete).encode()
    await responder.write(encode_event("InvokeComplete", body, "application/json"))
    await responder.end()


def log_result(result: InvocationResult) -> str:
    """``X-Amz-Log-Result``: base64 of the last 4 KB of the invocation's log."""
    return base64.b64encode(result.log_tail[-LOG_TAIL_BYTES:]).decode("ascii")


def _function_name(raw: str, query: str) -> tuple[str, str | None]:
    """Accept a name, a partial ARN or a full ARN, with an optional ``:qualifier``."""
    qualifiers = parse_qs(query).get("Qualifier")
    qualifier = qualifiers[0] if qualifiers else None
    if raw.startswith("arn:"):
        parts = raw.split(":")
        raw = ":".join(parts[6:]) if len(parts) > 6 else raw
    elif ":function:" in raw:
        raw = raw.split(":function:", 1)[1]
    if ":" in raw:
        raw, qualifier = raw.split(":", 1)
    return raw, qualifier


def _client_context(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return value


def _common(request_id: str) -> list[tuple[str, str]]:
    return [("x-amzn-requestid", request_id), ("x-amz-executed-version", "$LATEST")]


async def _error(
    responder: Responder,
    request_id: str,
    status: int,
    code: str,
    message: str,
    key: str = "message",
    extra: dict[str, str] | None = None,
) -> None:
    body = json.dumps({"Type": "User", key: message, **(extra or {})}).encode()
    headers = [
        ("x-amzn-requestid", request_id),
        ("x-amzn-errortype", code),
        ("content-type", "application/json"),
    ]
    await responder.send(status, headers, body)

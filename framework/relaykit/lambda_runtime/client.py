"""A Lambda Runtime API client (version 2018-06-01) on asyncio streams.

It speaks exactly what a runtime must (see docs/lambda-runtime.md for sources): a long-poll
``GET /next`` with no client timeout; buffered responses and errors; init errors; and streamed
responses as one chunked ``POST`` with ``Lambda-Runtime-Function-Response-Mode: streaming``, every
chunk flushed as written (TCP_NODELAY, no coalescing), and a failure after the first byte reported
in the trailers ``Lambda-Runtime-Function-Error-Type`` and ``Lambda-Runtime-Function-Error-Body``
(base64 JSON), declared up front in a ``Trailer`` header. The HTTP/1.1 framing is in
:mod:`relaykit.lambda_runtime.wire` (the standard library's http.client cannot send trailers).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from relaykit.lambda_runtime.wire import Connection, Response, chunk, head, last_chunk

API_VERSION = "2018-06-01"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
ERROR_BODY_TRAILER = "Lambda-Runtime-Function-Error-Body"
STREAM_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
USER_AGENT = "relaykit-lambda-runtime/0.1"


class RuntimeAPIError(Exception):
    """The Runtime API answered with an unexpected status."""

    def __init__(self, status: int, path: str, body: bytes) -> None:
        self.status = status
        self.path = path
        self.body = body
        super().__init__(f"Runtime API {path} answered {status}: {body[:200]!r}")


class PayloadRejected(RuntimeAPIError):
    """413: the response was too large. Lambda records the error itself: do not post /error."""


class RuntimeGone(RuntimeAPIError):
    """500: the execution environment is broken; the runtime must exit promptly."""


@dataclass(frozen=True)
class NextInvocation:
    """An invocation as ``GET /next`` delivers it."""

    request_id: str
    deadline_ms: int
    function_arn: str
    trace_id: str | None
    client_context: str | None
    cognito_identity: str | None
    tenant_id: str | None
    body: bytes


def _check(status: int, path: str, body: bytes) -> None:
    if status == 413:
        raise PayloadRejected(status, path, body)
    if status >= 500:
        raise RuntimeGone(status, path, body)
    if status >= 300:
        raise RuntimeAPIError(status, path, body)


class ResponseStream:
    """A streamed invocation response: ``write`` chunks, then ``close`` or ``fail``."""

    def __init__(self, connection: Connection, path: str) -> None:
        self._conn = connection
        self._path = path
        self.bytes_written = 0

    async def write(self, data: bytes) -> None:
        """Send one chunk now, as its own HTTP chunk (an empty one is skipped: it would end
        the body)."""
        if data:
            await self._conn.send(chunk(data))
            self.bytes_written += len(data)

    async def close(self) -> None:
        """End the body and wait for the Runtime API's answer."""
        await self._finish([])

    async def fail(self, error_type: str, error: dict[str, Any]) -> None:
        """End the body with the error trailers (a failure after streaming started)."""
        encoded = base64.b64encode(json.dumps(error).encode()).decode()
        await self._finish([(ERROR_TYPE_HEADER, error_type), (ERROR_BODY_TRAILER, encoded)])

    async def _finish(self, trailers: list[tuple[str, str]]) -> None:
        try:
            await self._conn.send(last_chunk(trailers))
            response = await self._conn.read_response()
            _check(response.status, self._path, response.body)
        finally:
            await self._conn.close()


class RuntimeClient:
    """Client of the Runtime API at ``address`` (``host:port``, from ``AWS_LAMBDA_RUNTIME_API``)."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.host = host or "127.0.0.1"
        self.port = int(port)
        self._common = [("Host", f"{self.host}:{self.port}"), ("User-Agent", USER_AGENT)]
        self._idle: list[Connection] = []

    async def _request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: list[tuple[str, str]] | None = None,
    ) -> Response:
        conn = self._idle.pop() if self._idle else await Connection.open(self.host, self.port)
        fields = [*self._common]
        if method == "POST":
            fields.append(("Content-Length", str(len(body))))
        fields.extend(headers or [])
        try:
            await conn.send(head(method, path, fields) + body)
            response = await conn.read_response()
        except BaseException:
            await conn.close()
            raise
        if response.keep_alive:
            self._idle.append(conn)
        else:
            await conn.close()
        return response

    async def next_invocation(self) -> NextInvocation:
        """Long-poll for the next invocation (no client timeout, as the API requires)."""
        path = f"/{API_VERSION}/runtime/invocation/next"
        response = await self._request("GET", path)
        _check(response.status, path, response.body)
        headers = response.headers
        return NextInvocation(
            request_id=headers["lambda-runtime-aws-request-id"],
            deadline_ms=int(headers.get("lambda-runtime-deadline-ms", "0")),
            function_arn=headers.get("lambda-runtime-invoked-function-arn", ""),
            trace_id=headers.get("lambda-runtime-trace-id"),
            client_context=headers.get("lambda-runtime-client-context"),
            cognito_identity=headers.get("lambda-runtime-cognito-identity"),
            tenant_id=headers.get("lambda-runtime-aws-tenant-id"),
            body=response.body,
        )

    async def respond(self, request_id: str, body: bytes, content_type: str) -> None:
        """Post a buffered response (raises ``PayloadRejected`` on 413)."""
        path = f"/{API_VERSION}/runtime/invocation/{request_id}/response"
        response = await self._request("POST", path, body, [("Content-Type", content_type)])
        _check(response.status, path, response.body)

    async def error(self, request_id: str, error_type: str, error: dict[str, Any]) -> None:
        """Report an invocation error with the standard error JSON."""
        path = f"/{API_VERSION}/runtime/invocation/{request_id}/error"
        await self._post_error(path, error_type, error)

    async def init_error(self, error_type: str, error: dict[str, Any]) -> None:
        """Report a failed init; the runtime exits afterwards."""
        await self._post_error(f"/{API_VERSION}/runtime/init/error", error_type, error)

    async def _post_error(self, path: str, error_type: str, error: dict[str, Any]) -> None:
        headers = [("Content-Type", "application/json"), (ERROR_TYPE_HEADER, error_type)]
        response = await self._request("POST", path, json.dumps(error).encode(), headers)
        _check(response.status, path, response.body)

    async def open_stream(self, request_id: str, content_type: str) -> ResponseStream:
        """Start a streamed response on a connection of its own; write the body, then close."""
        path = f"/{API_VERSION}/runtime/invocation/{request_id}/response"
        conn = await Connection.open(self.host, self.port)
        headers = [
            *self._common,
            ("Lambda-Runtime-Function-Response-Mode", "streaming"),
            ("Content-Type", content_type),
            ("Transfer-Encoding", "chunked"),
            ("Trailer", f"{ERROR_TYPE_HEADER}, {ERROR_BODY_TRAILER}"),
        ]
        try:
            await conn.send(head("POST", path, headers))
        except BaseException:
            await conn.close()
            raise
        return ResponseStream(conn, path)

    async def aclose(self) -> None:
        while self._idle:
            await self._idle.pop().close()

"""HTTP responses streamed through a Lambda Function URL in RESPONSE_STREAM mode.

The runtime opens one chunked response with the content type
``application/vnd.awslambda.http-integration-response``; this module writes the HTTP integration
prelude (JSON ``statusCode``, ``headers``, ``cookies``, then exactly 8 NUL bytes) as soon as the
ASGI app starts its response, even when the body will be empty, then every ``http.response.body``
chunk as it is sent. A failure before the first byte becomes a 500 prelude with the usual JSON
error; after it, the stream ends with the error trailers. The ASGI app runs on the runtime's loop,
the same one its lifespan started on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from relaykit.events.base import ResponseSink

STREAM_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
PRELUDE_DELIMITER = b"\x00" * 8
logger = logging.getLogger("relaykit.lambda")


def prelude(status: int, headers: list[tuple[bytes, bytes]] | list[list[bytes]]) -> bytes:
    """The HTTP integration prelude: status, headers (cookies apart), then 8 NUL bytes."""
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for raw_name, raw_value in headers:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        if name == "set-cookie":
            cookies.append(value)
        elif name in merged:
            merged[name] += ", " + value
        else:
            merged[name] = value
    document = {"statusCode": status, "headers": merged, "cookies": cookies}
    return json.dumps(document, separators=(",", ":")).encode() + PRELUDE_DELIMITER


class StreamCycle:
    """One request through an ASGI app, each response message written to ``sink`` as sent."""

    def __init__(self, scope: MutableMapping[str, Any], body: bytes, sink: ResponseSink) -> None:
        self.scope = scope
        self.body = body
        self.sink = sink
        self.status = 500
        self.started = False
        self._request_sent = False
        self._done = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        if not self._request_sent:
            self._request_sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self._done.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Any) -> None:
        if message["type"] == "http.response.start" and not self.started:
            self.started = True
            self.status = int(message["status"])
            await self.sink.write(prelude(self.status, list(message.get("headers", []))))
        elif message["type"] == "http.response.body" and self.started:
            await self.sink.write(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                self._done.set()

    async def run(self, asgi: Callable[..., Awaitable[None]]) -> None:
        """Run the app; end the stream normally, or with a safe error."""
        try:
            await asgi(self.scope, self.receive, self.send)
        except Exception as exc:
            await self._fail(exc)
            return
        finally:
            self._done.set()
        if not self.started:
            await self._fail(None)
            return
        await self.sink.close()

    async def _fail(self, exc: Exception | None) -> None:
        error_id = f"err_{uuid.uuid4().hex[:16]}"
        logger.error(
            "%s %s failed while streaming: %s (error id %s)",
            self.scope.get("method"),
            self.scope.get("path"),
            type(exc).__name__ if exc else "the app sent no response",
            error_id,
            exc_info=(type(exc), exc, exc.__traceback__) if exc else None,
            extra={"error_id": error_id},
        )
        message = f"the request failed; the log has the details under error id {error_id}"
        body = {"error": {"type": "server_error", "message": message, "error_id": error_id}}
        if self.sink.bytes_written == 0:
            self.status = 500
            await self.sink.write(prelude(500, [(b"content-type", b"application/json")]))
            await self.sink.write(json.dumps(body).encode())
            await self.sink.close()
        else:
            error = {"errorType": "Function.StreamFailed", "errorMessage": message}
            await self.sink.fail("Function.StreamFailed", error)

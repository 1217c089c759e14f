"""Lambda HTTP events over an ASGI application, with buffered responses.

``relaykit.targets.lambda_http_shapes`` translates each event shape in (the ASGI scope and body)
and the response out (the dict API Gateway, ALB or the Function URL expects: ``multiValueHeaders``
for REST and payload 1.0, ``cookies`` for payload 2.0, the same header mode an ALB used, base64
for binary bodies), as Mangum 0.22 did before it. Around that, unlike Mangum:

- no lifespan per invocation: ``Lifespan`` (``relaykit.targets.lambda_environment``) runs the
  app's ASGI lifespan once, when this bridge is started, on the environment's one event loop;
- the ASGI app runs on that same loop (the environment awaits it), never on a fresh one, so
  clients built at startup stay usable;
- the response is collected by ``BufferedCycle`` up to ``lambda_max_response_bytes``: a stream
  reached through a buffered event is gathered into one ``text/event-stream`` body, and a response
  that would pass Lambda's 6 MB limit is stopped early and answered with a 413 JSON error instead
  of failing on the platform;
- a failure answers a JSON error in the event's own shape, never a traceback.
"""

from __future__ import annotations

import asyncio
import binascii
import json
import logging
import uuid
from collections.abc import MutableMapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from relaykit.lambda_event import Outcome
from relaykit.targets.lambda_environment import Lifespan
from relaykit.targets.lambda_http_shapes import HttpShape, for_event

if TYPE_CHECKING:
    from relaykit.app import App
    from relaykit.errors import PayloadTooLarge
    from relaykit.events.base import StreamOpener
    from relaykit.targets.lambda_environment import ASGIApp

logger = logging.getLogger("relaykit.lambda")
JSON_HEADERS = [[b"content-type", b"application/json"]]
_ESCAPE_FACTOR = 12  # the most bytes one character can take once JSON-escaped (a surrogate pair)


class _TooLarge(BaseException):
    """Raised from ``send`` to stop an app whose response passed the limit (not an Exception,
    so a handler's ``except Exception`` cannot swallow it)."""


def json_body(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """A buffered response (status, headers, body bytes) carrying a JSON document."""
    return {"status": status, "headers": JSON_HEADERS, "body": json.dumps(body).encode()}


class BufferedCycle:
    """One request through an ASGI app, its response collected in memory up to ``limit`` bytes."""

    def __init__(self, scope: MutableMapping[str, Any], body: bytes, limit: int) -> None:
        self.scope = scope
        self.body = body
        self.limit = limit
        self.status = 500
        self.headers: list[list[bytes]] = []
        self.chunks: list[bytes] = []
        self.size = 0
        self.started = False
        self.complete = False
        self.overflow = False
        self.failure: BaseException | None = None
        self._request_sent = False
        self._done = asyncio.Event()

    async def run(self, asgi: Any) -> None:
        try:
            await asgi(self.scope, self.receive, self.send)
        except BaseException as exc:
            if not self.overflow:
                if not isinstance(exc, Exception):
                    raise
                self.failure = exc
        finally:
            self._done.set()

    async def receive(self) -> dict[str, Any]:
        if not self._request_sent:
            self._request_sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self._done.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Any) -> None:
        kind = message["type"]
        if kind == "http.response.start" and not self.started:
            self.started = True
            self.status = int(message["status"])
            self.headers = [[bytes(k), bytes(v)] for k, v in message.get("headers", [])]
        elif kind == "http.response.body" and self.started and not self.complete:
            chunk = bytes(message.get("body", b""))
            self.size += len(chunk)
            if self.size > self.limit:
                self.overflow = True
                self.chunks.clear()
                raise _TooLarge
            self.chunks.append(chunk)
            if not message.get("more_body", False):
                self.complete = True
                self._done.set()

    def response(self) -> dict[str, Any]:
        """The collected response, or the JSON error that replaces it."""
        if self.overflow:
            return json_body(413, too_large(self.size, self.limit).to_body())
        if self.failure is not None or not self.complete:
            return json_body(500, server_error(self.failure, self.scope))
        return {"status": self.status, "headers": self.headers, "body": b"".join(self.chunks)}


def too_large(size: int, limit: int, *, over: bool = True) -> PayloadTooLarge:
    from relaykit.errors import PayloadTooLarge  # loaded on the error path only

    amount = f"more than {limit}" if over else str(size)
    return PayloadTooLarge(
        f"the response is {amount} bytes, above the {limit}-byte limit of a buffered Lambda "
        "response (setting lambda_max_response_bytes; Lambda refuses more than 6 MB). A stream "
        "was stopped early. Return less, store large results (S3) and return a reference, or "
        "serve streams through a Function URL in RESPONSE_STREAM mode"
    )


def server_error(exc: BaseException | None, scope: MutableMapping[str, Any]) -> dict[str, Any]:
    """Log the failure with its traceback under a new error id; return the safe JSON body."""
    error_id = f"err_{uuid.uuid4().hex[:16]}"
    logger.error(
        "%s %s failed: %s (error id %s)",
        scope.get("method"),
        scope.get("path"),
        type(exc).__name__ if exc else "the app sent no complete response",
        error_id,
        exc_info=(type(exc), exc, exc.__traceback__) if exc else None,
        extra={"error_id": error_id},
    )
    message = f"the request failed; the log has the details under error id {error_id}"
    return {"error": {"type": "server_error", "message": message, "error_id": error_id}}


def fits(out: dict[str, Any], limit: int) -> bool:
    """Whether the dict Lambda will serialise stays within ``limit`` bytes (cheap when small)."""
    body = out.get("body") or ""
    if len(body) * _ESCAPE_FACTOR + 65536 < limit:
        return True
    return len(json.dumps(out)) <= limit


class MalformedEvent(ValueError):
    """An HTTP event whose fields make no valid request (the message names the field)."""


def check_scope(scope: MutableMapping[str, Any]) -> None:
    """Refuse a scope built from mistyped event fields before the ASGI app sees it."""
    method = scope.get("method")
    if not isinstance(method, str) or not method.isalpha():
        raise MalformedEvent(
            "the HTTP method (httpMethod or requestContext.http.method) must be "
            "a method name such as GET or POST"
        )
    if not isinstance(scope.get("path"), str):
        raise MalformedEvent("the path (path or rawPath) must be a string")
    if not isinstance(scope.get("query_string", b""), bytes):
        raise MalformedEvent("the query string parameters must be strings")
    for pair in scope.get("headers", ()):
        # Unrolled (no generator per header): this runs on every HTTP invocation.
        if not (
            isinstance(pair, list | tuple)
            and len(pair) == 2
            and isinstance(pair[0], bytes)
            and isinstance(pair[1], bytes)
        ):
            raise MalformedEvent("header names and values must be strings")


def bad_event(exc: BaseException) -> dict[str, Any]:
    """The answer to an HTTP-looking event that cannot be read (no shape to answer in)."""
    from relaykit.errors import BadRequest  # loaded on the error path only

    detail = str(exc) if isinstance(exc, MalformedEvent) else f"{type(exc).__name__} {exc}"
    body = BadRequest(f"malformed HTTP event: {detail}").to_body()
    return {
        "statusCode": 400,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


class HttpBridge:
    """Serves the HTTP events of one environment: each event translated in and out, the ASGI app
    awaited on the environment's loop."""

    def __init__(self, app: App) -> None:
        settings = app.settings
        self.asgi: ASGIApp = app.asgi()
        self.base_path = settings.api_gateway_base_path
        self.limit = settings.lambda_max_response_bytes
        self.paths = frozenset(spec.path for spec in app.handlers) | {"/healthz"}
        self.lifespan = Lifespan(self.asgi)

    @classmethod
    def over(cls, asgi: ASGIApp, *, base_path: str, limit: int) -> HttpBridge:
        """A bridge for any ASGI application, with no relaykit ``App`` (no handler paths)."""
        bridge = cls.__new__(cls)
        bridge.asgi, bridge.base_path, bridge.limit = asgi, base_path, limit
        bridge.paths = frozenset({"/healthz"})
        bridge.lifespan = Lifespan(asgi)
        return bridge

    async def start(self) -> None:
        """Run the ASGI lifespan startup, on the running loop (once)."""
        await self.lifespan.startup()

    async def serve(self, event: dict[str, Any], context: Any) -> Outcome:
        """One HTTP event in, its buffered Lambda response out."""
        try:
            adapter = for_event(event, context, self.base_path)
            scope = adapter.scope
            check_scope(scope)
        except Exception as exc:  # a field of the wrong type or shape: no request to make
            return Outcome(bad_event(exc), "other")
        path = str(scope.get("path", ""))
        try:
            body = adapter.body
        except Exception as exc:
            if event.get("isBase64Encoded") and isinstance(exc, binascii.Error | ValueError):
                from relaykit.errors import BadRequest

                error = BadRequest("the body is marked isBase64Encoded but is not valid base64")
                return self._answer(event, adapter, json_body(400, error.to_body()), path)
            return Outcome(bad_event(exc), "other")
        scope["state"] = self.lifespan.state.copy()
        cycle = BufferedCycle(scope, body, self.limit)
        await cycle.run(self.asgi)
        return self._answer(event, adapter, cycle.response(), path)

    def _answer(
        self, event: dict[str, Any], adapter: HttpShape, response: Any, path: str
    ) -> Outcome:
        try:
            out: dict[str, Any] = adapter(response)
        except Exception as exc:  # the event's own fields cannot shape a response
            return Outcome(bad_event(exc), "other")
        if response["status"] != 413 and not fits(out, self.limit):
            size = len(json.dumps(out))
            out = adapter(json_body(413, too_large(size, self.limit, over=False).to_body()))
        status = int(out.get("statusCode", 500))
        if "elb" in event["requestContext"]:
            out["statusDescription"] = f"{status} {_phrase(status)}"
        handler = path if path in self.paths else "other"
        return Outcome(out, handler, error=status >= 500)

    async def stream(
        self, event: dict[str, Any], context: Any, open_stream: StreamOpener
    ) -> Outcome:
        """One HTTP event in, its response streamed (prelude, then each chunk as sent)."""
        from relaykit.targets.lambda_stream import STREAM_CONTENT_TYPE, StreamCycle, prelude

        sink = await open_stream(STREAM_CONTENT_TYPE)
        try:
            adapter = for_event(event, context, self.base_path)
            scope = adapter.scope
            check_scope(scope)
            body = adapter.body
        except Exception as exc:
            from relaykit.errors import BadRequest

            error = BadRequest(f"malformed HTTP event: {type(exc).__name__} {exc}")
            await sink.write(prelude(400, [(b"content-type", b"application/json")]))
            await sink.write(json.dumps(error.to_body()).encode())
            await sink.close()
            return Outcome(None, "other")
        path = str(scope.get("path", ""))
        scope["state"] = self.lifespan.state.copy()
        cycle = StreamCycle(scope, body, sink)
        await cycle.run(self.asgi)
        handler = path if path in self.paths else "other"
        return Outcome(None, handler, error=cycle.status >= 500)

    async def close(self) -> None:
        """Run the ASGI lifespan shutdown (once)."""
        if self.lifespan.running:
            await self.lifespan.shutdown()


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"

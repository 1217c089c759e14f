"""A Function URL front: real HTTP in, a payload 2.0 event to the function, HTTP out.

BUFFERED: the function's JSON result is read as ``statusCode``/``headers``/``cookies``/``body``/
``isBase64Encoded``; a result without ``statusCode`` is sent as a 200 ``application/json`` body.
RESPONSE_STREAM: the prelude (status, headers, cookies) is applied as soon as it arrives, then
every body chunk is written to the client as its own HTTP chunk the moment the runtime sends it;
without a prelude the raw bytes go out with the runtime's ``Content-Type``.

A function error before the response starts answers 502 ``{"Message": "Internal Server Error"}``
(the service's exact body is UNCONFIRMED); an error after streaming started ends the response.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from .config import MAX_SYNC_REQUEST_BYTES
from .http11 import HTTPServer, Request, Responder
from .invocation import InvocationResult
from .pool import FunctionPool, ThrottledError
from .prelude import HTTP_INTEGRATION_CONTENT_TYPE, PreludeError, split_stream
from .url_event import HttpRequest, UrlIdentity, build_event

Headers = list[tuple[str, str]]


class FunctionUrl:
    """The HTTP front of one function."""

    def __init__(
        self, pool: FunctionPool, identity: UrlIdentity | None = None, port: int = 0
    ) -> None:
        self.pool = pool
        self.identity = identity or UrlIdentity(region=pool.config.region)
        self.server = HTTPServer(self._handle, f"function-url:{pool.config.name}", port)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def streaming(self) -> bool:
        return self.pool.config.invoke_mode == "RESPONSE_STREAM"

    async def start(self) -> None:
        await self.server.start()

    async def close(self) -> None:
        await self.server.close()

    async def _handle(self, request: Request, responder: Responder) -> None:
        request_id = str(uuid.uuid4())
        body, size = await request.read_body(MAX_SYNC_REQUEST_BYTES)
        if size > MAX_SYNC_REQUEST_BYTES:
            await _message(responder, request_id, 413, "Request Entity Too Large")
            return
        http_request = HttpRequest(
            method=request.method,
            path=request.path,
            query=request.query,
            headers=request.headers,
            body=body,
            source_ip=request.peer,
            protocol=f"HTTP/{request.http_version}",
        )
        event = build_event(http_request, self.identity, request_id)
        invocation = self.pool.new_invocation(json.dumps(event).encode(), request_id=request_id)
        try:
            self.pool.start(invocation)
        except ThrottledError:
            await _message(responder, request_id, 429, "Rate Exceeded.")
            return
        if not self.streaming:
            await _send_buffered(responder, await invocation.result())
            return
        await invocation.started()
        if invocation.response_mode is None:  # ended (error, timeout) before any response
            await _message(responder, request_id, 502, "Internal Server Error")
            return
        chunks = invocation.stream()
        prelude = None
        if invocation.content_type.split(";")[0].strip().lower() == HTTP_INTEGRATION_CONTENT_TYPE:
            try:
                prelude, chunks = await split_stream(chunks)
            except PreludeError:
                prelude = None
            if prelude is None:
                await invocation.result()
                await _message(responder, request_id, 502, "Internal Server Error")
                return
        if prelude is not None:
            status = prelude.status_code
            headers = [(k.lower(), v) for k, v in prelude.headers.items()]
            headers += [("set-cookie", c) for c in prelude.cookies]
            if not any(k == "content-type" for k, _ in headers):
                headers.append(("content-type", "application/octet-stream"))
        else:
            status, headers = 200, [("content-type", invocation.content_type)]
        headers += [("x-amzn-requestid", request_id), ("transfer-encoding", "chunked")]
        await responder.start(status, headers)
        async for chunk in chunks:
            await responder.write(chunk)
        await responder.end()


async def _send_buffered(responder: Responder, result: InvocationResult) -> None:
    if not result.ok:
        await _message(responder, result.request_id, 502, "Internal Server Error")
        return
    status, headers, body = http_response(result.payload)
    headers.append(("x-amzn-requestid", result.request_id))
    await responder.send(status, headers, body)


def http_response(payload: bytes) -> tuple[int, Headers, bytes]:
    """Translate a buffered function result into status, headers and body."""
    try:
        doc: Any = json.loads(payload)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or "statusCode" not in doc:
        return 200, [("content-type", "application/json")], payload
    headers: Headers = [(str(k).lower(), str(v)) for k, v in (doc.get("headers") or {}).items()]
    headers += [("set-cookie", str(c)) for c in doc.get("cookies") or []]
    if not any(k == "content-type" for k, _ in headers):
        headers.append(("content-type", "application/json"))
    body: Any = doc.get("body", "")
    if body is None:
        body = ""
    if not isinstance(body, str):
        body = json.dumps(body)
    raw = base64.b64decode(body) if doc.get("isBase64Encoded") else body.encode("utf-8")
    return int(doc["statusCode"]), headers, raw


async def _message(responder: Responder, request_id: str, status: int, message: str) -> None:
    headers = [("content-type", "application/json"), ("x-amzn-requestid", request_id)]
    await responder.send(status, headers, json.dumps({"Message": message}).encode())

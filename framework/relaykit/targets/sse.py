"""Server-Sent Events for stream handlers: one event per chunk, flushed as produced.

Wire format: every chunk is an event with an increasing ``id``. Text chunks are plain ``data``
lines (the default ``message`` event); JSON chunks are ``event: json``. The stream ends with
``event: end``; a handler failure mid-stream ends it with ``event: error`` carrying a safe message
and an error id (the traceback goes to the log). A client disconnect cancels the handler.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from relaykit.dispatch import Chunk

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def format_event(event_id: int | None, event: str | None, data: str) -> bytes:
    """One SSE event; multi-line data becomes several ``data:`` lines."""
    if event_id is not None and not event and "\n" not in data and "\r" not in data:
        return f"id: {event_id}\ndata: {data}\n\n".encode()  # a token: the common case
    lines: list[str] = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    text = data.replace("\r\n", "\n").replace("\r", "\n")
    lines.extend(f"data: {line}" for line in text.split("\n"))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def chunk_event(event_id: int, chunk: Chunk) -> bytes:
    return format_event(event_id, "json" if chunk.kind == "json" else None, chunk.data)


class SSEResponse(Response):
    """An ASGI response that streams ``chunks`` as SSE and cancels them on disconnect.

    ``on_error`` turns an exception raised mid-stream into the JSON body of the ``error`` event
    (and logs it); it must never put a traceback in that body.
    """

    def __init__(
        self,
        chunks: AsyncIterator[Chunk] | AsyncIterator[bytes],
        on_error: Callable[[BaseException], dict[str, Any]],
        headers: list[tuple[bytes, bytes]] | None = None,
        on_disconnect: Callable[[], None] | None = None,
        *,
        end_event: bool = True,
    ) -> None:
        """``chunks`` yields handler chunks (numbered events) or ready SSE bytes (sent as is);
        ``end_event`` closes the stream with ``event: end`` when it is exhausted."""
        self.chunks = chunks
        self.on_error = on_error
        self.on_disconnect = on_disconnect
        self.end_event = end_event
        self.status_code = 200
        self.background = None
        self.raw_headers = SSE_HEADERS + (headers or [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        disconnected = False
        self._finished = False

        async def safe_send(message: Message) -> None:
            nonlocal disconnected
            try:
                await send(message)
            except OSError:
                disconnected = True
                raise anyio.get_cancelled_exc_class() from None

        async with anyio.create_task_group() as group:

            async def watch_disconnect() -> None:
                nonlocal disconnected
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        disconnected = not self._finished
                        group.cancel_scope.cancel()
                        return

            group.start_soon(watch_disconnect)
            await safe_send(
                {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
            )
            await self._produce(safe_send)
            group.cancel_scope.cancel()

        if disconnected and self.on_disconnect is not None:
            self.on_disconnect()

    async def _produce(self, send: Callable[[Message], Any]) -> None:
        count = 0
        try:
            async for chunk in self.chunks:
                count += 1
                body = chunk if isinstance(chunk, bytes) else chunk_event(count, chunk)
                await send({"type": "http.response.body", "body": body, "more_body": True})
            end = format_event(None, "end", json.dumps({"chunks": count}))
            tail = end if self.end_event else b""
        except Exception as exc:
            tail = format_event(None, "error", json.dumps(self.on_error(exc)))
        finally:
            aclose = getattr(self.chunks, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()
        self._finished = True
        await send({"type": "http.response.body", "body": tail, "more_body": False})

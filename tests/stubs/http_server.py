"""A tiny HTTP/1.1 server on 127.0.0.1, in its own thread, for provider stubs.

asyncio streams, keep-alive, Content-Length request bodies, TCP_NODELAY on every connection
(a streaming stub with Nagle on delays small SSE writes). A handler answers each request through
a ``Responder``: a whole body, a chunked stream, or an abort (RST) mid-response.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    529: "Overloaded",
}


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


class Responder:
    """Writes one response to the connection."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.aborted = False

    def _head(self, status: int, headers: dict[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        head = {"content-length": str(len(body)), **(headers or {})}
        self.writer.write(self._head(status, head) + body)
        await self.writer.drain()

    async def send_json(
        self, status: int, data: Any, headers: dict[str, str] | None = None
    ) -> None:
        await self.send(
            status,
            json.dumps(data).encode(),
            {"content-type": "application/json", **(headers or {})},
        )

    async def start(self, status: int, headers: dict[str, str]) -> None:
        self.writer.write(self._head(status, {**headers, "transfer-encoding": "chunked"}))

    def chunk(self, data: bytes) -> None:
        if data:
            self.writer.write(b"%x\r\n%b\r\n" % (len(data), data))

    async def flush(self) -> None:
        await self.writer.drain()

    async def end(self) -> None:
        self.writer.write(b"0\r\n\r\n")
        await self.writer.drain()

    async def abort(self) -> None:
        """Cut the connection mid-response (a reset, as a dropped network path looks)."""
        await self.writer.drain()
        self.aborted = True
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


Handler = Callable[[Request, Responder], Awaitable[None]]


class StubServer:
    """Serve ``handler`` on a free loopback port until ``stop()``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> StubServer:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self._server = future.result(10)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def _start(self) -> asyncio.Server:
        return await asyncio.start_server(self._connection, "127.0.0.1", 0)

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                request_line, *lines = head.decode("latin-1").split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                headers = {}
                for line in lines:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                responder = Responder(writer)
                await self.handler(Request(method, path, headers, body), responder)
                if responder.aborted:
                    return
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            if not writer.transport.is_closing():
                writer.close()

"""A small HTTP/1.1 server on asyncio streams and h11, shared by the emulator's three fronts.

It exists because the fronts need what ASGI servers hide: request trailers, chunk boundaries of a
chunked request body, and a response whose every chunk is written as soon as it is produced.
Every server binds 127.0.0.1 on a free port and, when closed, cancels its open connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

import h11

Headers = list[tuple[str, str]]
Handler = Callable[["Request", "Responder"], Awaitable[None]]

_READ_SIZE = 65536
_log = logging.getLogger(__name__)


class Request:
    """One request: head first; the body is read on demand, chunk by chunk."""

    def __init__(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        event: h11.Request,
        peer: str = "127.0.0.1",
    ) -> None:
        self.peer = peer
        self._conn = conn
        self._reader = reader
        self.method = event.method.decode("ascii")
        self.target = event.target.decode("latin-1")
        self.http_version = event.http_version.decode("ascii")
        self.headers: Headers = [
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers
        ]
        self.trailers: Headers = []
        self.body_done = False

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    @property
    def chunked(self) -> bool:
        return "chunked" in (self.header("transfer-encoding") or "").lower()

    def header(self, name: str) -> str | None:
        """The values of ``name`` joined with ``,``, or None (h11 lower-cases names)."""
        values = self.header_list(name)
        return ",".join(values) if values else None

    def header_list(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    async def _next_event(self) -> h11.Event:
        while True:
            event = self._conn.next_event()
            if event is h11.NEED_DATA:
                data = await self._reader.read(_READ_SIZE)
                self._conn.receive_data(data)
                continue
            assert not isinstance(event, type)
            return event

    async def chunks(self) -> AsyncIterator[bytes]:
        """Yield the body as the client framed it: one item per HTTP chunk (chunked encoding)
        or per read (Content-Length). Trailers land in :attr:`trailers`."""
        pending = bytearray()
        while not self.body_done:
            event = await self._next_event()
            if isinstance(event, h11.Data):
                pending += event.data
                if (event.chunk_end or not self.chunked) and pending:
                    yield bytes(pending)
                    pending.clear()
            elif isinstance(event, h11.EndOfMessage):
                self.trailers = [
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers
                ]
                self.body_done = True
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("client closed the connection mid-body")
        if pending:
            yield bytes(pending)

    async def read_body(self, limit: int | None = None) -> tuple[bytes, int]:
        """Read the whole body; keep at most ``limit`` bytes but count all of them."""
        body = bytearray()
        total = 0
        async for chunk in self.chunks():
            total += len(chunk)
            if limit is None or total <= limit:
                body += chunk
        return bytes(body), total

    async def drain(self) -> None:
        async for _ in self.chunks():
            pass


class Responder:
    """Writes one response: :meth:`send` for a whole body, or :meth:`start`/:meth:`write`/
    :meth:`end` for a chunked one whose chunks are flushed one by one."""

    def __init__(self, conn: h11.Connection, writer: asyncio.StreamWriter) -> None:
        self._conn = conn
        self._writer = writer
        self.started = False
        self.status = 0
        self._chunked = False

    async def _emit(self, event: h11.Event) -> None:
        data = self._conn.send(event)
        if data:
            self._writer.write(data)
            await self._writer.drain()

    async def send(
        self, status: int, headers: Iterable[tuple[str, str]], body: bytes = b""
    ) -> None:
        hdrs = [(k, v) for k, v in headers if k.lower() != "content-length"]
        hdrs.append(("content-length", str(len(body))))
        await self.start(status, hdrs)
        if body:
            await self.write(body)
        await self.end()

    async def start(self, status: int, headers: Iterable[tuple[str, str]]) -> None:
        self.started = True
        self.status = status
        data = self._conn.send(h11.Response(status_code=status, headers=list(headers)))
        if data:
            # Whether h11 chose chunked framing for this client (not for HTTP/1.0, HEAD, ...).
            self._chunked = b"\r\ntransfer-encoding: chunked\r\n" in data.lower()
            self._writer.write(data)
            await self._writer.drain()

    async def write(self, data: bytes) -> None:
        if not data:
            return
        if self._chunked:
            # The chunk framing h11 would write, without its per-event state machine (body
            # data does not change its state): a streamed response forwards every chunk.
            self._writer.write(b"%x\r\n%b\r\n" % (len(data), data))
            await self._writer.drain()
        else:
            await self._emit(h11.Data(data=data))

    async def end(self) -> None:
        await self._emit(h11.EndOfMessage())


class HTTPServer:
    """Serves ``handler`` on 127.0.0.1 and ``port`` (0: a free one) until :meth:`close`."""

    def __init__(self, handler: Handler, name: str = "http", port: int = 0) -> None:
        self._handler = handler
        self.name = name
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_connection, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        # Cancel open connections (long-polls included) before wait_closed(): from Python 3.12
        # on it waits for every connection to end.
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, h11.ProtocolError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Only close() cancels connection tasks; end quietly instead of letting the
            # streams callback log the cancellation as an error.
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(_READ_SIZE)
                conn.receive_data(data)
                continue
            if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return
            if not isinstance(event, h11.Request):
                return
            peername = writer.get_extra_info("peername")
            request = Request(conn, reader, event, str(peername[0]) if peername else "127.0.0.1")
            responder = Responder(conn, writer)
            try:
                await self._handler(request, responder)
            except (ConnectionError, h11.ProtocolError, asyncio.CancelledError):
                raise
            except Exception:
                _log.exception(
                    "%s: handler failed for %s %s", self.name, request.method, request.target
                )
                if not responder.started:
                    body = b'{"Type":"Service","message":"emulator error, see its log"}'
                    await responder.send(500, [("content-type", "application/json")], body)
                return
            if not request.body_done:
                await request.drain()
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is not h11.DONE:
                return
            if conn.our_state is not h11.DONE:
                return
            conn.start_next_cycle()

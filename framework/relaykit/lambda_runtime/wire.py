"""HTTP/1.1 framing for the Runtime API client, written out by hand on asyncio streams.

The runtime's requests are few and fixed (``GET /next``, ``POST`` of a response or an error, one
chunked streamed response), and its peer is the Runtime API on loopback, so the framing is small:
a request head, a ``Content-Length`` or chunked body (with trailers), and a response read by its
``Content-Length``, its chunked framing, or to the end of the connection. Doing it here rather
than through a general HTTP state machine keeps a warm invocation's client cost to a few
microseconds, which matters because the runtime pays it twice per invocation. The standard
library's http.client cannot send trailers, which streaming needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass

Headers = list[tuple[str, str]]

_HEAD_LIMIT = 1 << 20  # a response head (client context and identity included) stays far below


class ProtocolError(ConnectionError):
    """The Runtime API answered something that is not a well-formed HTTP/1.1 response."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    """Header names lower-cased; a repeated header's values joined with ``, ``."""
    body: bytes
    keep_alive: bool


def _field(name: str, value: str) -> str:
    if not name or any(c in name for c in ":\r\n ") or "\r" in value or "\n" in value:
        raise ValueError(f"invalid header field {name!r}: {value[:40]!r}")
    return f"{name}: {value}\r\n"


def head(method: str, target: str, headers: Headers) -> bytes:
    """A request head (header names and values are checked: no CR, LF or bad names)."""
    fields = "".join(_field(name, value) for name, value in headers)
    return f"{method} {target} HTTP/1.1\r\n{fields}\r\n".encode("latin-1")


def chunk(data: bytes) -> bytes:
    """One HTTP chunk (``size CRLF data CRLF``); never call it with empty data (the end)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def last_chunk(trailers: Headers | None = None) -> bytes:
    """The terminating chunk with ``trailers`` (checked like headers), then the blank line."""
    fields = "".join(_field(name, value) for name, value in trailers or [])
    return f"0\r\n{fields}\r\n".encode("latin-1")


class Connection:
    """One keep-alive connection to the Runtime API."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port, limit=_HEAD_LIMIT)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_response(self) -> Response:
        """Read one whole response (status, headers, body)."""
        try:
            raw = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            raise ProtocolError("the Runtime API closed the connection before answering") from exc
        except asyncio.LimitOverrunError as exc:
            raise ProtocolError("the Runtime API's response head is too large") from exc
        status_line, *lines = raw[:-4].decode("latin-1").split("\r\n")
        version, _, rest = status_line.partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise ProtocolError(f"not an HTTP/1.1 status line: {status_line[:80]!r}")
        headers: dict[str, str] = {}
        for line in lines:
            name, sep, value = line.partition(":")
            if not sep:
                raise ProtocolError(f"malformed header line: {line[:80]!r}")
            name, value = name.strip().lower(), value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        keep_alive = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
        try:
            if "chunked" in headers.get("transfer-encoding", "").lower():
                body = await self._read_chunked()
            elif "content-length" in headers:
                body = await self.reader.readexactly(int(headers["content-length"]))
            else:
                body, keep_alive = await self.reader.read(), False
        except (asyncio.IncompleteReadError, ValueError) as exc:
            raise ProtocolError("the Runtime API's response body is truncated") from exc
        return Response(int(code), headers, body, keep_alive)

    async def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size_line = await self.reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                break
            body += await self.reader.readexactly(size + 2)
            del body[-2:]
        while await self.reader.readuntil(b"\r\n") != b"\r\n":
            pass  # trailers: the Runtime API sends none that the runtime uses
        return bytes(body)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()

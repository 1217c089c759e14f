"""The runtime's HTTP/1.1 framing (relaykit.lambda_runtime.wire) against a raw loopback server
that answers in each framing a Runtime API may use: Content-Length, chunked, connection close."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from relaykit.lambda_runtime.wire import Connection, ProtocolError, chunk, head, last_chunk

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def serve(answer: Answer) -> AsyncIterator[Connection]:
    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    conn = await Connection.open("127.0.0.1", port)
    try:
        yield conn
    finally:
        await conn.close()
        server.close()
        await server.wait_closed()


def replying(raw: bytes) -> Answer:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(raw)
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    return answer


async def ask(raw: bytes) -> tuple[int, dict[str, str], bytes, bool]:
    async with serve(replying(raw)) as conn:
        await conn.send(head("GET", "/x", [("Host", "h")]))
        response = await conn.read_response()
    return response.status, response.headers, response.body, response.keep_alive


async def test_content_length_response_keeps_the_connection() -> None:
    """A Content-Length body is read exactly; repeated headers are joined; keep-alive holds."""
    status, headers, body, keep = await ask(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\nhello"
    )
    assert (status, body, keep) == (200, b"hello", True)
    assert headers["x-a"] == "1, 2"


async def test_chunked_response_with_trailers() -> None:
    """A chunked body is reassembled (extensions ignored) and its trailers skipped."""
    status, _, body, keep = await ask(
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    assert (status, body, keep) == (202, b"abcde", True)


async def test_close_delimited_response_is_not_reused() -> None:
    """Without Content-Length or chunked framing the body runs to the connection's end."""
    status, _, body, keep = await ask(b"HTTP/1.0 500 Internal\r\n\r\nbroken")
    assert (status, body, keep) == (500, b"broken", False)


@pytest.mark.parametrize(
    "raw",
    [b"", b"garbage\r\n\r\n", b"HTTP/1.1 200 OK\r\nno-colon\r\n\r\n", b"HTTP/1.1 200 OK\r\n"],
    ids=["closed", "status-line", "header-line", "truncated-head"],
)
async def test_malformed_responses_are_protocol_errors(raw: bytes) -> None:
    """Anything that is not an HTTP/1.1 response raises ProtocolError (a ConnectionError)."""
    with pytest.raises(ProtocolError):
        await ask(raw)


def test_framing_of_heads_chunks_and_trailers() -> None:
    """Heads and trailers refuse CR/LF injection; chunks are ``size CRLF data CRLF``."""
    assert head("GET", "/n", [("Host", "h")]) == b"GET /n HTTP/1.1\r\nHost: h\r\n\r\n"
    assert chunk(b"x" * 26) == b"1a\r\n" + b"x" * 26 + b"\r\n"
    assert last_chunk() == b"0\r\n\r\n"
    assert last_chunk([("A", "1"), ("B", "2")]) == b"0\r\nA: 1\r\nB: 2\r\n\r\n"
    for name, value in (("X", "a\r\nInjected: 1"), ("Bad Name", "v"), ("", "v"), ("A:b", "v")):
        with pytest.raises(ValueError):
            head("GET", "/", [(name, value)])

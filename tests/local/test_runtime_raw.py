"""Runtime API status codes and streaming intake, driven byte by byte by a hand-written client."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import h11

from relaykit.local.emulator import Invocation, RuntimeAPI, RuntimeOutcome

BASE = "/2018-06-01/runtime"
PRELUDE_TYPE = "application/vnd.awslambda.http-integration-response"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:raw"


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> dict[str, str]:
        return dict(json.loads(self.body))


class RawConnection:
    """One client connection; requests are written as raw bytes so every header is ours."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(cls, port: int) -> RawConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send_head(self, method: str, path: str, headers: list[tuple[str, str]]) -> None:
        # Register the request with the parser so it can read the response.
        self.parser.send(h11.Request(method=method, target=path, headers=[("host", "x")]))
        self.parser.send(h11.EndOfMessage())
        lines = [f"{method} {path} HTTP/1.1", "Host: x", *(f"{k}: {v}" for k, v in headers)]
        await self.send(("\r\n".join(lines) + "\r\n\r\n").encode())

    async def chunk(self, data: bytes) -> None:
        await self.send(b"%x\r\n%s\r\n" % (len(data), data))

    async def end_chunks(self, trailers: Sequence[tuple[str, str]] = ()) -> None:
        lines = b"".join(f"{k}: {v}\r\n".encode() for k, v in trailers)
        await self.send(b"0\r\n" + lines + b"\r\n")

    async def reply(self) -> Reply:
        status, headers, body = 0, {}, bytearray()
        while True:
            event = self.parser.next_event()
            if event is h11.NEED_DATA:
                self.parser.receive_data(await self.reader.read(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = {k.decode(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                self.parser.start_next_cycle()
                return Reply(status, headers, bytes(body))

    async def request(self, method: str, path: str, body: bytes = b"",
                      headers: Sequence[tuple[str, str]] = ()) -> Reply:
        await self.send_head(method, path, [*headers, ("Content-Length", str(len(body)))])
        await self.send(body)
        return await self.reply()

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


Outcome = asyncio.Future[RuntimeOutcome]
Scenario = Callable[[Outcome, Invocation, str, RawConnection], Awaitable[None]]


def run(scenario: Scenario) -> None:
    """Start a Runtime API, offer one invocation, fetch it with /next, then run ``scenario``."""

    async def main() -> None:
        api = RuntimeAPI(timeout=30)
        await api.start()
        conn = await RawConnection.open(api.server.port)
        try:
            invocation = Invocation(b'{"k": 1}', function_arn=ARN, tenant_id="tenant-7")
            outcome = api.offer(invocation)
            nxt = await conn.request("GET", f"{BASE}/invocation/next")
            assert nxt.status == 200
            assert nxt.body == b'{"k": 1}'
            request_id = nxt.headers["lambda-runtime-aws-request-id"]
            assert request_id == invocation.request_id
            assert nxt.headers["lambda-runtime-invoked-function-arn"] == ARN
            assert nxt.headers["lambda-runtime-aws-tenant-id"] == "tenant-7"
            assert "lambda-runtime-client-context" not in nxt.headers
            assert int(nxt.headers["lambda-runtime-deadline-ms"]) == invocation.deadline_ms
            assert nxt.headers["lambda-runtime-trace-id"].startswith("Root=1-")
            await scenario(outcome, invocation, request_id, conn)
        finally:
            await conn.close()
            await api.close()

    asyncio.run(main())


def test_bad_response_mode_is_400() -> None:
    """Any Lambda-Runtime-Function-Response-Mode other than ``streaming`` answers 400
    InvalidFunctionResponseMode, and the invocation can still be answered afterwards."""

    async def scenario(outcome: Outcome, inv: Invocation, rid: str, conn: RawConnection) -> None:
        reply = await conn.request("POST", f"{BASE}/invocation/{rid}/response", b"{}",
                                   [("Lambda-Runtime-Function-Response-Mode", "buffered")])
        assert reply.status == 400
        assert reply.json()["errorType"] == "InvalidFunctionResponseMode"
        ok = await conn.request("POST", f"{BASE}/invocation/{rid}/response", b'"fine"')
        assert (ok.status, ok.body) == (202, b'{"status":"OK"}')

    run(scenario)


def test_second_response_and_unknown_id_are_403() -> None:
    """A second /response for the same id, and any post for an unknown id, answer 403
    InvalidStateTransition; the first response is the one the caller gets."""

    async def scenario(outcome: Outcome, inv: Invocation, rid: str, conn: RawConnection) -> None:
        first = await conn.request("POST", f"{BASE}/invocation/{rid}/response", b'"one"')
        assert first.status == 202
        second = await conn.request("POST", f"{BASE}/invocation/{rid}/response", b'"two"')
        assert second.status == 403
        assert second.json()["errorType"] == "InvalidStateTransition"
        err = await conn.request("POST", f"{BASE}/invocation/{rid}/error", b"{}")
        assert err.status == 403
        unknown = await conn.request("POST", f"{BASE}/invocation/nope/response", b"{}")
        assert unknown.status == 403
        late_init = await conn.request("POST", f"{BASE}/init/error", b"{}")
        assert late_init.status == 403
        assert [c async for c in _take(inv, 1)] == [b'"one"']

    run(scenario)


def test_buffered_response_over_limit_is_413() -> None:
    """6,291,556 bytes are accepted as a buffered response but one more byte answers 413
    RequestEntityTooLarge; a later /error for the id is refused with 403."""

    async def scenario(outcome: Outcome, inv: Invocation, rid: str, conn: RawConnection) -> None:
        body = b"x" * (6_291_556 + 1)
        reply = await conn.request("POST", f"{BASE}/invocation/{rid}/response", body)
        assert reply.status == 413
        assert reply.json() == {
            "errorMessage": "Exceeded maximum allowed payload size (6291556 bytes).",
            "errorType": "RequestEntityTooLarge",
        }
        err = await conn.request("POST", f"{BASE}/invocation/{rid}/error", b"{}")
        assert err.status == 403

    run(scenario)


def test_buffered_response_at_limit_is_accepted() -> None:
    """Exactly 6,291,556 bytes is still a valid buffered response."""

    async def scenario(outcome: Outcome, inv: Invocation, rid: str, conn: RawConnection) -> None:
        reply = await conn.request("POST", f"{BASE}/invocation/{rid}/response", b"y" * 6_291_556)
        assert reply.status == 202

    run(scenario)


async def _take(inv: Invocation, n: int) -> AsyncIterator[bytes]:
    got = 0
    async for chunk in inv.stream():
        yield chunk
        got += 1
        if got == n:
            return


def _streaming_test(trailer_lines: list[tuple[str, str]], fail: bool) -> None:
    async def scenario(outcome: Outcome, inv: Invocation, rid: str, conn: RawConnection) -> None:
        outcome_future = outcome
        await conn.send_head("POST", f"{BASE}/invocation/{rid}/response", [
            ("Lambda-Runtime-Function-Response-Mode", "streaming"),
            *trailer_lines,
            ("Content-Type", PRELUDE_TYPE),
            ("Transfer-Encoding", "chunked"),
        ])
        prelude = {"statusCode": 201, "headers": {"x-a": "b"}, "cookies": ["c=1"]}
        await conn.chunk(json.dumps(prelude).encode())
        await conn.chunk(b"\0" * 8)
        await conn.chunk(b"data: one\n\n")
        consumer = inv.stream()
        seen = [await anext(consumer), await anext(consumer), await anext(consumer)]
        # The consumer has the first body chunk while the client has not sent the last one.
        assert seen[2] == b"data: one\n\n"
        assert not outcome_future.done()
        await conn.chunk(b"data: two\n\n")
        assert await anext(consumer) == b"data: two\n\n"
        trailers: list[tuple[str, str]] = []
        if fail:
            error = json.dumps({"errorType": "Boom", "errorMessage": "late failure"})
            trailers = [("Lambda-Runtime-Function-Error-Type", "Boom"),
                        ("Lambda-Runtime-Function-Error-Body",
                         base64.b64encode(error.encode()).decode())]
        await conn.end_chunks(trailers)
        reply = await conn.reply()
        assert reply.status == 202
        result = await outcome_future
        assert result.mode == "streaming"
        assert result.prelude == prelude
        assert [c.size for c in result.chunks] == [len(json.dumps(prelude)), 8, 11, 11]
        assert [c.index for c in result.chunks] == [0, 1, 2, 3]
        assert result.declared_trailers == (
            "lambda-runtime-function-error-type", "lambda-runtime-function-error-body")
        if fail:
            assert result.error_type == "Boom"
            assert json.loads(result.payload)["errorMessage"] == "late failure"
        else:
            assert result.error_type is None
            assert result.payload.endswith(b"\0" * 8 + b"data: one\n\ndata: two\n\n")

    run(scenario)


def test_streaming_with_prelude_forwards_chunks_as_they_arrive() -> None:
    """A streamed response with prelude: each chunk reaches the consumer before the client sends
    the next one; chunk boundaries and arrival order are recorded; the prelude is parsed."""
    _streaming_test([("Trailer", "Lambda-Runtime-Function-Error-Type"),
                     ("Trailer", "Lambda-Runtime-Function-Error-Body")], fail=False)


def test_streaming_error_trailers_two_trailer_lines() -> None:
    """Error trailers after the first byte, declared on two Trailer lines (Node RIC style),
    turn the invocation into a function error with the decoded error body."""
    _streaming_test([("Trailer", "Lambda-Runtime-Function-Error-Type"),
                     ("Trailer", "Lambda-Runtime-Function-Error-Body")], fail=True)


def test_streaming_error_trailers_one_comma_joined_line() -> None:
    """The same, with both trailers declared on one comma-joined Trailer line (Swift style)."""
    _streaming_test([("Trailer", "Lambda-Runtime-Function-Error-Type, "
                                 "Lambda-Runtime-Function-Error-Body")], fail=True)


def test_unknown_route_is_404_and_error_post_is_202() -> None:
    """Unknown paths answer 404; /error with only a body reports the body's errorType."""

    async def scenario(outcome: Outcome, inv: Invocation, rid: str, conn: RawConnection) -> None:
        missing = await conn.request("GET", "/2018-06-01/runtime/nothing")
        assert missing.status == 404
        body = json.dumps({"errorType": "KeyError", "errorMessage": "k"}).encode()
        reply = await conn.request("POST", f"{BASE}/invocation/{rid}/error", body,
                                   [("Content-Type", "application/json")])
        assert reply.status == 202
        result = await outcome
        assert (result.error_type, result.payload) == ("KeyError", body)

    run(scenario)

"""The Function URL front with httpx as the HTTP client, in BUFFERED and RESPONSE_STREAM modes."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from relaykit.local.emulator import Emulator, FunctionConfig

Config = Callable[..., FunctionConfig]


@pytest.fixture(scope="module")
def emu(ric: Config, streamer: Config) -> Iterator[Emulator]:
    functions = [
        ric("web", "pyhandlers.http"),
        streamer("live", invoke_mode="RESPONSE_STREAM"),
        ric("buffered-in-stream-mode", "pyhandlers.http", invoke_mode="RESPONSE_STREAM"),
    ]
    with Emulator(functions).running() as running:
        yield running


def test_buffered_builds_payload_v2_event_and_applies_result(emu: Emulator) -> None:
    """A real request becomes a payload 2.0 event (lower-cased, comma-joined headers, cookies
    array, query parameters, requestContext); the result's status, headers and cookies
    come back as HTTP."""
    url = emu.function_url("web")
    response = httpx.post(
        f"{url}/items/7?tag=a&tag=b&q=x%20y",
        content=b'{"n": 1}',
        headers=[("Content-Type", "application/json"), ("X-Multi", "1"), ("X-Multi", "2"),
                 ("Cookie", "s=abc; theme=dark"), ("User-Agent", "pytest-agent")],
    )
    assert response.status_code == 201
    assert response.headers["x-seen-method"] == "POST"
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2"]
    event = response.json()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/items/7"
    assert event["rawQueryString"] == "tag=a&tag=b&q=x%20y"
    assert event["queryStringParameters"] == {"tag": "a,b", "q": "x y"}
    assert event["cookies"] == ["s=abc", "theme=dark"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-multi"] == "1,2"
    assert event["headers"]["content-type"] == "application/json"
    assert event["body"] == '{"n": 1}'
    assert event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["accountId"] == "anonymous"
    assert ctx["domainName"] == f"{ctx['apiId']}.lambda-url.us-east-1.on.aws"
    assert ctx["http"] == {"method": "POST", "path": "/items/7", "protocol": "HTTP/1.1",
                           "sourceIp": "127.0.0.1", "userAgent": "pytest-agent"}
    assert ctx["stage"] == "$default" and ctx["routeKey"] == "$default"
    assert ctx["requestId"] == response.headers["x-amzn-requestid"]
    assert isinstance(ctx["timeEpoch"], int) and ctx["time"].endswith("+0000")


def test_binary_body_is_base64_encoded(emu: Emulator) -> None:
    """A non-text content type reaches the function base64-encoded."""
    raw = bytes(range(256))
    response = httpx.put(f"{emu.function_url('web')}/upload", content=raw,
                         headers={"Content-Type": "application/octet-stream"})
    event = response.json()
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw
    assert "queryStringParameters" not in event


def test_result_without_status_code_is_200_json(emu: Emulator) -> None:
    """A result that is not an HTTP response object is returned as a 200 JSON body."""
    response = httpx.get(f"{emu.function_url('web')}/plain")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"plain": True, "path": "/plain"}


def test_function_error_is_502(emu: Emulator) -> None:
    """A function error answers 502 with a JSON message body."""
    response = httpx.get(f"{emu.function_url('web')}/boom")
    assert response.status_code == 502
    assert response.json() == {"Message": "Internal Server Error"}


def test_stream_applies_prelude_and_forwards_chunks_incrementally(
    emu: Emulator, tmp_path: Path
) -> None:
    """RESPONSE_STREAM: status, headers and cookies come from the prelude, and the client reads
    the first body chunk while the function is still holding back its last one."""
    gate = tmp_path / "gate"
    spec = {
        "prelude": {"statusCode": 207, "headers": {"content-type": "text/event-stream",
                                                   "x-a": "b"}, "cookies": ["c=1; Path=/"]},
        "chunks": ["data: one\n\n", "data: two\n\n"],
        "gate": str(gate),
    }
    received = b""
    with httpx.stream("POST", f"{emu.function_url('live')}/chat", json=spec) as response:
        assert response.status_code == 207
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["x-a"] == "b"
        assert response.headers["set-cookie"] == "c=1; Path=/"
        assert response.headers["transfer-encoding"] == "chunked"
        for data in response.iter_raw():
            received += data
            if received == b"data: one\n\n":
                assert not gate.exists()
                gate.touch()
    assert gate.exists()
    assert received == b"data: one\n\ndata: two\n\n"


def test_stream_without_prelude_uses_runtime_content_type(emu: Emulator) -> None:
    """Without the HTTP integration content type the raw bytes are sent with the runtime's
    Content-Type and status 200."""
    spec = {"prelude": None, "content_type": "text/plain; charset=utf-8", "chunks": ["a", "b"]}
    response = httpx.post(f"{emu.function_url('live')}/", json=spec)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.content == b"ab"


def test_stream_with_empty_body_still_sends_prelude_status(emu: Emulator) -> None:
    """A prelude with no body chunks still produces its status and headers."""
    spec = {"prelude": {"statusCode": 204, "headers": {"x-empty": "1"}}, "chunks": []}
    response = httpx.post(f"{emu.function_url('live')}/", json=spec)
    assert response.status_code == 204
    assert response.headers["x-empty"] == "1"
    assert response.content == b""


def test_stream_error_after_first_byte_ends_response(emu: Emulator) -> None:
    """An error reported in trailers after streaming started ends the response; the bytes
    already sent stay with the client."""
    spec = {"prelude": {"statusCode": 200}, "chunks": ["partial"], "error": True}
    response = httpx.post(f"{emu.function_url('live')}/", json=spec)
    assert response.status_code == 200
    assert response.content == b"partial"


def test_buffered_runtime_behind_stream_url_passes_raw_body(emu: Emulator) -> None:
    """A runtime answering buffered behind a RESPONSE_STREAM URL: its body goes out raw, with
    its Content-Type (no prelude to interpret)."""
    response = httpx.get(f"{emu.function_url('buffered-in-stream-mode')}/plain")
    assert response.status_code == 200
    assert json.loads(response.content) == {"plain": True, "path": "/plain"}

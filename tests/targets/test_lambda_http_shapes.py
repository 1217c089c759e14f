"""relaykit's HTTP event translation against Mangum 0.22's, which it replaces: for every event
fixture, the same ASGI scope and body in, and the same Lambda result out for a range of
responses (text, JSON, binary, repeated headers, cookies, an empty body)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from mangum.adapter import DEFAULT_TEXT_MIME_TYPES, HANDLERS
from mangum.types import LambdaConfig

from relaykit.targets.lambda_http_shapes import for_event

EVENTS = Path(__file__).resolve().parent.parent / "events"
SHAPES = ["http_api_v2", "function_url", "apigw_rest", "http_api_v1", "alb", "alb_multi_value"]
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"
RESPONSES: list[Any] = [
    {
        "status": 200,
        "headers": [
            [b"content-type", b"application/json"],
            [b"set-cookie", b"a=1; Path=/"],
            [b"set-cookie", b"b=2; Path=/"],
            [b"X-Custom", b"one"],
            [b"x-custom", b"two"],
        ],
        "body": b'{"ok": true}',
    },
    {"status": 201, "headers": [[b"content-type", b"image/png"]], "body": PNG},
    {"status": 204, "headers": [], "body": b""},
    {"status": 200, "headers": [], "body": "héllo".encode()},
    {"status": 500, "headers": [[b"content-type", b"text/plain"]], "body": b"\xff\xfe"},
    {"status": 302, "headers": [[b"location", b"/elsewhere"]], "body": b"moved"},
]


class Context:
    aws_request_id = "req-1"


def mangum_infer(event: dict[str, Any], context: Any, base_path: str) -> Any:
    """What ``Mangum(app, api_gateway_base_path=base_path).infer(event, context)`` returns,
    without building a ``Mangum`` (its constructor creates an event loop it never closes)."""
    config = LambdaConfig(
        api_gateway_base_path=base_path or "/",
        text_mime_types=[*DEFAULT_TEXT_MIME_TYPES],
        exclude_headers=[],
    )
    for handler in HANDLERS:
        if handler.infer(event, context, config):
            return handler(event, context, config)
    raise AssertionError(f"Mangum knows no handler for {sorted(event)}")


def load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def variants(name: str) -> list[dict[str, Any]]:
    """The fixture, and the fixture with a plain-text body, no query and a host with a port."""
    plain = load(name)
    plain.update(body="plain text", isBase64Encoded=False)
    for key in ("queryStringParameters", "multiValueQueryStringParameters"):
        plain.pop(key, None)
    plain["rawQueryString"] = ""
    for key in ("headers", "multiValueHeaders"):
        headers = plain.get(key)
        if isinstance(headers, dict):
            headers["host"] = ["example.com:8443"] if key == "multiValueHeaders" else "x.com:8443"
    return [load(name), plain]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("base_path", ["/", "/prod", "prod"])
def test_scope_body_and_responses_match_mangum(shape: str, base_path: str) -> None:
    context: Any = Context()
    for event in variants(shape):
        theirs = mangum_infer(event, context, base_path)
        ours = for_event(event, context, base_path)
        assert ours.scope == theirs.scope
        assert ours.body == theirs.body
        for response in RESPONSES:
            assert ours(response) == theirs(response), response


def test_bad_base64_fails_as_mangum_does() -> None:
    event = load("http_api_v2")
    event["body"] = "abc"
    with pytest.raises(ValueError):
        _ = for_event(event, Context(), "/").body
    event["body"] = base64.b64encode(PNG).decode()
    assert for_event(event, Context(), "/").body == PNG

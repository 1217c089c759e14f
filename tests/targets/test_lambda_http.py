"""The Lambda HTTP target: every event shape in and out through ``app.lambda_handler``."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from relaykit.targets.lambda_handler import LambdaHandler

MakeHandler = Callable[..., LambdaHandler]
ContextClass = Any
Load = Callable[[str], dict[str, Any]]
COOKIES = ["a=1; Path=/; SameSite=lax", "b=2; Path=/; SameSite=lax"]


def inspected(body: str, query: list[list[str]], custom: list[str], cookies: dict[str, str]) -> str:
    doc = {
        "method": "POST",
        "path": "/inspect",
        "query": query,
        "custom": custom,
        "cookies": cookies,
        "body": body,
    }
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


EXPECTED: dict[str, dict[str, Any]] = {
    "http_api_v2": {
        "statusCode": 200,
        "body": inspected(
            '{"question": "why?"}',
            [["tag", "blue"], ["tag", "green"], ["q", "hello world"]],
            ["one,two"],
            {"session": "s3cr3t", "theme": "dark"},
        ),
        "headers": {"content-length": "197", "content-type": "application/json"},
        "cookies": COOKIES,
        "isBase64Encoded": False,
    },
    "function_url": {
        "statusCode": 200,
        "body": inspected(
            '{"question": "how?"}', [["tag", "red"], ["tag", "amber"]], [], {"visitor": "v-42"}
        ),
        "headers": {"content-length": "150", "content-type": "application/json"},
        "cookies": COOKIES,
        "isBase64Encoded": False,
    },
    "apigw_rest": {
        "statusCode": 200,
        "headers": {"content-length": "199", "content-type": "application/json"},
        "multiValueHeaders": {"set-cookie": COOKIES},
        "body": inspected(
            '{"question": "when?"}',
            [["q", "hello world"], ["tag", "blue"], ["tag", "green"]],
            ["one, two"],
            {"session": "s3cr3t", "theme": "dark"},
        ),
        "isBase64Encoded": False,
    },
    "http_api_v1": {
        "statusCode": 200,
        "headers": {"content-length": "145", "content-type": "application/json"},
        "multiValueHeaders": {"set-cookie": COOKIES},
        "body": inspected(
            '{"question": "who?"}', [["tag", "blue"], ["tag", "green"]], ["one, two"], {}
        ),
        "isBase64Encoded": False,
    },
    "alb": {
        "statusCode": 200,
        "statusDescription": "200 OK",
        "body": inspected(
            '{"question":"why?"}',
            [["q", "hello world"], ["tag", "green"]],
            [],
            {"session": "s3cr3t"},
        ),
        "isBase64Encoded": False,
        "headers": {
            "content-length": "157",
            "content-type": "application/json",
            "set-cookie": COOKIES[0],
            "Set-cookie": COOKIES[1],
        },
    },
    "alb_multi_value": {
        "statusCode": 200,
        "statusDescription": "200 OK",
        "body": inspected(
            '{"question":"why?"}',
            [["q", "hello world"], ["tag", "blue"], ["tag", "green"]],
            ["one", "two"],
            {"session": "s3cr3t"},
        ),
        "isBase64Encoded": False,
        "multiValueHeaders": {
            "content-length": ["183"],
            "content-type": ["application/json"],
            "set-cookie": COOKIES,
        },
    },
}


@pytest.mark.parametrize("shape", sorted(EXPECTED))
def test_each_shape_round_trips(
    shape: str, make_handler: MakeHandler, lambda_context: ContextClass, event: Load
) -> None:
    """Method, base path, repeated query params and headers, cookies and base64 bodies reach the
    app, and the response comes back in the shape of the event that brought the request (REST and
    1.0 multiValueHeaders, 2.0 cookies, ALB in the header mode it used, with statusDescription)."""
    handler = make_handler(api_gateway_base_path="/prod")
    assert handler(event(shape), lambda_context()) == EXPECTED[shape]


def test_binary_response_is_base64(
    make_handler: MakeHandler, lambda_context: ContextClass, event: Load, png: bytes
) -> None:
    """A binary body goes back base64-encoded with isBase64Encoded set."""
    get = event("http_api_v2")
    get.update(rawPath="/binary", rawQueryString="", body=None, isBase64Encoded=False)
    get["requestContext"]["http"].update(method="GET", path="/binary")
    assert make_handler()(get, lambda_context()) == {
        "statusCode": 200,
        "body": base64.b64encode(png).decode(),
        "headers": {"content-length": str(len(png)), "content-type": "image/png"},
        "isBase64Encoded": True,
    }


@pytest.fixture
def rest(event: Load) -> Callable[[str, str], dict[str, Any]]:
    """``rest(path, body)``: the REST fixture aimed at a relaykit handler with a JSON body."""

    def build(path: str, body: str) -> dict[str, Any]:
        data = event("apigw_rest")
        data.update(path=path, body=body, isBase64Encoded=False)
        data["multiValueHeaders"].pop("Cookie")
        return data

    return build


Rest = Callable[[str, str], dict[str, Any]]


def test_task_answers_with_lambda_request_id(
    make_handler: MakeHandler, lambda_context: ContextClass, rest: Rest, event: Load
) -> None:
    """A relaykit task served through REST: the request id is the Lambda aws_request_id."""
    out = make_handler()(rest("/ask", '{"question": "hi"}'), lambda_context("req-7"))
    assert out == {
        "statusCode": 200,
        "headers": {
            "x-request-id": "req-7",
            "content-length": "40",
            "content-type": "application/json",
        },
        "multiValueHeaders": {},
        "body": '{"answer":"re: hi","request_id":"req-7"}',
        "isBase64Encoded": False,
    }


def test_stream_is_collected_into_one_event_stream_body(
    make_handler: MakeHandler, lambda_context: ContextClass, rest: Rest, event: Load
) -> None:
    """A @app.stream handler behind a buffered event answers one text/event-stream body."""
    out = make_handler()(rest("/chat", '{"question": "one two"}'), lambda_context("r"))
    assert out == {
        "statusCode": 200,
        "headers": {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
            "x-accel-buffering": "no",
            "x-request-id": "r",
        },
        "multiValueHeaders": {},
        "body": 'id: 1\ndata: one\n\nid: 2\ndata: two\n\nevent: end\ndata: {"chunks": 2}\n\n',
        "isBase64Encoded": False,
    }


def error_of(out: dict[str, Any]) -> dict[str, Any]:
    assert out["headers"]["content-type"] == "application/json"
    assert "Traceback" not in out["body"]
    error: dict[str, Any] = json.loads(out["body"])["error"]
    return error


def test_oversize_stream_is_stopped_with_413(
    make_handler: MakeHandler, lambda_context: ContextClass, rest: Rest, event: Load
) -> None:
    """A stream that passes the response limit is stopped and answered with a 413 JSON error."""
    handler = make_handler(lambda_max_response_bytes=1000)
    words = " ".join(f"word{i}" for i in range(500))
    out = handler(rest("/chat", json.dumps({"question": words})), lambda_context())
    assert out["statusCode"] == 413
    error = error_of(out)
    assert error["type"] == "payload_too_large"
    assert "more than 1000 bytes" in error["message"]
    assert "lambda_max_response_bytes" in error["message"]


def test_task_above_six_megabytes_gets_413(
    make_handler: MakeHandler, lambda_context: ContextClass, rest: Rest, event: Load
) -> None:
    """With the default limit, a 7 MB task result gets a 413 instead of a platform failure."""
    handler = make_handler()
    out = handler(rest("/ask", json.dumps({"question": "x" * 7_000_000})), lambda_context())
    assert out["statusCode"] == 413
    assert error_of(out)["type"] == "payload_too_large"
    assert len(json.dumps(out)) < 1000


def test_malformed_json_body_is_400(
    make_handler: MakeHandler, lambda_context: ContextClass, rest: Rest, event: Load
) -> None:
    """A body that is not JSON gets the app's 400, in the event's shape."""
    out = make_handler()(rest("/ask", '{"question": '), lambda_context())
    assert out["statusCode"] == 400
    assert error_of(out) == {
        "type": "bad_request",
        "message": "body is not valid JSON: Expecting value at line 1 column 14",
    }


def test_bad_base64_body_is_400(
    make_handler: MakeHandler, lambda_context: ContextClass, rest: Rest, event: Load
) -> None:
    """A body marked isBase64Encoded that is not base64 gets a 400, not a crash."""
    broken = event("http_api_v2")
    broken["body"] = "abc"
    out = make_handler()(broken, lambda_context())
    assert out == {
        "statusCode": 400,
        "body": json.dumps(
            {
                "error": {
                    "type": "bad_request",
                    "message": "the body is marked isBase64Encoded but is not valid base64",
                }
            }
        ),
        "headers": {"content-type": "application/json"},
        "isBase64Encoded": False,
    }


def test_handler_failure_is_500_without_traceback(
    make_handler: MakeHandler, lambda_context: ContextClass, rest: Rest, event: Load
) -> None:
    """A handler that raises answers 500 with an error id; the traceback stays in the log."""
    from relaykit import App

    handler_app = App("boom", settings={"metrics": False})

    @handler_app.task("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail")

    out = make_handler(handler_app)(rest("/boom", ""), lambda_context())
    assert out["statusCode"] == 500
    error = error_of(out)
    assert error["type"] == "server_error"
    assert error["error_id"].startswith("err_")
    assert "secret detail" not in out["body"]


def test_malformed_http_event_is_400(
    make_handler: MakeHandler, lambda_context: ContextClass, rest: Rest, event: Load
) -> None:
    """An event that looks like HTTP API 2.0 but lacks its fields gets a 400 naming the problem."""
    broken = {"version": "2.0", "requestContext": {"http": {"path": "/ask"}}, "headers": {}}
    out = make_handler()(broken, lambda_context())
    assert out == {
        "statusCode": 400,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(
            {
                "error": {
                    "type": "bad_request",
                    "message": "malformed HTTP event: KeyError 'sourceIp'",
                }
            }
        ),
        "isBase64Encoded": False,
    }

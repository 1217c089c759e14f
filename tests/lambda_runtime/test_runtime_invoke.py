"""relaykit's Lambda runtime reached through the emulator's Invoke API, as boto3 reaches Lambda.

The runtime runs as a real worker subprocess (``python -m relaykit.lambda_runtime``); boto3 calls
``invoke`` (RequestResponse and Event) and ``invoke_with_response_stream`` on the emulator's
Invoke API over loopback. The events are Function URL payload 2.0 events, built here.
"""

from __future__ import annotations

import base64
import json
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from relaykit.local.emulator import Emulator, FunctionConfig

APPS = Path(__file__).resolve().parent.parent / "apps"
TIMEOUT = 20
DELIMITER = b"\x00" * 8


def runtime_config(name: str, ref: str, mode: str, **env: str) -> FunctionConfig:
    return FunctionConfig(
        name=name,
        command=[sys.executable, "-m", "relaykit.lambda_runtime", ref],
        env={"PYTHONPATH": str(APPS), "PYTHONUNBUFFERED": "1", **env},
        handler=ref,
        task_root=str(APPS),
        timeout=TIMEOUT,
        invoke_mode=mode,
    )


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    not_a_folder = tmp_path_factory.mktemp("store") / "secret-store-file"
    not_a_folder.write_text("a file where the store wants a folder")
    functions = [
        runtime_config(
            "buffered", "runtime_app:app", "BUFFERED", RELAYKIT_LAMBDA_RESPONSE_MODE="buffered"
        ),
        runtime_config("stream", "runtime_app:app", "RESPONSE_STREAM"),
        runtime_config("raising", "runtime_app:raising_asgi", "RESPONSE_STREAM"),
        # A store that cannot open: relaykit's own sweep event fails inside its event kind.
        runtime_config(
            "badstore",
            "runtime_app:app",
            "BUFFERED",
            RELAYKIT_STORE=f"sqlite:///{not_a_folder}/runs.db",
        ),
    ]
    with Emulator(functions, retry_delay_scale=0.001).running() as running:
        yield running


@pytest.fixture(scope="module")
def lam(emu: Emulator) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=emu.invoke_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def url_event(path: str, body: object = None) -> dict[str, Any]:
    """A Function URL (payload 2.0) event for ``POST path`` with a JSON body."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "abc.lambda-url.us-east-1.on.aws"},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abc",
            "domainName": "abc.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abc",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "test",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": "28/Nov/2026:08:00:00 +0000",
            "timeEpoch": 1795852800000,
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def payload(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def test_request_response_returns_the_buffered_http_result(lam: Any) -> None:
    """A Function URL-shaped event invoked with RequestResponse answers the whole payload 2.0
    result dict (buffered mode): status, headers, JSON body, not base64."""
    response = lam.invoke(FunctionName="buffered", Payload=payload(url_event("/context")))
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    result = json.loads(response["Payload"].read())
    assert set(result) == {"statusCode", "headers", "body", "isBase64Encoded"} | (
        {"cookies"} if "cookies" in result else set()
    )
    assert result["statusCode"] == 200
    assert result["isBase64Encoded"] is False
    assert result["headers"]["content-type"] == "application/json"
    body = json.loads(result["body"])
    assert body["request_id"] == response["ResponseMetadata"]["RequestId"]
    assert result["headers"]["x-request-id"] == body["request_id"]


def test_event_invocation_is_queued_and_runs(emu: Emulator, lam: Any) -> None:
    """InvocationType=Event answers 202 at once; the queued invocation then runs in the worker
    under the same request id, with the client context boto3 sent."""
    client_context = {"custom": {"source": "event-test"}}
    response = lam.invoke(
        FunctionName="buffered",
        InvocationType="Event",
        Payload=payload(url_event("/context")),
        ClientContext=base64.b64encode(json.dumps(client_context).encode()).decode(),
    )
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    request_id = response["ResponseMetadata"]["RequestId"]
    record = emu.call(emu.wait_async(request_id))
    assert record.succeeded and len(record.attempts) == 1
    body = json.loads(json.loads(record.attempts[0].payload)["body"])
    assert body["request_id"] == request_id
    assert body["meta"]["client_context"] == client_context


def test_invoke_with_response_stream_starts_with_the_prelude(lam: Any) -> None:
    """InvokeWithResponseStream: PayloadChunk events carry the raw stream, prelude first (JSON,
    then 8 NULs), then the SSE chunks; InvokeComplete ends it without an error code."""
    event = url_event("/gated", {"folder": "/nonexistent", "chunks": 1})
    response = lam.invoke_with_response_stream(FunctionName="stream", Payload=payload(event))
    assert response["StatusCode"] == 200
    events = list(response["EventStream"])
    assert [next(iter(e)) for e in events][-1] == "InvokeComplete"
    chunks = [e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e]
    assert chunks and all(next(iter(e)) == "PayloadChunk" for e in events[:-1])
    assert chunks[0].startswith(b'{"statusCode":200,')
    head, sep, rest = b"".join(chunks).partition(DELIMITER)
    assert sep and not rest.startswith(b"\x00")
    prelude = json.loads(head)
    assert prelude["headers"]["content-type"].startswith("text/event-stream")
    assert prelude["cookies"] == []
    assert b"data: chunk-0\n\n" in rest
    assert rest.endswith(b'event: end\ndata: {"chunks": 1}\n\n')
    assert not events[-1]["InvokeComplete"].get("ErrorCode")


def test_a_failing_event_kind_posts_the_standard_error_without_a_stack_trace(
    emu: Emulator, lam: Any
) -> None:
    """relaykit's sweep event failing inside its kind (the store cannot open) is posted to
    /error: the standard JSON with an error id in the message, an empty stackTrace, and a
    Lambda-Runtime-Function-Error-Type header; nothing of the exception's text leaks."""
    event = payload({"relaykit": "sweep"})
    response = lam.invoke(FunctionName="badstore", Payload=event)
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert set(error) == {"errorMessage", "errorType", "stackTrace"}
    assert error["stackTrace"] == []
    assert "error id err_" in error["errorMessage"]
    assert "secret-store-file" not in json.dumps(error)
    result = emu.call(emu.invoke("badstore", event))
    assert result.error_type == f"Function.{error['errorType']}"
    assert "secret-store-file" in result.log_tail.decode(), "the log keeps the details"


def test_an_asgi_app_failing_before_the_first_byte_answers_a_safe_500(
    emu: Emulator, lam: Any
) -> None:
    """An ASGI app that raises before starting its response, behind a streaming Function URL:
    the status is still free, so the stream is a 500 prelude with relaykit's JSON error (an
    error id, no traceback, no exception text), not a hung or empty response."""
    response = httpx.post(f"{emu.function_url('raising')}/anything", json={}, timeout=30)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["type"] == "server_error" and error["error_id"].startswith("err_")
    assert "secret-asgi-detail" not in response.text and "Traceback" not in response.text
    streamed = lam.invoke_with_response_stream(
        FunctionName="raising", Payload=payload(url_event("/anything"))
    )
    raw = b"".join(
        e["PayloadChunk"]["Payload"] for e in streamed["EventStream"] if "PayloadChunk" in e
    )
    assert raw.startswith(b'{"statusCode":500,')


def test_invocation_headers_reach_the_context(emu: Emulator) -> None:
    """Request id, deadline, function ARN, trace id (also exported as _X_AMZN_TRACE_ID), client
    context, cognito identity and tenant id, as sent on /next, are what the handler sees."""
    request_id = str(uuid.uuid4())
    trace = "Root=1-6748a1b2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"
    client_context = {"client": {"app_title": "probe"}, "custom": {"k": "v"}, "env": {}}
    identity = {"cognitoIdentityId": "us-east-1:abc", "cognitoIdentityPoolId": "us-east-1:pool"}
    before = time.time()
    result = emu.call(
        emu.invoke(
            "buffered",
            payload(url_event("/context")),
            request_id=request_id,
            trace_id=trace,
            client_context=json.dumps(client_context),
            cognito_identity=json.dumps(identity),
            tenant_id="tenant-42",
        )
    )
    assert result.ok, result.payload
    body = json.loads(json.loads(result.payload)["body"])
    assert body["request_id"] == request_id
    assert body["function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:buffered"
    assert body["trace_env"] == trace
    assert body["trace_id"] == "1-6748a1b2-0123456789abcdef01234567"
    assert body["meta"] == {
        "client_context": client_context,
        "identity": identity,
        "tenant_id": "tenant-42",
    }
    # The deadline is the one the emulator put in Lambda-Runtime-Deadline-Ms: the function
    # timeout after the invocation started (millisecond precision).
    assert before < body["deadline"] <= time.time() + TIMEOUT
    assert 0 < body["remaining"] <= TIMEOUT


def test_boto3_client_context_and_tenant_id_reach_ctx_meta(lam: Any) -> None:
    """ClientContext (base64 JSON) and TenantId given to boto3 arrive in ``ctx.meta``."""
    client_context = {"custom": {"user": "u-1"}}
    response = lam.invoke(
        FunctionName="buffered",
        Payload=payload(url_event("/context")),
        ClientContext=base64.b64encode(json.dumps(client_context).encode()).decode(),
        TenantId="tenant-7",
    )
    body = json.loads(json.loads(response["Payload"].read())["body"])
    assert body["meta"] == {"client_context": client_context, "tenant_id": "tenant-7"}

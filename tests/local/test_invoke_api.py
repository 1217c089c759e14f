"""The Invoke API and InvokeWithResponseStream as real boto3 sees them (endpoint_url)."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from relaykit.local.emulator import Emulator, FunctionConfig

MakeConfig = Callable[..., FunctionConfig]


@pytest.fixture(scope="module")
def emu(ric: MakeConfig, streamer: MakeConfig) -> Iterator[Emulator]:
    functions = [
        ric("echo", "pyhandlers.echo"),
        ric("fail", "pyhandlers.fail"),
        ric("flaky", "pyhandlers.count_and_fail"),
        streamer("stream"),
    ]
    with Emulator(functions, retry_delay_scale=0.0005).running() as running:
        yield running


@pytest.fixture(scope="module")
def client(emu: Emulator) -> Any:
    return boto3.client(
        "lambda", endpoint_url=emu.invoke_url, region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1}),
    )


def test_request_response_returns_payload_version_and_log_tail(client: Any) -> None:
    """RequestResponse: 200, the function's JSON, X-Amz-Executed-Version, and with
    LogType=Tail the base64 log tail containing the function's output and REPORT line."""
    response = client.invoke(FunctionName="echo", Payload=b'{"q": 1}', LogType="Tail")
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    doc = json.loads(response["Payload"].read())
    assert doc["event"] == {"q": 1}
    assert doc["request_id"] == response["ResponseMetadata"]["RequestId"]
    log = base64.b64decode(response["LogResult"]).decode()
    assert "echo handling" in log and "REPORT RequestId" in log


def test_client_context_reaches_the_runtime(client: Any) -> None:
    """ClientContext (base64 JSON on the wire) reaches the runtime as
    Lambda-Runtime-Client-Context, which awslambdaric exposes as ``context.client_context``."""
    ctx = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    response = client.invoke(FunctionName="echo", Payload=b"{}", ClientContext=ctx)
    assert json.loads(response["Payload"].read())["client_custom"] == {"k": "v"}


def test_function_error_is_200_with_unhandled(client: Any) -> None:
    """A handler exception is still HTTP 200, with FunctionError=Unhandled and the error doc."""
    response = client.invoke(FunctionName="fail", Payload=b'{"x": 2}')
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorType"] == "ValueError"


def test_dry_run_is_204(client: Any) -> None:
    """DryRun validates and answers 204 without running the function."""
    response = client.invoke(FunctionName="echo", InvocationType="DryRun", Payload=b"{}")
    assert response["StatusCode"] == 204


def test_unknown_function_raises_resource_not_found(client: Any) -> None:
    """An unknown name is ResourceNotFoundException (404), the modelled typed error."""
    with pytest.raises(client.exceptions.ResourceNotFoundException) as info:
        client.invoke(FunctionName="missing", Payload=b"{}")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "Function not found" in info.value.response["Error"]["Message"]


def test_oversize_sync_payload_is_request_entity_too_large(client: Any) -> None:
    """A synchronous payload above 6 MB is refused with 413 RequestEntityTooLargeException
    (the code the service sends) before any worker runs."""
    payload = b'"' + b"a" * (6 * 1024 * 1024) + b'"'
    with pytest.raises(ClientError) as info:
        client.invoke(FunctionName="echo", Payload=payload)
    error = info.value.response
    assert error["Error"]["Code"] == "RequestEntityTooLargeException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert "6291456 bytes" in error["Error"]["Message"]


def test_oversize_async_payload_is_refused_above_1_mb(client: Any) -> None:
    """An Event payload above 1 MB is refused; the same payload is fine synchronously."""
    payload = b'"' + b"a" * (1024 * 1024) + b'"'
    with pytest.raises(ClientError) as info:
        client.invoke(FunctionName="echo", InvocationType="Event", Payload=payload)
    assert info.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert "Event invocation type" in info.value.response["Error"]["Message"]
    assert client.invoke(FunctionName="echo", Payload=payload)["StatusCode"] == 200


def test_event_is_queued_and_retried_twice(client: Any, emu: Emulator, tmp_path: Path) -> None:
    """Event answers 202 at once; a failing function runs three times in all (two retries),
    every attempt with the same request id, counted by the function itself."""
    log = tmp_path / "attempts.txt"
    response = client.invoke(FunctionName="flaky", InvocationType="Event",
                             Payload=json.dumps({"log": str(log)}).encode())
    assert response["StatusCode"] == 202
    request_id = response["ResponseMetadata"]["RequestId"]
    record = emu.call(emu.wait_async(request_id))
    assert [a.attempt for a in record.attempts] == [1, 2, 3]
    assert all(a.error_type == "RuntimeError" for a in record.attempts)
    assert not record.succeeded
    assert log.read_text().split() == [request_id] * 3


def test_event_success_runs_once(client: Any, emu: Emulator) -> None:
    """A successful Event invocation is not retried."""
    response = client.invoke(FunctionName="echo", InvocationType="Event", Payload=b"{}")
    record = emu.call(emu.wait_async(response["ResponseMetadata"]["RequestId"]))
    assert record.succeeded and len(record.attempts) == 1


def _events(response: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from response["EventStream"]


def test_invoke_with_response_stream_chunks_then_complete(client: Any, tmp_path: Path) -> None:
    """boto3 parses PayloadChunk events as they are produced (the first arrives before the
    function sends its last chunk), with the prelude NOT stripped, then InvokeComplete."""
    gate = tmp_path / "gate"
    spec = {"prelude": {"statusCode": 200, "headers": {"content-type": "text/plain"}},
            "chunks": ["first;", "second;", "last"], "gate": str(gate)}
    response = client.invoke_with_response_stream(
        FunctionName="stream", Payload=json.dumps(spec).encode(), LogType="Tail")
    assert response["StatusCode"] == 200
    assert response["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    payload = b""
    complete = None
    for event in _events(response):
        if "PayloadChunk" in event:
            payload += event["PayloadChunk"]["Payload"]
            if b"first;" in payload and not gate.exists():
                gate.touch()
        else:
            complete = event["InvokeComplete"]
    assert gate.exists()
    prelude, body = payload.split(b"\0" * 8)
    assert json.loads(prelude) == spec["prelude"]
    assert body == b"first;second;last"
    assert complete is not None
    assert "ErrorCode" not in complete
    assert "REPORT RequestId" in base64.b64decode(complete["LogResult"]).decode()


def test_invoke_with_response_stream_error_after_first_byte(client: Any) -> None:
    """An error in the trailers after streaming started ends with InvokeComplete carrying the
    error type as ErrorCode and the error document in ErrorDetails."""
    spec = {"prelude": None, "chunks": ["partial"], "error": True, "trailer_style": "one"}
    response = client.invoke_with_response_stream(FunctionName="stream",
                                                  Payload=json.dumps(spec).encode())
    events = list(_events(response))
    assert events[0] == {"PayloadChunk": {"Payload": b"partial"}}
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "StreamError"
    assert json.loads(complete["ErrorDetails"])["errorMessage"] == "failed mid-stream"


def test_invoke_with_response_stream_of_buffered_function(client: Any) -> None:
    """A runtime that answers buffered still streams: one PayloadChunk, then InvokeComplete."""
    response = client.invoke_with_response_stream(FunctionName="echo", Payload=b'{"b": 1}')
    events = list(_events(response))
    assert json.loads(events[0]["PayloadChunk"]["Payload"])["event"] == {"b": 1}
    assert events[-1] == {"InvokeComplete": {}}


def test_endpoint_env_var_is_honoured(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3 also reaches the emulator through AWS_ENDPOINT_URL_LAMBDA."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", emu.invoke_url)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    lam = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x",
                       aws_secret_access_key="x")
    assert lam.invoke(FunctionName="echo", Payload=b"{}")["StatusCode"] == 200
    assert os.environ["AWS_ENDPOINT_URL_LAMBDA"] == emu.invoke_url

"""relaykit's pure-Python Lambda runtime against the local emulator, over real sockets.

The runtime runs as the emulator's worker subprocess (``python -m relaykit.lambda_runtime``);
a Function URL front in RESPONSE_STREAM or BUFFERED mode, or boto3, calls it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from relaykit.local.emulator import Emulator, FunctionConfig

APPS = Path(__file__).resolve().parent.parent / "apps"


def runtime_config(name: str, ref: str = "runtime_app:app", **kwargs: Any) -> FunctionConfig:
    return FunctionConfig(
        name=name,
        command=[sys.executable, "-m", "relaykit.lambda_runtime", ref],
        env={"PYTHONPATH": str(APPS), "PYTHONUNBUFFERED": "1", **kwargs.pop("env", {})},
        handler=ref,
        task_root=str(APPS),
        **kwargs,
    )


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    broken = tmp_path_factory.mktemp("broken")
    (broken / "broken_app.py").write_text("raise ValueError('init-secret')\n")
    functions = [
        runtime_config("stream", invoke_mode="RESPONSE_STREAM", timeout=20),
        runtime_config(
            "buffered",
            invoke_mode="BUFFERED",
            timeout=20,
            env={"RELAYKIT_LAMBDA_RESPONSE_MODE": "buffered"},
        ),
        runtime_config("short", invoke_mode="RESPONSE_STREAM", timeout=2),
        runtime_config(
            "hosted",
            invoke_mode="RESPONSE_STREAM",
            timeout=20,
            env={"RELAYKIT_MODEL": "anthropic:claude-haiku-4-5", "ANTHROPIC_API_KEY": "test"},
        ),
        FunctionConfig(
            name="broken",
            command=[sys.executable, "-m", "relaykit.lambda_runtime", "broken_app:app"],
            env={"PYTHONPATH": str(broken)},
            handler="broken_app:app",
            task_root=str(broken),
        ),
    ]
    with Emulator(functions, retry_delay_scale=0.001).running() as running:
        yield running


def test_stream_chunks_reach_the_client_before_the_handler_produces_the_next(
    emu: Emulator, tmp_path: Path
) -> None:
    """Through the Function URL in RESPONSE_STREAM mode each SSE chunk arrives while the handler
    still waits (for the gate the test opens only after seeing that chunk), in order."""
    seen: list[str] = []
    with httpx.stream(
        "POST",
        f"{emu.function_url('stream')}/gated",
        json={"folder": str(tmp_path), "chunks": 3},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                seen.append(line.removeprefix("data: "))
                (tmp_path / f"gate-{len(seen)}").write_text("open")
            if line == "event: end":
                break
    assert seen == ["chunk-0", "chunk-1", "chunk-2"]


def test_empty_stream_still_sends_prelude_and_end(emu: Emulator) -> None:
    """A stream that yields nothing answers 200 with only the end event."""
    response = httpx.post(f"{emu.function_url('stream')}/empty", timeout=30)
    assert response.status_code == 200
    assert response.text == 'event: end\ndata: {"chunks": 0}\n\n'


def test_task_through_streaming_url_keeps_status_and_headers(emu: Emulator) -> None:
    """A task behind a streaming URL: prelude status and headers apply; ids come from Lambda."""
    response = httpx.post(
        f"{emu.function_url('stream')}/whoami", headers={"x-amzn-trace-id": "x"}, timeout=30
    )
    assert response.status_code == 200
    body = response.json()
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["function_arn"].endswith(":function:stream")
    assert body["has_deadline"] is True
    assert body["trace_id"]


def test_validation_error_streams_a_422(emu: Emulator) -> None:
    """Errors keep their status through the prelude."""
    response = httpx.post(f"{emu.function_url('stream')}/gated", json={"chunks": 1}, timeout=30)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "body.folder"


def test_failure_after_first_byte_ends_stream_with_safe_error(emu: Emulator) -> None:
    """A stream handler failing mid-way ends with the SSE error event; no secret leaks."""
    response = httpx.post(f"{emu.function_url('stream')}/fails", timeout=30)
    assert response.status_code == 200
    assert "data: partial" in response.text
    assert "event: error" in response.text
    assert "secret-runtime-detail" not in response.text


def test_buffered_mode_and_warm_reuse(emu: Emulator) -> None:
    """With lambda_response_mode=buffered the runtime answers buffered; the second call is warm
    (same process) and startup hooks ran once."""
    first = httpx.post(f"{emu.function_url('buffered')}/whoami", timeout=30).json()
    second = httpx.post(f"{emu.function_url('buffered')}/whoami", timeout=30).json()
    assert first["pid"] == second["pid"]
    assert second["starts"] == 1
    assert first["request_id"] != second["request_id"]
    stream = httpx.post(
        f"{emu.function_url('buffered')}/gated", json={"folder": "/nonexistent", "chunks": 1}
    )
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert "data: chunk-0" in stream.text


def test_the_model_sdk_is_imported_at_init_not_in_the_first_invocation(emu: Emulator) -> None:
    """With a hosted model configured, the runtime builds the model and imports its SDK during
    init (which has its own 10 s limit), so the first invocation finds ``anthropic`` loaded
    before any handler called the model."""
    answer = httpx.post(f"{emu.function_url('hosted')}/loaded", timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"anthropic": True, "app_model": "AnthropicModel"}


def boto3_lambda(emu: Emulator) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=emu.invoke_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_boto3_invoke_with_an_unknown_event_gets_a_clear_error(emu: Emulator) -> None:
    """A direct invoke with a non-HTTP event answers an error naming the keys it saw."""
    result = boto3_lambda(emu).invoke(FunctionName="buffered", Payload=b'{"hello": 1}')
    body = json.loads(result["Payload"].read())
    assert body["error"]["type"] == "unknown_event"
    assert "hello" in body["error"]["message"]


def test_timeout_kills_the_worker_and_next_invoke_cold_starts(emu: Emulator) -> None:
    """Past the 2 s timeout the worker is SIGKILLed; the next invocation gets a new process."""
    url = emu.function_url("short")
    timed_out = httpx.post(f"{url}/sleep", json=30, timeout=30)
    assert timed_out.status_code == 502
    after = httpx.post(f"{url}/whoami", timeout=30)
    assert after.status_code == 200
    assert after.json()["starts"] == 1


def test_init_failure_is_reported_without_the_secret_message(emu: Emulator) -> None:
    """An app that fails to import is an init error; the invoke fails cleanly."""
    result = boto3_lambda(emu).invoke(FunctionName="broken", Payload=b"{}")
    assert result.get("FunctionError")
    body = json.loads(result["Payload"].read())
    assert body["errorType"]

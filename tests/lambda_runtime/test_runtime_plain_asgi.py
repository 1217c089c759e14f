"""``python -m relaykit.lambda_runtime main:api`` for a FastAPI app with no relaykit code (the
lean path, ``relaykit.targets.lambda_asgi``), behind Function URLs in both invoke modes."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from relaykit.local.emulator import Emulator, FunctionConfig

APP_DIR = Path(__file__).resolve().parents[2] / "examples" / "from_lwa"


def function(name: str, mode: str, response_mode: str) -> FunctionConfig:
    env = {"PYTHONPATH": str(APP_DIR), "RELAYKIT_LAMBDA_RESPONSE_MODE": response_mode}
    return FunctionConfig(
        name=name,
        command=[sys.executable, "-m", "relaykit.lambda_runtime", "main:api"],
        env=env,
        handler="main:api",
        task_root=str(APP_DIR),
        invoke_mode=mode,  # type: ignore[arg-type]
        timeout=20,
    )


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    functions = [
        function("streamed", "RESPONSE_STREAM", "auto"),
        function("buffered", "BUFFERED", "buffered"),
    ]
    with Emulator(functions).running() as running:
        yield running


@pytest.mark.parametrize("name", ["streamed", "buffered"])
def test_json_route_answers(emu: Emulator, name: str) -> None:
    """A JSON route answers with its status, headers and body in either mode."""
    url = emu.function_url(name)
    answer = httpx.post(f"{url}/title", json={"topic": "otter"}, timeout=30)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"topic": "otter", "title": "The Otter Who Streamed"}
    invalid = httpx.post(f"{url}/title", json={"topic": ""}, timeout=30)
    assert invalid.status_code == 422


@pytest.mark.parametrize("name", ["streamed", "buffered"])
def test_streaming_response_arrives_whole(emu: Emulator, name: str) -> None:
    """The app's StreamingResponse of server-sent events comes through in order (streamed
    through a RESPONSE_STREAM Function URL, collected into one body through a BUFFERED one)."""
    url = emu.function_url(name)
    with httpx.stream("POST", f"{url}/story", json={"topic": "otter"}, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    tokens = [json.loads(line[len("data: ") :])["token"] for line in lines[:-1]]
    assert " ".join(tokens) == "Once upon a time a otter learned to stream"
    assert lines[-1] == "data: [DONE]"

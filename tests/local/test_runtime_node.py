"""The emulator against AWS's Node runtime client (npm ``aws-lambda-ric`` 4.0.2): streaming with
prelude and trailers, buffered responses, handler and init errors.

The client is installed outside the repository by ``tests/local/install_node_ric.sh`` (about 40 s
of cmake/g++); `make test` runs it first. Without it these tests are skipped locally, with that
instruction as the reason, and fail under CI.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from relaykit.local.emulator import Emulator, FunctionConfig, InvocationResult, InvokeMode

FUNCTIONS = Path(__file__).resolve().parent / "functions" / "node"
RIC_DIR = Path(os.environ.get("NODE_RIC_DIR",
                              Path.home() / ".cache" / "relaykit" / "node-ric"))
RIC = RIC_DIR / "node_modules" / "aws-lambda-ric" / "index.mjs"
NODE = shutil.which("node")

MISSING = f"AWS Node RIC not installed: run tests/local/install_node_ric.sh (expects {RIC})"
if os.environ.get("CI") and (NODE is None or not RIC.exists()):
    # `make test` installs it first; in CI a missing client is a failure, never a silent skip.
    raise RuntimeError(MISSING)
pytestmark = pytest.mark.skipif(NODE is None or not RIC.exists(), reason=MISSING)


def node_config(name: str, handler: str, invoke_mode: InvokeMode = "BUFFERED") -> FunctionConfig:
    return FunctionConfig(name=name, command=[str(NODE), str(RIC), handler], handler=handler,
                          task_root=str(FUNCTIONS), invoke_mode=invoke_mode)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    functions = [
        node_config("node-buffered", "handlers.buffered"),
        node_config("node-failing", "handlers.failing"),
        node_config("node-broken", "broken.handler"),
        node_config("node-stream", "handlers.streaming", invoke_mode="RESPONSE_STREAM"),
    ]
    with Emulator(functions).running() as running:
        yield running


def test_node_buffered_response(emu: Emulator) -> None:
    """The Node RIC's buffered /response (native client) reaches the caller."""
    result = emu.call(emu.invoke("node-buffered", b'{"a": 1}'))
    assert result.ok, result.payload
    assert json.loads(result.payload) == {"got": {"a": 1}, "requestId": result.request_id}


def test_node_handler_error(emu: Emulator) -> None:
    """A thrown error reaches /error; the Node RIC's error document (errorType, errorMessage,
    trace) is what the caller gets."""
    result = emu.call(emu.invoke("node-failing", b"{}"))
    assert result.error_type == "TypeError"
    doc = result.error_document()
    assert doc["errorMessage"] == "node handler failed"
    assert "trace" in doc


def test_node_init_error(emu: Emulator) -> None:
    """A module that throws at load is reported on /runtime/init/error."""
    result = emu.call(emu.invoke("node-broken", b"{}"))
    assert result.error_type is not None
    assert "node module cannot load" in result.payload.decode()
    assert result.init_duration_ms is not None


def test_node_stream_through_function_url(emu: Emulator, tmp_path: Path) -> None:
    """Node streams with a prelude through the Function URL: status, headers and cookies are
    applied, and the first chunk reaches httpx while the handler waits to write the second."""
    gate = tmp_path / "gate"
    received = b""
    with httpx.stream("POST", emu.function_url("node-stream"), json={"gate": str(gate)}) as r:
        assert r.status_code == 201
        assert r.headers["content-type"] == "text/event-stream"
        assert r.headers["x-node"] == "yes"
        assert r.headers["set-cookie"] == "n=1; Path=/"
        for data in r.iter_raw():
            received += data
            if received == b"data: one\n\n":
                gate.touch()
    assert gate.exists()
    assert received == b"data: one\n\ndata: two\n\n"


def test_node_stream_error_after_first_byte_uses_trailers(emu: Emulator) -> None:
    """A throw after the first write ends the stream with the error trailers (declared on two
    Trailer lines by Node), which the emulator decodes into the invocation's error."""
    chunks, result = emu.call(_stream_result(emu, b'{"fail": true}'))
    assert b"data: one\n\n" in b"".join(chunks)
    assert result.response_mode == "streaming"
    assert result.error_type == "RangeError"
    assert result.error_document()["errorMessage"] == "node stream failed"
    assert set(result.trailers) == {"lambda-runtime-function-error-type",
                                    "lambda-runtime-function-error-body"}


async def _stream_result(emu: Emulator, payload: bytes) -> tuple[list[bytes], InvocationResult]:
    invocation = emu.start_invocation("node-stream", payload)
    chunks = [c async for c in invocation.stream()]
    return chunks, await invocation.result()

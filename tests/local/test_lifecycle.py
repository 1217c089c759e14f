"""Execution environment lifecycle: pools, crashes, init bounds, mid-stream deadlines, cleanup."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from relaykit.local.emulator import Emulator, FunctionConfig, Invocation

MakeConfig = Callable[..., FunctionConfig]


def _port_open(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) == 0


def test_stop_kills_workers_and_closes_every_socket(ric: MakeConfig) -> None:
    """Stopping the emulator kills warm workers and closes the Invoke API, the Function URL
    and every Runtime API port."""

    async def scenario() -> None:
        emu = Emulator([ric("echo", "pyhandlers.echo")])
        async with emu:
            result = await emu.invoke("echo", b"{}")
            [env] = emu.pools["echo"].environments
            assert env.alive and env.api is not None
            urls = [emu.invoke_url, emu.function_url("echo"), f"http://{env.api.address}"]
            assert all(_port_open(u) for u in urls)
        assert not env.alive
        assert env.returncode == -signal.SIGKILL
        assert not any(_port_open(u) for u in urls)
        assert result.pid == env.pid

    asyncio.run(scenario())


def test_concurrent_invocations_get_separate_environments(streamer: MakeConfig,
                                                          tmp_path: Path) -> None:
    """Two invocations in flight at once run in two environments (one invocation each); a
    third, beyond the concurrency limit of 2, is throttled with TooManyRequestsException."""
    gate = tmp_path / "gate"
    spec = json.dumps({"prelude": None, "chunks": ["a", "b"], "gate": str(gate)}).encode()
    with Emulator([streamer("s", concurrency=2)]).running() as emu:
        first = emu.call(_start(emu, spec))
        second = emu.call(_start(emu, spec))
        lam = boto3.client("lambda", endpoint_url=emu.invoke_url, region_name="us-east-1",
                           aws_access_key_id="x", aws_secret_access_key="x",
                           config=Config(retries={"total_max_attempts": 1}))
        with pytest.raises(lam.exceptions.TooManyRequestsException):
            lam.invoke(FunctionName="s", Payload=spec)
        gate.touch()
        results = [emu.call(first.result()), emu.call(second.result())]
        assert all(r.ok for r in results)
        assert results[0].pid != results[1].pid
        assert emu.pools["s"].cold_starts == 2


async def _start(emu: Emulator, payload: bytes) -> Invocation:
    invocation = emu.start_invocation("s", payload)
    await invocation.started()
    return invocation


def test_worker_exit_is_runtime_exit_error(ric: MakeConfig) -> None:
    """A worker that exits mid-invocation fails it with Runtime.ExitError and its exit status;
    the environment is discarded."""

    async def scenario() -> None:
        async with Emulator([ric("crash", "pyhandlers.exit_now")]) as emu:
            result = await emu.invoke("crash", b"{}")
            assert result.error_type == "Runtime.ExitError"
            assert "exit status 3" in result.error_document()["errorMessage"]
            assert emu.pools["crash"].exit_codes == [3]

    asyncio.run(scenario())


def test_init_has_its_own_limit_apart_from_the_function_timeout(ric: MakeConfig) -> None:
    """As on Lambda, init is not bounded by the function timeout: a handler module that takes
    1.2 s to import serves an invocation of a function whose timeout is 0.5 s."""
    slow = ric("slow", "pyhandlers.echo", timeout=0.5, env={"PYHANDLERS_IMPORT_DELAY": "1.2"})

    async def scenario() -> None:
        async with Emulator([slow]) as emu:
            result = await emu.invoke("slow", b'{"x": 1}')
            assert result.error_type is None, result.payload
            assert result.init_duration_ms is not None and result.init_duration_ms >= 1200

    asyncio.run(scenario())


def test_init_is_bounded_by_the_init_timeout() -> None:
    """A runtime that never asks for /next is killed when init exceeds ``init_timeout``."""
    never = FunctionConfig("never", [sys.executable, "-c", "import time; time.sleep(60)"],
                           timeout=0.5, init_timeout=0.5)

    async def scenario() -> None:
        async with Emulator([never]) as emu:
            result = await emu.invoke("never", b"{}")
            assert result.error_type == "Sandbox.Timedout"
            assert result.init_duration_ms is not None
            assert emu.pools["never"].exit_codes == [-signal.SIGKILL]

    asyncio.run(scenario())


def test_deadline_mid_stream_kills_worker_and_ends_stream(streamer: MakeConfig,
                                                          tmp_path: Path) -> None:
    """When the deadline passes during a stream, the consumer keeps the bytes already sent,
    the stream ends, the result is Sandbox.Timedout and the worker is SIGKILLed."""
    spec = {"prelude": None, "chunks": ["early", "never"], "gate": str(tmp_path / "no")}

    async def scenario() -> None:
        async with Emulator([streamer("slow", timeout=1.0)]) as emu:
            invocation = emu.start_invocation("slow", json.dumps(spec).encode())
            chunks = [c async for c in invocation.stream()]
            result = await invocation.result()
            assert chunks == [b"early"]
            assert result.error_type == "Sandbox.Timedout"
            assert emu.pools["slow"].exit_codes == [-signal.SIGKILL]

    asyncio.run(scenario())

"""The Runtime API against a client we did not write: AWS's ``awslambdaric`` (Python RIC)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable

from relaykit.local.emulator import Emulator, FunctionConfig

Config = Callable[..., FunctionConfig]


def test_buffered_success_delivers_event_headers_and_env(ric: Config) -> None:
    """awslambdaric gets the event, request id, ARN, deadline, trace id and Lambda env vars,
    and its buffered /response reaches the caller; the first call is a visible cold start."""

    async def scenario() -> None:
        async with Emulator([ric("echo", "pyhandlers.echo", timeout=5, memory_mb=256)]) as emu:
            before_ms = time.time() * 1000
            result = await emu.invoke("echo", b'{"hello": "world"}')
            assert result.ok, result.payload
            doc = json.loads(result.payload)
            assert doc["event"] == {"hello": "world"}
            assert doc["request_id"] == result.request_id
            assert doc["function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:echo"
            assert 0 < doc["remaining_ms"] <= 5000
            assert doc["trace_id"].startswith("Root=1-")
            assert doc["env"] == {
                "AWS_LAMBDA_FUNCTION_NAME": "echo",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
                "AWS_REGION": "us-east-1",
                "TZ": ":UTC",
                "_HANDLER": "pyhandlers.echo",
            }
            assert result.init_duration_ms is not None and result.init_duration_ms > 0
            log = result.log_tail.decode()
            assert f"echo handling {result.request_id}" in log
            assert f"REPORT RequestId: {result.request_id}" in log
            assert "Init Duration:" in log
            assert before_ms < time.time() * 1000

    asyncio.run(scenario())


def test_warm_reuse_keeps_the_same_process(ric: Config) -> None:
    """A second invocation reuses the warm environment: same pid, no init duration."""

    async def scenario() -> None:
        async with Emulator([ric("echo", "pyhandlers.echo")]) as emu:
            first = await emu.invoke("echo", b"{}")
            second = await emu.invoke("echo", b"{}")
            assert first.ok and second.ok
            assert json.loads(first.payload)["pid"] == json.loads(second.payload)["pid"]
            assert first.init_duration_ms is not None
            assert second.init_duration_ms is None
            assert "Init Duration" not in second.log_tail.decode()
            assert emu.pools["echo"].cold_starts == 1

    asyncio.run(scenario())


def test_handler_exception_reported_through_error(ric: Config) -> None:
    """An exception in the handler arrives through /invocation/{id}/error with the RIC's error
    document, and the environment stays warm for the next call."""

    async def scenario() -> None:
        async with Emulator([ric("fail", "pyhandlers.fail")]) as emu:
            result = await emu.invoke("fail", b'{"n": 1}')
            assert result.error_type == "ValueError"
            assert result.function_error == "Unhandled"
            doc = result.error_document()
            assert doc["errorType"] == "ValueError"
            assert "bad input" in doc["errorMessage"]
            assert doc["requestId"] == result.request_id
            again = await emu.invoke("fail", b'{"n": 2}')
            assert again.pid == result.pid
            assert again.init_duration_ms is None

    asyncio.run(scenario())


def test_init_error_reported_through_init_error(ric: Config) -> None:
    """A module that fails at import is reported by the RIC on /runtime/init/error; the
    invocation fails with that error and the environment is discarded."""

    async def scenario() -> None:
        async with Emulator([ric("broken", "broken_init.handler")]) as emu:
            result = await emu.invoke("broken", b"{}")
            assert result.error_type == "Runtime.ImportModuleError"
            assert "cannot be imported on purpose" in result.error_document()["errorMessage"]
            assert result.init_duration_ms is not None
            assert emu.pools["broken"].environments == []
            second = await emu.invoke("broken", b"{}")
            assert second.error_type == "Runtime.ImportModuleError"
            assert emu.pools["broken"].cold_starts == 2

    asyncio.run(scenario())


def test_timeout_sigkills_worker_and_next_call_cold_starts(ric: Config) -> None:
    """Past the deadline the worker is SIGKILLed (it cannot finish its sleep), the caller gets
    Sandbox.Timedout, and the next invocation starts a fresh process."""

    async def scenario() -> None:
        async with Emulator([ric("sleepy", "pyhandlers.sleepy", timeout=1.0)]) as emu:
            warm = await emu.invoke("sleepy", b"{}")
            assert warm.ok
            old_pid = json.loads(warm.payload)["pid"]
            result = await emu.invoke("sleepy", b'{"sleep": 30}')
            assert result.error_type == "Sandbox.Timedout"
            assert "Task timed out after 1.00 seconds" in result.error_document()["errorMessage"]
            assert "going to sleep" in result.log_tail.decode()
            assert "Status: timeout" in result.log_tail.decode()
            try:
                os.kill(old_pid, 0)
                alive = True
            except ProcessLookupError:
                alive = False
            assert not alive, "the timed-out worker must be gone"
            assert emu.pools["sleepy"].exit_codes == [-signal.SIGKILL]
            after = await emu.invoke("sleepy", b"{}")
            assert after.ok
            assert json.loads(after.payload)["pid"] != old_pid
            assert after.init_duration_ms is not None
            assert emu.pools["sleepy"].cold_starts == 2

    asyncio.run(scenario())

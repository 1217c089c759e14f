"""Lambda Managed Instances: one runtime process serves AWS_LAMBDA_MAX_CONCURRENCY invocations at
once, each with its own request id, deadline and trace id."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from relaykit.local.emulator import Emulator, FunctionConfig

APPS = Path(__file__).resolve().parent.parent / "apps"


def config(name: str, timeout: float, slots: int) -> FunctionConfig:
    return FunctionConfig(
        name=name,
        command=[sys.executable, "-m", "relaykit.lambda_runtime", "concurrent_app:app"],
        env={"PYTHONPATH": str(APPS), "RELAYKIT_LAMBDA_RESPONSE_MODE": "buffered"},
        handler="concurrent_app:app",
        task_root=str(APPS),
        timeout=timeout,
        concurrency=1,
        max_concurrency=slots,
    )


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator([config("many", 30, 64), config("faults", 3, 16)]).running() as running:
        yield running


async def post_all(url: str, requests: list[tuple[str, Any]]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return await asyncio.gather(
            *(client.post(url + path, json=body) for path, body in requests)
        )


def test_64_invocations_in_flight_in_one_process(emu: Emulator) -> None:
    """64 concurrent invocations of a handler awaiting a slow model call are all in flight at
    once in a single process; each answer carries its own request id and trace id."""
    url = emu.function_url("many")
    responses = asyncio.run(post_all(url, [("/slow", {"expect": 64})] * 64))
    assert [r.status_code for r in responses] == [200] * 64
    bodies = [r.json() for r in responses]
    assert len({b["pid"] for b in bodies}) == 1
    assert max(b["max_in_flight"] for b in bodies) == 64
    assert all(
        r.headers["x-request-id"] == b["request_id"] for r, b in zip(responses, bodies, strict=True)
    )
    assert len({b["request_id"] for b in bodies}) == 64
    assert len({b["trace_id"] for b in bodies}) == 64
    assert all(b["has_deadline"] for b in bodies)
    # Several invocations share the process: the trace header is never exported globally.
    assert {b["env_trace"] for b in bodies} == {None}


def test_failure_and_timeout_do_not_disturb_the_others(emu: Emulator) -> None:
    """A failing and a timed-out invocation leave the other in-flight ones intact, and the same
    process keeps serving afterwards."""
    url = emu.function_url("faults")
    requests: list[tuple[str, Any]] = [("/boom", None), ("/sleep", 30)]
    requests += [("/slow", {"expect": 6, "model_seconds": 0.2})] * 6
    responses = asyncio.run(post_all(url, requests))
    assert responses[0].status_code == 500
    assert responses[0].json()["error"]["type"] == "server_error"
    assert responses[1].status_code == 502
    assert [r.status_code for r in responses[2:]] == [200] * 6
    pids = {r.json()["pid"] for r in responses[2:]}
    after = httpx.post(url + "/slow", json={"expect": 1, "model_seconds": 0}, timeout=30)
    assert after.status_code == 200 and {after.json()["pid"]} == pids

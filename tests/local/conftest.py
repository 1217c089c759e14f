"""Fixtures for the Lambda emulator tests: function configs and a process-leak check."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from relaykit.local.emulator import FunctionConfig

FUNCTIONS = Path(__file__).resolve().parent / "functions"


def ric_config(name: str, handler: str, **kwargs: Any) -> FunctionConfig:
    """A function run by AWS's Python runtime client, ``python -m awslambdaric module.fn``."""
    return FunctionConfig(
        name=name,
        command=[sys.executable, "-m", "awslambdaric", handler],
        env={"PYTHONPATH": str(FUNCTIONS), "PYTHONUNBUFFERED": "1", **kwargs.pop("env", {})},
        handler=handler,
        task_root=str(FUNCTIONS),
        **kwargs,
    )


def stream_config(name: str, **kwargs: Any) -> FunctionConfig:
    """A function run by the raw-socket streaming runtime in ``functions/stream_worker.py``."""
    return FunctionConfig(
        name=name,
        command=[sys.executable, str(FUNCTIONS / "stream_worker.py")],
        handler="stream_worker",
        task_root=str(FUNCTIONS),
        **kwargs,
    )


@pytest.fixture(scope="session")
def ric() -> Callable[..., FunctionConfig]:
    return ric_config


@pytest.fixture(scope="session")
def streamer() -> Callable[..., FunctionConfig]:
    return stream_config


def live_children() -> set[int]:
    """Pids of this process's children that are still running (zombies excluded)."""
    me = os.getpid()
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me and fields[0] != "Z":
            pids.add(int(entry.name))
    return pids


@pytest.fixture(autouse=True, scope="module")
def no_leaked_workers() -> Iterator[None]:
    """Every module must leave no worker process behind once its emulators are stopped."""
    before = live_children()
    yield
    leaked = live_children() - before
    assert not leaked, f"worker processes leaked: {sorted(leaked)}"

"""Fixtures of the agent tests: a store (SQLite file and in-memory), a fake clock, and the
``straight`` / ``replay`` driving modes of the durable harness."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from durable.harness import FakeClock
from relaykit.durable import Store, open_store


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made = open_store(
        f"sqlite:///{tmp_path / 'runs.db'}" if request.param == "sqlite" else "memory://"
    )
    yield made
    made.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["straight", "replay"])
def mode(request: pytest.FixtureRequest) -> str:
    """``straight``: one invocation as far as it goes; ``replay``: one new step per invocation,
    everything before it replayed from the store."""
    return str(request.param)

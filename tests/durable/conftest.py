"""Fixtures for the durable tests: every store (SQLite file, in-memory, DynamoDB + S3 through a
moto server on loopback with real boto3), a fake clock and an engine wired to them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from durable.harness import FakeClock, RecordingContinuation
from relaykit.durable import Engine, Store, open_store


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server (DynamoDB, S3) on 127.0.0.1, started once for the session."""
    from moto.server import ThreadedMotoServer

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(key, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def aws_clients(endpoint: str) -> dict[str, Any]:
    import boto3

    common: dict[str, Any] = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    return {"dynamodb": boto3.client("dynamodb", **common), "s3": boto3.client("s3", **common)}


def make_dynamodb_store(endpoint: str, offload_bytes: int = 200_000) -> Store:
    clients = aws_clients(endpoint)
    name = f"t{uuid.uuid4().hex[:10]}"
    clients["s3"].create_bucket(Bucket=name)
    store = open_store(f"dynamodb://{name}?bucket={name}&offload_bytes={offload_bytes}", **clients)
    store.create_table()  # type: ignore[attr-defined]
    return store


@pytest.fixture(params=["sqlite", "memory", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Each store implementation in turn (one conformance suite for all)."""
    if request.param == "sqlite":
        made = open_store(f"sqlite:///{tmp_path / 'runs.db'}")
    elif request.param == "memory":
        made = open_store("memory://")
    else:
        made = make_dynamodb_store(request.getfixturevalue("moto_endpoint"))
    yield made
    made.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def continuation() -> RecordingContinuation:
    return RecordingContinuation()


@pytest.fixture
def engine(store: Store, clock: FakeClock, continuation: RecordingContinuation) -> Engine:
    """An engine on the store under test with a fake clock and a recording continuation."""
    return Engine(store, continuation, clock=clock, lease_seconds=30.0)


@pytest.fixture(params=["straight", "replay"])
def mode(request: pytest.FixtureRequest) -> str:
    """``straight``: one invocation as far as it goes; ``replay``: re-run from the store after
    every step (the replay-every-step harness)."""
    return str(request.param)

"""Fixtures of the hardening tests: a moto server (DynamoDB, S3) on 127.0.0.1, and DynamoDB
stores whose real boto3 clients talk to it through a fault-injecting proxy."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hardening.dynamodb_faults import FaultProxy
from relaykit.durable import Store, open_store


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """A moto server on a free loopback port, for the module."""
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


@pytest.fixture
def proxy(moto_url: str) -> Iterator[FaultProxy]:
    """A fault proxy in front of the moto server (no faults until a test sets ``plan``)."""
    with FaultProxy(moto_url) as started:
        yield started


def client(service: str, endpoint: str, attempts: int = 3) -> Any:
    """A real boto3 client at ``endpoint``: legacy retries (DynamoDB's 50 ms base back-off),
    ``attempts`` tries per call."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "legacy", "total_max_attempts": attempts})
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


def dynamodb_store(moto: str, endpoint: str, attempts: int = 3) -> Store:
    """A DynamoDB + S3 store on a fresh table; its DynamoDB client goes through ``endpoint``
    (the table is made directly on moto)."""
    name = f"t{uuid.uuid4().hex[:10]}"
    s3 = client("s3", moto)
    s3.create_bucket(Bucket=name)
    url = f"dynamodb://{name}?bucket={name}"
    setup = open_store(url, dynamodb=client("dynamodb", moto), s3=s3)
    setup.create_table()  # type: ignore[attr-defined]
    return open_store(url, dynamodb=client("dynamodb", endpoint, attempts), s3=s3)


def report(name: str, counts: dict[str, Any]) -> None:
    """Print a fault test's counts; with ``FAULT_REPORT=DIR`` also write them to
    ``DIR/NAME.json`` (the figures in bench/README.md come from there)."""
    line = json.dumps(counts, sort_keys=True)
    print(f"{name}: {line}")
    folder = os.environ.get("FAULT_REPORT")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name}.json").write_text(json.dumps(counts, indent=2, sort_keys=True))

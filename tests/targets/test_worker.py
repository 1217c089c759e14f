"""``relaykit worker`` against a real SQS API: moto's server on 127.0.0.1, real boto3, dummy
credentials. Messages are processed and deleted, a failing one reaches the dead-letter queue
after its receive limit, SIGTERM mid-batch loses nothing, idempotent redelivery is skipped."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from relaykit import App, Context
from relaykit.targets.worker import Worker

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sqs_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server on loopback (its own port), stopped at the end; dummy credentials."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto's backends are per process: start every test from empty queues.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_SQS": endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    try:
        yield endpoint
    finally:
        server.stop()


def sqs(endpoint: str) -> Any:
    return boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")


def make_queue(client: Any, name: str, *, dlq: str | None = None, visibility: int = 30) -> str:
    attributes = {"VisibilityTimeout": str(visibility)}
    if dlq is not None:
        arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": arn["Attributes"]["QueueArn"], "maxReceiveCount": "2"}
        )
    url: str = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url


def drain(client: Any, url: str) -> list[str]:
    bodies: list[str] = []
    while True:
        got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        if not got.get("Messages"):
            return bodies
        for message in got["Messages"]:
            bodies.append(message["Body"])
            client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


async def run_until(worker: Worker, done: Any, limit: float = 20) -> None:
    task = asyncio.create_task(worker.run())
    deadline = time.monotonic() + limit
    while not done() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    worker.stop()
    await asyncio.wait_for(task, 30)


def new_app(tmp_path: Path) -> App:
    return App(
        "worker-test",
        settings={"metrics": False, "store": f"sqlite:///{tmp_path}/relaykit.db"},
        config_dir=tmp_path,
    )


async def test_messages_are_processed_and_deleted(sqs_endpoint: str, tmp_path: Path) -> None:
    """Every message runs once and is deleted; the queue is empty afterwards."""
    client = sqs(sqs_endpoint)
    url = make_queue(client, "jobs")
    for index in range(5):
        client.send_message(QueueUrl=url, MessageBody=json.dumps({"n": index}))
    app = new_app(tmp_path)
    seen: list[int] = []

    @app.on_sqs("jobs")
    async def job(body: dict[str, int]) -> None:
        seen.append(body["n"])

    worker = Worker(app, wait_seconds=1)
    await run_until(worker, lambda: len(seen) >= 5)
    assert sorted(seen) == [0, 1, 2, 3, 4]
    assert worker.processed == 5
    assert drain(client, url) == []


async def test_failing_message_reaches_the_dlq(sqs_endpoint: str, tmp_path: Path) -> None:
    """A message whose handler always fails is received maxReceiveCount times, then redriven."""
    client = sqs(sqs_endpoint)
    dlq = make_queue(client, "jobs-dlq")
    url = make_queue(client, "jobs", dlq=dlq, visibility=1)
    client.send_message(QueueUrl=url, MessageBody='{"n": 1}')
    app = new_app(tmp_path)
    attempts: list[int] = []

    @app.on_sqs("jobs")
    async def job(body: dict[str, int]) -> None:
        attempts.append(body["n"])
        raise RuntimeError("the model is down")

    worker = Worker(app, wait_seconds=1)

    def in_dlq() -> bool:
        attributes = client.get_queue_attributes(
            QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) == 1

    await run_until(worker, in_dlq, limit=20)
    assert in_dlq()
    assert attempts == [1, 1]
    assert drain(client, dlq) == ['{"n": 1}']


async def test_visibility_is_extended_for_a_slow_handler(sqs_endpoint: str, tmp_path: Path) -> None:
    """A handler slower than the visibility timeout (1 s) still sees its message only once."""
    client = sqs(sqs_endpoint)
    url = make_queue(client, "slow", visibility=1)
    client.send_message(QueueUrl=url, MessageBody='{"n": 7}')
    app = new_app(tmp_path)
    calls: list[int] = []

    @app.on_sqs("slow")
    async def job(body: dict[str, int]) -> None:
        calls.append(body["n"])
        await asyncio.sleep(3)

    worker = Worker(app, wait_seconds=1)
    await run_until(worker, lambda: worker.processed == 1, limit=15)
    assert calls == [7]
    assert drain(client, url) == []


async def test_idempotent_redelivery_is_skipped(sqs_endpoint: str, tmp_path: Path) -> None:
    """A message redelivered after success (same messageId) does not call the handler again."""
    client = sqs(sqs_endpoint)
    url = make_queue(client, "once")
    client.send_message(QueueUrl=url, MessageBody='{"n": 3}')
    app = new_app(tmp_path)
    calls: list[int] = []
    message_id: list[str] = []

    @app.on_sqs("once", idempotent=True)
    async def job(body: dict[str, int], ctx: Context) -> None:
        calls.append(body["n"])
        message_id.append(ctx.meta["record_id"])

    worker = Worker(app, wait_seconds=1)
    await run_until(worker, lambda: worker.processed == 1)
    # Redeliver: the same record (same messageId) through the same routing and markers.
    from relaykit.events.records import route_sqs, run_all

    record = {
        "messageId": message_id[0],
        "receiptHandle": "x",
        "body": '{"n": 3}',
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:once",
    }
    await run_all(app, route_sqs(app, record), {"target": "container"})
    assert calls == [3]


APP = textwrap.dedent(
    """
    import asyncio
    from pathlib import Path
    from relaykit import App

    OUT = Path(__file__).parent / "out"
    app = App("sigterm", settings={"metrics": False})

    @app.on_sqs("batch")
    async def job(body: dict[str, int]) -> None:
        (OUT / f"started-{body['n']}").touch()
        await asyncio.sleep(1.5)
        (OUT / f"done-{body['n']}").touch()
    """
)


def test_sigterm_mid_batch_loses_nothing(sqs_endpoint: str, tmp_path: Path) -> None:
    """SIGTERM while a batch runs: the worker finishes the in-flight records (each started one
    is done and deleted), exits 0, and every other message is still in the queue."""
    client = sqs(sqs_endpoint)
    url = make_queue(client, "batch", visibility=2)
    for index in range(8):
        client.send_message(QueueUrl=url, MessageBody=json.dumps({"n": index}))
    (tmp_path / "out").mkdir()
    (tmp_path / "sigterm_app.py").write_text(APP)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "framework"), "RELAYKIT_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "relaykit",
            "worker",
            "sigterm_app:app",
            "--wait-seconds",
            "1",
            "--batch-size",
            "4",
        ],
        cwd=tmp_path,
        env=env,
    )
    try:
        deadline = time.monotonic() + 20
        while not list((tmp_path / "out").glob("started-*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list((tmp_path / "out").glob("started-*")), "the worker never started a message"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    started = {p.name.split("-")[1] for p in (tmp_path / "out").glob("started-*")}
    done = {p.name.split("-")[1] for p in (tmp_path / "out").glob("done-*")}
    assert started == done
    time.sleep(2.5)  # anything received but abandoned becomes visible again
    left = {str(json.loads(body)["n"]) for body in drain(client, url)}
    assert left | done == {str(n) for n in range(8)}
    assert not left & done

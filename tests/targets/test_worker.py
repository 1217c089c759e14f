"""``relaykit worker`` against a real SQS API: moto's server on 127.0.0.1, real boto3, dummy
credentials. Messages are processed and deleted, a failing one reaches the dead-letter queue
after its receive limit, visibility is extended for a slow handler, FIFO groups keep their
order, schedules run, SIGTERM mid-batch loses nothing, idempotent redelivery is skipped."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relaykit import App, Context
from relaykit.errors import StartupError
from relaykit.targets.worker import Worker
from sqs_moto import CREDENTIALS, count, drain, make_queue, moto_server, sqs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sqs_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's server with its endpoint in ``AWS_ENDPOINT_URL_SQS`` (as a container would set)."""
    with moto_server() as endpoint:
        for name, value in {**CREDENTIALS, "AWS_ENDPOINT_URL_SQS": endpoint}.items():
            monkeypatch.setenv(name, value)
        yield endpoint


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
        return count(client, dlq) == 1

    await run_until(worker, in_dlq, limit=20)
    assert in_dlq()
    assert attempts == [1, 1]
    assert drain(client, dlq) == ['{"n": 1}']


async def test_visibility_is_extended_for_a_slow_handler(sqs_endpoint: str, tmp_path: Path) -> None:
    """A handler running 3x the visibility timeout (2 s): another consumer polling meanwhile
    never receives the message, which is received once and deleted at the end."""
    client = sqs(sqs_endpoint)
    url = make_queue(client, "slow", visibility=2)
    client.send_message(QueueUrl=url, MessageBody='{"n": 7}')
    app = new_app(tmp_path)
    calls: list[int] = []
    running = asyncio.Event()

    @app.on_sqs("slow")
    async def job(body: dict[str, int]) -> None:
        calls.append(body["n"])
        running.set()
        await asyncio.sleep(6)

    async def other_consumer() -> list[str]:
        await running.wait()
        stolen: list[str] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            got = await asyncio.to_thread(
                client.receive_message, QueueUrl=url, WaitTimeSeconds=0, VisibilityTimeout=0
            )
            stolen += [message["Body"] for message in got.get("Messages", [])]
            await asyncio.sleep(0.25)
        return stolen

    worker = Worker(app, wait_seconds=1)
    probe = asyncio.create_task(other_consumer())
    await run_until(worker, lambda: worker.processed == 1, limit=20)
    assert await probe == []
    assert calls == [7]
    assert drain(client, url) == []


async def test_fifo_failure_holds_back_only_its_group(sqs_endpoint: str, tmp_path: Path) -> None:
    """FIFO: the first failure in group A leaves the rest of A unrun and undeleted, for
    redelivery in order; group B runs to the end and is deleted. Within each group the handler
    calls follow send order."""
    client = sqs(sqs_endpoint)
    url = make_queue(client, "orders.fifo", visibility=30)
    for group, n in [("a", 1), ("a", 2), ("b", 1), ("a", 3), ("b", 2)]:
        client.send_message(
            QueueUrl=url, MessageBody=json.dumps({"id": f"{group}-{n}"}), MessageGroupId=group
        )
    app = new_app(tmp_path)
    calls: list[str] = []

    @app.on_sqs("orders.fifo")
    async def job(body: dict[str, str]) -> None:
        calls.append(body["id"])
        await asyncio.sleep(0.05)
        if body["id"] == "a-2":
            raise RuntimeError("the model is down")

    worker = Worker(app, wait_seconds=1)
    await run_until(worker, lambda: worker.processed == 3 and worker.failed == 1, limit=15)
    assert [call for call in calls if call.startswith("a")] == ["a-1", "a-2"]
    assert [call for call in calls if call.startswith("b")] == ["b-1", "b-2"]
    attributes = client.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    left = int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )
    assert left == 2  # a-2 and a-3, left for redelivery


async def test_schedules_run_in_the_worker(sqs_endpoint: str, tmp_path: Path) -> None:
    """A ``rate(1 second)`` schedule runs about once a second with a Scheduled Event record."""
    app = new_app(tmp_path)
    events: list[dict[str, Any]] = []

    @app.on_schedule("rate(1 second)", rule="tick")
    async def tick(event: dict[str, Any], ctx: Context) -> None:
        events.append(event)

    worker = Worker(app, wait_seconds=1)
    await run_until(worker, lambda: len(events) >= 2, limit=10)
    assert events[0]["detail-type"] == "Scheduled Event"
    assert events[0]["resources"][0].endswith(":rule/tick")
    assert events[0]["id"] != events[1]["id"]


async def test_a_missing_queue_is_a_clear_error(sqs_endpoint: str, tmp_path: Path) -> None:
    app = new_app(tmp_path)

    @app.on_sqs("nowhere")
    async def job(body: Any) -> None:
        return None

    with pytest.raises(StartupError, match=r"cannot use the SQS queue 'nowhere' at http://127"):
        await Worker(app, wait_seconds=1).run()


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


def test_worker_without_event_sources_exits_with_a_clear_error(tmp_path: Path) -> None:
    """`relaykit worker` on an app with no queue or schedule handlers says so and exits 2
    instead of idling."""
    import subprocess
    import sys

    relaykit = str(Path(sys.executable).parent / "relaykit")
    quickstart = str(Path(__file__).resolve().parent.parent.parent / "examples" / "quickstart.py")
    done = subprocess.run(
        [relaykit, "worker", quickstart],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "nothing for a worker to do" in done.stderr and "@app.on_sqs" in done.stderr
    assert "Traceback" not in done.stderr

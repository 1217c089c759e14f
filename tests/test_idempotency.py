"""Idempotent event-source handlers (``idempotent=True``, ``relaykit.idempotency``): the marker
is claimed (IN_PROGRESS) before the handler runs, completed with the result after, deleted when
the handler fails, taken over once expired. Every test runs against each store relaykit keeps
markers in: the SQLite file of the ``store`` setting, and the durable store's DynamoDB table on
moto's server (127.0.0.1, real boto3). Deliveries go through ``app.lambda_handler`` with
real-shape events; a second App on the same store stands for a second Lambda environment (or
container) receiving a duplicate."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pydantic import BaseModel

from relaykit import App, Context
from relaykit.durable.stores import open_store
from relaykit.idempotency import (
    RETENTION_SECONDS,
    Claim,
    Completed,
    RecordInProgress,
    open_markers,
)
from relaykit.llm.local import LocalModel
from relaykit.targets.lambda_handler import LambdaHandler
from relaykit.targets.worker import Worker
from sqs_moto import make_queue, sqs

EVENTS = Path(__file__).parent / "events"
WAIT = 30.0  # safety limit on waits for another thread, never an assertion


class Order(BaseModel):
    order_id: str
    text: str


class Placed(BaseModel):
    order_id: str


class LambdaContext:
    """The managed runtime's context object (the attributes relaykit reads)."""

    function_name = "idempotency-test"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:idempotency-test"

    def __init__(self, remaining_ms: int = 30_000) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return data


def one_record(name: str = "sqs") -> dict[str, Any]:
    """The first record of ``tests/events/NAME.json`` as a batch of its own."""
    event = load(name)
    event["Records"] = event["Records"][:1]
    return event


# Stores -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's server on 127.0.0.1 (a free port), stopped at the end of the module."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def dynamodb_client(endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The ``store`` setting of each backend: a SQLite file, or a fresh DynamoDB table (the
    durable store's, created as a deploy would) reached through the environment's endpoint."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/relaykit.db"
    endpoint = request.getfixturevalue("moto_endpoint")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ENDPOINT_URL_SQS": endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    table = f"idem-{uuid.uuid4().hex[:12]}"
    open_store(f"dynamodb://{table}", dynamodb=dynamodb_client(endpoint)).create_table()  # type: ignore[attr-defined]
    return f"dynamodb://{table}"


@pytest.fixture
def environments(tmp_path: Path) -> Iterator[Callable[..., App]]:
    """``environment(store, **settings)``: a new App (a new Lambda environment or container)
    on ``store``; their Lambda handlers are closed at the end."""
    apps: list[App] = []

    def make(store: str, model: Any = None, **settings: Any) -> App:
        options = {"metrics": False, "store": store, "log_level": "WARNING", **settings}
        app = App("idem", settings=options, model=model, config_dir=tmp_path)
        apps.append(app)
        return app

    yield make
    for app in apps:
        handler: LambdaHandler = app.lambda_handler
        handler.close()


def deliver(app: App, event: dict[str, Any], remaining_ms: int = 30_000) -> Any:
    """One Lambda delivery of ``event`` (a copy) to ``app``, as the managed runtime makes it."""
    return app.lambda_handler(json.loads(json.dumps(event)), LambdaContext(remaining_ms))


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


# Redelivery and retries ---------------------------------------------------------------------


def test_redelivery_returns_the_recorded_result(
    store: str, environments: Callable[..., App]
) -> None:
    """An EventBridge event delivered again (same event id), to the same environment or to
    another one, is answered with the result recorded the first time: the handler, and so the
    model (scripted with exactly one reply), is not called again."""
    calls: list[str] = []

    def app_with_model() -> App:
        app = environments(store, model=LocalModel(delay=0, script=["Thanks for order o-9!"]))

        @app.on_eventbridge({"source": ["com.example.shop"]}, idempotent=True)
        async def thank(order: Placed, ctx: Context) -> str:
            calls.append(order.order_id)
            reply = await ctx.llm.complete([{"role": "user", "content": order.order_id}])
            return reply.text

        return app

    first = app_with_model()
    event = load("eventbridge")
    assert deliver(first, event) == "Thanks for order o-9!"
    assert deliver(first, event) == "Thanks for order o-9!"
    assert deliver(app_with_model(), event) == "Thanks for order o-9!"
    assert calls == ["o-9"]


def test_sqs_redelivery_runs_only_what_failed(store: str, environments: Callable[..., App]) -> None:
    """A batch whose second record fails is redelivered whole: only the failed record runs
    again (its marker was deleted when it failed), and a third delivery runs nothing; the
    markers outlive the environment that wrote them."""
    calls: list[str] = []
    fail = {"o-2"}

    def summariser() -> App:
        app = environments(store)

        @app.on_sqs("orders", idempotent=True)
        async def summarise(order: Order, ctx: Context) -> None:
            calls.append(order.order_id)
            if order.order_id in fail:
                raise RuntimeError("model overloaded")

        return app

    app = summariser()
    event = load("sqs")
    ids = [record["messageId"] for record in event["Records"]]
    assert failed_ids(deliver(app, event)) == [ids[1]]
    fail.clear()
    assert failed_ids(deliver(app, event)) == []
    assert failed_ids(deliver(summariser(), event)) == []
    assert sorted(calls) == ["o-1", "o-2", "o-2", "o-3"]


def test_a_failed_attempt_lets_the_retry_run(store: str, environments: Callable[..., App]) -> None:
    """A handler that fails on its first two attempts runs again on each redelivery (the
    IN_PROGRESS marker is deleted with each failure, not left to expire) and, once it has
    succeeded, not again."""
    attempts: list[int] = []
    app = environments(store)

    @app.on_dynamodb_stream("documents", idempotent=True)
    async def embed(row: dict[str, Any]) -> None:
        attempts.append(len(attempts) + 1)
        if len(attempts) < 3:
            raise RuntimeError(f"attempt {len(attempts)} failed")

    event = load("dynamodb")
    event["Records"] = event["Records"][:1]
    sequence = event["Records"][0]["dynamodb"]["SequenceNumber"]
    assert failed_ids(deliver(app, event)) == [sequence]
    assert failed_ids(deliver(app, event)) == [sequence]
    assert failed_ids(deliver(app, event)) == []
    assert failed_ids(deliver(app, event)) == []
    assert attempts == [1, 2, 3]


# Concurrent duplicates ----------------------------------------------------------------------


def test_a_concurrent_duplicate_fails_instead_of_running(
    store: str, environments: Callable[..., App], caplog: pytest.LogCaptureFixture
) -> None:
    """While one environment runs a record, a duplicate delivery of it to another environment
    finds the IN_PROGRESS marker: that delivery does not run the handler, reports the record
    in batchItemFailures (so SQS retries it later) and says why in the log; once the first
    delivery has completed, the retry is acknowledged without running."""
    started, finish = threading.Event(), threading.Event()
    calls: list[str] = []

    def environment(name: str) -> App:
        app = environments(store)

        @app.on_sqs("orders", idempotent=True)
        async def summarise(order: Order) -> None:
            calls.append(name)
            started.set()
            await asyncio.to_thread(finish.wait, WAIT)

        return app

    first, second = environment("first"), environment("second")
    event = one_record()
    message_id = event["Records"][0]["messageId"]
    answers: list[Any] = []
    running = threading.Thread(target=lambda: answers.append(deliver(first, event)))
    running.start()
    try:
        assert started.wait(WAIT)
        with caplog.at_level("WARNING", logger="relaykit.events"):
            assert failed_ids(deliver(second, event)) == [message_id]
    finally:
        finish.set()
        running.join(WAIT)
    assert answers == [{"batchItemFailures": []}]
    assert failed_ids(deliver(second, event)) == []
    assert calls == ["first"]
    [line] = [r.getMessage() for r in caplog.records if "another delivery" in r.getMessage()]
    assert line.startswith(f"SQS message {message_id} not run: record sqs:orders#{message_id}")
    assert "is being processed by another delivery right now" in line


def test_racing_deliveries_run_the_handler_once(
    store: str, environments: Callable[..., App]
) -> None:
    """Four environments receive the same message at the same moment: the conditional write
    lets exactly one claim it and run the handler; the other three report it failed. (The
    winner's handler holds until the others have answered, so every claim meets its marker.)"""
    racers = 4
    barrier = threading.Barrier(racers)
    answered = threading.Condition()
    done: list[Any] = []
    calls: list[int] = []

    def others_answered() -> None:
        with answered:
            answered.wait_for(lambda: len(done) >= racers - 1, WAIT)

    def environment(index: int) -> App:
        app = environments(store)

        @app.on_sqs("orders", idempotent=True)
        async def summarise(order: Order) -> None:
            calls.append(index)
            await asyncio.to_thread(others_answered)

        return app

    apps = [environment(index) for index in range(racers)]
    for app in apps:  # imports, loops and markers ready, so that the claims really race
        app.lambda_handler.prepare()
    event = one_record()

    def race(app: App) -> None:
        barrier.wait(WAIT)
        answer = deliver(app, event)
        with answered:
            done.append(answer)
            answered.notify_all()

    threads = [threading.Thread(target=race, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    message_id = event["Records"][0]["messageId"]
    assert len(calls) == 1
    assert sorted(len(failed_ids(answer)) for answer in done) == [0, 1, 1, 1]
    assert all(failed_ids(answer) in ([], [message_id]) for answer in done)


def test_an_expired_in_progress_marker_is_taken_over(
    store: str, environments: Callable[..., App]
) -> None:
    """A delivery's IN_PROGRESS marker never outlives its Lambda invocation: one whose deadline
    has come (here: no time left) no longer holds the record, so a redelivery takes it over and
    runs the handler, as it would after that invocation was killed at its timeout."""
    started, finish = threading.Event(), threading.Event()
    calls: list[str] = []

    def environment(name: str) -> App:
        app = environments(store)

        @app.on_sqs("orders", idempotent=True)
        async def summarise(order: Order) -> None:
            calls.append(name)
            started.set()
            if name == "timed-out":
                await asyncio.to_thread(finish.wait, WAIT)

        return app

    timed_out, retry = environment("timed-out"), environment("retry")
    event = one_record()
    running = threading.Thread(target=deliver, args=(timed_out, event, 0))
    running.start()
    try:
        assert started.wait(WAIT)
        assert failed_ids(deliver(retry, event)) == []
    finally:
        finish.set()
        running.join(WAIT)
    assert failed_ids(deliver(retry, event)) == []
    assert calls == ["timed-out", "retry"]


def test_a_long_handler_keeps_its_marker(store: str, environments: Callable[..., App]) -> None:
    """A handler that runs longer than ``idempotency_in_progress_seconds`` renews its marker
    every half of it, so a duplicate that arrives after the first expiry still finds the record
    in progress."""
    started, finish = threading.Event(), threading.Event()
    calls: list[str] = []

    def environment(name: str) -> App:
        app = environments(store, idempotency_in_progress_seconds=2.0)

        @app.on_sqs("orders", idempotent=True)
        async def summarise(order: Order) -> None:
            calls.append(name)
            started.set()
            await asyncio.to_thread(finish.wait, WAIT)

        return app

    first, duplicate = environment("first"), environment("duplicate")
    event = one_record()
    message_id = event["Records"][0]["messageId"]
    key = f"sqs:orders#{message_id}"
    running = threading.Thread(target=deliver, args=(first, event))
    running.start()
    try:
        assert started.wait(WAIT)
        claimed_until = held_until(store, key)
        limit = time.monotonic() + WAIT
        while held_until(store, key) == claimed_until and time.monotonic() < limit:
            time.sleep(0.05)
        assert held_until(store, key) > claimed_until  # renewed while the handler runs
        assert failed_ids(deliver(duplicate, event)) == [message_id]
    finally:
        finish.set()
        running.join(WAIT)
    assert calls == ["first"]


def held_until(store: str, key: str) -> float:
    """The expiry of ``key``'s IN_PROGRESS marker, read straight from the store."""
    if store.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(store[len("sqlite:///") :]) as db:
            row = db.execute(
                "SELECT until FROM relaykit_idempotency WHERE key = ?", (key,)
            ).fetchone()
        return float(row[0])
    table = store[len("dynamodb://") :]
    client = boto3.client("dynamodb")
    item = client.get_item(
        TableName=table, Key={"pk": {"S": f"P#{key}"}, "sk": {"S": "P"}}, ConsistentRead=True
    )["Item"]
    return float(item["in_progress_until"]["N"])


# The protocol, step by step -----------------------------------------------------------------


def test_marker_protocol(store: str) -> None:
    """The marker operations with a controlled clock, from two processes' points of view: a
    live IN_PROGRESS marker refuses a second claim (saying until when), an expired one is taken
    over, the former owner can then neither renew nor delete it, renewing moves the expiry,
    COMPLETED returns the result until the retention ends, and a released marker is claimable
    at once."""
    now = [1_700_000_000.0]
    first = open_markers(store, clock=lambda: now[0])
    second = open_markers(store, clock=lambda: now[0])
    key = "sqs:orders#m-1"

    async def scenario() -> None:
        mine = await first.claim(key, now[0] + 10)
        assert isinstance(mine, Claim)
        with pytest.raises(RecordInProgress) as held:
            await second.claim(key, now[0] + 10)
        assert held.value.until == now[0] + 10
        assert "2023-11-14T22:13:30Z" in str(held.value)

        now[0] += 10  # the first owner's marker expires (its invocation was killed)
        theirs = await second.claim(key, now[0] + 10)
        assert isinstance(theirs, Claim) and theirs.token != mine.token
        assert await first.renew(mine, now[0] + 100) is False
        await first.release(mine)  # not its marker any more: nothing happens
        with pytest.raises(RecordInProgress):
            await first.claim(key, now[0] + 10)

        assert await second.renew(theirs, now[0] + 30) is True
        now[0] += 20
        with pytest.raises(RecordInProgress):
            await first.claim(key, now[0] + 10)

        await second.complete(theirs, json.dumps({"summary": "ok"}))
        assert await first.claim(key, now[0] + 10) == Completed(key, {"summary": "ok"})

        now[0] += RETENTION_SECONDS + 1  # retention over: the record is new again
        again = await first.claim(key, now[0] + 10)
        assert isinstance(again, Claim)
        await first.release(again)
        assert isinstance(await second.claim(key, now[0] + 10), Claim)

    try:
        asyncio.run(scenario())
    finally:
        first.close()
        second.close()


def test_dynamodb_marker_items(moto_endpoint: str) -> None:
    """DynamoDB markers are items of the durable store's table outside its indexes:
    ``pk = P#<key>``, ``sk = P``, a ``status``, and an ``expires_at`` in epoch seconds for the
    table's TTL (the retention for COMPLETED, so abandoned IN_PROGRESS items go too)."""
    client = dynamodb_client(moto_endpoint)
    table = f"idem-{uuid.uuid4().hex[:12]}"
    open_store(f"dynamodb://{table}", dynamodb=client).create_table()  # type: ignore[attr-defined]
    markers = open_markers(f"dynamodb://{table}", dynamodb=client, clock=lambda: 1000.0)

    async def scenario() -> None:
        done = await markers.claim("sqs:orders#a", 1030.0)
        await markers.claim("sqs:orders#b", 1030.0)
        assert isinstance(done, Claim)
        await markers.complete(done, '"result"')

    asyncio.run(scenario())
    items = {item["pk"]["S"]: item for item in client.scan(TableName=table)["Items"]}
    assert set(items) == {"P#sqs:orders#a", "P#sqs:orders#b"}
    assert {item["sk"]["S"] for item in items.values()} == {"P"}
    completed, running = items["P#sqs:orders#a"], items["P#sqs:orders#b"]
    assert completed["status"]["S"] == "COMPLETED"
    assert completed["result"]["S"] == '"result"'
    assert running["status"]["S"] == "IN_PROGRESS"
    assert float(running["in_progress_until"]["N"]) == 1030.0
    for item in (completed, running):
        assert item["expires_at"]["N"] == str(1000 + RETENTION_SECONDS)


# In a container ------------------------------------------------------------------------------


async def test_worker_leaves_an_in_progress_message_for_redrive(
    store: str, environments: Callable[..., App], moto_endpoint: str
) -> None:
    """``relaykit worker`` receives a message that another delivery is processing right now:
    the handler does not run and the message is not deleted (it stays in the queue, to be
    received again after its visibility timeout); once that delivery has finished (here: failed
    and released its marker), the redelivered message runs."""
    client = sqs(moto_endpoint)
    queue = f"jobs-{uuid.uuid4().hex[:8]}"
    url = make_queue(client, queue, visibility=1)
    message_id = client.send_message(QueueUrl=url, MessageBody='{"n": 1}')["MessageId"]
    app = environments(store)
    calls: list[int] = []

    @app.on_sqs(queue, idempotent=True)
    async def job(body: dict[str, int]) -> None:
        calls.append(body["n"])

    elsewhere = open_markers(store)  # another environment, holding the record
    claim = await elsewhere.claim(f"sqs:{queue}#{message_id}", time.time() + 600)
    assert isinstance(claim, Claim)
    worker = Worker(app, client=client, wait_seconds=1)
    await run_until(worker, lambda: worker.failed >= 1)
    assert calls == []
    attributes = client.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert sum(int(value) for value in attributes.values()) == 1  # not deleted

    await elsewhere.release(claim)
    elsewhere.close()
    worker = Worker(app, client=client, wait_seconds=1)
    await run_until(worker, lambda: worker.processed >= 1)
    assert calls == [1]


async def run_until(worker: Worker, done: Callable[[], bool]) -> None:
    task = asyncio.create_task(worker.run())
    limit = time.monotonic() + WAIT
    while not done() and time.monotonic() < limit:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    worker.stop()
    await asyncio.wait_for(task, WAIT)

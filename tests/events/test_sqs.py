"""SQS on Lambda: typed records, routing by queue ARN, partial batch failures, FIFO, S3
notifications wrapped in SQS, idempotent redelivery and a clear error for an unknown queue."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel

from relaykit import App, Context, UnknownEventError
from relaykit.llm.local import LocalModel

Invoke = Callable[[App, dict[str, Any]], Any]


class Order(BaseModel):
    order_id: str
    text: str


@dataclass
class Loose:
    order_id: str
    text: str


def test_one_failing_record_returns_exactly_its_id(
    new_app: Callable[[], App], invoke: Invoke, event: Callable[[str], dict[str, Any]]
) -> None:
    """Three records, the second raises: batchItemFailures names that message id only."""
    app = new_app()
    seen: list[str] = []

    @app.on_sqs("orders")
    async def handle(order: Order, ctx: Context) -> None:
        if "FAIL" in order.text:
            raise RuntimeError("model refused")
        seen.append(order.order_id)
        assert ctx.request_id == "8f5e2c1a-0000-4000-8000-000000000001"
        assert ctx.handler == "sqs:orders"

    batch = event("sqs")
    out = invoke(app, batch)
    assert out == {"batchItemFailures": [{"itemIdentifier": batch["Records"][1]["messageId"]}]}
    assert sorted(seen) == ["o-1", "o-3"]


def test_all_succeed_returns_empty_failures(
    new_app: Callable[[], App], invoke: Invoke, event: Callable[[str], dict[str, Any]]
) -> None:
    """A sync handler with a dataclass record; every record succeeds."""
    app = new_app()
    done: list[str] = []

    @app.on_sqs("arn:aws:sqs:us-east-1:123456789012:orders")
    def handle(order: Loose) -> None:
        done.append(order.order_id)

    assert invoke(app, event("sqs")) == {"batchItemFailures": []}
    assert sorted(done) == ["o-1", "o-2", "o-3"]


def test_records_run_concurrently(
    new_app: Callable[[], App], invoke: Invoke, event: Callable[[str], dict[str, Any]]
) -> None:
    """Standard-queue records of one batch overlap (three 0.2 s handlers in well under 0.6 s)."""
    app = new_app()
    running: list[int] = []
    peak: list[int] = [0]

    @app.on_sqs("orders")
    async def handle(order: Order) -> None:
        running.append(1)
        peak[0] = max(peak[0], len(running))
        await asyncio.sleep(0.2)
        running.pop()

    invoke(app, event("sqs"))
    assert peak[0] == 3


def test_fifo_stops_at_first_failure(
    new_app: Callable[[], App], invoke: Invoke, event: Callable[[str], dict[str, Any]]
) -> None:
    """FIFO: records after the first failure are not run and are reported failed too."""
    app = new_app()
    order: list[str] = []

    @app.on_sqs("orders.fifo")
    async def handle(item: Order) -> None:
        order.append(item.order_id)
        if "FAIL" in item.text:
            raise RuntimeError("boom")

    batch = event("sqs_fifo")
    out = invoke(app, batch)
    ids = [record["messageId"] for record in batch["Records"]]
    assert out == {"batchItemFailures": [{"itemIdentifier": ids[1]}, {"itemIdentifier": ids[2]}]}
    assert order == ["f-1", "f-2"]


def test_routing_by_queue_and_record_types(
    new_app: Callable[[], App], invoke: Invoke, event: Callable[[str], dict[str, Any]]
) -> None:
    """Records go to their queue's handler; Powertools and raw-dict annotations are honoured."""
    app = new_app()
    got: dict[str, list[Any]] = {"orders": [], "other": []}

    @app.on_sqs("other")
    async def other(record: dict[str, Any]) -> None:
        got["other"].append(record["messageId"])

    @app.on_sqs("orders")
    async def orders(record: SQSRecord) -> None:
        got["orders"].append(record.json_body["order_id"])

    batch = event("sqs")
    batch["Records"][2]["eventSourceARN"] = "arn:aws:sqs:us-east-1:123456789012:other"
    assert invoke(app, batch) == {"batchItemFailures": []}
    assert sorted(got["orders"]) == ["o-1", "o-2"]
    assert got["other"] == [batch["Records"][2]["messageId"]]


def test_unknown_queue_is_a_clear_error(
    new_app: Callable[[], App], invoke: Invoke, event: Callable[[str], dict[str, Any]]
) -> None:
    """A record for a queue nobody handles fails the invocation, naming the queue and the
    registered ones (so the whole batch is retried, not acknowledged unseen)."""
    app = new_app()

    @app.on_sqs("orders")
    async def handle(order: Order) -> None:
        raise AssertionError("not reached")

    batch = event("sqs")
    batch["Records"][0]["eventSourceARN"] = "arn:aws:sqs:us-east-1:123456789012:stray"
    with pytest.raises(UnknownEventError) as raised:
        invoke(app, batch)
    assert str(raised.value) == (
        "no @app.on_sqs handler for queue arn:aws:sqs:us-east-1:123456789012:stray "
        "(registered: sqs:orders)"
    )


def test_invalid_body_fails_only_that_record(
    new_app: Callable[[], App], invoke: Invoke, event: Callable[[str], dict[str, Any]]
) -> None:
    """A body that does not validate against the model is a failed record (a poison pill)."""
    app = new_app()

    @app.on_sqs("orders")
    async def handle(order: Order) -> None:
        return None

    batch = event("sqs")
    batch["Records"][0]["body"] = '{"order_id": 5}'
    out = invoke(app, batch)
    assert out == {"batchItemFailures": [{"itemIdentifier": batch["Records"][0]["messageId"]}]}


def test_s3_notification_in_sqs_is_unwrapped(
    new_app: Callable[[], App], invoke: Invoke, event: Callable[[str], dict[str, Any]]
) -> None:
    """An SQS message carrying an S3 notification goes to the matching on_s3 handler."""
    app = new_app()
    keys: list[str] = []

    @app.on_s3("docs-bucket", prefix="incoming/", suffix=".pdf", events=["ObjectCreated:*"])
    async def on_upload(record: dict[str, Any]) -> None:
        keys.append(record["s3"]["object"]["key"])

    assert invoke(app, event("sqs_s3")) == {"batchItemFailures": []}
    assert keys == ["incoming/report+2024.pdf"]


def test_idempotent_redelivery_does_not_call_again(
    new_app: Callable[[], App], invoke: Invoke, event: Callable[[str], dict[str, Any]]
) -> None:
    """With idempotent=True a message id processed once is acknowledged without a second call;
    the failed one runs again on redelivery."""
    app = new_app()
    calls: list[str] = []
    fail = {"o-2"}

    @app.on_sqs("orders", idempotent=True)
    async def handle(order: Order) -> None:
        calls.append(order.order_id)
        if order.order_id in fail:
            raise RuntimeError("transient")

    batch = event("sqs")
    first = invoke(app, batch)
    assert first == {"batchItemFailures": [{"itemIdentifier": batch["Records"][1]["messageId"]}]}
    fail.clear()
    assert invoke(app, event("sqs")) == {"batchItemFailures": []}
    assert sorted(calls) == ["o-1", "o-2", "o-2", "o-3"]


def test_fifo_failure_skips_only_its_message_group(
    new_app: Callable[[], App], invoke: Invoke, event: Callable[[str], dict[str, Any]]
) -> None:
    """FIFO with two message groups: the failure in group A fails the rest of A (reported, not
    run) while group B runs to the end, in order (SqsFifoPartialProcessor, skip_group_on_error)."""
    app = new_app()
    ran: list[str] = []

    @app.on_sqs("orders.fifo")
    async def handle(item: Order) -> None:
        ran.append(item.order_id)
        if "FAIL" in item.text:
            raise RuntimeError("boom")

    batch = event("sqs_fifo_groups")
    ids = [record["messageId"] for record in batch["Records"]]
    out = invoke(app, batch)
    assert out == {"batchItemFailures": [{"itemIdentifier": ids[2]}, {"itemIdentifier": ids[4]}]}
    assert ran == ["a-1", "b-1", "a-2", "b-2"]


def test_idempotent_redelivery_does_not_call_the_model_again(
    tmp_path: Path, invoke: Invoke, event: Callable[[str], dict[str, Any]]
) -> None:
    """The whole batch is redelivered (a Lambda timeout, say): with idempotent=True the model is
    not called again for the records already processed. The scripted model has exactly one reply
    per message, so a repeated call would fail the record."""
    model = LocalModel(delay=0, script=["summary 1", "summary 2", "summary 3"])
    settings = {"metrics": False, "store": f"sqlite:///{tmp_path}/relaykit.db"}
    app = App("idem", settings=settings, model=model, config_dir=tmp_path)
    replies: list[str] = []

    @app.on_sqs("orders", idempotent=True)
    async def summarise(order: Order, ctx: Context) -> None:
        reply = await ctx.llm.complete([{"role": "user", "content": order.text}])
        replies.append(reply.text)

    assert invoke(app, event("sqs")) == {"batchItemFailures": []}
    again = event("sqs")
    for record in again["Records"]:
        record["attributes"]["ApproximateReceiveCount"] = "2"
    assert invoke(app, again) == {"batchItemFailures": []}
    assert sorted(replies) == ["summary 1", "summary 2", "summary 3"]


def test_records_that_wait_each_run_in_a_task_of_their_own(
    new_app: Callable[[], App], invoke: Invoke, event: Callable[[str], dict[str, Any]]
) -> None:
    """Records that wait overlap, and each runs start to finish in one asyncio task: the task
    a handler starts in is the one it ends in, no two overlapping records share one, and
    ``asyncio.timeout`` inside a handler times only its own record (no record is cancelled)."""
    app = new_app()
    tasks: dict[str, tuple[Any, Any]] = {}

    @app.on_sqs("orders")
    async def handle(order: Order) -> None:
        before = asyncio.current_task()
        async with asyncio.timeout(30):
            await asyncio.sleep(0.01)
        tasks[order.order_id] = (before, asyncio.current_task())

    batch = event("sqs")
    batch["Records"][1]["body"] = '{"order_id": "o-2", "text": "fine"}'
    assert invoke(app, batch) == {"batchItemFailures": []}
    assert sorted(tasks) == ["o-1", "o-2", "o-3"]
    assert all(before is not None and before is after for before, after in tasks.values())
    assert len({id(before) for before, _ in tasks.values()}) == 3


def test_failures_of_waiting_records_are_reported(
    new_app: Callable[[], App], invoke: Invoke, event: Callable[[str], dict[str, Any]]
) -> None:
    """Once the first record waits, the others start in tasks of their own; a record that does
    not validate (it fails as it starts) and one whose handler raises after waiting are both
    reported, in batch order, and the third record still succeeds."""
    app = new_app()
    done: list[str] = []

    @app.on_sqs("orders")
    async def handle(order: Order) -> None:
        await asyncio.sleep(0)
        if "FAIL" in order.text:
            raise RuntimeError("model refused")
        done.append(order.order_id)

    batch = event("sqs")
    batch["Records"][1]["body"] = '{"order_id": 2}'
    batch["Records"][2]["body"] = '{"order_id": "o-3", "text": "FAIL"}'
    ids = [record["messageId"] for record in batch["Records"]]
    out = invoke(app, batch)
    assert out == {"batchItemFailures": [{"itemIdentifier": ids[1]}, {"itemIdentifier": ids[2]}]}
    assert done == ["o-1"]


def test_each_record_gets_its_own_context(
    new_app: Callable[[], App], invoke: Invoke, event: Callable[[str], dict[str, Any]]
) -> None:
    """Every record's Context carries the invocation's ids and deadline, the record's own id in
    ``meta``, and a model bound to it alone (its own usage), like ``App.new_context`` gives."""
    app = new_app()
    seen: list[Context] = []

    @app.on_sqs("orders")
    async def handle(order: Order, ctx: Context) -> None:
        seen.append(ctx)

    batch = event("sqs")
    assert invoke(app, batch) == {"batchItemFailures": []}
    assert [ctx.meta["record_id"] for ctx in seen] == [r["messageId"] for r in batch["Records"]]
    assert {ctx.meta["source"] for ctx in seen} == {"sqs"}
    assert {ctx.request_id for ctx in seen} == {"8f5e2c1a-0000-4000-8000-000000000001"}
    assert {ctx.target for ctx in seen} == {"lambda"}
    assert all(ctx.deadline is not None and 0 < ctx.remaining_seconds() <= 30 for ctx in seen)
    assert len({id(ctx) for ctx in seen}) == len({id(ctx.llm) for ctx in seen}) == 3
    assert len({id(ctx.usage) for ctx in seen}) == 3
    reference = app.new_context(app.sources[0].handler, target="lambda")
    assert {type(ctx.llm) for ctx in seen} == {type(reference.llm)}
    assert {ctx.handler for ctx in seen} == {reference.handler}


@pytest.mark.parametrize("limit", [1, 2])
def test_handler_concurrency_limit_holds_within_a_batch(
    new_app: Callable[[], App], invoke: Invoke, event: Callable[[str], dict[str, Any]], limit: int
) -> None:
    """``max_concurrency`` caps how many records of a batch run the handler at once, even though
    the batch's records are started concurrently; every record still runs."""
    app = new_app()
    running: list[str] = []
    peak = [0]
    done: list[str] = []

    @app.on_sqs("orders", max_concurrency=limit)
    async def handle(order: Order) -> None:
        running.append(order.order_id)
        peak[0] = max(peak[0], len(running))
        await asyncio.sleep(0.01)
        running.remove(order.order_id)
        done.append(order.order_id)

    batch = event("sqs")
    batch["Records"][1]["body"] = '{"order_id": "o-2", "text": "fine"}'
    assert invoke(app, batch) == {"batchItemFailures": []}
    assert sorted(done) == ["o-1", "o-2", "o-3"]
    assert peak[0] == limit

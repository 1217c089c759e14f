"""Plain ``def`` handlers on Lambda: a batch whose every record goes to one is served in the
calling thread, one record after another, without the event loop (as Powertools'
``BatchProcessor`` does), with the same partial failures, FIFO groups, contexts and log lines as
an async handler's; an ``idempotent=True`` or ``max_concurrency`` above 1 ``def`` handler keeps
its worker threads, and so does every ``def`` handler served on a running event loop (Lambda's
asyncio runtime, like the container worker)."""

from __future__ import annotations

import asyncio
import functools
import json
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import pytest
from pydantic import BaseModel

from relaykit import App, Context

Invoke = Callable[[App, dict[str, Any]], Any]
Event = Callable[[str], dict[str, Any]]
REQUEST_ID = "8f5e2c1a-0000-4000-8000-000000000001"  # conftest's LambdaContext


class RuntimeContext:
    """The Lambda context object's attributes that relaykit reads (as the asyncio runtime's)."""

    function_name = "relaykit-events"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:relaykit-events"
    aws_request_id = REQUEST_ID

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


class Order(BaseModel):
    order_id: str
    text: str


class Doc(BaseModel):
    id: str
    text: str
    words: int


def test_sync_handler_runs_in_the_calling_thread_with_partial_failures(
    new_app: Callable[[], App], invoke: Invoke, event: Event, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each record runs in the thread that called the handler, in batch order; the failed one is
    reported alone and logged with the invocation's request id and correlation id; each record
    has a Context of its own carrying the Lambda fields and the bound model."""
    app = new_app()
    threads: set[int] = set()
    ran: list[str] = []
    contexts: list[Context] = []

    @app.on_sqs("orders")
    def handle(order: Order, ctx: Context) -> None:
        threads.add(threading.get_ident())
        ran.append(order.order_id)
        contexts.append(ctx)
        ctx.logger.info("handled %s", order.order_id)
        if "FAIL" in order.text:
            raise RuntimeError("model refused")

    batch = event("sqs")
    ids = [record["messageId"] for record in batch["Records"]]
    assert invoke(app, batch) == {"batchItemFailures": [{"itemIdentifier": ids[1]}]}
    assert threads == {threading.get_ident()}
    assert ran == ["o-1", "o-2", "o-3"]
    assert [ctx.meta["record_id"] for ctx in contexts] == ids
    assert len({id(ctx) for ctx in contexts}) == 3
    reference = app.new_context(app.sources[0].handler, target="lambda")
    for ctx in contexts:
        assert (ctx.request_id, ctx.target, ctx.handler) == (REQUEST_ID, "lambda", "sqs:orders")
        assert ctx.meta["source"] == "sqs"
        assert type(ctx.llm) is type(reference.llm)
        assert ctx.usage is ctx.llm.usage  # type: ignore[attr-defined]
    assert len({id(ctx.llm) for ctx in contexts}) == 3

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    handled = [line for line in lines if line["message"].startswith("handled")]
    assert [line["message"] for line in handled] == ["handled o-1", "handled o-2", "handled o-3"]
    failure = [line for line in lines if "failed in" in line["message"]]
    assert len(failure) == 1 and "model refused" in failure[0]["exception"]
    for line in [*handled, *failure]:
        assert line["request_id"] == REQUEST_ID
        assert line["correlation_id"] == ids[0]


def test_sync_handler_fifo_failure_skips_only_its_message_group(
    new_app: Callable[[], App], invoke: Invoke, event: Event
) -> None:
    """FIFO served in the calling thread: a failure in group A fails the rest of A (reported,
    not run) while group B runs to the end, in order."""
    app = new_app()
    ran: list[str] = []

    @app.on_sqs("orders.fifo")
    def handle(item: Order) -> None:
        ran.append(item.order_id)
        if "FAIL" in item.text:
            raise RuntimeError("boom")

    batch = event("sqs_fifo_groups")
    ids = [record["messageId"] for record in batch["Records"]]
    out = invoke(app, batch)
    assert out == {"batchItemFailures": [{"itemIdentifier": ids[2]}, {"itemIdentifier": ids[4]}]}
    assert ran == ["a-1", "b-1", "a-2", "b-2"]


def test_sync_handler_dynamodb_stream_in_the_calling_thread(
    new_app: Callable[[], App], invoke: Invoke, event: Event
) -> None:
    """DynamoDB Streams with a ``def`` handler: every record runs, in order, in the calling
    thread; the failed one is reported by its sequence number."""
    app = new_app()
    seen: list[str] = []
    threads: set[int] = set()

    @app.on_dynamodb_stream("documents")
    def embed(doc: Doc) -> None:
        threads.add(threading.get_ident())
        if doc.text.startswith("FAIL"):
            raise RuntimeError("embedding failed")
        seen.append(doc.id)

    batch = event("dynamodb")
    failed = batch["Records"][1]["dynamodb"]["SequenceNumber"]
    assert invoke(app, batch) == {"batchItemFailures": [{"itemIdentifier": failed}]}
    assert seen == ["doc-1", "doc-3"]
    assert threads == {threading.get_ident()}


def test_context_variables_set_by_a_sync_handler_end_with_the_invocation(
    new_app: Callable[[], App], invoke: Invoke, event: Event
) -> None:
    """A handler served in the calling thread runs in a copy of the caller's context, as a task
    or a worker thread would: what it sets is gone for the next invocation."""
    app = new_app()
    var: ContextVar[str] = ContextVar("test_sync_var", default="unset")
    seen: list[str] = []

    @app.on_sqs("orders")
    def handle(order: Order) -> None:
        seen.append(var.get())
        var.set(order.order_id)

    batch = event("sqs")
    batch["Records"] = batch["Records"][:1]
    invoke(app, batch)
    invoke(app, batch)
    assert seen == ["unset", "unset"]
    assert var.get() == "unset"


def test_idempotent_sync_handler_keeps_its_thread_and_runs_once(
    new_app: Callable[[], App], invoke: Invoke, event: Event
) -> None:
    """``idempotent=True`` needs the event loop (the marker's claim and renewals), so its
    ``def`` handler runs in a worker thread as before, and a redelivery does not call again."""
    app = new_app()
    calls: list[str] = []
    threads: set[int] = set()
    fail = {"o-2"}

    @app.on_sqs("orders", idempotent=True)
    def handle(order: Order) -> None:
        threads.add(threading.get_ident())
        calls.append(order.order_id)
        if order.order_id in fail:
            raise RuntimeError("transient")

    batch = event("sqs")
    first = invoke(app, batch)
    assert first == {"batchItemFailures": [{"itemIdentifier": batch["Records"][1]["messageId"]}]}
    fail.clear()
    assert invoke(app, event("sqs")) == {"batchItemFailures": []}
    assert sorted(calls) == ["o-1", "o-2", "o-2", "o-3"]
    assert threading.get_ident() not in threads


def test_sync_handler_with_a_higher_concurrency_limit_keeps_its_threads(
    new_app: Callable[[], App], invoke: Invoke, event: Event
) -> None:
    """A ``def`` handler registered with ``max_concurrency`` above 1 asked for records to
    overlap: it still runs in worker threads, off the calling thread."""
    app = new_app()
    threads: set[int] = set()
    done: list[str] = []

    @app.on_sqs("orders", max_concurrency=2)
    def handle(order: Order) -> None:
        threads.add(threading.get_ident())
        if "FAIL" in order.text:
            raise RuntimeError("model refused")
        done.append(order.order_id)

    batch = event("sqs")
    ids = [record["messageId"] for record in batch["Records"]]
    assert invoke(app, batch) == {"batchItemFailures": [{"itemIdentifier": ids[1]}]}
    assert sorted(done) == ["o-1", "o-3"]
    assert threading.get_ident() not in threads


def test_a_handler_whose_wrapper_takes_keywords_only_is_still_called(
    new_app: Callable[[], App], invoke: Invoke, event: Event
) -> None:
    """A decorated handler (``functools.wraps`` over a ``**kwargs`` wrapper) gets its record
    and context by keyword, as its wrapper requires."""
    app = new_app()
    received: list[list[str]] = []

    def recorded(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(**kwargs: Any) -> Any:
            received.append(sorted(kwargs))
            return fn(**kwargs)

        return wrapper

    @app.on_sqs("orders")
    @recorded
    def handle(order: Order, ctx: Context) -> None:
        if "FAIL" in order.text:
            raise RuntimeError("model refused")

    batch = event("sqs")
    ids = [record["messageId"] for record in batch["Records"]]
    assert invoke(app, batch) == {"batchItemFailures": [{"itemIdentifier": ids[1]}]}
    assert received == [["ctx", "order"]] * 3


def test_sync_handler_on_a_running_loop_keeps_its_worker_thread(
    new_app: Callable[[], App], event: Event
) -> None:
    """Served on a running event loop (Lambda's asyncio runtime calls ``dispatch``; the container
    worker runs records the same way), a ``def`` handler runs in a worker thread, never on the
    loop's thread, with the same partial failures."""
    app = new_app()
    threads: set[int] = set()

    @app.on_sqs("orders")
    def handle(order: Order) -> None:
        threads.add(threading.get_ident())
        if "FAIL" in order.text:
            raise RuntimeError("model refused")

    batch = event("sqs")
    ids = [record["messageId"] for record in batch["Records"]]

    async def serve() -> Any:
        handler = app.lambda_handler
        await handler.start()
        try:
            return await handler.dispatch(batch, RuntimeContext())
        finally:
            await handler.aclose()

    assert asyncio.run(serve()) == {"batchItemFailures": [{"itemIdentifier": ids[1]}]}
    assert len(threads) == 1
    assert threading.get_ident() not in threads

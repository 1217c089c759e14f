"""Partial batch responses: run the records of a batch on the caller's loop, report the failed.

The answer to a batch from an event source mapping with ``ReportBatchItemFailures`` is
``{"batchItemFailures": [{"itemIdentifier": ID}, ...]}``, naming the SQS ``messageId`` or the
DynamoDB stream ``SequenceNumber`` of each failed record in batch order: the response Powertools'
batch processors build, with their semantics, without their per-record bookkeeping:

- ``concurrently`` (standard SQS batches, like ``AsyncBatchProcessor``): records overlap, but a
  record costs an asyncio task only when it has to wait. Records run one after another in the
  caller's task for as long as each one finishes without yielding to the loop; the first time
  one waits (a model call, any I/O), every record not yet started gets a task of its own, so
  they run concurrently from then on. Each record runs start to finish in one task, so
  ``asyncio.current_task()``, ``asyncio.timeout`` and task groups behave as they always do.
- ``in_order`` (FIFO SQS and DynamoDB stream batches), in the caller's task. With ``group``
  (FIFO: the message group id), after a failure the later records of that group fail without
  running while other groups go on (``SqsFifoPartialProcessor(skip_group_on_error=True)``);
  without it every record runs (``BatchProcessor``; Lambda resumes a stream from the first
  failed sequence number).

A batch served without the event loop (``relaykit.events.base.INLINE``: every record goes to a
plain ``def`` handler) runs through ``each``, the synchronous ``in_order``: each record to its
end in the calling thread, in batch order (what ``concurrently`` does with records that never
wait), FIFO groups skipped after a failure as above.

A record fails when starting it or awaiting it raises an ``Exception``; ``failed`` is told (a
record that started in a task of its own is reported when the batch ends). ``serve_sqs`` and
``serve_dynamodb`` are the whole batch for the Lambda kinds: route every record first
(``relaykit.events.records``; a record nobody handles fails the invocation), run, answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from relaykit.events.base import INLINE
from relaykit.events.records import Routed, route_dynamodb, route_sqs
from relaykit.events.runner import Runner, log_failure

if TYPE_CHECKING:
    from relaykit.app import App

logger = logging.getLogger("relaykit.events")

Start = Callable[[int], Coroutine[Any, Any, Any]]
"""Begins the record at an index of the batch: its coroutine (a record that cannot even start,
say one that does not validate, raises here)."""

Failed = Callable[[int, Exception], None]
"""Told about each record that failed, with its exception (to log it)."""


def is_fifo(records: Sequence[dict[str, Any]]) -> bool:
    """True when an SQS batch comes from a FIFO queue (``.fifo`` ARN or a message group id)."""
    first = records[0]
    arn = str(first.get("eventSourceARN", ""))
    return arn.endswith(".fifo") or "MessageGroupId" in (first.get("attributes") or {})


def message_group(record: dict[str, Any]) -> str | None:
    """An SQS record's FIFO message group id."""
    group = (record.get("attributes") or {}).get("MessageGroupId")
    return str(group) if group else None


async def concurrently(count: int, start: Start, failed: Failed) -> list[int]:
    """Run records ``0..count-1`` concurrently (see the module docstring); the failed indexes."""
    if count == 1:  # nothing to overlap with
        return await in_order(1, start, failed)
    loop = asyncio.get_running_loop()
    failures: list[int] = []
    tasks: list[tuple[int, asyncio.Task[Any]]] = []
    position = 0  # the next record to start

    def spread() -> None:
        # Called by the loop, so only once the record running inline waits for something.
        nonlocal position
        while position < count:
            index = position
            position += 1
            try:
                tasks.append((index, loop.create_task(start(index))))
            except Exception as exc:
                failures.append(index)
                failed(index, exc)

    spreading = loop.call_soon(spread)
    try:
        while position < count:
            index = position
            position += 1
            try:
                await start(index)
            except Exception as exc:
                failures.append(index)
                failed(index, exc)
    except BaseException:
        for _, task in tasks:
            task.cancel()
        raise
    finally:
        spreading.cancel()
    if tasks:
        outcomes = await asyncio.gather(*(task for _, task in tasks), return_exceptions=True)
        for (index, _), outcome in zip(tasks, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                failures.append(index)
                if isinstance(outcome, Exception):
                    failed(index, outcome)
        failures.sort()
    return failures


async def in_order(
    count: int, start: Start, failed: Failed, group: Callable[[int], str | None] | None = None
) -> list[int]:
    """Run records ``0..count-1`` one after another (see the module docstring); the failed
    indexes, including the records of a failed group that were not run."""
    failures: list[int] = []
    broken: set[str] = set()
    for index in range(count):
        key = group(index) if group is not None else None
        if key is not None and key in broken:
            failures.append(index)
            continue
        try:
            await start(index)
        except Exception as exc:
            failures.append(index)
            failed(index, exc)
            if key is not None:
                broken.add(key)
    return failures


def each(
    records: Sequence[Any],
    calls: Sequence[Callable[[Any], Any]],
    failed: Failed,
    group: Callable[[int], str | None] | None = None,
) -> list[int]:
    """``in_order`` for a batch served without the event loop (``INLINE``): ``calls[i]`` runs
    record ``i`` to its end in this thread. The failed indexes, with those of failed groups."""
    failures: list[int] = []
    broken: set[str] = set()
    for index, call in enumerate(calls):
        key = group(index) if group is not None else None
        if key is not None and key in broken:
            failures.append(index)
            continue
        try:
            call(records[index])
        except Exception as exc:
            failures.append(index)
            failed(index, exc)
            if key is not None:
                broken.add(key)
    return failures


def partial_response(identifiers: Sequence[Any], total: int) -> dict[str, Any]:
    """Lambda's partial batch response naming ``identifiers`` (logged when any)."""
    if identifiers:
        logger.warning("%d of %d records failed", len(identifiers), total)
    return {"batchItemFailures": [{"itemIdentifier": item} for item in identifiers]}


async def serve_sqs(
    app: App, records: Sequence[dict[str, Any]], fields: Mapping[str, Any]
) -> tuple[dict[str, Any], set[str]]:
    """Run an SQS batch (FIFO: in order, skipping a failed group; else concurrently); the
    partial batch response and the names of the handlers that served it. Served without the
    event loop (``INLINE``), every record runs in the calling thread, so a standard batch runs
    in order: what ``concurrently`` does with records that never wait."""
    runner = Runner(app, fields, inline=INLINE.get())
    routes, names = runner.route_sqs(records)

    def start(index: int) -> Any:
        route = routes[index]
        if isinstance(route, list):
            return runner.run_all(route)
        return route(records[index])

    def failed(index: int, exc: Exception) -> None:
        route = routes[index]
        works = route if isinstance(route, list) else route_sqs(app, records[index])
        log_failure(exc, f"SQS message {records[index].get('messageId')}", works)

    fifo = is_fifo(records)
    if runner.inline:
        group = (lambda index: message_group(records[index])) if fifo else None
        failures = each(records, routes, failed, group)  # type: ignore[arg-type]  # no S3 work
    elif fifo:
        failures = await in_order(
            len(records), start, failed, lambda index: message_group(records[index])
        )
    else:
        failures = await concurrently(len(records), start, failed)
    ids = [records[index].get("messageId") for index in failures]
    return partial_response(ids, len(records)), names


async def serve_dynamodb(
    app: App, records: Sequence[dict[str, Any]], fields: Mapping[str, Any]
) -> tuple[dict[str, Any], set[str]]:
    """Run a DynamoDB stream batch in order; the partial batch response (failed sequence
    numbers) and the names of the handlers that served it."""
    runner = Runner(app, fields, inline=INLINE.get())
    routes: list[Routed] = [route_dynamodb(app, record) for record in records]

    def start(index: int) -> Any:
        return runner.start(*routes[index])

    def failed(index: int, exc: Exception) -> None:
        log_failure(exc, f"stream record {records[index].get('eventID')}", [routes[index]])

    if runner.inline:
        calls = [runner.call_for(work.spec) for work in routes]
        failures = each(records, calls, failed)
    else:
        failures = await in_order(len(records), start, failed)
    sequence = [(records[i].get("dynamodb") or {}).get("SequenceNumber") for i in failures]
    return partial_response(sequence, len(records)), {work.spec.handler.name for work in routes}

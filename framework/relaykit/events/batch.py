"""Partial batch responses through Powertools' batch processors, with handlers on our loop.

``process_batch`` runs one coroutine per record and returns Lambda's
``{"batchItemFailures": [{"itemIdentifier": ...}]}``, built by Powertools:

- standard SQS batches: ``AsyncBatchProcessor``, records concurrently;
- FIFO SQS batches: ``SqsFifoPartialProcessor(skip_group_on_error=True)``, records in order; the
  first failure in a message group fails every later record of that group (reported without
  running), other groups go on;
- DynamoDB stream batches: ``BatchProcessor``, records in order (Lambda resumes from the first
  failed sequence number).

Handlers always run on the caller's event loop, so they share the app's loop and the clients
built on it. ``AsyncBatchProcessor`` is driven on that loop directly (its per-record coroutine,
inside the processor's context manager, which builds the response): its public
``async_process()`` starts a loop of its own and cannot run inside one. The in-order processors
call a synchronous handler, so they run in a worker thread and schedule each record's coroutine
back on the caller's loop. Powertools is imported on the first batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

logger = logging.getLogger("relaykit.events")

RecordHandler = Callable[[dict[str, Any]], Coroutine[Any, Any, Any]]


def is_fifo(records: Sequence[dict[str, Any]]) -> bool:
    """True when an SQS batch comes from a FIFO queue (``.fifo`` ARN or a message group id)."""
    first = records[0]
    arn = str(first.get("eventSourceARN", ""))
    return arn.endswith(".fifo") or "MessageGroupId" in (first.get("attributes") or {})


def _processor(event_type: str, fifo: bool, concurrent: bool) -> Any:
    from aws_lambda_powertools.utilities.batch import (
        AsyncBatchProcessor,
        BatchProcessor,
        EventType,
        SqsFifoPartialProcessor,
    )

    if fifo:
        fifo_processor = SqsFifoPartialProcessor(skip_group_on_error=True)
        fifo_processor.raise_on_entire_batch_failure = False
        return fifo_processor
    kind = EventType.SQS if event_type == "sqs" else EventType.DynamoDBStreams
    if concurrent and event_type == "sqs":
        return AsyncBatchProcessor(kind, raise_on_entire_batch_failure=False)
    return BatchProcessor(kind, raise_on_entire_batch_failure=False)


async def process_batch(
    records: Sequence[dict[str, Any]],
    handle: RecordHandler,
    *,
    event_type: str,
    fifo: bool = False,
    concurrent: bool = True,
) -> dict[str, Any]:
    """Run ``handle`` for each record through a Powertools batch processor; return its
    ``{"batchItemFailures": [...]}`` response (see the module docstring for the order)."""
    from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor

    loop = asyncio.get_running_loop()
    processor = _processor(event_type, fifo, concurrent)

    if isinstance(processor, AsyncBatchProcessor):

        async def record_handler_async(record: Any) -> Any:
            return await handle(record.raw_event)

        with processor(records=list(records), handler=record_handler_async):
            await asyncio.gather(*(processor._async_process_record(r) for r in processor.records))
        response: dict[str, Any] = dict(processor.response())
    else:

        def record_handler(record: Any) -> Any:
            return asyncio.run_coroutine_threadsafe(handle(record.raw_event), loop).result()

        def work() -> dict[str, Any]:
            with processor(records=list(records), handler=record_handler):
                processor.process()
            return dict(processor.response())

        response = await asyncio.to_thread(work)
    failed: list[Any] = response.get("batchItemFailures") or []
    if failed:
        logger.warning("%d of %d records failed", len(failed), len(records))
    return response

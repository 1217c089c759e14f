"""SQS events on Lambda: each record goes to the ``@app.on_sqs`` handler of its queue (by queue
ARN), or, when the queue has none and the message carries an S3 notification (direct or from
EventBridge), to the matching ``@app.on_s3`` handlers. Failures are reported per record with
Powertools' batch utilities (``batchItemFailures``; enable ``ReportBatchItemFailures`` on the
event source mapping); in a FIFO batch the first failure of a message group fails the rest of
that group (``relaykit.events.batch``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from relaykit.events.base import Environment, Outcome

logger = logging.getLogger("relaykit.events")


class SqsEvents:
    """Serves SQS batches."""

    name = "sqs"

    def __init__(self, env: Environment) -> None:
        self.env = env

    def matches(self, event: Mapping[str, Any]) -> bool:
        from relaykit.events.shapes import is_records_of

        return is_records_of(event, "aws:sqs")

    def correlation_id(self, event: Mapping[str, Any]) -> str | None:
        records = event.get("Records") or []
        return str(records[0].get("messageId")) if records else None

    async def prepare(self) -> None:
        import aws_lambda_powertools.utilities.batch  # noqa: F401

    async def handle(self, event: dict[str, Any], context: Any) -> Outcome:
        from relaykit.events.batch import is_fifo, process_batch
        from relaykit.events.records import route_sqs, run_all
        from relaykit.invocation import from_lambda

        app = self.env.app
        records: list[dict[str, Any]] = event["Records"]
        cache: dict[str, Any] = {}
        routes = {id(record): route_sqs(app, record, cache) for record in records}
        fields = from_lambda(context).context_fields()

        async def handle_one(record: dict[str, Any]) -> None:
            works = routes[id(record)]
            try:
                await run_all(app, works, fields)
            except Exception:
                logger.exception(
                    "SQS message %s failed in %s",
                    record.get("messageId"),
                    ", ".join(work.spec.label for work in works),
                )
                raise

        response = await process_batch(records, handle_one, event_type="sqs", fifo=is_fifo(records))
        labels = {work.spec.handler.name for works in routes.values() for work in works}
        return Outcome(response, labels.pop() if len(labels) == 1 else "sqs")

    async def close(self) -> None:
        return None


def create(env: Environment) -> SqsEvents:
    """The SQS kind for ``env`` (the registry calls this)."""
    return SqsEvents(env)

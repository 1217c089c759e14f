"""DynamoDB Streams events on Lambda: records go to the ``@app.on_dynamodb_stream`` handler of
their table (by stream ARN), in order, through Powertools' ``BatchProcessor``; failures are
reported per record (``batchItemFailures``), so Lambda resumes from the first failed one."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from relaykit.events.base import Environment, Outcome

logger = logging.getLogger("relaykit.events")


class DynamoDBEvents:
    """Serves DynamoDB stream batches."""

    name = "dynamodb"

    def __init__(self, env: Environment) -> None:
        self.env = env

    def matches(self, event: Mapping[str, Any]) -> bool:
        from relaykit.events.shapes import is_records_of

        return is_records_of(event, "aws:dynamodb")

    def correlation_id(self, event: Mapping[str, Any]) -> str | None:
        records = event.get("Records") or []
        return str(records[0].get("eventID")) if records else None

    async def prepare(self) -> None:
        import aws_lambda_powertools.utilities.batch  # noqa: F401

    async def handle(self, event: dict[str, Any], context: Any) -> Outcome:
        from relaykit.events.batch import process_batch
        from relaykit.events.records import route_dynamodb, run_one
        from relaykit.invocation import from_lambda

        app = self.env.app
        records: list[dict[str, Any]] = event["Records"]
        routes = {id(record): route_dynamodb(app, record) for record in records}
        fields = from_lambda(context).context_fields()

        async def handle_one(record: dict[str, Any]) -> None:
            work = routes[id(record)]
            try:
                await run_one(app, work, fields)
            except Exception:
                logger.exception(
                    "stream record %s failed in %s", record.get("eventID"), work.spec.label
                )
                raise

        response = await process_batch(records, handle_one, event_type="dynamodb", concurrent=False)
        names = {work.spec.handler.name for work in routes.values()}
        return Outcome(response, names.pop() if len(names) == 1 else "dynamodb")

    async def close(self) -> None:
        return None


def create(env: Environment) -> DynamoDBEvents:
    """The DynamoDB Streams kind for ``env`` (the registry calls this)."""
    return DynamoDBEvents(env)

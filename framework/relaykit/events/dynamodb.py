"""DynamoDB Streams events on Lambda: records go to the ``@app.on_dynamodb_stream`` handler of
their table (by stream ARN), in order (``relaykit.events.batch``); failures are reported per
record by sequence number (``batchItemFailures``, as Powertools' ``BatchProcessor`` does), so
Lambda resumes from the first failed one."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from relaykit.events.base import Environment, Outcome, invocation_of
from relaykit.events.shapes import is_records_of  # stdlib-only, loaded with the kinds

if TYPE_CHECKING:
    from relaykit.app import App
    from relaykit.events.sqs import Serve


class DynamoDBEvents:
    """Serves DynamoDB stream batches."""

    name = "dynamodb"

    def __init__(self, env: Environment) -> None:
        self.env = env
        # What handling needs, imported on the first event (not when the kind is loaded).
        self._inline: Callable[[App, Sequence[Any]], bool] | None = None
        self._serve: Serve | None = None

    def matches(self, event: Mapping[str, Any]) -> bool:
        return is_records_of(event, "aws:dynamodb")

    def correlation_id(self, event: Mapping[str, Any]) -> str | None:
        records = event.get("Records") or []
        return str(records[0].get("eventID")) if records else None

    async def prepare(self) -> None:
        # Only an app with handlers for these records pays for the batch machinery at init.
        if any(spec.source == "dynamodb" for spec in self.env.app.sources):
            import relaykit.events.batch  # noqa: F401

    def serves_inline(self, event: Mapping[str, Any]) -> bool:
        if self._inline is None:
            from relaykit.events.runner import dynamodb_runs_inline

            self._inline = dynamodb_runs_inline
        return self._inline(self.env.app, event["Records"])

    async def handle(self, event: dict[str, Any], context: Any) -> Outcome:
        if self._serve is None:
            from relaykit.events.batch import serve_dynamodb

            self._serve = serve_dynamodb
        fields = invocation_of(context).context_fields()
        response, names = await self._serve(self.env.app, event["Records"], fields)
        return Outcome(response, names.pop() if len(names) == 1 else "dynamodb")

    async def close(self) -> None:
        return None


def create(env: Environment) -> DynamoDBEvents:
    """The DynamoDB Streams kind for ``env`` (the registry calls this)."""
    return DynamoDBEvents(env)

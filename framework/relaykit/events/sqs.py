"""SQS events on Lambda: each record goes to the ``@app.on_sqs`` handler of its queue (by queue
ARN), or, when the queue has none and the message carries an S3 notification (direct or from
EventBridge), to the matching ``@app.on_s3`` handlers. Failures are reported per record
(``batchItemFailures``, the partial batch response of Powertools' batch processors; enable
``ReportBatchItemFailures`` on the event source mapping): standard batches run concurrently; in
a FIFO batch, in order, the first failure of a message group fails the rest of that group
(``relaykit.events.batch``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from relaykit.events.base import Environment, Outcome, invocation_of
from relaykit.events.shapes import is_records_of  # stdlib-only, loaded with the kinds

if TYPE_CHECKING:
    from typing import TypeAlias

    from relaykit.app import App

    Serve: TypeAlias = Callable[
        [App, Sequence[dict[str, Any]], Mapping[str, Any]],
        Awaitable[tuple[dict[str, Any], set[str]]],
    ]
    """``relaykit.events.batch.serve_sqs`` (or ``serve_dynamodb``)."""


class SqsEvents:
    """Serves SQS batches."""

    name = "sqs"

    def __init__(self, env: Environment) -> None:
        self.env = env
        # What handling needs, imported on the first event (not when the kind is loaded).
        self._inline: Callable[[App, Sequence[Any]], bool] | None = None
        self._serve: Serve | None = None

    def matches(self, event: Mapping[str, Any]) -> bool:
        return is_records_of(event, "aws:sqs")

    def correlation_id(self, event: Mapping[str, Any]) -> str | None:
        records = event.get("Records") or []
        return str(records[0].get("messageId")) if records else None

    async def prepare(self) -> None:
        # Only an app with handlers for these records pays for the batch machinery at init.
        if any(spec.source in ("sqs", "s3") for spec in self.env.app.sources):
            import relaykit.events.batch  # noqa: F401

    def serves_inline(self, event: Mapping[str, Any]) -> bool:
        if self._inline is None:
            from relaykit.events.runner import sqs_runs_inline

            self._inline = sqs_runs_inline
        return self._inline(self.env.app, event["Records"])

    async def handle(self, event: dict[str, Any], context: Any) -> Outcome:
        if self._serve is None:
            from relaykit.events.batch import serve_sqs

            self._serve = serve_sqs
        fields = invocation_of(context).context_fields()
        response, names = await self._serve(self.env.app, event["Records"], fields)
        return Outcome(response, names.pop() if len(names) == 1 else "sqs")

    async def close(self) -> None:
        return None


def create(env: Environment) -> SqsEvents:
    """The SQS kind for ``env`` (the registry calls this)."""
    return SqsEvents(env)

"""S3 notification events on Lambda (asynchronous invocations): each record goes to the first
``@app.on_s3`` handler whose bucket, prefix, suffix and event names match. A failing record fails
the invocation (after every record ran), so Lambda's asynchronous retries and on-failure
destination apply."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relaykit.events.base import Environment, Outcome, invocation_of
from relaykit.events.shapes import is_records_of  # stdlib-only, loaded with the kinds


class RecordsFailed(Exception):
    """Some records of a non-batch event failed; the invocation fails so that Lambda retries."""


class S3Events:
    """Serves S3 notification events."""

    name = "s3"

    def __init__(self, env: Environment) -> None:
        self.env = env

    def matches(self, event: Mapping[str, Any]) -> bool:
        return is_records_of(event, "aws:s3")

    def correlation_id(self, event: Mapping[str, Any]) -> str | None:
        records = event.get("Records") or []
        elements = records[0].get("responseElements") if records else None
        return str(elements.get("x-amz-request-id")) if isinstance(elements, Mapping) else None

    async def prepare(self) -> None:
        return None

    async def handle(self, event: dict[str, Any], context: Any) -> Outcome:
        from relaykit.events.records import route_s3
        from relaykit.events.runner import Runner, log_failure

        app = self.env.app
        works = [route_s3(app, record) for record in event["Records"]]
        runner = Runner(app, invocation_of(context).context_fields())
        failed: list[str] = []
        for work in works:
            try:
                await runner.start(*work)
            except Exception as exc:
                log_failure(exc, "S3 record", [work])
                failed.append(work.spec.label)
        if failed:
            raise RecordsFailed(f"{len(failed)} of {len(works)} S3 records failed: {failed}")
        names = {work.spec.handler.name for work in works}
        return Outcome(None, names.pop() if len(names) == 1 else "s3")

    async def close(self) -> None:
        return None


def create(env: Environment) -> S3Events:
    """The S3 kind for ``env`` (the registry calls this)."""
    return S3Events(env)

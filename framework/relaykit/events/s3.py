"""S3 notification events on Lambda (asynchronous invocations): each record goes to the first
``@app.on_s3`` handler whose bucket, prefix, suffix and event names match. A failing record fails
the invocation (after every record ran), so Lambda's asynchronous retries and on-failure
destination apply."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from relaykit.events.base import Environment, Outcome

logger = logging.getLogger("relaykit.events")


class RecordsFailed(Exception):
    """Some records of a non-batch event failed; the invocation fails so that Lambda retries."""


class S3Events:
    """Serves S3 notification events."""

    name = "s3"

    def __init__(self, env: Environment) -> None:
        self.env = env

    def matches(self, event: Mapping[str, Any]) -> bool:
        from relaykit.events.shapes import is_records_of

        return is_records_of(event, "aws:s3")

    def correlation_id(self, event: Mapping[str, Any]) -> str | None:
        records = event.get("Records") or []
        elements = records[0].get("responseElements") if records else None
        return str(elements.get("x-amz-request-id")) if isinstance(elements, Mapping) else None

    async def prepare(self) -> None:
        return None

    async def handle(self, event: dict[str, Any], context: Any) -> Outcome:
        from relaykit.events.records import route_s3, run_one
        from relaykit.invocation import from_lambda

        app = self.env.app
        works = [route_s3(app, record) for record in event["Records"]]
        fields = from_lambda(context).context_fields()
        failed: list[str] = []
        for work in works:
            try:
                await run_one(app, work, fields)
            except Exception:
                logger.exception("S3 record for %s failed", work.spec.label)
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

"""EventBridge events on Lambda, scheduled events included: an event goes to every
``@app.on_eventbridge`` handler whose pattern matches; otherwise an S3 event (``aws.s3``) goes to
its ``@app.on_s3`` handler and a ``Scheduled Event`` to the ``@app.on_schedule`` handler of its
rule. A failing handler fails the invocation, so EventBridge's retries and DLQ apply."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relaykit.events.base import Environment, Outcome, invocation_of


class EventBridgeEvents:
    """Serves EventBridge events (rules, schedules, S3 via EventBridge)."""

    name = "eventbridge"

    def __init__(self, env: Environment) -> None:
        self.env = env

    def matches(self, event: Mapping[str, Any]) -> bool:
        return (
            "detail-type" in event
            and isinstance(event.get("source"), str)
            and "detail" in event
            and "id" in event
        )

    def correlation_id(self, event: Mapping[str, Any]) -> str | None:
        return str(event.get("id")) if event.get("id") else None

    async def prepare(self) -> None:
        return None

    async def handle(self, event: dict[str, Any], context: Any) -> Outcome:
        from relaykit.events.records import route_eventbridge
        from relaykit.events.runner import Runner, log_failure
        from relaykit.events.s3 import RecordsFailed

        app = self.env.app
        works = route_eventbridge(app, event)
        runner = Runner(app, invocation_of(context).context_fields())
        results: list[Any] = []
        failed: list[str] = []
        for work in works:
            try:
                results.append(await runner.start(*work))
            except Exception as exc:
                log_failure(exc, f"EventBridge event {event.get('id')}", [work])
                failed.append(work.spec.label)
        if failed:
            raise RecordsFailed(f"EventBridge event {event.get('id')} failed in {failed}")
        names = {work.spec.handler.name for work in works}
        from relaykit.dispatch import encode_output

        response = encode_output(Any, results[0]) if len(results) == 1 else None
        return Outcome(response, names.pop() if len(names) == 1 else "eventbridge")

    async def close(self) -> None:
        return None


def create(env: Environment) -> EventBridgeEvents:
    """The EventBridge kind for ``env`` (the registry calls this)."""
    return EventBridgeEvents(env)

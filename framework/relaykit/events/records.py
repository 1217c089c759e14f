"""Routing event-source records to their handlers and running them: shared by the Lambda event
kinds (``relaykit.events.sqs``, ``s3``, ``dynamodb``, ``eventbridge``) and ``relaykit worker``.

Routing finds the handler of every record before any handler runs, so a record nobody handles
fails with a clear ``UnknownEventError`` (the batch is retried and reaches the dead-letter queue)
instead of being acknowledged unseen. ``value_reader`` turns a record into the value its
handler's record parameter receives. Running the records is ``relaykit.events.runner``'s;
``run_one`` and ``run_all`` here are its shortest form.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from relaykit.dispatch import adapter_for, validate_input
from relaykit.errors import UnknownEventError
from relaykit.events.shapes import (
    dynamodb_body,
    is_eventbridge_s3,
    s3_object,
    s3_record_from_eventbridge,
    s3_records_in,
    sqs_body,
)
from relaykit.sources import SourceSpec, pattern_matches

if TYPE_CHECKING:
    from relaykit.app import App


class Routed(NamedTuple):
    """One unit of work: a handler and the raw record it receives."""

    spec: SourceSpec
    record: Mapping[str, Any]


def record_body(spec: SourceSpec, record: Mapping[str, Any]) -> Any:
    """What a ``body``-mode handler's annotation is validated from (see ``relaykit.sources``)."""
    if spec.source == "sqs":
        return sqs_body(record)
    if spec.source == "s3":
        return dict(record)
    if spec.source == "dynamodb":
        return dynamodb_body(record)
    return record.get("detail")


def value_reader(spec: SourceSpec) -> Callable[[Mapping[str, Any]], Any]:
    """How ``spec``'s records become the value its record parameter receives (made once per
    handler and invocation, then called per record)."""
    if spec.mode == "raw":
        return dict
    handler = spec.handler
    if spec.mode == "powertools":
        return lambda record: handler.body_type(dict(record))
    if spec.source != "sqs":
        return lambda record: validate_input(handler, record_body(spec, record))
    validate_json = adapter_for(handler.body_type).validator.validate_json

    def sqs_value(record: Mapping[str, Any]) -> Any:
        # The body validated straight from its JSON text (one parse, no TypeAdapter wrapper);
        # a body that is not JSON, or does not validate, goes the general way (same value,
        # same errors).
        body = record.get("body")
        if isinstance(body, str):
            try:
                return validate_json(body)
            except ValueError:  # pydantic's ValidationError
                pass
        return validate_input(handler, sqs_body(record))

    return sqs_value


def record_value(spec: SourceSpec, record: Mapping[str, Any]) -> Any:
    """The value the handler's record parameter receives."""
    return value_reader(spec)(record)


# Routing ------------------------------------------------------------------------------------


def _registered(app: App, source: str) -> str:
    labels = [spec.label for spec in app.sources if spec.source == source]
    return ", ".join(labels) or "none"


def route_s3(app: App, record: Mapping[str, Any]) -> Routed:
    bucket, key, name = s3_object(record)
    for spec in app.sources:
        if spec.source == "s3" and spec.matches_object(bucket, key, name):
            return Routed(spec, record)
    raise UnknownEventError(
        f"no @app.on_s3 handler matches {name or 'an event'} on s3://{bucket}/{key} "
        f"(registered: {_registered(app, 's3')})"
    )


def queue_handler(app: App, arn: str) -> SourceSpec | None:
    """The ``on_sqs`` handler of the queue ``arn``, if any (looked up once per queue and app,
    again when a handler has been registered since)."""
    sources = app.sources
    known = _QUEUES.get(app)
    if known is None or known[0] != len(sources):
        known = _QUEUES[app] = (len(sources), {})
    queues = known[1]
    if arn in queues:
        return queues[arn]
    found = None
    for spec in sources:
        if spec.source == "sqs" and spec.matches_queue(arn):
            found = spec
            break
    if len(queues) < _QUEUES_KEPT:
        queues[arn] = found
    return found


_QUEUES: weakref.WeakKeyDictionary[Any, tuple[int, dict[str, SourceSpec | None]]] = (
    weakref.WeakKeyDictionary()
)
"""Per app: its number of sources when the lookups were made, and ``queue_handler``'s answer
per queue ARN (handlers are only ever added to an app, so the count says when to start over)."""
_QUEUES_KEPT = 1024


def route_sqs(
    app: App, record: Mapping[str, Any], cache: dict[str, SourceSpec | None] | None = None
) -> list[Routed]:
    """The work an SQS record carries: its queue's ``on_sqs`` handler, else the ``on_s3``
    handlers of the S3 notifications in its body. ``cache`` keeps the queue lookup across the
    records of one batch (they share their queue)."""
    arn = str(record.get("eventSourceARN", ""))
    if cache is None:
        spec = queue_handler(app, arn)
    elif arn in cache:
        spec = cache[arn]
    else:
        spec = cache[arn] = queue_handler(app, arn)
    if spec is not None:
        return [Routed(spec, record)]
    wrapped = s3_records_in(sqs_body(record))
    if wrapped is not None:
        return [route_s3(app, inner) for inner in wrapped]
    raise UnknownEventError(
        f"no @app.on_sqs handler for queue {arn or '(no eventSourceARN)'} "
        f"(registered: {_registered(app, 'sqs')})"
    )


def route_dynamodb(app: App, record: Mapping[str, Any]) -> Routed:
    arn = str(record.get("eventSourceARN", ""))
    for spec in app.sources:
        if spec.source == "dynamodb" and spec.matches_stream(arn):
            return Routed(spec, record)
    raise UnknownEventError(
        f"no @app.on_dynamodb_stream handler for stream {arn or '(no eventSourceARN)'} "
        f"(registered: {_registered(app, 'dynamodb')})"
    )


def route_eventbridge(app: App, event: Mapping[str, Any]) -> list[Routed]:
    """Matching ``on_eventbridge`` handlers (all of them); else, for an S3 event, its ``on_s3``
    handler; else, for a scheduled event, the ``on_schedule`` handler of its rule."""
    matched = [
        Routed(spec, event)
        for spec in app.sources
        if spec.source == "eventbridge" and spec.pattern and pattern_matches(spec.pattern, event)
    ]
    if matched:
        return matched
    if is_eventbridge_s3(event):
        return [route_s3(app, s3_record_from_eventbridge(event))]
    if event.get("detail-type") == "Scheduled Event":
        schedules = [spec for spec in app.sources if spec.source == "schedule"]
        resources = [str(arn) for arn in event.get("resources") or []]
        for spec in schedules:
            if any(spec.matches_rule(arn) for arn in resources):
                return [Routed(spec, event)]
        if len(schedules) == 1:
            return [Routed(schedules[0], event)]
        raise UnknownEventError(
            f"no @app.on_schedule handler for rule {', '.join(resources) or '(none)'} "
            f"(registered: {_registered(app, 'schedule')})"
        )
    raise UnknownEventError(
        f"no @app.on_eventbridge pattern matches the event from {event.get('source')!r} "
        f"({event.get('detail-type')!r}); registered: {_registered(app, 'eventbridge')}"
    )


# Running ------------------------------------------------------------------------------------


async def run_one(app: App, work: Routed, fields: Mapping[str, Any]) -> Any:
    """Run one record through its handler with a fresh context; return the handler's result
    (for an ``idempotent=True`` handler and a record processed already: the recorded one)."""
    from relaykit.events.runner import Runner

    return await Runner(app, fields).start(work.spec, work.record)


async def run_all(app: App, works: Sequence[Routed], fields: Mapping[str, Any]) -> None:
    """Run the work of one record (several S3 notifications in one message: in order)."""
    from relaykit.events.runner import Runner

    await Runner(app, fields).run_all(works)

"""Routing event-source records to their handlers and running them: shared by the Lambda event
kinds (``relaykit.events.sqs``, ``s3``, ``dynamodb``, ``eventbridge``) and ``relaykit worker``.

Routing finds the handler of every record before any handler runs, so a record nobody handles
fails with a clear ``UnknownEventError`` (the batch is retried and reaches the dead-letter queue)
instead of being acknowledged unseen. Each record runs with a fresh ``Context`` on the caller's
event loop; handlers registered with ``idempotent=True`` skip a record already processed
(``relaykit.idempotency``).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from relaykit.dispatch import adapter_for, call_task, validate_input
from relaykit.errors import UnknownEventError
from relaykit.events.shapes import (
    dynamodb_body,
    is_eventbridge_s3,
    record_id,
    s3_object,
    s3_record_from_eventbridge,
    s3_records_in,
    sqs_body,
)
from relaykit.sources import SourceSpec, pattern_matches

if TYPE_CHECKING:
    from relaykit.app import App
    from relaykit.idempotency import Markers

logger = logging.getLogger("relaykit.events")


@dataclass(frozen=True)
class Routed:
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


def record_value(spec: SourceSpec, record: Mapping[str, Any]) -> Any:
    """The value the handler's record parameter receives."""
    if spec.mode == "raw":
        return dict(record)
    if spec.mode == "powertools":
        return spec.handler.body_type(dict(record))
    if spec.source == "sqs" and isinstance(record.get("body"), str):
        return _sqs_value(spec, record["body"])
    return validate_input(spec.handler, record_body(spec, record))


def _sqs_value(spec: SourceSpec, body: str) -> Any:
    """An SQS body validated straight from its JSON text (one parse instead of two); a body
    that is not JSON, or does not validate, goes the general way (same value, same errors)."""
    try:
        return adapter_for(spec.handler.body_type).validate_json(body)
    except ValueError:  # pydantic's ValidationError
        return validate_input(spec.handler, sqs_body({"body": body}))


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
    """The ``on_sqs`` handler of the queue ``arn``, if any."""
    for spec in app.sources:
        if spec.source == "sqs" and spec.matches_queue(arn):
            return spec
    return None


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

_MARKERS: weakref.WeakKeyDictionary[Any, Markers] = weakref.WeakKeyDictionary()


def markers_for(app: App) -> Markers:
    """The app's processed-record markers (opened on first use; see ``relaykit.idempotency``)."""
    markers = _MARKERS.get(app)
    if markers is None:
        from relaykit.idempotency import open_markers

        markers = _MARKERS[app] = open_markers(app.settings.store)
    return markers


def idempotency_key(work: Routed) -> str | None:
    """The marker key of a record for an ``idempotent=True`` handler (``None`` otherwise): the
    handler's source label plus the record's redelivery-stable id (``shapes.record_id``)."""
    if not work.spec.idempotent:
        return None
    rid = record_id(work.spec.source, work.record)
    if rid is None:
        return None
    where = f"sqs:{work.spec.queue_name}" if work.spec.source == "sqs" else work.spec.label
    return f"{where}#{rid}"


async def run_one(app: App, work: Routed, fields: Mapping[str, Any]) -> Any:
    """Run one record through its handler with a fresh context; return the handler's result.

    For an ``idempotent=True`` handler a record already marked processed is skipped (``None`` is
    returned) and a record whose handler succeeds is marked.
    """
    key = idempotency_key(work)
    if key is not None and await markers_for(app).seen(key):
        logger.info("%s: record %s already processed; skipped", work.spec.label, key)
        return None
    meta = dict(fields.get("meta") or ())
    meta["source"] = work.spec.source
    rid = record_id(work.spec.source, work.record)
    if rid is not None:
        meta["record_id"] = rid
    options = dict(fields)
    options["meta"] = meta
    ctx = app.new_context(work.spec.handler, **options)
    value = record_value(work.spec, work.record) if work.spec.handler.takes_body else None
    result = await call_task(work.spec.handler, value, ctx)
    if key is not None:
        await markers_for(app).mark(key)
    return result


async def run_all(app: App, works: Sequence[Routed], fields: Mapping[str, Any]) -> None:
    """Run the work of one record (several S3 notifications in one message: in order)."""
    for work in works:
        await run_one(app, work, fields)

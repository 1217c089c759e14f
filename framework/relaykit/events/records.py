"""Running event-source records through their handlers: shared by the Lambda event kinds
(``relaykit.events.sqs``, ``s3``, ``dynamodb``, ``eventbridge``) and ``relaykit worker``.

Routing finds the handler of every record before any handler runs, so a record nobody handles
fails the whole invocation with a clear ``UnknownEventError`` (the batch is retried and reaches
the dead-letter queue) instead of being acknowledged unseen. Batches go through Powertools'
batch processors (``batchItemFailures``); handlers always run on the caller's event loop.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import weakref
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from relaykit.dispatch import call_task, validate_input
from relaykit.errors import UnknownEventError
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


# Record shapes ------------------------------------------------------------------------------


def is_records_of(event: Mapping[str, Any], source: str) -> bool:
    """True when ``event`` is a ``{"Records": [...]}`` batch whose first record is ``source``."""
    records = event.get("Records")
    if not isinstance(records, list) or not records or not isinstance(records[0], Mapping):
        return False
    first = records[0]
    return first.get("eventSource") == source or first.get("EventSource") == source


def sqs_body(record: Mapping[str, Any]) -> Any:
    """An SQS message body: decoded JSON when it is JSON, the string otherwise."""
    body = record.get("body", "")
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        return body


def s3_object(record: Mapping[str, Any]) -> tuple[str, str, str]:
    """``(bucket, key, event name)`` of an S3 notification record (the key URL-decoded)."""
    s3 = record.get("s3") or {}
    bucket = str((s3.get("bucket") or {}).get("name", ""))
    key = unquote_plus(str((s3.get("object") or {}).get("key", "")))
    return bucket, key, str(record.get("eventName", ""))


_EB_S3_EVENTS = {
    ("Object Created", "PutObject"): "ObjectCreated:Put",
    ("Object Created", "CopyObject"): "ObjectCreated:Copy",
    ("Object Created", "POST Object"): "ObjectCreated:Post",
    ("Object Created", "CompleteMultipartUpload"): "ObjectCreated:CompleteMultipartUpload",
    ("Object Deleted", "DeleteObject"): "ObjectRemoved:Delete",
    ("Object Deleted", "Lifecycle Expiration"): "LifecycleExpiration:Delete",
}


def is_eventbridge_s3(event: Any) -> bool:
    return (
        isinstance(event, Mapping)
        and event.get("source") == "aws.s3"
        and isinstance(event.get("detail"), Mapping)
        and "bucket" in event["detail"]
    )


def s3_record_from_eventbridge(event: Mapping[str, Any]) -> dict[str, Any]:
    """An EventBridge S3 event as the S3 notification record ``on_s3`` handlers receive."""
    detail = event["detail"]
    kind = str(event.get("detail-type", ""))
    reason = str(detail.get("reason", ""))
    default = "ObjectCreated:Put" if kind == "Object Created" else "ObjectRemoved:Delete"
    obj = detail.get("object") or {}
    bucket = str((detail.get("bucket") or {}).get("name", ""))
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": event.get("region", ""),
        "eventTime": event.get("time", ""),
        "eventName": _EB_S3_EVENTS.get((kind, reason), default),
        "userIdentity": {"principalId": str(detail.get("requester", ""))},
        "requestParameters": {"sourceIPAddress": str(detail.get("source-ip-address", ""))},
        "responseElements": {"x-amz-request-id": str(detail.get("request-id", ""))},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "eventbridge",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {
                "key": str(obj.get("key", "")),
                "size": obj.get("size", 0),
                "eTag": obj.get("etag", ""),
                "versionId": obj.get("version-id", ""),
                "sequencer": obj.get("sequencer", ""),
            },
        },
    }


def s3_records_in(body: Any) -> list[dict[str, Any]] | None:
    """The S3 notification records an SQS body carries (S3 notification or EventBridge S3
    event); ``[]`` for S3's test event; ``None`` when the body is not an S3 notification."""
    if not isinstance(body, Mapping):
        return None
    if body.get("Event") == "s3:TestEvent" and "Bucket" in body:
        return []
    if is_records_of(body, "aws:s3"):
        return [dict(record) for record in body["Records"] if isinstance(record, Mapping)]
    if is_eventbridge_s3(body):
        return [s3_record_from_eventbridge(body)]
    return None


def _from_dynamodb(value: Mapping[str, Any]) -> Any:
    (tag, inner), *_ = value.items()
    if tag == "S":
        return inner
    if tag == "N":
        return int(inner) if inner.lstrip("-").isdigit() else float(inner)
    if tag == "B":
        return base64.b64decode(inner)
    if tag == "BOOL":
        return bool(inner)
    if tag == "NULL":
        return None
    if tag == "M":
        return {key: _from_dynamodb(item) for key, item in inner.items()}
    if tag == "L":
        return [_from_dynamodb(item) for item in inner]
    if tag == "SS":
        return list(inner)
    if tag == "NS":
        return [_from_dynamodb({"N": item}) for item in inner]
    if tag == "BS":
        return [base64.b64decode(item) for item in inner]
    raise ValueError(f"unknown DynamoDB type {tag!r}")


def dynamodb_item(image: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A DynamoDB JSON image (``{"id": {"S": "1"}}``) as plain values (``{"id": "1"}``)."""
    if image is None:
        return None
    return {key: _from_dynamodb(value) for key, value in image.items()}


def record_body(spec: SourceSpec, record: Mapping[str, Any]) -> Any:
    """What a ``body``-mode handler's annotation is validated from (see ``relaykit.sources``)."""
    if spec.source == "sqs":
        return sqs_body(record)
    if spec.source == "s3":
        return dict(record)
    if spec.source == "dynamodb":
        data = record.get("dynamodb") or {}
        image = data.get("OldImage") if record.get("eventName") == "REMOVE" else None
        return dynamodb_item(image or data.get("NewImage") or data.get("Keys"))
    return record.get("detail")


_POWERTOOLS = {
    "sqs": ("aws_lambda_powertools.utilities.data_classes.sqs_event", "SQSRecord"),
    "s3": ("aws_lambda_powertools.utilities.data_classes.s3_event", "S3EventRecord"),
    "dynamodb": (
        "aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event",
        "DynamoDBRecord",
    ),
}


def record_value(spec: SourceSpec, record: Mapping[str, Any]) -> Any:
    """The value the handler's record parameter receives."""
    if spec.mode == "raw":
        return dict(record)
    if spec.mode == "powertools":
        return spec.handler.body_type(dict(record))
    return validate_input(spec.handler, record_body(spec, record))


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


def route_sqs(app: App, record: Mapping[str, Any]) -> list[Routed]:
    """The work an SQS record carries: its queue's ``on_sqs`` handler, else the ``on_s3``
    handlers of the S3 notifications in its body."""
    arn = str(record.get("eventSourceARN", ""))
    for spec in app.sources:
        if spec.source == "sqs" and spec.matches_queue(arn):
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
    if not work.spec.idempotent:
        return None
    message_id = work.record.get("messageId")
    return f"{work.spec.queue_name}#{message_id}" if message_id else None


async def run_one(app: App, work: Routed, fields: Mapping[str, Any]) -> Any:
    """Run one record through its handler with a fresh context; return the handler's result."""
    key = idempotency_key(work)
    if key is not None and await markers_for(app).seen(key):
        logger.info("%s: message %s already processed; skipped", work.spec.label, key)
        return None
    meta = {**dict(fields.get("meta") or {}), "source": work.spec.source}
    for name in ("messageId", "eventID", "id"):
        if name in work.record:
            meta["record_id"] = work.record[name]
            break
    ctx = app.new_context(work.spec.handler, **{**fields, "meta": meta})
    value = record_value(work.spec, work.record) if work.spec.handler.takes_body else None
    result = await call_task(work.spec.handler, value, ctx)
    if key is not None:
        await markers_for(app).mark(key)
    return result


async def run_all(app: App, works: Sequence[Routed], fields: Mapping[str, Any]) -> None:
    """Run the work of one record (several S3 notifications in one message: in order)."""
    for work in works:
        await run_one(app, work, fields)


async def process_batch(
    records: Sequence[dict[str, Any]],
    handle: Callable[[dict[str, Any]], Coroutine[Any, Any, Any]],
    *,
    event_type: str,
    fifo: bool = False,
    concurrent: bool = True,
) -> dict[str, Any]:
    """Run ``handle`` for each record through a Powertools batch processor; return its
    ``{"batchItemFailures": [...]}`` response.

    Standard SQS batches run concurrently (``AsyncBatchProcessor``); FIFO batches use
    ``SqsFifoPartialProcessor`` (in order; the first failure fails every later record); DynamoDB
    batches run in order (``BatchProcessor``). The processor runs in a worker thread and every
    ``handle`` call is scheduled back on this loop, so handlers share the app's loop and clients.
    """
    from aws_lambda_powertools.utilities.batch import (
        AsyncBatchProcessor,
        BatchProcessor,
        EventType,
        SqsFifoPartialProcessor,
    )

    loop = asyncio.get_running_loop()
    kind = EventType.SQS if event_type == "sqs" else EventType.DynamoDBStreams

    def on_loop(record: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(handle(record.raw_event), loop)

    processor: Any
    if fifo:
        processor = SqsFifoPartialProcessor()
        processor.raise_on_entire_batch_failure = False
    elif concurrent and event_type == "sqs":
        processor = AsyncBatchProcessor(kind, raise_on_entire_batch_failure=False)
    else:
        processor = BatchProcessor(kind, raise_on_entire_batch_failure=False)

    if isinstance(processor, AsyncBatchProcessor):

        async def record_handler_async(record: Any) -> Any:
            return await asyncio.wrap_future(on_loop(record))

        def work() -> dict[str, Any]:
            with processor(records=list(records), handler=record_handler_async):
                processor.async_process()
            return dict(processor.response())

    else:

        def record_handler(record: Any) -> Any:
            return on_loop(record).result()

        def work() -> dict[str, Any]:
            with processor(records=list(records), handler=record_handler):
                processor.process()
            return dict(processor.response())

    response = await asyncio.to_thread(work)
    failed = response.get("batchItemFailures") or []
    if failed:
        logger.warning("%d of %d records failed", len(failed), len(records))
    return response

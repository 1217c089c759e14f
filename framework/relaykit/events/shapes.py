"""The wire shapes of event-source records, read with plain dict work (stdlib-only).

Used by the ``matches`` of the Lambda event kinds (so it must stay cheap), by routing in
``relaykit.events.records`` and by ``relaykit worker``. Covers SQS message bodies, S3
notification records and the two envelopes they arrive in besides a direct invocation (an SQS
message, optionally through SNS, and an EventBridge ``Object Created``/``Object Deleted`` event),
DynamoDB JSON images, and the natural id of each record (for idempotency).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus


def is_records_of(event: Mapping[str, Any], source: str) -> bool:
    """True when ``event`` is a ``{"Records": [...]}`` batch whose first record is ``source``."""
    records = event.get("Records")
    if not isinstance(records, list) or not records:
        return False
    first = records[0]
    if type(first) is not dict and not isinstance(first, Mapping):  # dict: no ABC check
        return False
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
    """True for an EventBridge event sent by S3 (``source`` ``aws.s3`` with a bucket)."""
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


def _sns_message(body: Mapping[str, Any]) -> Any:
    """The decoded ``Message`` of an SNS notification delivered to SQS (raw delivery off)."""
    if body.get("Type") != "Notification" or not isinstance(body.get("Message"), str):
        return None
    try:
        return json.loads(body["Message"])
    except ValueError:
        return None


def s3_records_in(body: Any) -> list[dict[str, Any]] | None:
    """The S3 notification records an SQS body carries: an S3 notification, the same inside an
    SNS notification, or an EventBridge S3 event. ``[]`` for S3's test event; ``None`` when the
    body is not an S3 notification."""
    if not isinstance(body, Mapping):
        return None
    inner = _sns_message(body)
    if inner is not None:
        return s3_records_in(inner)
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


def dynamodb_body(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The item a stream record is about: ``NewImage``, ``OldImage`` for ``REMOVE``, else
    ``Keys``, as plain values."""
    data = record.get("dynamodb") or {}
    image = data.get("OldImage") if record.get("eventName") == "REMOVE" else None
    return dynamodb_item(image or data.get("NewImage") or data.get("Keys"))


def record_id(source: str, record: Mapping[str, Any]) -> str | None:
    """The id that stays the same when this record is delivered again.

    SQS: the ``messageId``; S3: bucket, key, version and ``sequencer`` (S3 repeats a
    notification with the same sequencer); DynamoDB Streams: the ``eventID``; EventBridge and
    schedules: the event ``id``.
    """
    if source == "sqs":
        value = record.get("messageId")
    elif source == "s3":
        bucket, key, name = s3_object(record)
        obj = (record.get("s3") or {}).get("object") or {}
        value = f"{bucket}/{key}#{obj.get('versionId', '')}#{obj.get('sequencer', '')}#{name}"
    elif source == "dynamodb":
        value = record.get("eventID")
    else:
        value = record.get("id")
    return str(value) if value else None

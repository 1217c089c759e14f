"""``relaykit event SOURCE [...]``: print a realistic sample Lambda event for an event source,
for ``relaykit invoke APP --event -`` or the local Lambda emulator's Invoke API.

The shapes follow AWS's documented events (SQS, S3 notification, DynamoDB Streams, EventBridge
and its scheduled events); account 123456789012, region us-east-1 unless ``--region`` says.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import time
import uuid
from typing import Any

ACCOUNT = "123456789012"


def add_parser(commands: Any) -> None:
    """Add the ``event`` command and its per-source subcommands."""
    event = commands.add_parser(
        "event",
        help="print a sample Lambda event for an event source",
        description="Print a realistic Lambda event (JSON) for an event source; pipe it into "
        "'relaykit invoke APP --event -'.",
    )
    sources = event.add_subparsers(dest="source", metavar="SOURCE", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--region", default="us-east-1", help="AWS region (default us-east-1)")

    sqs = sources.add_parser("sqs", parents=[common], help="an SQS batch")
    sqs.add_argument("--queue", default="orders", help="queue name (default orders)")
    sqs.add_argument(
        "--body", action="append", default=None, help="a message body; repeat for more"
    )
    sqs.add_argument("--group", default="default", help="FIFO message group id")

    s3 = sources.add_parser("s3", parents=[common], help="an S3 notification")
    s3.add_argument("--bucket", default="docs-bucket")
    s3.add_argument("--key", default="incoming/report.pdf")
    s3.add_argument("--event-name", default="ObjectCreated:Put")
    s3.add_argument("--size", type=int, default=1024)
    s3.add_argument(
        "--via",
        choices=["direct", "sqs", "eventbridge"],
        default="direct",
        help="as S3 invokes Lambda (direct), wrapped in an SQS message, or as EventBridge sends "
        "it (default direct)",
    )
    s3.add_argument("--queue", default="uploads", help="with --via sqs: the queue name")

    ddb = sources.add_parser("dynamodb", parents=[common], help="a DynamoDB stream batch")
    ddb.add_argument("--table", default="documents")
    ddb.add_argument("--event-name", choices=["INSERT", "MODIFY", "REMOVE"], default="INSERT")
    ddb.add_argument(
        "--item",
        default='{"id": "doc-1", "text": "hello world"}',
        help="the item as plain JSON (converted to DynamoDB JSON); its 'id' is the key",
    )

    schedule = sources.add_parser("schedule", parents=[common], help="a scheduled event")
    schedule.add_argument("--rule", default="nightly", help="the EventBridge rule name")

    bridge = sources.add_parser("eventbridge", parents=[common], help="an EventBridge event")
    bridge.add_argument("--source", dest="event_source", default="com.example.app")
    bridge.add_argument("--detail-type", default="Example Event")
    bridge.add_argument("--detail", default="{}", help="the detail as JSON")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def sqs_event(queue: str, bodies: list[str], region: str, group: str = "default") -> dict[str, Any]:
    """An SQS event with one record per body (FIFO attributes for a ``.fifo`` queue)."""
    records = []
    for index, body in enumerate(bodies):
        now_ms = str(int(time.time() * 1000))
        attributes = {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": now_ms,
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": now_ms,
        }
        if queue.endswith(".fifo"):
            attributes["MessageGroupId"] = group
            attributes["MessageDeduplicationId"] = hashlib.sha256(body.encode()).hexdigest()
            attributes["SequenceNumber"] = f"{18849496460467696128 + index}"
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": base64.b64encode(uuid.uuid4().bytes * 4).decode(),
                "body": body,
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{region}:{ACCOUNT}:{queue}",
                "awsRegion": region,
            }
        )
    return {"Records": records}


def s3_record(bucket: str, key: str, event_name: str, size: int, region: str) -> dict[str, Any]:
    """One S3 notification record (event structure version 2.1); the key is URL-encoded."""
    from urllib.parse import quote_plus

    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AIDAINPONIXQXHT3IKHL2"},
        "requestParameters": {"sourceIPAddress": "203.0.113.10"},
        "responseElements": {
            "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
            "x-amz-id-2": base64.b64encode(uuid.uuid4().bytes * 3).decode(),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "relaykit-notification",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": {
                "key": quote_plus(key, safe="/"),
                "size": size,
                "eTag": uuid.uuid4().hex,
                "sequencer": uuid.uuid4().hex[:18].upper(),
            },
        },
    }


def s3_eventbridge(bucket: str, key: str, size: int, region: str) -> dict[str, Any]:
    """An EventBridge 'Object Created' event from S3."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": _now(),
        "region": region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key,
                "size": size,
                "etag": uuid.uuid4().hex,
                "sequencer": uuid.uuid4().hex[:18].upper(),
            },
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": ACCOUNT,
            "source-ip-address": "203.0.113.10",
            "reason": "PutObject",
        },
    }


def to_dynamodb(value: Any) -> dict[str, Any]:
    """A plain JSON value as DynamoDB JSON."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [to_dynamodb(item) for item in value]}
    if isinstance(value, dict):
        return {"M": {str(k): to_dynamodb(v) for k, v in value.items()}}
    raise ValueError(f"cannot convert {type(value).__name__} to DynamoDB JSON")


def dynamodb_event(
    table: str, event_name: str, item: dict[str, Any], region: str
) -> dict[str, Any]:
    image = {key: to_dynamodb(value) for key, value in item.items()}
    key_name = "id" if "id" in item else next(iter(item), "id")
    data: dict[str, Any] = {
        "ApproximateCreationDateTime": int(time.time()),
        "Keys": {key_name: image.get(key_name, {"S": "unknown"})},
        "SequenceNumber": str(int(time.time() * 1000)) + "00000000001",
        "SizeBytes": len(json.dumps(image)),
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if event_name in ("INSERT", "MODIFY"):
        data["NewImage"] = image
    if event_name in ("MODIFY", "REMOVE"):
        data["OldImage"] = image
    stream = time.strftime("%Y-%m-%dT%H:%M:%S.000", time.gmtime())
    return {
        "Records": [
            {
                "eventID": uuid.uuid4().hex,
                "eventName": event_name,
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": region,
                "dynamodb": data,
                "eventSourceARN": f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{table}/stream/"
                f"{stream}",
            }
        ]
    }


def eventbridge_event(
    source: str, detail_type: str, detail: Any, region: str, resources: list[str]
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": _now(),
        "region": region,
        "resources": resources,
        "detail": detail,
    }


def build(args: argparse.Namespace) -> dict[str, Any]:
    """The sample event the parsed ``relaykit event`` arguments ask for."""
    region = args.region
    if args.source == "sqs":
        bodies = args.body or ['{"text": "hello from SQS"}']
        return sqs_event(args.queue, bodies, region, args.group)
    if args.source == "s3":
        if args.via == "eventbridge":
            return s3_eventbridge(args.bucket, args.key, args.size, region)
        record = s3_record(args.bucket, args.key, args.event_name, args.size, region)
        if args.via == "sqs":
            return sqs_event(args.queue, [json.dumps({"Records": [record]})], region)
        return {"Records": [record]}
    if args.source == "dynamodb":
        item = json.loads(args.item)
        if not isinstance(item, dict):
            raise ValueError("--item must be a JSON object")
        return dynamodb_event(args.table, args.event_name, item, region)
    if args.source == "schedule":
        rule = f"arn:aws:events:{region}:{ACCOUNT}:rule/{args.rule}"
        return eventbridge_event("aws.events", "Scheduled Event", {}, region, [rule])
    return eventbridge_event(
        args.event_source, args.detail_type, json.loads(args.detail), region, []
    )


def print_event(args: argparse.Namespace) -> int:
    """Print the sample event as JSON; 2 on bad arguments."""
    try:
        event = build(args)
    except ValueError as exc:
        print(f"relaykit event: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(json.dumps(event, indent=2) + "\n")
    return 0

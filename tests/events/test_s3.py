"""S3 notifications on Lambda: routing by bucket, prefix, suffix and event name; a failure fails
the (asynchronous) invocation; S3 events arriving through EventBridge, SQS and SNS-in-SQS reach
the same handler; idempotent handlers skip a repeated notification."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord

from relaykit import App, Context, UnknownEventError
from relaykit.events.s3 import RecordsFailed

Invoke = Callable[[App, dict[str, Any]], Any]
Event = Callable[[str], dict[str, Any]]


def test_s3_routes_by_bucket_prefix_suffix_and_event(
    new_app: Callable[[], App], invoke: Invoke, event: Event
) -> None:
    """The first on_s3 whose filters match gets the record; keys are URL-decoded."""
    app = new_app()
    got: list[str] = []

    @app.on_s3("docs-bucket", prefix="incoming/", suffix=".txt")
    async def texts(record: dict[str, Any]) -> None:
        raise AssertionError("wrong suffix")

    @app.on_s3("docs-bucket", events="ObjectRemoved:*")
    async def removed(record: dict[str, Any]) -> None:
        raise AssertionError("wrong event")

    @app.on_s3("docs-bucket", prefix="incoming/", suffix=".pdf", events=["s3:ObjectCreated:*"])
    async def pdfs(record: S3EventRecord, ctx: Context) -> None:
        got.append(record.s3.get_object.key)
        assert ctx.meta["source"] == "s3"

    assert invoke(app, event("s3")) is None
    assert got == ["incoming/report+2024.pdf"]


def test_s3_failure_fails_the_invocation(
    new_app: Callable[[], App], invoke: Invoke, event: Event
) -> None:
    """S3 invokes asynchronously: a failing handler raises so Lambda retries."""
    app = new_app()

    @app.on_s3("docs-bucket")
    async def broken(record: dict[str, Any]) -> None:
        raise RuntimeError("nope")

    with pytest.raises(RecordsFailed):
        invoke(app, event("s3"))


def test_s3_unknown_bucket_is_a_clear_error(
    new_app: Callable[[], App], invoke: Invoke, event: Event
) -> None:
    app = new_app()

    @app.on_s3("another-bucket")
    async def other(record: dict[str, Any]) -> None:
        return None

    with pytest.raises(UnknownEventError, match=r"no @app.on_s3 handler matches ObjectCreated:Put"):
        invoke(app, event("s3"))


def test_s3_from_eventbridge_is_unwrapped(
    new_app: Callable[[], App], invoke: Invoke, event: Event
) -> None:
    """EventBridge's 'Object Created' event reaches on_s3 as an S3 notification record."""
    app = new_app()
    got: list[tuple[str, str]] = []

    @app.on_s3("docs-bucket", prefix="incoming/", events=["ObjectCreated:Put"])
    async def created(record: dict[str, Any]) -> None:
        got.append((record["eventName"], record["s3"]["object"]["key"]))

    invoke(app, event("eventbridge_s3"))
    assert got == [("ObjectCreated:Put", "incoming/summary.pdf")]


def test_s3_through_sns_and_sqs_is_unwrapped(
    new_app: Callable[[], App], invoke: Invoke, event: Event
) -> None:
    """S3 -> SNS -> SQS: the SNS notification in the SQS body is opened and the S3 record reaches
    on_s3 (matched on the URL-decoded key; the record keeps S3's encoding); the SQS batch
    reports no failure."""
    app = new_app()
    got: list[tuple[str, str]] = []

    @app.on_s3("docs-bucket", prefix="incoming/contract: ", events="ObjectCreated:*")
    async def created(record: S3EventRecord) -> None:
        got.append((record.event_name, record.s3.get_object.key))

    assert invoke(app, event("sqs_sns_s3")) == {"batchItemFailures": []}
    assert got == [("ObjectCreated:CompleteMultipartUpload", "incoming/contract%3A+v2.pdf")]


def test_idempotent_s3_handler_skips_a_repeated_notification(
    new_app: Callable[[], App], invoke: Invoke, event: Event
) -> None:
    """S3 may deliver a notification twice (same object, same sequencer): the second one does
    not run an idempotent handler; a new upload of the same key (new sequencer) does."""
    app = new_app()
    calls: list[str] = []

    @app.on_s3("docs-bucket", idempotent=True)
    async def classify(record: dict[str, Any], ctx: Context) -> None:
        calls.append(ctx.meta["record_id"])

    invoke(app, event("s3"))
    invoke(app, event("s3"))
    again = event("s3")
    again["Records"][0]["s3"]["object"]["sequencer"] = "0A1B2C3D4E5F679999"
    invoke(app, again)
    assert len(calls) == 2 and calls[0] != calls[1]

"""S3, DynamoDB Streams and EventBridge (schedules included) on Lambda, plus registration
errors and the EventBridge pattern subset."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from pydantic import BaseModel

from relaykit import App, Context, RegistrationError, UnknownEventError
from relaykit.events.s3 import RecordsFailed
from relaykit.schedules import parse_schedule
from relaykit.sources import pattern_matches

Invoke = Callable[[App, dict[str, Any]], Any]
Event = Callable[[str], dict[str, Any]]


class Placed(BaseModel):
    order_id: str
    amount: float


class Doc(BaseModel):
    id: str
    text: str
    words: int


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


def test_dynamodb_stream_partial_failure(
    new_app: Callable[[], App], invoke: Invoke, event: Event
) -> None:
    """Images arrive as plain values validated into the model; the failing record's sequence
    number is reported; REMOVE records carry the old image."""
    app = new_app()
    seen: list[tuple[str, int]] = []

    @app.on_dynamodb_stream("documents")
    async def embed(doc: Doc) -> None:
        if doc.text.startswith("FAIL"):
            raise RuntimeError("embedding failed")
        seen.append((doc.id, doc.words))

    batch = event("dynamodb")
    out = invoke(app, batch)
    failed = batch["Records"][1]["dynamodb"]["SequenceNumber"]
    assert out == {"batchItemFailures": [{"itemIdentifier": failed}]}
    assert seen == [("doc-1", 2), ("doc-3", 1)]


def test_dynamodb_unknown_stream(new_app: Callable[[], App], invoke: Invoke, event: Event) -> None:
    app = new_app()

    @app.on_dynamodb_stream("other-table")
    async def other(record: dict[str, Any]) -> None:
        return None

    with pytest.raises(UnknownEventError, match=r"no @app\.on_dynamodb_stream handler for stream"):
        invoke(app, event("dynamodb"))


def test_schedule_routed_by_rule(new_app: Callable[[], App], invoke: Invoke, event: Event) -> None:
    """A scheduled event goes to the on_schedule handler whose rule is in its resources."""
    app = new_app()
    ran: list[str] = []

    @app.on_schedule("rate(1 hour)")
    async def hourly(event: dict[str, Any]) -> None:
        ran.append("hourly")

    @app.on_schedule("cron(0 2 * * ? *)", rule="nightly-digest")
    async def nightly(event: dict[str, Any]) -> None:
        ran.append(event["id"])

    invoke(app, event("eventbridge_schedule"))
    assert ran == ["53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa"]


def test_eventbridge_pattern_and_detail_model(
    new_app: Callable[[], App], invoke: Invoke, event: Event
) -> None:
    """A matching pattern gets the detail validated into its annotation; the result returns."""
    app = new_app()

    @app.on_eventbridge(
        {"source": ["com.example.shop"], "detail": {"amount": [{"numeric": [">", 10]}]}}
    )
    async def placed(order: Placed) -> dict[str, Any]:
        return {"order": order.order_id}

    assert invoke(app, event("eventbridge")) == {"order": "o-9"}


def test_eventbridge_without_match_is_clear(
    new_app: Callable[[], App], invoke: Invoke, event: Event
) -> None:
    app = new_app()

    @app.on_eventbridge({"source": ["com.example.billing"]})
    async def billing(detail: dict[str, Any]) -> None:
        return None

    with pytest.raises(UnknownEventError, match=r"no @app\.on_eventbridge pattern matches"):
        invoke(app, event("eventbridge"))


@pytest.mark.parametrize(
    ("pattern", "matched"),
    [
        ({"source": ["com.example.shop"]}, True),
        ({"source": [{"prefix": "com.example"}]}, True),
        ({"detail": {"channel": [{"anything-but": ["web"]}]}}, False),
        ({"detail": {"channel": [{"equals-ignore-case": "WEB"}]}}, True),
        ({"detail": {"coupon": [{"exists": False}]}}, True),
        ({"detail": {"amount": [{"numeric": [">=", 50]}]}}, False),
        ({"detail-type": [{"wildcard": "Order *"}]}, True),
        ({"detail": {"order_id": [{"suffix": "-9"}], "channel": ["app", "web"]}}, True),
    ],
)
def test_pattern_subset(pattern: dict[str, Any], matched: bool, event: Event) -> None:
    assert pattern_matches(pattern, event("eventbridge")) is matched


def test_registration_errors_name_the_function(new_app: Callable[[], App]) -> None:
    """Bad registrations raise RegistrationError naming the function."""
    app = new_app()

    async def handler(record: dict[str, Any]) -> None:
        return None

    app.add_sqs("orders", handler)
    with pytest.raises(RegistrationError, match=r"test_sources\..*handler.*already handled"):
        app.add_sqs("arn:aws:sqs:us-east-1:123456789012:orders", handler)
    with pytest.raises(RegistrationError, match=r"handler .*handler: the queue must be"):
        app.add_sqs("", handler)
    with pytest.raises(RegistrationError, match="is not an S3 event type"):
        app.add_s3("bucket", handler, events=["Created"])
    with pytest.raises(RegistrationError, match="unsupported operator"):
        app.add_eventbridge({"source": [{"cidr": "10.0.0.0/8"}]}, handler)
    with pytest.raises(RegistrationError, match="'L', 'W' and '#' are not supported"):
        app.add_schedule("cron(0 12 L * ? *)", handler)
    with pytest.raises(RegistrationError, match="it yields"):

        @app.on_sqs("other")
        async def gen(record: dict[str, Any]) -> Any:
            yield record


def test_schedule_parsing() -> None:
    """rate() and 6-field cron() compute their next run times (UTC)."""
    from datetime import datetime

    start = datetime(2024, 11, 28, 12, 30)
    assert parse_schedule("rate(5 minutes)").next_after(start) == datetime(2024, 11, 28, 12, 35)
    weekdays = parse_schedule("cron(0 9 ? * MON-FRI *)")
    assert weekdays.next_after(start) == datetime(2024, 11, 29, 9, 0)  # Thursday -> Friday
    assert weekdays.next_after(datetime(2024, 11, 29, 9, 0)) == datetime(2024, 12, 2, 9, 0)
    assert parse_schedule("cron(*/15 * * * ? *)").next_after(start) == datetime(
        2024, 11, 28, 12, 45
    )

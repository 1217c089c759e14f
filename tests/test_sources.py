"""Registering event-source handlers: errors name the function and the problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from relaykit import App, RegistrationError


@pytest.fixture
def app(tmp_path: Path) -> App:
    return App("sources-test", settings={"store": "memory://"}, config_dir=tmp_path)


def test_registration_errors_name_the_function(app: App) -> None:
    """Bad registrations raise RegistrationError naming the function."""

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


def test_the_registry_keeps_order_and_routing_facts(app: App) -> None:
    """``app.sources`` lists specs in registration order with what routing needs."""

    async def handler(record: dict[str, Any]) -> None:
        return None

    app.add_sqs("arn:aws:sqs:eu-west-1:123456789012:jobs", handler, idempotent=True)
    app.add_s3("docs", handler, prefix="in/", suffix=".pdf", events="s3:ObjectCreated:*")
    app.add_dynamodb_stream("documents", handler)
    app.add_schedule("rate(10 seconds)", handler, rule="tick")
    labels = [spec.label for spec in app.sources]
    assert labels == [
        "sqs:arn:aws:sqs:eu-west-1:123456789012:jobs",
        "s3:docs/in/*.pdf",
        "dynamodb:documents",
        "schedule:tick",
    ]
    sqs, s3, ddb, schedule = app.sources
    assert sqs.queue_name == "jobs" and sqs.idempotent
    assert sqs.matches_queue("arn:aws:sqs:eu-west-1:123456789012:jobs")
    assert not sqs.matches_queue("arn:aws:sqs:us-east-1:123456789012:jobs")
    assert s3.events == ("ObjectCreated:*",)
    assert s3.matches_object("docs", "in/a.pdf", "ObjectCreated:Put")
    assert not s3.matches_object("docs", "in/a.pdf", "ObjectRemoved:Delete")
    stream = (
        "arn:aws:dynamodb:us-east-1:123456789012:table/documents/stream/2024-11-28T00:00:00.000"
    )
    assert ddb.matches_stream(stream)
    assert schedule.matches_rule("arn:aws:events:us-east-1:123456789012:rule/tick")


def test_unsupported_pattern_and_schedule_are_named(app: App) -> None:
    async def handler(record: dict[str, Any]) -> None:
        return None

    with pytest.raises(RegistrationError, match=r"\$or is not supported"):
        app.add_eventbridge({"$or": [{"source": ["a"]}, {"source": ["b"]}]}, handler)
    with pytest.raises(RegistrationError, match="non-empty list of values"):
        app.add_eventbridge({"source": "com.example"}, handler)
    with pytest.raises(RegistrationError, match="cron takes 6 fields"):
        app.add_schedule("cron(0 12 * * ?)", handler)
    with pytest.raises(RegistrationError, match="is not 'rate"):
        app.add_schedule("every 5 minutes", handler)


def test_registering_every_source_stays_light() -> None:
    """Registering one handler of each source in a fresh process imports neither boto3 nor
    Powertools nor pydantic (they load with the first event)."""
    import json
    import subprocess
    import sys

    code = """
import json, sys
import relaykit
app = relaykit.App("light", settings={"store": "memory://"})
async def h(record: dict, ctx: relaykit.Context) -> None: ...
app.add_sqs("q", h, idempotent=True)
app.add_s3("b", h, prefix="in/", events="ObjectCreated:*", queue="uploads")
app.add_dynamodb_stream("t", h)
app.add_schedule("cron(0 2 * * ? *)", h)
app.add_eventbridge({"source": [{"prefix": "com."}]}, h)
handler = app.lambda_handler
print(json.dumps(sorted(sys.modules)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = json.loads(out.stdout.splitlines()[-1])
    heavy = ("boto3", "botocore", "aws_lambda_powertools", "pydantic", "fastapi", "mangum")
    assert [m for m in modules if m.split(".")[0] in heavy] == []

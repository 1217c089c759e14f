"""examples/events_app.py does what docs/event-sources.md says: each source's sample event (from
``relaykit event``) reaches its handler through ``app.lambda_handler``, and a redelivered SQS
message does not call the model again."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relaykit import App
from relaykit.cli.samples import dynamodb_event, eventbridge_event, s3_record, sqs_event
from relaykit.targets.lambda_handler import LambdaHandler

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"


class LambdaContext:
    function_name = "events"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:events"
    aws_request_id = "5b0c0b8e-0000-4000-8000-0000000000e1"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def handler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LambdaHandler]:
    """The example's ``handler``, with its store under ``tmp_path`` and no model delay."""
    monkeypatch.setenv("RELAYKIT_STORE", f"sqlite:///{tmp_path}/relaykit.db")
    monkeypatch.setenv("RELAYKIT_LOCAL_MODEL_DELAY", "0")
    monkeypatch.setenv("RELAYKIT_METRICS", "false")
    spec = importlib.util.spec_from_file_location("example_events_app", EXAMPLES / "events_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app: App = module.app
    assert [s.label for s in app.sources][:2] == ["sqs:tickets", "s3:docs-bucket/incoming/*.pdf"]
    yield module.handler
    module.handler.close()


def call(handler: LambdaHandler, event: dict[str, Any]) -> Any:
    return handler(json.loads(json.dumps(event)), LambdaContext())


def test_sqs_summaries_run_once_per_message(
    handler: LambdaHandler, capsys: pytest.CaptureFixture[str]
) -> None:
    body = json.dumps({"ticket_id": "t-1", "text": "printer on fire"})
    event = sqs_event("tickets", [body], "us-east-1")
    assert call(handler, event) == {"batchItemFailures": []}
    assert call(handler, event) == {"batchItemFailures": []}  # redelivered: skipped
    assert capsys.readouterr().out == "t-1 Local model reply to: Summarise: printer on fire\n"


def test_every_other_source_reaches_its_handler(handler: LambdaHandler) -> None:
    record = s3_record("docs-bucket", "incoming/q3.pdf", "ObjectCreated:Put", 10, "us-east-1")
    assert call(handler, {"Records": [record]}) is None
    row = dynamodb_event("documents", "INSERT", {"id": "d-1", "text": "hi"}, "us-east-1")
    assert call(handler, row) == {"batchItemFailures": []}
    rule = "arn:aws:events:us-east-1:123456789012:rule/nightly-digest"
    scheduled = eventbridge_event("aws.events", "Scheduled Event", {}, "us-east-1", [rule])
    assert call(handler, scheduled) is None
    placed = eventbridge_event(
        "com.example.shop", "Order Placed", {"order_id": "o-1"}, "us-east-1", []
    )
    assert call(handler, placed) == "Local model reply to: Thank the customer for order o-1"

"""DynamoDB Streams on Lambda: item images validated into the handler's model, partial batch
failures by sequence number, routing by stream ARN and idempotent redelivery."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from relaykit import App, UnknownEventError

Invoke = Callable[[App, dict[str, Any]], Any]
Event = Callable[[str], dict[str, Any]]


class Doc(BaseModel):
    id: str
    text: str
    words: int


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


def test_dynamodb_routes_by_table_arn_and_stream_arn(
    new_app: Callable[[], App], invoke: Invoke, event: Event
) -> None:
    """A table given as its ARN matches the records of any of its streams."""
    app = new_app()
    seen: list[str] = []
    batch = event("dynamodb")
    table_arn = batch["Records"][0]["eventSourceARN"].split("/stream/")[0]

    @app.on_dynamodb_stream(table_arn)
    async def by_arn(record: dict[str, Any]) -> None:
        seen.append(record["eventID"])

    assert invoke(app, batch) == {"batchItemFailures": []}
    assert seen == [record["eventID"] for record in batch["Records"]]


def test_idempotent_stream_records_run_once(
    new_app: Callable[[], App], invoke: Invoke, event: Event
) -> None:
    """Lambda retries a batch from the failed record on: records that succeeded before are not
    run again by an idempotent handler."""
    app = new_app()
    calls: list[str] = []
    failing = {"doc-2"}

    @app.on_dynamodb_stream("documents", idempotent=True)
    async def embed(doc: Doc) -> None:
        calls.append(doc.id)
        if doc.id in failing and doc.text.startswith("FAIL"):
            raise RuntimeError("embedding failed")

    invoke(app, event("dynamodb"))
    failing.clear()
    assert invoke(app, event("dynamodb")) == {"batchItemFailures": []}
    assert calls == ["doc-1", "doc-2", "doc-3", "doc-2"]

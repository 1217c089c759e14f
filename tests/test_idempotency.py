"""Processed-record markers (``relaykit.idempotency``) behind ``idempotent=True``: kept in the
SQLite file of the ``store`` setting (so a restarted container still skips a redelivery), and in
the durable store's DynamoDB table on a real DynamoDB API (moto's server on loopback)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pydantic import BaseModel

from relaykit import App, Context
from relaykit.durable.stores import open_store
from relaykit.llm.local import LocalModel

EVENTS = Path(__file__).parent / "events"


class Order(BaseModel):
    order_id: str
    text: str


class LambdaContext:
    function_name = "idempotency-test"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:idempotency-test"
    aws_request_id = "0c8f4a55-0000-4000-8000-0000000000aa"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def sqs_event() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / "sqs.json").read_text())
    return data


def summariser(store: str, tmp_path: Path, replies: list[str]) -> App:
    """An app whose idempotent SQS handler calls a model scripted with three replies: a fourth
    call would raise, failing its record."""
    model = LocalModel(delay=0, script=["summary 1", "summary 2", "summary 3"])
    app = App("idem", settings={"metrics": False, "store": store}, model=model, config_dir=tmp_path)

    @app.on_sqs("orders", idempotent=True)
    async def summarise(order: Order, ctx: Context) -> None:
        reply = await ctx.llm.complete([{"role": "user", "content": order.text}])
        replies.append(reply.text)

    return app


def run(app: App, event: dict[str, Any]) -> Any:
    handler = app.lambda_handler
    try:
        return handler(event, LambdaContext())
    finally:
        handler.close()


def test_markers_outlive_the_process_that_wrote_them(tmp_path: Path) -> None:
    """A second app on the same SQLite store (a new container, a new Lambda environment) skips
    the messages the first one processed: the model is called once per message in all."""
    store = f"sqlite:///{tmp_path}/relaykit.db"
    first: list[str] = []
    assert run(summariser(store, tmp_path, first), sqs_event()) == {"batchItemFailures": []}
    second: list[str] = []
    assert run(summariser(store, tmp_path, second), sqs_event()) == {"batchItemFailures": []}
    assert sorted(first) == ["summary 1", "summary 2", "summary 3"]
    assert second == []


@pytest.fixture(scope="module")
def dynamodb_endpoint() -> Iterator[str]:
    """moto's server on 127.0.0.1 (a free port), stopped at the end; dummy credentials."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    try:
        yield endpoint
    finally:
        server.stop()


def test_markers_in_the_durable_dynamodb_table(
    dynamodb_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``store = dynamodb://TABLE`` the markers are items of the durable store's table
    (``pk = P#sqs:QUEUE#MESSAGE_ID``, with an ``expires_at`` TTL); a redelivered batch does not
    call the model again."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("dynamodb", endpoint_url=dynamodb_endpoint, region_name="us-east-1")
    open_store("dynamodb://relaykit-idem", dynamodb=client).create_table()  # type: ignore[attr-defined]
    replies: list[str] = []
    app = summariser("dynamodb://relaykit-idem", tmp_path, replies)
    event = sqs_event()
    assert run(app, event) == {"batchItemFailures": []}
    assert run(app, sqs_event()) == {"batchItemFailures": []}
    assert sorted(replies) == ["summary 1", "summary 2", "summary 3"]
    items = client.scan(TableName="relaykit-idem")["Items"]
    keys = sorted(item["pk"]["S"] for item in items if item["sk"]["S"] == "P")
    assert keys == sorted(f"P#sqs:orders#{r['messageId']}" for r in event["Records"])
    assert all("expires_at" in item for item in items if item["sk"]["S"] == "P")

"""An app with one handler per event source, for ``relaykit event | relaykit invoke``, the Lambda
emulator and ``relaykit serve`` with the worker (tests/cli). Each handler appends a line to the
file named by ``SOURCES_OUT`` (when set); a body or detail containing ``FAIL`` raises."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from relaykit import App, Context

app = App("sources", settings={"metrics": False, "store": "memory://"})


def note(line: str) -> None:
    out = os.environ.get("SOURCES_OUT")
    if out:
        with Path(out).open("a", encoding="utf-8") as file:
            file.write(line + "\n")


class Note(BaseModel):
    text: str


class Doc(BaseModel):
    id: str
    text: str


@app.on_sqs("notes")
async def on_note(body: Note, ctx: Context) -> None:
    if "FAIL" in body.text:
        raise RuntimeError("asked to fail")
    note(f"sqs {body.text} {ctx.meta['record_id']}")


@app.on_s3("docs-bucket", prefix="incoming/", events="ObjectCreated:*", queue="uploads")
async def on_upload(record: dict[str, Any]) -> None:
    note(f"s3 {record['s3']['object']['key']}")


@app.on_dynamodb_stream("documents")
async def on_row(row: Doc) -> None:
    note(f"dynamodb {row.id} {row.text}")


@app.on_schedule("rate(1 day)", rule="nightly")
async def nightly(event: dict[str, Any]) -> None:
    note(f"schedule {event['resources'][0]}")


class Order(BaseModel):
    order_id: str


@app.on_eventbridge({"source": ["com.example.shop"], "detail-type": ["Order Placed"]})
async def on_order(order: Order) -> dict[str, Any]:
    note(f"eventbridge {order.order_id}")
    return {"thanked": order.order_id}

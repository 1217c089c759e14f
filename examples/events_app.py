"""Event-driven LLM tasks: one app serving SQS, S3, DynamoDB Streams, schedules and EventBridge,
on Lambda (``handler = app.lambda_handler``) and in a container (``relaykit worker``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from relaykit import App, Context

app = App("events", settings={"model": "local"})
handler = app.lambda_handler


# [docs:sqs]
class Ticket(BaseModel):
    ticket_id: str
    text: str


@app.on_sqs("tickets", idempotent=True)
async def summarise(ticket: Ticket, ctx: Context) -> None:
    """Summarise each support ticket; a redelivered message does not call the model again."""
    reply = await ctx.llm.complete([{"role": "user", "content": f"Summarise: {ticket.text}"}])
    print(ticket.ticket_id, reply.text)


# [/docs:sqs]


# [docs:s3]
@app.on_s3(
    "docs-bucket", prefix="incoming/", suffix=".pdf", events=["ObjectCreated:*"], queue="uploads"
)
async def classify(record: dict[str, Any], ctx: Context) -> None:
    """Classify each new PDF (direct S3 events, S3 via SQS, or S3 via EventBridge)."""
    key = record["s3"]["object"]["key"]
    await ctx.llm.complete([{"role": "user", "content": f"Classify the document {key}"}])


# [/docs:s3]


# [docs:dynamodb]
class Row(BaseModel):
    id: str
    text: str


@app.on_dynamodb_stream("documents")
async def embed(row: Row, ctx: Context) -> None:
    """Embed new or changed rows (the item image arrives as plain values)."""
    await ctx.llm.complete([{"role": "user", "content": f"Keywords for: {row.text}"}])


# [/docs:dynamodb]


# [docs:schedule]
@app.on_schedule("cron(0 2 * * ? *)", rule="nightly-digest")
async def nightly(event: dict[str, Any], ctx: Context) -> None:
    """Write the nightly digest at 02:00 UTC."""
    await ctx.llm.complete([{"role": "user", "content": "Write the nightly digest"}])


# [/docs:schedule]


# [docs:eventbridge]
class Placed(BaseModel):
    order_id: str


@app.on_eventbridge(
    {"source": ["com.example.shop"], "detail-type": ["Order Placed"]}, idempotent=True
)
async def thank(order: Placed, ctx: Context) -> str:
    """Draft a thank-you note for each order (the event's detail, validated into Placed)."""
    prompt = f"Thank the customer for order {order.order_id}"
    reply = await ctx.llm.complete([{"role": "user", "content": prompt}])
    return reply.text


# [/docs:eventbridge]

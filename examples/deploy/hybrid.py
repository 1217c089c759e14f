"""A hybrid app for docs/deploy.md: a task and a stream on Lambda, a durable workflow on Lambda
and in a container, an SQS handler on Lambda and a container-only task. Where each one runs is
in ``relaykit.toml`` next to this file, not in the code."""

from __future__ import annotations

from collections.abc import AsyncIterator

from pydantic import BaseModel

from relaykit import App, Context
from relaykit.durable import WorkflowContext

app = App("support")


class Ask(BaseModel):
    question: str


class Ticket(BaseModel):
    ticket_id: str
    text: str


@app.task("/ask")
async def ask(body: Ask, ctx: Context) -> str:
    """Answer in one reply."""
    reply = await ctx.llm.complete([{"role": "user", "content": body.question}])
    return reply.text


@app.stream("/chat")
async def chat(body: Ask, ctx: Context) -> AsyncIterator[str]:
    """Stream the reply through a Function URL."""
    async for token in ctx.llm.stream([{"role": "user", "content": body.question}]):
        yield token


async def outline(question: str) -> str:
    return f"outline for {question}"


@app.workflow("/research")
async def research(body: Ask, ctx: WorkflowContext) -> str:
    """A durable run that may outlast one Lambda invocation."""
    text: str = await ctx.step("outline", outline, body.question)
    return text


@app.task("/report")
async def report(body: Ask, ctx: Context) -> str:
    """A long task: it runs in the container only."""
    reply = await ctx.llm.complete([{"role": "user", "content": f"Report on {body.question}"}])
    return reply.text


@app.on_sqs("tickets", idempotent=True)
async def triage(ticket: Ticket, ctx: Context) -> None:
    """Triage each ticket; failures are reported per message."""
    await ctx.llm.complete([{"role": "user", "content": ticket.text}])


handler = app.lambda_handler

"""The app schemathesis fuzzes: tasks, streams and workflows with realistic input types, plus
the runs API that its workflows bring. Served by ``relaykit serve schema_app:app`` on loopback
(``PYTHONPATH=tests/hardening``), with the local model and a SQLite store in a temp folder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from relaykit import App, BadRequest, Context
from relaykit.durable import WorkflowContext

app = App("schema-fuzz")


class Ask(BaseModel):
    question: str = Field(min_length=1, max_length=2000)
    max_words: int = Field(default=20, ge=1, le=200)


class Answer(BaseModel):
    answer: str
    model: str
    words: int


@app.task("/ask")
async def ask(body: Ask, ctx: Context) -> Answer:
    """One model reply."""
    reply = await ctx.llm.complete(
        [{"role": "user", "content": body.question}], max_tokens=body.max_words
    )
    return Answer(answer=reply.text, model=reply.model, words=len(reply.text.split()))


@app.task("/classify")
def classify(text: str) -> dict[str, str]:
    """A plain JSON string in, a dict out; a blank text is the caller's mistake (400)."""
    if not text.strip():
        raise BadRequest("text is blank; send the text to classify")
    return {"label": "question" if text.rstrip().endswith("?") else "statement"}


class Priority(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"


class Line(BaseModel):
    sku: str = Field(pattern=r"^[A-Z]{3}-\d{3}$")
    quantity: int = Field(ge=1, le=1000)
    price: float = Field(ge=0, le=1e6)


class Order(BaseModel):
    customer: str = Field(min_length=1, max_length=100)
    lines: list[Line] = Field(min_length=1, max_length=20)
    priority: Priority = Priority.normal
    deliver_after: datetime | None = None
    tags: dict[str, str] = Field(default_factory=dict, max_length=10)


class Quote(BaseModel):
    customer: str
    total: float
    items: int
    priority: Priority


@app.task("/quote")
async def quote(body: Order) -> Quote:
    """Nested models, an enum, a pattern, a datetime and a dict: the validation seam's range."""
    total = round(sum(line.quantity * line.price for line in body.lines), 2)
    items = sum(line.quantity for line in body.lines)
    return Quote(customer=body.customer, total=total, items=items, priority=body.priority)


@app.stream("/chat")
async def chat(body: Ask, ctx: Context) -> AsyncIterator[str]:
    """Tokens as Server-Sent Events."""
    async for token in ctx.llm.stream(
        [{"role": "user", "content": body.question}], max_tokens=body.max_words
    ):
        yield token


class Tick(BaseModel):
    step: int
    of: int


@app.stream("/ticks")
async def ticks(count: Annotated[int, Field(ge=1, le=10)]) -> AsyncIterator[Tick]:
    """JSON chunks (``event: json``)."""
    for step in range(1, count + 1):
        yield Tick(step=step, of=count)


class Question(BaseModel):
    question: str = Field(min_length=1, max_length=300)
    sources: int = Field(default=2, ge=1, le=4)


class Report(BaseModel):
    question: str
    notes: list[str]


def plan(question: str, sources: int) -> list[str]:
    return [f"{question} ({n})" for n in range(1, sources + 1)]


@app.workflow("/research")
async def research(body: Question, ctx: WorkflowContext) -> Report:
    """Plan, one model step per source: finishes by itself."""
    queries = await ctx.step("plan", plan, body.question, body.sources)
    notes = []
    for query in queries:
        reply = await ctx.llm_step(f"note:{query}", [{"role": "user", "content": query}])
        notes.append(reply.text)
    return Report(question=body.question, notes=notes)


class Request(BaseModel):
    title: str = Field(min_length=1, max_length=200)


@app.workflow("/approval")
async def approval(body: Request, ctx: WorkflowContext) -> bool:
    """Waits for an ``approve`` event (delivered through ``POST /runs/{id}/events/approve``)."""
    await ctx.step("record", str.upper, body.title)
    decision = await ctx.wait_for_event("approve", timeout=3600, type=bool)
    return bool(decision)

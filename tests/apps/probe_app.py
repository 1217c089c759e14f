"""A test app whose handlers report what happens to them through marker files.

The server runs in another process, so handlers write small files under the folder the test
sends in the body (``marks``): ``started``, ``cancelled``, ``finished``. Ordering is asserted by
waiting on those files and on gate files the test creates, never by timing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from pydantic import BaseModel

from relaykit import App, Context

app = App("probe")


class Probe(BaseModel):
    marks: str
    gate_timeout: float = 15.0


def mark(probe: Probe, name: str) -> None:
    Path(probe.marks, name).write_text(name)


async def wait_for_gate(probe: Probe, name: str) -> bool:
    gate = Path(probe.marks, name)
    for _ in range(int(probe.gate_timeout / 0.02)):
        if await asyncio.to_thread(gate.exists):
            return True
        await asyncio.sleep(0.02)
    return False


@app.stream("/gated")
async def gated(body: Probe, ctx: Context) -> AsyncIterator[str]:
    """Yields 'first', then waits for the test's gate file before yielding the second chunk."""
    yield "first"
    opened = await wait_for_gate(body, "gate")
    yield "after-gate" if opened else "gate-timeout"


@app.stream("/endless")
async def endless(body: Probe) -> AsyncIterator[str]:
    """Streams until cancelled; records the cancellation."""
    mark(body, "started")
    try:
        while True:
            yield "tick"
            await asyncio.sleep(0.02)
    except (asyncio.CancelledError, GeneratorExit):
        mark(body, "cancelled")
        raise


@app.task("/hang")
async def hang(body: Probe) -> str:
    """Waits until cancelled; records the cancellation."""
    mark(body, "started")
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        mark(body, "cancelled")
        raise
    mark(body, "finished")
    return "finished"


@app.task("/boom")
async def boom(body: dict[str, str]) -> str:
    """Fails with a message that must never reach the caller."""
    raise RuntimeError(f"secret-detail-{body.get('token', '')}")


@app.stream("/boom-later")
async def boom_later() -> AsyncIterator[str]:
    """Fails after the first chunk."""
    yield "partial"
    raise RuntimeError("secret-stream-detail")


class Item(BaseModel):
    name: str
    quantity: int


class Order(BaseModel):
    customer: str
    items: list[Item]


@app.task("/order")
async def order(body: Order) -> dict[str, int]:
    """Counts items: for validation errors that name nested fields."""
    return {"items": sum(item.quantity for item in body.items)}

"""An app for Lambda Managed Instances tests: handlers that prove they run concurrently."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from pydantic import BaseModel

from relaykit import App, Context

app = App("concurrent", settings={"metrics": False, "local_model_delay": 0})
IN_FLIGHT = {"now": 0, "max": 0}


class Wait(BaseModel):
    expect: int
    model_seconds: float = 1.0


@app.task("/slow")
async def slow(body: Wait, ctx: Context) -> dict[str, Any]:
    """Waits (bounded) until ``expect`` calls are in flight, then awaits a slow 'model call'."""
    IN_FLIGHT["now"] += 1
    IN_FLIGHT["max"] = max(IN_FLIGHT["max"], IN_FLIGHT["now"])
    try:
        for _ in range(500):
            if IN_FLIGHT["now"] >= body.expect or IN_FLIGHT["max"] >= body.expect:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(body.model_seconds)
        return {
            "pid": os.getpid(),
            "request_id": ctx.request_id,
            "trace_id": ctx.trace_id,
            "env_trace": os.environ.get("_X_AMZN_TRACE_ID"),
            "has_deadline": ctx.remaining_seconds() > 0,
            "max_in_flight": IN_FLIGHT["max"],
        }
    finally:
        IN_FLIGHT["now"] -= 1


@app.task("/boom")
async def boom() -> str:
    """Fails."""
    raise RuntimeError("boom")


@app.task("/sleep")
async def sleep(seconds: float) -> str:
    """Outlives the function timeout."""
    await asyncio.sleep(seconds)
    return "woke"

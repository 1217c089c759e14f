"""An app served by relaykit's own Lambda runtime under the emulator (tests/lambda_runtime)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from relaykit import App, Context

app = App("runtime-probe", settings={"local_model_delay": 0, "metrics": False})
STARTS: list[int] = []


@app.on_startup
def count_start() -> None:
    STARTS.append(os.getpid())


class Gate(BaseModel):
    folder: str
    chunks: int = 3


@app.stream("/gated")
async def gated(body: Gate) -> AsyncIterator[str]:
    """Chunk i>0 waits for the test's gate file i: it proves chunk i-1 reached the client first."""
    for index in range(body.chunks):
        if index:
            gate = Path(body.folder, f"gate-{index}")
            for _ in range(750):
                if await asyncio.to_thread(gate.exists):
                    break
                await asyncio.sleep(0.02)
            else:
                yield "gate-timeout"
                return
        yield f"chunk-{index}"


@app.stream("/empty")
async def empty() -> AsyncIterator[str]:
    """Yields nothing: the prelude must still go out."""
    return
    yield ""  # pragma: no cover


@app.stream("/fails")
async def fails() -> AsyncIterator[str]:
    """Fails after its first chunk."""
    yield "partial"
    raise RuntimeError("secret-runtime-detail")


@app.task("/whoami")
async def whoami(ctx: Context) -> dict[str, object]:
    """The invocation's identity as the handler sees it."""
    return {
        "pid": os.getpid(),
        "starts": len(STARTS),
        "request_id": ctx.request_id,
        "trace_id": ctx.trace_id,
        "function_arn": ctx.function_arn,
        "has_deadline": ctx.deadline is not None and ctx.remaining_seconds() > 0,
    }


@app.task("/sleep")
async def sleep(seconds: float) -> str:
    """Sleeps: past the function timeout, the emulator kills the worker."""
    await asyncio.sleep(seconds)
    return "woke"


@app.task("/loaded")
async def loaded() -> dict[str, object]:
    """Which heavy SDKs this process has imported, and whether any model call was made."""
    return {"anthropic": "anthropic" in sys.modules, "app_model": type(app.model).__name__}


@app.task("/context")
async def context_probe(ctx: Context) -> dict[str, object]:
    """Everything the runtime put on the invocation's context, as the handler sees it."""
    return {
        "request_id": ctx.request_id,
        "deadline": ctx.deadline,
        "remaining": ctx.remaining_seconds(),
        "function_arn": ctx.function_arn,
        "trace_id": ctx.trace_id,
        "trace_env": os.environ.get("_X_AMZN_TRACE_ID"),
        "meta": dict(ctx.meta),
    }


async def raising_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A raw ASGI app (``runtime_app:raising_asgi``) that fails before sending anything."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    raise RuntimeError("secret-asgi-detail")

"""A realistic existing FastAPI service with relaykit mounted into it (tests for issue 11).

It has its own router, a dependency that checks a header, middleware that adds a header, a
StreamingResponse route and an SSE route; relaykit's tasks, streams and workflows are included
under /ai with the same dependency.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from relaykit import App, Context
from relaykit.durable import WorkflowContext

STARTS: list[str] = []

# The relaykit side ------------------------------------------------------------------------
ai = App("assistant", settings={"local_model_delay": 0, "metrics": False})


class Ask(BaseModel):
    question: str


@ai.on_startup
def started() -> None:
    STARTS.append("relaykit")


@ai.task("/ask")
async def ask(body: Ask, ctx: Context) -> dict[str, object]:
    reply = await ctx.llm.complete([{"role": "user", "content": body.question}])
    return {"answer": reply.text, "starts": list(STARTS), "pid": os.getpid()}


@ai.stream("/chat")
async def chat(body: Ask, ctx: Context) -> AsyncIterator[str]:
    async for token in ctx.llm.stream([{"role": "user", "content": body.question}]):
        yield token


@ai.workflow("/brief")
async def brief(body: Ask, ctx: WorkflowContext) -> str:
    reply = await ctx.step("answer", ctx.llm.complete, [{"role": "user", "content": body.question}])
    return str(reply.text)


# The existing service ---------------------------------------------------------------------
def require_key(x_api_key: str | None = Header(default=None)) -> str:
    if x_api_key != "let-me-in":
        raise HTTPException(status_code=401, detail="missing or wrong x-api-key")
    return x_api_key


@contextlib.asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    STARTS.append("host")
    yield


api = FastAPI(title="existing service", lifespan=lifespan)
items = APIRouter(prefix="/items", dependencies=[Depends(require_key)])


@items.get("/{item_id}")
async def get_item(item_id: int) -> dict[str, int]:
    return {"item_id": item_id}


@api.middleware("http")
async def served_by(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    response.headers["x-served-by"] = "existing-service"
    return response


async def gated_chunks(folder: str, count: int) -> AsyncIterator[bytes]:
    """Chunk i>0 waits for gate-i, which the test writes after receiving chunk i-1."""
    for index in range(count):
        if index:
            gate = Path(folder, f"gate-{index}")
            for _ in range(750):
                if await asyncio.to_thread(gate.exists):
                    break
                await asyncio.sleep(0.02)
            else:
                yield b"gate-timeout\n"
                return
        yield f"chunk-{index}\n".encode()


@api.get("/download")
async def download(folder: str, count: int = 3) -> StreamingResponse:
    return StreamingResponse(gated_chunks(folder, count), media_type="text/plain")


@api.get("/events")
async def events(count: int = 3) -> StreamingResponse:
    async def stream() -> AsyncIterator[str]:
        for index in range(count):
            yield f"data: tick {index}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")


api.include_router(items)
api.include_router(ai.router(prefix="/ai"), dependencies=[Depends(require_key)])

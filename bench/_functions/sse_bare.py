"""The bare FastAPI baseline of bench/sse_load.py: the same token stream without relaykit.

``POST /tokens`` with ``{"text": PROMPT, "tokens": N}`` sends the words relaykit's local model
would stream for PROMPT (``sse_tokens.reply_pieces``), a sleep of ``DELAY`` before each, framed
as the same SSE bytes, through Starlette's ``StreamingResponse``. Served by plain uvicorn with
the flags ``relaykit serve`` uses.
"""

import asyncio
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sse_tokens import DELAY, SSE_HEADERS, SSE_TYPE, end_event, event, reply_pieces


class Prompt(BaseModel):
    text: str = Field(min_length=1)
    tokens: int = Field(ge=1, le=100_000)


async def sse_events(prompt: Prompt) -> AsyncIterator[bytes]:
    pieces = reply_pieces(prompt.text, prompt.tokens)
    for count, piece in enumerate(pieces, 1):
        await asyncio.sleep(DELAY)
        yield event(count, None, piece)
    yield end_event(len(pieces))


api = FastAPI(title="sse-bench-bare")


@api.post("/tokens")
async def tokens(prompt: Prompt) -> StreamingResponse:
    return StreamingResponse(sse_events(prompt), media_type=SSE_TYPE, headers=SSE_HEADERS)


@api.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}

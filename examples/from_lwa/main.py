"""An existing FastAPI service that ran on Lambda behind the Lambda Web Adapter, moved to
relaykit's runtime without a line of it changing (docs/fastapi.md, "Migrating from the Lambda Web
Adapter").

Only the image changes: ``Dockerfile`` and ``entrypoint.sh`` next to this file. On Lambda the
entry point runs ``python -m relaykit.lambda_runtime main:api``; anywhere else it runs uvicorn:

    sh examples/from_lwa/entrypoint.sh                     # uvicorn on $PORT (8000)
    relaykit dev --lambda examples/from_lwa/main.py:api --stream   # the Lambda emulator
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

# [docs:app]
api = FastAPI(title="storyteller")


class Story(BaseModel):
    topic: str = Field(min_length=1, max_length=200)


class Title(BaseModel):
    topic: str
    title: str


@api.get("/healthz")
async def healthz() -> dict[str, str]:
    """What AWS_LWA_READINESS_CHECK_PATH pointed at; relaykit's runtime needs no readiness check."""
    return {"status": "ok"}


@api.post("/title")
async def title(body: Story) -> Title:
    return Title(topic=body.topic, title=f"The {body.topic.title()} Who Streamed")


async def tokens(topic: str) -> AsyncIterator[str]:
    """Stands in for a model's token stream (Bedrock, Anthropic, ...)."""
    for word in f"Once upon a time a {topic} learned to stream".split():
        await asyncio.sleep(0.01)
        yield word


@api.post("/story")
async def story(body: Story) -> StreamingResponse:
    """Server-sent events, one per token: streamed through a RESPONSE_STREAM Function URL."""

    async def events() -> AsyncIterator[str]:
        async for token in tokens(body.topic):
            yield f"data: {json.dumps({'token': token})}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


# [/docs:app]

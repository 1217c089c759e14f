"""relaykit inside an existing FastAPI service, on a container and on Lambda from one module.

uvicorn examples.existing_fastapi:api                      # a container
python -m relaykit.lambda_runtime examples.existing_fastapi:api   # Lambda, with streaming
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from relaykit import App, Context, asgi_lambda_handler

# [docs:mount]
ai = App("assistant")


class Ask(BaseModel):
    question: str


@ai.task("/ask")
async def ask(body: Ask, ctx: Context) -> str:
    reply = await ctx.llm.complete([{"role": "user", "content": body.question}])
    return reply.text


def require_key(x_api_key: str | None = Header(default=None)) -> None:
    if x_api_key != "let-me-in":
        raise HTTPException(status_code=401, detail="missing or wrong x-api-key")


api = FastAPI(title="my existing service")


@api.get("/report")
async def report() -> StreamingResponse:
    async def lines() -> AsyncIterator[str]:
        for n in range(3):
            yield f"line {n}\n"

    return StreamingResponse(lines(), media_type="text/plain")


# relaykit's routes under /ai, behind the service's own auth dependency
api.include_router(ai.router(prefix="/ai"), dependencies=[Depends(require_key)])
# [/docs:mount]

# [docs:managed-runtime]
# For the managed Python runtime (buffered): replaces `handler = Mangum(api)`.
handler = asgi_lambda_handler(api, ai)
# [/docs:managed-runtime]

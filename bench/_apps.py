"""The two servers of ``http_task.py``: one handler as a relaykit app and as a bare FastAPI app.

The handler code is shared: ``make_quote`` (a pydantic ``Order`` in, a small ``Quote`` out, no
model call) and ``words`` (an async generator of ``CHUNKS`` text chunks, no delay). The bare
stream route writes the same SSE bytes as relaykit (``id``/``data`` per chunk, a final
``event: end``) through Starlette's ``StreamingResponse``.

Run one server: ``python bench/_apps.py {relaykit|bare} PORT``. Both are served by the same
``uvicorn.run`` call: one worker, 127.0.0.1, ``log_level="warning"``, no access log.
"""

from __future__ import annotations

import ctypes
import json
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

HOST = "127.0.0.1"
CHUNKS = 20


class Order(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=10_000)
    unit_price: float = Field(ge=0)
    note: str | None = None


class Quote(BaseModel):
    sku: str
    total: float
    currency: str = "EUR"


class Prompt(BaseModel):
    text: str = Field(min_length=1)
    chunks: int = Field(default=CHUNKS, ge=1, le=1000)


def make_quote(order: Order) -> Quote:
    return Quote(sku=order.sku, total=round(order.quantity * order.unit_price, 2))


async def words(prompt: Prompt) -> AsyncIterator[str]:
    for i in range(prompt.chunks):
        yield f"tok{i} "


# relaykit -------------------------------------------------------------------------------------


def relaykit_asgi() -> Any:
    from relaykit import App

    app = App("bench")

    @app.task("/quote")
    async def quote(body: Order) -> Quote:
        return make_quote(body)

    app.add_stream("/words", words)
    return app.asgi()


# bare FastAPI ---------------------------------------------------------------------------------


def _sse(event_id: int | None, event: str | None, data: str) -> bytes:
    head = (f"id: {event_id}\n" if event_id is not None else "") + (
        f"event: {event}\n" if event else ""
    )
    return f"{head}data: {data}\n\n".encode()


async def _sse_body(chunks: AsyncIterator[str]) -> AsyncIterator[bytes]:
    count = 0
    async for chunk in chunks:
        count += 1
        yield _sse(count, None, chunk)
    yield _sse(None, "end", json.dumps({"chunks": count}))


def bare_asgi() -> Any:
    api = FastAPI(title="bench-bare")

    @api.post("/quote")
    async def quote(body: Order) -> Quote:
        return make_quote(body)

    @api.post("/words")
    async def stream_words(prompt: Prompt) -> StreamingResponse:
        return StreamingResponse(
            _sse_body(words(prompt)),
            media_type="text/event-stream; charset=utf-8",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    @api.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return api


# Server entry point ---------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this server if the benchmark process dies without stopping it."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, int(signal.SIGTERM))


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("relaykit", "bare") or not argv[1].isdigit():
        print("usage: python bench/_apps.py {relaykit|bare} PORT", file=sys.stderr)
        return 2
    _die_with_parent()
    import uvicorn

    asgi = relaykit_asgi() if argv[0] == "relaykit" else bare_asgi()
    uvicorn.run(
        asgi, host=HOST, port=int(argv[1]), workers=1, log_level="warning", access_log=False
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

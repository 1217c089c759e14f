"""The quickstart app written as a bare FastAPI app: the baseline of ``import_time.py``.

Same routes (two POST tasks, two POST SSE streams, ``/healthz``), the same pydantic models and
the same validation rules as ``examples/quickstart.py``; the handlers echo instead of calling a
model, since only the import and build time is measured.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field


class Ask(BaseModel):
    question: str = Field(min_length=1, max_length=4000)
    max_words: int = Field(default=200, ge=1, le=2000)


class Answer(BaseModel):
    answer: str
    model: str
    words: int


class Progress(BaseModel):
    step: int
    of: int
    note: str


def _event(data: str, event: str | None = None) -> bytes:
    return ((f"event: {event}\n" if event else "") + f"data: {data}\n\n").encode()


async def _sse(chunks: AsyncIterator[str], event: str | None = None) -> AsyncIterator[bytes]:
    count = 0
    async for chunk in chunks:
        count += 1
        yield _event(chunk, event)
    yield _event(json.dumps({"chunks": count}), "end")


app = FastAPI(title="quickstart")


@app.post("/ask")
async def ask(body: Ask) -> Answer:
    words = body.question.split()[: body.max_words]
    return Answer(answer=" ".join(words), model="echo", words=len(words))


@app.post("/chat")
async def chat(body: Ask) -> StreamingResponse:
    async def tokens() -> AsyncIterator[str]:
        for word in body.question.split():
            yield word + " "

    return StreamingResponse(_sse(tokens()), media_type="text/event-stream")


@app.post("/classify")
def classify(text: str) -> dict[str, str]:
    if not text.strip():
        raise HTTPException(400, "text is blank; send the text to classify")
    return {"label": "question" if text.rstrip().endswith("?") else "statement"}


@app.post("/steps")
async def steps(count: int) -> StreamingResponse:
    if not 1 <= count <= 20:
        raise HTTPException(400, "count must be between 1 and 20")

    async def progress() -> AsyncIterator[str]:
        for step in range(1, count + 1):
            yield Progress(step=step, of=count, note=f"step {step}").model_dump_json()

    return StreamingResponse(_sse(progress(), "json"), media_type="text/event-stream")


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok", "app": "quickstart"}

"""The quickstart app: two tasks and two streams on the local model.

Run it with ``make run`` (or ``relaykit dev examples/quickstart.py``), then call it:

    curl -s localhost:8000/ask -H 'content-type: application/json' -d '{"question": "Why?"}'
    curl -sN localhost:8000/chat -H 'content-type: application/json' -d '{"question": "Hi"}'
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from pydantic import BaseModel, Field

from relaykit import App, BadRequest, Context

# [docs:app]
app = App("quickstart")
# [/docs:app]


# [docs:task]
class Ask(BaseModel):
    question: str = Field(min_length=1, max_length=4000)
    max_words: int = Field(default=200, ge=1, le=2000)


class Answer(BaseModel):
    answer: str
    model: str
    words: int


@app.task("/ask")
async def ask(body: Ask, ctx: Context) -> Answer:
    """Answer a question in one reply."""
    reply = await ctx.llm.complete(
        [{"role": "user", "content": body.question}], max_tokens=body.max_words
    )
    ctx.logger.info("answered", extra={"output_tokens": reply.usage.output_tokens})
    return Answer(answer=reply.text, model=reply.model, words=len(reply.text.split()))


# [/docs:task]


# [docs:stream]
@app.stream("/chat")
async def chat(body: Ask, ctx: Context) -> AsyncIterator[str]:
    """Stream the reply token by token."""
    async for token in ctx.llm.stream([{"role": "user", "content": body.question}]):
        yield token


# [/docs:stream]


# [docs:plain-json]
@app.task("/classify")
def classify(text: str) -> dict[str, str]:
    """Plain JSON types work too; a sync handler runs in a worker thread."""
    if not text.strip():
        raise BadRequest("text is blank; send the text to classify")
    label = "question" if text.rstrip().endswith("?") else "statement"
    return {"label": label}


# [/docs:plain-json]


# [docs:json-chunks]
class Progress(BaseModel):
    step: int
    of: int
    note: str


@app.stream("/steps")
async def steps(count: Annotated[int, Field(ge=1, le=20)], ctx: Context) -> AsyncIterator[Progress]:
    """JSON chunks: each one arrives as an `event: json` SSE event."""
    for step in range(1, count + 1):
        reply = await ctx.llm.complete([{"role": "user", "content": f"step {step}"}])
        yield Progress(step=step, of=count, note=reply.text)


# [/docs:json-chunks]


# [docs:lambda]
# The AWS Lambda entry point: set the function's handler to "quickstart.handler".
handler = app.lambda_handler
# [/docs:lambda]

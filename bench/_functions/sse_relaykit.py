"""The relaykit app of bench/sse_load.py: one stream handler replaying the local model's reply.

``POST /tokens`` with ``{"text": PROMPT, "tokens": N}`` streams the local model's reply to
PROMPT, cut at N words (``max_tokens``), one SSE event per word, at the local model's pace
(``local_model_delay``, default 0.05 s a word: 20 tokens/s). Served by ``relaykit serve`` (the
container) and by ``python -m relaykit.lambda_runtime sse_relaykit:app`` under the emulator with
a Function URL in RESPONSE_STREAM mode. The bare counterparts are ``sse_bare.py`` (FastAPI) and
``sse_bare_runtime.py`` (a raw Runtime API loop); all three send the same bytes.
"""

from collections.abc import AsyncIterator

from pydantic import BaseModel, Field

from relaykit import App, Context

app = App("sse-bench", settings={"log_level": "WARNING", "store": "memory://"})


class Prompt(BaseModel):
    text: str = Field(min_length=1)
    tokens: int = Field(ge=1, le=100_000)


@app.stream("/tokens")
async def tokens(body: Prompt, ctx: Context) -> AsyncIterator[str]:
    async for token in ctx.llm.stream(
        [{"role": "user", "content": body.text}], max_tokens=body.tokens
    ):
        yield token

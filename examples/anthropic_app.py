"""An app on Anthropic: configuration, prompt caching, and what failures look like.

Import-only offline: the ``anthropic`` SDK is imported by the first model call, not here.
Run it for real with ``ANTHROPIC_API_KEY`` set (or a secret configured, see docs/anthropic.md).
"""

from __future__ import annotations

from pydantic import BaseModel

from relaykit import App, Context, ModelError, RequestError

# [docs:app]
app = App(
    "support",
    settings={
        "model": "anthropic:claude-sonnet-4-6",
        "model_max_retries": 3,  # after a 429/529/5xx/connection error; 0 turns retries off
        "model_timeout": 60,  # seconds per attempt, also cut to the invocation's time left
    },
)
# [/docs:app]

MANUAL = "You answer questions about the Acme 3000 toaster. " * 200


class Ask(BaseModel):
    question: str


# [docs:caching]
@app.task("/ask")
async def ask(body: Ask, ctx: Context) -> dict[str, object]:
    """A long, stable system prompt cached across calls; usage reports cache reads and writes."""
    reply = await ctx.llm.complete(
        [{"role": "user", "content": body.question}],
        system=[{"type": "text", "text": MANUAL, "cache_control": {"type": "ephemeral"}}],
        max_tokens=512,
        temperature=0.2,
    )
    usage = reply.usage
    return {
        "answer": reply.text,
        "cache_read": usage.cache_read_tokens,
        "cache_write": usage.cache_write_tokens,
    }


# [/docs:caching]


# [docs:errors]
@app.task("/ask-or-apologise")
async def ask_or_apologise(body: Ask, ctx: Context) -> str:
    """Retries already happened; what reaches the handler is final for this invocation."""
    try:
        reply = await ctx.llm.complete([{"role": "user", "content": body.question}])
    except ModelError as exc:
        if exc.retryable:  # rate limited, overloaded, cut stream, or out of time
            raise RequestError("the model is busy, try again shortly") from exc
        raise  # 400/401/403: a bug or a bad key; the message names the cause, never the key
    return reply.text


# [/docs:errors]

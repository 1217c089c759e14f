"""A durable agent served over HTTP: two typed tools, every model turn and tool call a step.

Offline it plays a scripted conversation on the local model; set RELAYKIT_MODEL (for example
``anthropic:claude-sonnet-4-6``) and the same agent runs on a hosted model.

relaykit dev examples/agent_app.py
curl -s localhost:8000/ask -H 'content-type: application/json' -d '{"question": "Lambda limit?"}'
curl -sN localhost:8000/runs/RUN_ID/stream      # steps, and each turn's tokens as they come
curl -s localhost:8000/runs/RUN_ID              # result, step history, usage per step
"""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

from pydantic import BaseModel, Field

from relaykit import App, Message, Model, ToolCall
from relaykit.agents import Agent, ScriptedAgentModel, ToolError
from relaykit.durable import WorkflowContext
from relaykit.llm.local import LocalModel, ScriptItem

NOTES = {
    "notes://lambda-limits": "A Lambda invocation runs for at most 900 seconds (15 minutes).",
    "notes://durable": "relaykit splits a long workflow across invocations before the deadline.",
}

# [docs:tools]
agent = Agent(
    system="Answer from the notes. Search first, then fetch what you need.",
    max_turns=6,
    token_budget=20_000,
)


class Hit(BaseModel):
    url: str
    title: str


@agent.tool
def search(
    query: Annotated[str, Field(description="Words to look for in the notes")],
    limit: Annotated[int, Field(ge=1, le=10)] = 3,
) -> list[Hit]:
    """Search the notes; returns matching note URLs."""
    words = query.lower().split()
    hits = [url for url, text in NOTES.items() if any(w in text.lower() for w in words)]
    return [Hit(url=url, title=url.removeprefix("notes://")) for url in hits[:limit]]


@agent.tool
async def fetch(url: str) -> str:
    """Read one note by its URL."""
    await asyncio.sleep(0)  # an HTTP call in real life
    if url not in NOTES:
        raise ToolError(f"no note at {url}; use a URL that search returned")
    return NOTES[url]


# [/docs:tools]

SCRIPT: list[ScriptItem] = [
    ToolCall(id="call_1", name="search", input={"query": "lambda seconds"}),
    ToolCall(id="call_2", name="fetch", input={"url": "notes://lambda-limits"}),
    "A Lambda invocation runs for at most 15 minutes; relaykit splits longer work.",
]
online = bool(os.environ.get("RELAYKIT_MODEL"))
app = App("agent", model=None if online else ScriptedAgentModel(SCRIPT, delay=0.01))
summariser: Model | None = None if online else LocalModel(delay=0.01)  # None: ctx.llm


# [docs:workflow]
class Question(BaseModel):
    question: str = Field(min_length=1, max_length=2000)


class Answer(BaseModel):
    answer: str
    turns: int
    tool_calls: int
    tokens: int


@app.workflow("/ask")
async def ask(body: Question, ctx: WorkflowContext) -> Answer:
    """Run the agent: steps turn:1, tool:1:search, turn:2, tool:2:fetch, turn:3."""
    result = await agent.run(ctx, body.question)
    tokens = result.usage.input_tokens + result.usage.output_tokens
    return Answer(
        answer=result.text, turns=result.turns, tool_calls=result.tool_calls, tokens=tokens
    )


# [/docs:workflow]


# [docs:llm-step]
@app.workflow("/summarise")
async def summarise(body: Question, ctx: WorkflowContext) -> str:
    """One model call as a durable step: its tokens stream to GET /runs/{id}/stream."""
    messages: list[Message] = [{"role": "user", "content": f"Summarise: {body.question}"}]
    reply = await ctx.llm_step("summary", messages, model=summariser, max_tokens=200)
    return reply.text  # on replay: the committed Reply; the model is not called again


# [/docs:llm-step]

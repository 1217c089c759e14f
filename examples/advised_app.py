"""An app measured for `relaykit advise`: a task, a stream and a workflow.

`relaykit dev examples/advised_app.py` records a measurement per call in
`.relaykit/measurements.db` (measure = "auto" is "store" under relaykit dev); then
`relaykit advise examples/advised_app.py --profile examples/advise_profile.toml` prices it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from pydantic import BaseModel

from relaykit import App, Context
from relaykit.durable import WorkflowContext

# [docs:app]
app = App("advised", settings={"measure": "store"})  # "auto" does this under relaykit dev


class Ask(BaseModel):
    question: str


@app.task("/ask")
async def ask(body: Ask, ctx: Context) -> str:
    reply = await ctx.llm.complete([{"role": "user", "content": body.question}])
    return reply.text


@app.stream("/chat")
async def chat(body: Ask, ctx: Context) -> AsyncIterator[str]:
    async for token in ctx.llm.stream([{"role": "user", "content": body.question}]):
        yield token


async def outline(question: str) -> list[str]:
    return [f"{question}: part {n}" for n in range(3)]


@app.workflow("/research")
async def research(body: Ask, ctx: WorkflowContext) -> list[str]:
    parts: list[str] = await ctx.step("outline", outline, body.question)
    return parts


# [/docs:app]

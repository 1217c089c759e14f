"""A durable workflow served over HTTP: start it, follow it, approve it.

relaykit dev examples/workflow_app.py
curl -s localhost:8000/research -H 'content-type: application/json' -d '{"question": "tides"}'
curl -sN localhost:8000/runs/RUN_ID/stream
curl -s -X POST localhost:8000/runs/RUN_ID/events/approve -d true
curl -s localhost:8000/runs/RUN_ID
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from relaykit import App
from relaykit.durable import WorkflowContext

# [docs:app-workflow]
app = App("research")


class Question(BaseModel):
    question: str = Field(min_length=1, max_length=500)
    sources: int = Field(default=3, ge=1, le=10)


class Report(BaseModel):
    question: str
    summary: str
    notes: list[str]
    approved: bool


def plan(question: str, sources: int) -> list[str]:
    return [f"{question} (source {n})" for n in range(1, sources + 1)]


@app.workflow("/research")
async def research(body: Question, ctx: WorkflowContext) -> Report:
    """Plan, summarise each source (a model call per step), then wait for a human approval."""
    queries = await ctx.step("plan", plan, body.question, body.sources)
    notes: list[str] = []
    for query in queries:
        reply = await ctx.step(
            f"summarise:{query}", ctx.llm.complete, [{"role": "user", "content": query}]
        )
        notes.append(reply.text)
    summary = await ctx.step("write", " / ".join, notes)
    approved = await ctx.wait_for_event("approve", timeout=24 * 3600, type=bool)
    return Report(question=body.question, summary=summary, notes=notes, approved=approved)


# [/docs:app-workflow]

"""A durable research workflow on the engine API directly (no App yet).

Run it: ``python examples/durable_research.py``. It starts a run on an in-memory store, lets the
in-process continuation drive it, then delivers the approval event it waits for.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from pydantic import BaseModel

from relaykit.durable import Engine, RetryPolicy, WorkflowContext, open_store


# [docs:steps]
class Plan(BaseModel):
    queries: list[str]


@dataclasses.dataclass
class Note:
    query: str
    summary: str


def make_plan(question: str) -> Plan:  # restored as Plan on replay: the return annotation
    return Plan(queries=[f"{question} history", f"{question} today"])


async def search(query: str) -> Note:
    await asyncio.sleep(0.01)  # an HTTP call, an LLM call...
    return Note(query, f"notes about {query}")


# [/docs:steps]


# [docs:workflow]
async def research(question: str, ctx: WorkflowContext) -> dict[str, Any]:
    plan = await ctx.step("plan", make_plan, question)
    notes = await ctx.map("search", search, plan.queries, concurrency=4)
    report = await ctx.step(
        "write",
        lambda: " / ".join(note.summary for note in notes),
        retry=RetryPolicy(max_attempts=5, initial_delay=2.0),
        estimate=30.0,  # seconds: used to decide whether it fits before the deadline
    )
    approved = await ctx.wait_for_event("approve", timeout=7 * 24 * 3600, type=bool)
    return {"report": report, "approved": approved, "written_at": await ctx.now()}


# [/docs:workflow]


# [docs:engine]
async def start_and_approve() -> tuple[Engine, str]:
    store = open_store("memory://")  # or sqlite:///runs.db, dynamodb://TABLE?bucket=NAME
    engine = Engine(store)  # in-process continuation, system clock
    run_id = await engine.start("research", research, "durable execution")
    await asyncio.sleep(0.2)  # the run executes in the background, then waits for "approve"
    print((await engine.get(run_id)).status)  # suspended
    await engine.send_event(run_id, "approve", True)
    return engine, run_id


# [/docs:engine]


async def main() -> dict[str, Any]:
    engine, run_id = await start_and_approve()
    for _ in range(100):
        view = await engine.get(run_id)
        if view.status == "completed":
            break
        await asyncio.sleep(0.02)
    print(view.result)
    print([step["name"] for step in view.steps])
    return view.to_dict()


if __name__ == "__main__":
    asyncio.run(main())

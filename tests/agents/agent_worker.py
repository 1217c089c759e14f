"""Agent crash-test worker: resumes every unfinished agent run in a SQLite store until all end.

Usage: python agent_worker.py DB_PATH EFFECTS_DIR. The scripted model appends ``turn:N PID`` to
``EFFECTS_DIR/model.log`` each time it is really called, and the ``work`` tool appends
``POSITION PID`` to ``EFFECTS_DIR/tools.log`` before it returns, so the test can tell which
model turns and tool calls ran in which process. The test kills this process with SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from relaykit import App, ToolCall
from relaykit.agents import Agent, AgentResult, ScriptedAgentModel
from relaykit.durable import WorkflowContext
from relaykit.llm.local import LocalReplyStream, ScriptItem
from relaykit.model import Message

TOOL_CALLS = 8
SCRIPT: list[ScriptItem] = [
    ToolCall(f"call_{n}", "work", {"n": n}) for n in range(1, TOOL_CALLS + 1)
] + ["All eight pieces of work are done."]


class LoggingModel(ScriptedAgentModel):
    """The scripted agent model, logging each real call (replayed turns never reach it)."""

    def __init__(self, script: Sequence[ScriptItem], log: Path) -> None:
        super().__init__(script, delay=0.01)
        self.log = log

    def stream(self, messages: Sequence[Message], **kwargs: Any) -> LocalReplyStream:
        turn = 1 + sum(1 for m in messages if m["role"] == "assistant")
        with self.log.open("a") as out:
            out.write(f"turn:{turn} {os.getpid()}\n")
        return super().stream(messages, **kwargs)


def build(db: str, effects: Path) -> App:
    """The app: one workflow running an agent whose only tool is slow enough to kill."""
    agent = Agent(max_turns=TOOL_CALLS + 2)

    @agent.tool
    def work(n: int, ctx: WorkflowContext) -> int:
        """Do piece n of the work."""
        position = ctx.step_id.rsplit(":", 1)[1]
        with (effects / "tools.log").open("a") as out:
            out.write(f"{position} {os.getpid()}\n")
        time.sleep(0.15)
        return n * n

    app = App(
        "agent-crash",
        model=LoggingModel(SCRIPT, effects / "model.log"),
        settings={
            "store": f"sqlite:///{db}",
            "workflow_lease_seconds": 0.5,
            "workflow_max_interrupts": 100,
        },
    )

    @app.workflow("/agent")
    async def run_agent(question: str, ctx: WorkflowContext) -> AgentResult:
        return await agent.run(ctx, question)

    return app


async def main(db: str, effects: Path) -> None:
    engine = build(db, effects).engine
    while True:
        page = await engine.list(limit=1000)
        open_runs = [run for run in page.runs if not run.finished]
        if not open_runs:
            return
        progressed = False
        for run in open_runs:
            outcome = await engine.resume(run.run_id)
            progressed = progressed or outcome.status not in ("busy", "not_due")
        if not progressed:
            await asyncio.sleep(0.02)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
    print("all runs finished", flush=True)

"""A workflow whose total work is several times the function timeout (tests/targets)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from relaykit import App
from relaykit.durable import WorkflowContext

app = App("wf-lambda", settings={"metrics": False, "local_model_delay": 0})


async def slow(index: int, seconds: float) -> dict[str, int]:
    await asyncio.sleep(seconds)
    return {"index": index, "pid": os.getpid()}


@app.workflow("/long")
async def long_run(body: dict[str, Any], ctx: WorkflowContext) -> dict[str, Any]:
    """``steps`` steps of ``seconds`` each; records which process ran each step."""
    pids = []
    for index in range(int(body["steps"])):
        done = await ctx.step(f"work:{index}", slow, index, float(body["seconds"]))
        pids.append(done["pid"])
    return {"steps": len(pids), "processes": len(set(pids))}

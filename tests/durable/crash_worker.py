"""Crash-test worker: resumes every unfinished run in a SQLite store until all are finished.

Usage: python crash_worker.py DB_PATH EFFECT_LOG. Each step appends ``run_id index pid`` to the
effect log *before* it returns, so a line without a matching commit marks a step that was in
flight when the process was killed. The test kills this process with SIGKILL at random moments.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from relaykit.durable import Engine, WorkflowContext, open_store

LEASE_SECONDS = 0.3


class NoContinuation:
    """The worker polls the store itself; nothing needs scheduling."""

    def schedule(self, run_id: str, *, not_before: float | None = None) -> None:
        return None


def make_workflow(log_path: str):  # type: ignore[no-untyped-def]
    def effect(run_id: str, index: int) -> int:
        with open(log_path, "a") as log:
            log.write(f"{run_id} {index} {os.getpid()}\n")
        time.sleep(0.006)
        return index * index

    async def crash(n: int, ctx: WorkflowContext) -> int:
        total = 0
        for i in range(n):
            total += await ctx.step(f"effect:{i}", effect, ctx.run_id, i)
        return total

    return crash


async def main(db: str, log_path: str) -> None:
    store = open_store(f"sqlite:///{db}")
    engine = Engine(store, NoContinuation(), lease_seconds=LEASE_SECONDS, max_interrupts=10_000)
    engine.register("crash", make_workflow(log_path))
    while True:
        open_runs = [r for r in store.list_runs(limit=1000).runs if not r.finished]
        if not open_runs:
            return
        progressed = False
        for run in open_runs:
            outcome = await engine.resume(run.run_id)
            progressed = progressed or outcome.status not in ("busy", "not_due")
        if not progressed:
            await asyncio.sleep(0.02)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
    print("all runs finished", flush=True)

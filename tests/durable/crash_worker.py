"""Crash-test worker: resumes every unfinished run in a SQLite store until all are finished.

Usage: python crash_worker.py DB_PATH EFFECT_LOG. Each step appends ``run_id index pid`` to the
effect log *before* it returns, so a line without a matching commit marks a step that was in
flight when the process was killed. The test kills this process with SIGKILL at random moments.

``--faults`` runs the fault suite's workflow instead (``tests/hardening/test_faults_sigkill.py``):
steps, a durable sleep that suspends the run, a fan-out of concurrent steps, and invocations cut
short after a random number of deadline checks, so that a run is replayed many times and a kill
can land in any window between two store writes. ``--kill-after-writes N`` makes the worker
SIGKILL itself right after its N-th store write has been committed (a kill at an exact point
rather than a random moment). ``--owner NAME``: the worker's executors own leases named
``NAME:<n>`` and its effect lines end with ``NAME`` instead of the pid (default ``w<pid>``; pids
are reused, so a test that kills many workers names them).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import signal
import sys
import time
from typing import Any

from relaykit.durable import DeadlinePolicy, Engine, WorkflowContext, open_store
from relaykit.durable.sqlite_store import SQLiteStore

LEASE_SECONDS = 0.3
FAN_OUT = 3


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


def fault_value(key: str) -> int:
    """What the effect of step ``key`` returns: ``i*i`` for ``"i"``, ``1000+j`` for ``"mj"``."""
    return 1000 + int(key[1:]) if key.startswith("m") else int(key) ** 2


def expected_fault_result(n: int) -> int:
    return sum(i * i for i in range(n)) + sum(1000 + j for j in range(FAN_OUT))


def make_fault_workflow(log_path: str, owner: str):  # type: ignore[no-untyped-def]
    def effect(run_id: str, key: str) -> int:
        with open(log_path, "a") as log:
            log.write(f"{run_id} {key} {owner}\n")
        time.sleep(0.002)
        return fault_value(key)

    def fan(item: list[str]) -> int:
        return effect(item[0], item[1])

    async def faults(n: int, ctx: WorkflowContext) -> int:
        total = 0
        for i in range(n):
            total += await ctx.step(f"effect:{i}", effect, ctx.run_id, str(i))
            if i == n // 2:
                await ctx.sleep(0.05, name="pause")  # suspends: inline waits are off
        fanned = await ctx.map("fan", fan, [[ctx.run_id, f"m{j}"] for j in range(FAN_OUT)])
        return total + sum(fanned)

    return faults


class KillingStore(SQLiteStore):
    """A SQLite store whose process SIGKILLs itself right after its N-th committed write."""

    def __init__(self, path: str, kill_after: int) -> None:
        super().__init__(path)
        self.left = kill_after

    def _wrote(self) -> None:
        self.left -= 1
        if self.left == 0:
            os.kill(os.getpid(), signal.SIGKILL)

    def acquire(self, *args: Any, **kwargs: Any) -> Any:
        acquired = super().acquire(*args, **kwargs)
        if acquired.lease is not None:
            self._wrote()
        return acquired

    def commit_step(self, *args: Any, **kwargs: Any) -> Any:
        result = super().commit_step(*args, **kwargs)
        self._wrote()
        return result

    def append_progress(self, *args: Any, **kwargs: Any) -> Any:
        result = super().append_progress(*args, **kwargs)
        self._wrote()
        return result

    def suspend(self, *args: Any, **kwargs: Any) -> Any:
        result = super().suspend(*args, **kwargs)
        self._wrote()
        return result

    def finish(self, *args: Any, **kwargs: Any) -> None:
        super().finish(*args, **kwargs)
        self._wrote()


class ChecksLeft:
    """An invocation that ends (``remaining()`` drops to 0) after ``checks`` deadline checks."""

    def __init__(self, checks: int) -> None:
        self.calls = 0
        self.checks = checks

    def __call__(self) -> float:
        self.calls += 1
        return math.inf if self.calls <= 1 + self.checks else 0.0


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


async def faults_main(
    db: str, log_path: str, kill_after: int | None, seed: int, owner: str
) -> None:
    store = open_store(f"sqlite:///{db}") if kill_after is None else KillingStore(db, kill_after)
    engine = Engine(
        store,
        NoContinuation(),
        lease_seconds=LEASE_SECONDS,
        max_interrupts=10_000,
        owner=owner,
        policy=DeadlinePolicy(margin=0.0, inline_wait_max=0.0),
    )
    engine.register("faults", make_fault_workflow(log_path, owner))
    rng = random.Random(seed)
    while True:
        open_runs = [r for r in store.list_runs(limit=10_000).runs if not r.finished]
        if not open_runs:
            return
        progressed = False
        for run in open_runs:
            left = ChecksLeft(rng.randint(1, 12))
            outcome = await engine.resume(run.run_id, remaining=left, budget=math.inf)
            progressed = progressed or outcome.status not in ("busy", "not_due")
        if not progressed:
            await asyncio.sleep(0.02)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db")
    parser.add_argument("log")
    parser.add_argument("--faults", action="store_true", help="the fault suite's workflow")
    parser.add_argument("--kill-after-writes", type=int, default=None, metavar="N")
    parser.add_argument("--seed", type=int, default=None, help="invocation lengths (--faults)")
    parser.add_argument("--owner", default=None, help="lease owner prefix (--faults)")
    options = parser.parse_args()
    if options.faults:
        seed = os.getpid() if options.seed is None else options.seed
        owner = options.owner or f"w{os.getpid()}"
        arguments = (options.db, options.log, options.kill_after_writes, seed, owner)
        asyncio.run(faults_main(*arguments))
    else:
        asyncio.run(main(options.db, options.log))
    print("all runs finished", flush=True)
    sys.exit(0)

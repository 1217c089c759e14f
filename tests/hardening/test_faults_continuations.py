"""Fault suite, continuations: the same run resumed by several continuations at once (two
engines, as two containers or two Lambda deliveries), by stale ones before it is due, by sweeps
racing them, by duplicate event deliveries, and again after it finished.

Counted, never timed: a step's side effect runs once (nobody died, so never twice), each step is
committed once, every run completes with the payload of its first event, no invocation is
marked interrupted, and continuations after the end change nothing. SQLite and DynamoDB (moto).
The in-suite size is bounded (``FAULT_RUNS`` // 10 runs per store, at least 8).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from durable.harness import FakeClock, RecordingContinuation
from hardening.conftest import dynamodb_store, report
from hardening.dynamodb_faults import FaultProxy
from relaykit.durable import Engine, RunOutcome, Store, WorkflowContext, open_store

RUNS = max(8, int(os.environ.get("FAULT_RUNS", "100")) // 10)
LEASE = 30.0
SLEEP = 100.0
TERMINAL = ("completed", "failed", "cancelled")


class Effects:
    def __init__(self) -> None:
        self.count: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()

    def __call__(self, run_id: str, key: str) -> int:
        with self.lock:
            self.count[(run_id, key)] += 1
        return int(key[1:]) + 1


def workflow(effects: Effects) -> Any:
    async def dup(ctx: WorkflowContext) -> int:
        total = 0
        for i in range(3):
            total += await ctx.step(f"a{i}", effects, ctx.run_id, f"a{i}")
        await ctx.sleep(SLEEP)  # suspends: longer than an in-process wait may be
        total += await ctx.step("b0", effects, ctx.run_id, "b0")
        payload = await ctx.wait_for_event("go", timeout=10 * SLEEP, type=int)
        total += await ctx.step("c0", effects, ctx.run_id, "c0")
        return total + payload

    return dup


STEPS_TOTAL = (1 + 2 + 3) + 1 + 1
PAYLOADS = (7, 99)


@pytest.fixture(params=["sqlite", "dynamodb"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        return open_store(f"sqlite:///{tmp_path / 'dup.db'}")
    proxy: FaultProxy = request.getfixturevalue("proxy")
    return dynamodb_store(request.getfixturevalue("moto_url"), proxy.url)


async def deliver(
    engines: list[Engine], run_id: str, rng: random.Random, tally: Counter[str]
) -> list[RunOutcome]:
    """A burst of 2-4 continuations for ``run_id`` at once, spread over both engines, sometimes
    with a sweep racing them."""
    calls: list[Any] = [engines[rng.randrange(2)].resume(run_id) for _ in range(rng.randint(2, 4))]
    if rng.random() < 0.3:
        calls.append(engines[rng.randrange(2)].sweep())
    done = await asyncio.gather(*calls)
    outcomes: list[RunOutcome] = []
    for result in done:
        outcomes += result if isinstance(result, list) else [result]
    tally["continuations"] += len(outcomes)
    for outcome in outcomes:
        tally[outcome.status] += 1
    return [o for o in outcomes if o.run_id == run_id]


async def finish(
    engines: list[Engine], clock: FakeClock, run_id: str, rng: random.Random, tally: Counter[str]
) -> int:
    """Deliver continuations until the run finishes; return the payload of the event that got
    index 0 (the one the run must use)."""
    sent, first = False, -1
    for _ in range(60):
        outcomes = await deliver(engines, run_id, rng, tally)
        if any(o.status in TERMINAL for o in outcomes):
            return first
        dues = [o.due_at for o in outcomes if o.due_at is not None]
        waiting = [o for o in outcomes if o.status == "suspended" and o.due_at is not None]
        if waiting and not sent and waiting[0].due_at and waiting[0].due_at - clock.now() > SLEEP:
            # Waiting for the event: two deliveries of it at once (a client's retry).
            pairs = zip(engines, PAYLOADS, strict=True)
            indices = await asyncio.gather(*(e.send_event(run_id, "go", p) for e, p in pairs))
            assert sorted(indices) == [0, 1]
            first = PAYLOADS[indices.index(0)]
            sent = True
            tally["duplicate_events"] += 1
            continue
        if rng.random() < 0.5:
            continue  # stale continuations: delivered again before anything is due
        if dues:
            clock.t = max(clock.t, min(dues))
    raise AssertionError(f"run {run_id} did not finish")


def test_duplicate_and_reordered_continuations_have_no_effect_beyond_one_execution(
    shared_store: Store,
) -> None:
    """Bursts of concurrent continuations from two engines, stale ones before the run is due,
    sweeps racing them, the event delivered twice at once, and three continuations after the
    end: every side effect ran once, every step was committed once, every run completed with
    its first event's payload, no invocation was interrupted, late continuations answered the
    finished run and did nothing."""
    clock, effects, tally = FakeClock(), Effects(), Counter[str]()
    engines = [
        Engine(shared_store, RecordingContinuation(), clock=clock, lease_seconds=LEASE, owner=o)
        for o in ("a", "b")
    ]
    for engine in engines:
        engine.register("dup", workflow(effects))
    rng = random.Random(20261128)

    async def main() -> list[int]:
        expected = []
        for i in range(RUNS):
            run_id = await engines[0].start("dup", run_id=f"run{i:03d}")
            expected.append(STEPS_TOTAL + await finish(engines, clock, run_id, rng, tally))
            before = Counter(effects.count)
            late = await asyncio.gather(*(engines[j % 2].resume(run_id) for j in range(3)))
            assert [o.status for o in late] == ["completed"] * 3
            assert [o.result for o in late] == [expected[-1]] * 3
            assert effects.count == before
            tally["after_the_end"] += len(late)
        return expected

    expected = asyncio.run(main())
    assert set(effects.count.values()) == {1}, effects.count
    assert len(effects.count) == RUNS * 5
    for i in range(RUNS):
        view = asyncio.run(engines[0].get(f"run{i:03d}"))
        assert (view.status, view.result) == ("completed", expected[i])
        assert not any(inv["interrupted"] for inv in view.invocations), view.invocations
        progress = shared_store.progress(f"run{i:03d}", limit=1000)
        commits = Counter(
            json.loads(p.data)["step_id"]
            for p in progress
            if p.kind == "step" and json.loads(p.data)["status"] == "completed"
        )
        assert set(commits.values()) == {1}, commits
    report(f"continuations_{type(shared_store).__name__}", {"runs": RUNS, **tally})
    assert tally["busy"] > 0, "no continuation ever found its run busy: nothing raced"
    assert tally["duplicate_events"] == RUNS
    shared_store.close()

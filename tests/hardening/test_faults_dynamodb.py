"""Fault suite, DynamoDB: the engine on the DynamoDB store (real boto3, moto server) while a proxy
in front of moto throttles requests (``ProvisionedThroughputExceededException``,
``ThrottlingException``) and loses answers of applied writes; and stale executors racing on the
conditional writes that fence them.

Counted, never timed: runs lost (neither completed nor failed with the error recorded), steps
committed twice, progress entries missing or written over, store errors that escaped as anything
but ``StoreError``. The in-suite size is bounded (``FAULT_RUNS`` // 10 runs, at least 8).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from durable.harness import FakeClock, RecordingContinuation
from hardening.conftest import dynamodb_store, report
from hardening.dynamodb_faults import FaultProxy, no_faults, random_faults, scripted
from relaykit.durable import Engine, RunOutcome, Store, WorkflowContext, open_store

RUNS = max(8, int(os.environ.get("FAULT_RUNS", "100")) // 10)
LEASE = 30.0
STEPS_BEFORE, STEPS_AFTER = 4, 2
OPERATIONS = frozenset(
    {"TransactWriteItems", "UpdateItem", "PutItem", "GetItem", "Query", "DeleteItem"}
)


@dataclass
class Ledger:
    """What the workflow's steps did (side effects, counted per run and step)."""

    effects: Counter[tuple[str, str]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def effect(self, run_id: str, key: str) -> int:
        with self.lock:
            self.effects[(run_id, key)] += 1
        return len(key) + int(key[-1])


def expected_result(payload: int) -> int:
    keys = [f"a{i}" for i in range(STEPS_BEFORE)] + [f"b{i}" for i in range(STEPS_AFTER)]
    return sum(len(key) + int(key[-1]) for key in keys) + payload


def approval_workflow(ledger: Ledger) -> Any:
    async def approval(ctx: WorkflowContext) -> int:
        total = 0
        for i in range(STEPS_BEFORE):
            total += await ctx.step(f"a{i}", ledger.effect, ctx.run_id, f"a{i}")
        payload = await ctx.wait_for_event("go", timeout=3600, type=int)
        for i in range(STEPS_AFTER):
            total += await ctx.step(f"b{i}", ledger.effect, ctx.run_id, f"b{i}")
        return total + payload

    return approval


@dataclass
class Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    escaped: Counter[str] = field(default_factory=Counter)
    """Exceptions ``resume`` or ``send_event`` raised, by type."""
    events_sent: int = 0


async def drive(engine: Engine, clock: FakeClock, run_id: str, tally: Tally) -> RunOutcome | None:
    """Resume until the run finishes; deliver its event once it waits; a store error or a lost
    lease is followed by a retry once the lease has expired."""
    waiting, sent = False, False
    for _ in range(100):
        if waiting and not sent:  # the caller retries its event until it is accepted
            try:
                await engine.send_event(run_id, "go", 100)
                sent = True
                tally.events_sent += 1
            except Exception as exc:
                tally.escaped[type(exc).__name__] += 1
            continue
        try:
            outcome = await engine.resume(run_id)
        except Exception as exc:
            tally.escaped[type(exc).__name__] += 1
            clock.advance(LEASE + 1)
            continue
        tally.outcomes[outcome.status] += 1
        if outcome.status in ("completed", "failed", "cancelled"):
            return outcome
        if outcome.status in ("suspended", "not_due") and not sent:
            waiting = True  # the only wait is the event's (a suspend may report lease_lost
            continue  # when its answer was lost, so not_due counts too)
        clock.t = max(clock.t + LEASE + 1, outcome.due_at or 0.0)
    return None


def test_throttling_and_lost_answers_commit_each_step_once_and_show_every_failure(
    proxy: FaultProxy, moto_url: str
) -> None:
    """A third of all DynamoDB requests throttled or with their answer lost after moto
    applied them, beyond what botocore's 3 attempts absorb: every run ends completed with its
    result or failed with the ``StoreError`` in its record (a transient one stops the executor
    and the run resumes); only ``StoreError`` escapes the engine; no step is committed twice;
    every run's progress ids run 1..N without a gap (none written over); a side effect re-ran
    only after a store error."""
    store = dynamodb_store(moto_url, proxy.url)
    clock, ledger, tally = FakeClock(), Ledger(), Tally()
    engine = Engine(store, RecordingContinuation(), clock=clock, lease_seconds=LEASE)
    engine.register("approval", approval_workflow(ledger))

    async def main() -> dict[str, int]:
        ids = [await engine.start("approval", run_id=f"run{i:03d}") for i in range(RUNS)]
        proxy.plan = random_faults(20261128, 0.35, ("throttle", "throttling", "lost"), OPERATIONS)
        for run_id in ids:
            await drive(engine, clock, run_id, tally)
        proxy.plan = no_faults
        return await audit(engine, store, ids, ledger)

    counts = asyncio.run(main())
    errors = sum(tally.escaped.values()) + tally.outcomes["lease_lost"]
    errors += tally.outcomes["store_error"]
    counts.update(
        runs=RUNS,
        requests=sum(proxy.requests.values()),
        faults=sum(proxy.counts[k] for k in ("throttle", "throttling", "lost")),
        lost_answers=proxy.counts["lost"],
        store_errors_surfaced=errors,
        events_sent=tally.events_sent,
    )
    report("dynamodb_throttling", {**counts, "outcomes": dict(tally.outcomes)})
    assert set(tally.escaped) <= {"StoreError"}, tally.escaped
    assert errors + counts["runs_failed_with_store_error"] > 0, "botocore absorbed every fault"
    assert counts["lost_runs"] == 0 and counts["steps_committed_twice"] == 0, counts
    assert counts["runs_with_a_progress_gap"] == 0, counts
    assert counts["effects_reexecuted"] <= errors, counts


async def audit(engine: Engine, store: Store, ids: list[str], ledger: Ledger) -> dict[str, int]:
    """Counts over the finished runs (read with faults off)."""
    counts: Counter[str] = Counter()
    for run_id in ids:
        view = await engine.get(run_id)
        progress = await engine.progress(run_id, limit=10_000)
        if [p.id for p in progress] != list(range(1, len(progress) + 1)):
            counts["runs_with_a_progress_gap"] += 1
        committed = Counter(
            json.loads(p.data)["step_id"]
            for p in progress
            if p.kind == "step" and json.loads(p.data)["status"] == "completed"
        )
        counts["steps_committed_twice"] += sum(n - 1 for n in committed.values())
        in_log = {s["step_id"] for s in view.steps if s["status"] == "completed"}
        assert in_log == set(committed), (run_id, in_log, committed)
        if view.status == "completed" and view.result == expected_result(100):
            counts["runs_completed"] += 1
        elif view.status == "failed" and "StoreError" in str((view.error or {}).get("type")):
            counts["runs_failed_with_store_error"] += 1
        else:
            counts["lost_runs"] += 1
            print("lost run:", run_id, view.status, json.dumps(view.error)[:1500])
            print("  steps:", json.dumps(view.steps)[:1500])
            print("  invocations:", json.dumps(view.invocations)[:2000])
        counts["interrupted_invocations"] += sum(1 for i in view.invocations if i["interrupted"])
    counts["effects_reexecuted"] = sum(n - 1 for n in ledger.effects.values())
    for key in ("runs_with_a_progress_gap", "steps_committed_twice", "lost_runs"):
        counts.setdefault(key, 0)
    counts.setdefault("runs_failed_with_store_error", 0)
    return dict(counts)


class Gate:
    """Holds the first execution of a step until the test opens it (threads, not time)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.open = threading.Event()
        self.calls = 0

    def slow(self, value: int) -> int:
        self.calls += 1
        if self.calls == 1:
            self.entered.set()
            assert self.open.wait(30), "the test never opened the gate"
        return value * 10


@pytest.fixture(params=["sqlite", "dynamodb"])
def race_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        return open_store(f"sqlite:///{tmp_path / 'race.db'}")
    proxy: FaultProxy = request.getfixturevalue("proxy")
    return dynamodb_store(request.getfixturevalue("moto_url"), proxy.url)


def test_a_stale_executor_cannot_commit_after_another_took_the_run_over(
    race_store: Store,
) -> None:
    """Executor A runs a step that hangs; its lease expires and executor B (another engine)
    takes the run over, replays and finishes it. When A's step returns, its commit fails the
    fencing condition: A stops with ``lease_lost``, commits nothing. Each step is committed once;
    the record shows A's invocation ``interrupted`` and B's ``interrupted: true``."""
    clock, gate = FakeClock(), Gate()

    async def raced(ctx: WorkflowContext) -> int:
        first = await ctx.step("first", int, "1")
        slow = await ctx.step("slow", gate.slow, 4)
        last = await ctx.step("last", int, "5")
        return first + slow + last

    engines = [
        Engine(race_store, RecordingContinuation(), clock=clock, lease_seconds=LEASE, owner=name)
        for name in ("a", "b")
    ]
    for engine in engines:
        engine.register("raced", raced)

    async def main() -> tuple[RunOutcome, RunOutcome]:
        run_id = await engines[0].start("raced", run_id="race")
        stale = asyncio.ensure_future(engines[0].resume(run_id))
        assert await asyncio.to_thread(gate.entered.wait, 30)
        clock.advance(LEASE + 1)
        taken = await engines[1].resume(run_id)
        gate.open.set()
        return await stale, taken

    stale, taken = asyncio.run(main())
    assert (stale.status, taken.status, taken.result) == ("lease_lost", "completed", 46)
    assert "lease lost" in str((stale.error or {}).get("message"))
    loaded = race_store.load("race")
    assert loaded is not None
    run, steps = loaded
    assert [(s.name, s.status) for s in steps] == [
        ("first", "completed"),
        ("slow", "completed"),
        ("last", "completed"),
    ]
    progress = race_store.progress("race", limit=1000)
    commits = [json.loads(p.data)["name"] for p in progress if p.kind == "step"]
    assert commits == ["first", "slow", "last"]
    assert gate.calls == 2  # A's attempt (never committed) and B's
    view = asyncio.run(engines[1].get("race"))
    invocations = [(i["ended"], i["interrupted"]) for i in view.invocations]
    assert invocations == [("interrupted", False), ("completed", True)]
    assert run.interrupts == 1
    race_store.close()


def single_run(proxy: FaultProxy, moto_url: str) -> tuple[Engine, FakeClock, Ledger, Store]:
    store = dynamodb_store(moto_url, proxy.url)
    clock, ledger = FakeClock(), Ledger()
    engine = Engine(store, RecordingContinuation(), clock=clock, lease_seconds=LEASE)
    engine.register("approval", approval_workflow(ledger))
    return engine, clock, ledger, store


def test_an_event_whose_answer_was_lost_keeps_its_index(proxy: FaultProxy, moto_url: str) -> None:
    """The run waits for ``go``; delivering it, moto applies the write but the answer is lost
    and botocore retries. The event is stored once, at index 0, and the run completes with its
    payload. (Before the delivery was one idempotent transaction, the retried counter update
    skipped to index 1 and the run timed out waiting for index 0.)"""
    engine, _, _, _ = single_run(proxy, moto_url)

    async def main() -> tuple[int, RunOutcome]:
        run_id = await engine.start("approval", run_id="evt")
        assert (await engine.resume(run_id)).status == "suspended"
        proxy.plan = scripted("TransactWriteItems", 0, ["lost"])
        index = await engine.send_event(run_id, "go", 100)
        proxy.plan = no_faults
        return index, await engine.resume(run_id)

    index, outcome = asyncio.run(main())
    assert proxy.counts["lost:TransactWriteItems"] == 1 and proxy.counts["idempotent_repeat"] == 1
    assert index == 0
    assert (outcome.status, outcome.result) == ("completed", expected_result(100))


def test_a_lease_taken_with_a_lost_answer_is_kept(proxy: FaultProxy, moto_url: str) -> None:
    """The lease update is applied but its answer lost; botocore's retry then fails the version
    condition. The executor sees the run is its own and goes on: the run completes in that
    invocation, with no phantom lease to wait out and no interruption recorded."""
    engine, _, _, _ = single_run(proxy, moto_url)

    async def main() -> RunOutcome:
        run_id = await engine.start("approval", run_id="lease")
        await engine.send_event(run_id, "go", 100)
        proxy.plan = scripted("UpdateItem", 0, ["lost"])
        return await engine.resume(run_id)

    outcome = asyncio.run(main())
    assert proxy.counts["lost:UpdateItem"] == 1
    assert (outcome.status, outcome.result) == ("completed", expected_result(100))
    view = asyncio.run(engine.get("lease"))
    assert [i["interrupted"] for i in view.invocations] == [False]


def test_a_commit_applied_but_reported_failed_is_neither_repeated_nor_written_over(
    proxy: FaultProxy, moto_url: str
) -> None:
    """Step ``a0``'s commit is applied but every attempt reports a failure (answer lost, then
    throttled twice): a ``StoreError`` reaches the engine. The executor stops without writing
    over the commit's progress entry; the next executor replays ``a0`` from the log. ``a0`` ran
    once and is committed once, progress ids have no gap, the run completes."""
    engine, clock, ledger, store = single_run(proxy, moto_url)

    async def main() -> tuple[RunOutcome, RunOutcome]:
        run_id = await engine.start("approval", run_id="commit")
        await engine.send_event(run_id, "go", 100)
        # TransactWriteItems: the invocation entry, then a0's commit (3 attempts)
        proxy.plan = scripted("TransactWriteItems", 1, ["lost", "throttle", "throttle"])
        first = await engine.resume(run_id)
        proxy.plan = no_faults
        clock.advance(LEASE + 1)
        return first, await engine.resume(run_id)

    first, second = asyncio.run(main())
    assert first.status == "store_error", first
    assert "StoreError" in str((first.error or {}).get("type")), first
    assert (second.status, second.result) == ("completed", expected_result(100))
    assert ledger.effects[("commit", "a0")] == 1
    progress = store.progress("commit", limit=1000)
    assert [p.id for p in progress] == list(range(1, len(progress) + 1))
    names = [json.loads(p.data)["name"] for p in progress if p.kind == "step"]
    assert names.count("a0") == 1, names


def test_an_event_read_that_keeps_failing_stops_the_executor_instead_of_failing_the_run(
    proxy: FaultProxy, moto_url: str
) -> None:
    """The run waits for ``go``; the event is delivered; on the next resume every attempt of
    the event read (``GetItem``) is throttled, beyond botocore's retries. That transient
    ``StoreError`` stops the executor (``store_error``: the run is handed back, due again)
    instead of reaching the workflow as an exception and failing the run; the next executor
    reads the event and the run completes, each step run once. (Before, the read's error went
    to the workflow code and the run ended ``failed`` with the ``StoreError`` recorded: the
    fault suite's one failed run in 20 at ``FAULT_RUNS=200``.)"""
    engine, clock, ledger, _ = single_run(proxy, moto_url)

    async def main() -> tuple[RunOutcome, RunOutcome]:
        run_id = await engine.start("approval", run_id="read")
        assert (await engine.resume(run_id)).status == "suspended"
        await engine.send_event(run_id, "go", 100)
        proxy.plan = scripted("GetItem", 0, ["throttle", "throttle", "throttle"])
        stopped = await engine.resume(run_id)
        proxy.plan = no_faults
        clock.advance(LEASE + 1)
        return stopped, await engine.resume(run_id)

    stopped, done = asyncio.run(main())
    assert proxy.counts["throttle:GetItem"] == 3
    assert stopped.status == "store_error", stopped
    assert "StoreError" in str((stopped.error or {}).get("type")), stopped
    assert (done.status, done.result) == ("completed", expected_result(100))
    assert all(count == 1 for count in ledger.effects.values()), ledger.effects

"""Engine behaviour on every store: replay, determinism, retries, at-most-once, waits, events,
fan-out, cancellation, fencing, duplicate continuations, deadline splitting and crashes.

Workflows are plain async functions; side effects are counted in lists the step bodies append
to, so "ran once" is an observation, not a mock. ``mode`` runs each workflow both straight and
with the replay-every-step harness."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
from collections import Counter
from typing import Any

import pytest
from pydantic import BaseModel

from durable.harness import FakeClock, RecordingContinuation, drive
from relaykit import App, ConfigError
from relaykit.durable import Engine, RetryPolicy, WorkflowContext
from relaykit.durable.store import Store
from relaykit.errors import ModelError, StepFailed, TerminalError


class Plan(BaseModel):
    queries: list[str]


@dataclasses.dataclass
class Note:
    query: str
    length: int


class SimulatedCrash(BaseException):
    """Stands for the process dying mid-step: nothing in the engine handles it."""


async def test_replay_returns_stored_values_without_rerunning(
    engine: Engine, clock: FakeClock, mode: str
) -> None:
    """Each step body runs once however many times the workflow is replayed, and values come
    back as their declared types (a pydantic model, a list of dataclasses)."""
    effects: Counter[str] = Counter()

    def make_plan(question: str) -> Plan:
        effects["plan"] += 1
        return Plan(queries=[f"{question}-1", f"{question}-2"])

    async def search(query: str) -> Note:
        effects[query] += 1
        return Note(query, len(query))

    async def research(question: str, ctx: WorkflowContext) -> dict[str, Any]:
        plan = await ctx.step("plan", make_plan, question)
        assert isinstance(plan, Plan)
        notes = [await ctx.step(f"search:{q}", search, q) for q in plan.queries]
        assert all(isinstance(n, Note) for n in notes)
        return {"total": sum(n.length for n in notes), "queries": plan.queries}

    run_id = await engine.start("research", research, "cats")
    driven = await drive(engine, run_id, clock, mode=mode)
    assert driven.outcome.status == "completed"
    assert driven.outcome.result == {"total": 12, "queries": ["cats-1", "cats-2"]}
    assert effects == {"plan": 1, "cats-1": 1, "cats-2": 1}
    if mode == "replay":
        assert driven.invocations >= 3
    view = await engine.get(run_id)
    assert [s["name"] for s in view.steps] == ["plan", "search:cats-1", "search:cats-2"]


async def test_changed_code_fails_with_non_determinism(
    store: Store, clock: FakeClock, continuation: RecordingContinuation
) -> None:
    """Replaying code that asks for another step at a committed position fails the run with a
    NonDeterminismError naming both steps, even when the workflow catches Exception."""

    async def v1(ctx: WorkflowContext) -> str:
        await ctx.step("fetch", lambda: "data")
        await ctx.sleep(3600)
        return "done"

    async def v2(ctx: WorkflowContext) -> str:
        with contextlib.suppress(Exception):
            await ctx.step("download", lambda: "data")
        return "swallowed"

    first = Engine(store, continuation, clock=clock)
    run_id = await first.start("job", v1)
    assert (await first.resume(run_id)).status == "suspended"
    clock.advance(3600)
    second = Engine(store, continuation, clock=clock)
    second.register("job", v2)
    outcome = await second.resume(run_id)
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error["type"] == "relaykit.errors.NonDeterminismError"
    assert "'fetch'" in outcome.error["message"] and "'download'" in outcome.error["message"]


async def test_retries_with_backoff_then_success(
    engine: Engine, clock: FakeClock, mode: str
) -> None:
    """A flaky step is retried with exponential back-off (slept in-process when short) and
    its attempts are recorded."""
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return "ok"

    async def wf(ctx: WorkflowContext) -> str:
        policy = RetryPolicy(max_attempts=5, initial_delay=1.0, jitter=0.0)
        return str(await ctx.step("flaky", flaky, retry=policy))

    run_id = await engine.start("wf", wf)
    driven = await drive(engine, run_id, clock, mode=mode)
    assert driven.outcome.result == "ok" and len(attempts) == 3
    if mode == "straight":
        assert clock.slept[:2] == [1.0, 2.0]
    assert (await engine.get(run_id)).steps[0]["attempts"] == 3


async def test_terminal_and_exhausted_errors_fail_the_step(
    engine: Engine, clock: FakeClock, mode: str
) -> None:
    """A TerminalError is not retried; an exhausted policy fails the step; a workflow that
    catches StepFailed sees the same failure on every replay; an uncaught one fails the run."""
    calls: Counter[str] = Counter()

    def terminal() -> None:
        calls["terminal"] += 1
        raise TerminalError("bad input")

    def always() -> None:
        calls["always"] += 1
        raise ValueError("nope")

    async def wf(ctx: WorkflowContext) -> str:
        try:
            await ctx.step("terminal", terminal)
        except StepFailed as exc:
            caught = exc.error_type
        await ctx.step("always", always, retry=RetryPolicy(max_attempts=2, initial_delay=0.1))
        return caught

    run_id = await engine.start("wf", wf)
    driven = await drive(engine, run_id, clock, mode=mode)
    assert calls == {"terminal": 1, "always": 2}
    assert driven.outcome.status == "failed" and driven.outcome.error is not None
    assert "'always' failed after 2 attempt(s): ValueError: nope" in driven.outcome.error["message"]


async def test_long_backoff_suspends_and_resumes_at_the_due_time(
    engine: Engine, clock: FakeClock, continuation: RecordingContinuation
) -> None:
    """A retry delay longer than the in-process limit suspends the run with a wake-up time;
    a continuation delivered early is a no-op."""
    calls: list[float] = []

    def flaky() -> int:
        calls.append(clock.now())
        if len(calls) == 1:
            raise TimeoutError("slow upstream")
        return 7

    async def wf(ctx: WorkflowContext) -> int:
        policy = RetryPolicy(max_attempts=2, initial_delay=60.0, jitter=0.0)
        return int(await ctx.step("flaky", flaky, retry=policy))

    run_id = await engine.start("wf", wf)
    first = await engine.resume(run_id)
    assert first.status == "suspended" and first.due_at == calls[0] + 60.0
    assert continuation.scheduled[-1] == (run_id, calls[0] + 60.0)
    assert (await engine.resume(run_id)).status == "not_due"
    clock.advance(60)
    done = await engine.resume(run_id)
    assert done.status == "completed" and done.result == 7 and len(calls) == 2


async def test_at_most_once_step_is_not_rerun_after_a_crash(
    engine: Engine, clock: FakeClock
) -> None:
    """An at-most-once step records its start first; if the executor dies during it, the
    interrupted attempt counts as a failure and (with no retries left) fails the run."""
    charges: list[str] = []

    def charge(ctx: WorkflowContext) -> str:
        charges.append(ctx.step_id)
        raise SimulatedCrash

    async def wf(ctx: WorkflowContext) -> str:
        return str(await ctx.step("charge", charge, ctx, semantics="at_most_once"))

    run_id = await engine.start("wf", wf)
    with pytest.raises(SimulatedCrash):
        await engine.resume(run_id)
    clock.advance(31)
    outcome = await engine.resume(run_id)
    assert charges == [f"{run_id}:0"]
    assert outcome.status == "failed" and outcome.error is not None
    assert "StepInterrupted" in outcome.error["message"]


async def test_at_least_once_step_reruns_after_a_crash_with_the_same_step_id(
    engine: Engine, clock: FakeClock
) -> None:
    """An at-least-once step in flight when the executor dies runs again on resume, with the
    same ctx.step_id (the idempotency key for external APIs)."""
    seen: list[str] = []

    def send(ctx: WorkflowContext) -> str:
        seen.append(ctx.step_id)
        if len(seen) == 1:
            raise SimulatedCrash
        return "sent"

    async def wf(ctx: WorkflowContext) -> str:
        await ctx.step("prepare", lambda: 1)
        return str(await ctx.step("send", send, ctx))

    run_id = await engine.start("wf", wf)
    with pytest.raises(SimulatedCrash):
        await engine.resume(run_id)
    clock.advance(31)
    outcome = await engine.resume(run_id)
    assert outcome.result == "sent" and seen == [f"{run_id}:1", f"{run_id}:1"]


async def test_poison_run_parks_as_failed(store: Store, clock: FakeClock) -> None:
    """A run whose executor dies every time is parked as failed after max_interrupts."""
    engine = Engine(store, RecordingContinuation(), clock=clock, max_interrupts=2)

    def die() -> None:
        raise SimulatedCrash

    async def wf(ctx: WorkflowContext) -> None:
        await ctx.step("die", die)

    run_id = await engine.start("wf", wf)
    for _ in range(3):
        with pytest.raises(SimulatedCrash):
            await engine.resume(run_id)
        clock.advance(61)
    outcome = await engine.resume(run_id)
    assert outcome.status == "failed" and outcome.error is not None
    assert outcome.error["type"] == "PoisonRun"


async def test_short_sleep_in_process_long_sleep_suspends(
    engine: Engine, clock: FakeClock, continuation: RecordingContinuation, mode: str
) -> None:
    """A short sleep is slept in-process; a long one suspends the run until its time and
    schedules a continuation for then."""

    async def wf(ctx: WorkflowContext) -> str:
        await ctx.sleep(1.0)
        start = await ctx.now()
        await ctx.sleep(3600)
        end = await ctx.now()
        return f"{end - start:.0f}"

    run_id = await engine.start("wf", wf)
    driven = await drive(engine, run_id, clock, mode=mode)
    assert driven.outcome.result == "3600"
    assert 1.0 in clock.slept
    assert any(nb is not None and nb >= 3600 for _, nb in continuation.scheduled)


async def test_events_wake_the_run_and_time_out(
    engine: Engine, clock: FakeClock, continuation: RecordingContinuation, mode: str
) -> None:
    """wait_for_event suspends until send_event delivers (typed payload); a wait with a
    timeout raises EventTimeout once it passes, the same on replay."""

    async def wf(ctx: WorkflowContext) -> dict[str, Any]:
        approval = await ctx.wait_for_event("approve", type=Plan)
        try:
            await ctx.wait_for_event("second", timeout=600)
            late = "came"
        except Exception as exc:
            late = type(exc).__name__
        return {"queries": approval.queries, "second": late}

    run_id = await engine.start("wf", wf)
    waiting = await drive(engine, run_id, clock, mode=mode)
    assert waiting.outcome.status == "suspended" and waiting.outcome.due_at is None
    await engine.send_event(run_id, "approve", {"queries": ["a"]})
    assert continuation.scheduled[-1] == (run_id, None)
    done = await drive(engine, run_id, clock, mode=mode)
    assert done.outcome.result == {"queries": ["a"], "second": "EventTimeout"}


async def test_fan_out_is_deterministic_and_bounded(
    engine: Engine, clock: FakeClock, mode: str
) -> None:
    """map runs one step per item with at most `concurrency` in flight; child step ids follow
    the item index whatever order the steps finish in; gather runs branch workflows."""
    in_flight = 0
    peak = 0
    done_order: list[int] = []

    async def work(n: int) -> int:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range((7 * n) % 5):
            await asyncio.sleep(0)
        in_flight -= 1
        done_order.append(n)
        return n * n

    async def branch(ctx: WorkflowContext) -> str:
        a = await ctx.step("a", lambda: "x")
        b = await ctx.step("b", lambda: "y")
        return str(a) + str(b)

    async def wf(ctx: WorkflowContext) -> dict[str, Any]:
        squares = await ctx.map("square", work, list(range(8)), concurrency=3)
        pairs = await ctx.gather(branch, branch)
        return {"squares": squares, "pairs": pairs}

    run_id = await engine.start("wf", wf)
    driven = await drive(engine, run_id, clock, mode=mode)
    assert driven.outcome.result == {"squares": [n * n for n in range(8)], "pairs": ["xy", "xy"]}
    assert peak <= 3
    steps = {s["step_id"]: s["name"] for s in (await engine.get(run_id)).steps}
    assert {f"0.{i}.0" for i in range(8)} <= set(steps)
    assert steps["1.1.1"] == "b"
    assert sorted(done_order) == list(range(8))


async def test_cancel_idle_and_running_runs(engine: Engine, clock: FakeClock) -> None:
    """Cancelling a suspended run ends it at once; cancelling a running one takes effect at
    its next step boundary and no later step runs."""
    later: list[int] = []

    async def sleeper(ctx: WorkflowContext) -> None:
        await ctx.sleep(3600)

    idle = await engine.start("sleeper", sleeper)
    assert (await engine.resume(idle)).status == "suspended"
    assert (await engine.cancel(idle)).status == "cancelled"

    async def cancel_me(run_id: str) -> str:
        await engine.cancel(run_id)
        return "in flight"

    async def wf(ctx: WorkflowContext) -> None:
        await ctx.step("cancel", cancel_me, ctx.run_id)
        await ctx.step("later", lambda: later.append(1))

    busy = await engine.start("wf", wf)
    busy_outcome = await engine.resume(busy)
    assert busy_outcome.status == "cancelled" and later == []
    assert (await engine.get(busy)).status == "cancelled"


async def test_two_executors_race_and_exactly_one_commits(store: Store, clock: FakeClock) -> None:
    """Executor A stalls inside a step past its lease; executor B takes the run over and
    finishes it; A's late commit fails with LeaseLost and A stops. The step is committed once."""
    a = Engine(store, RecordingContinuation(), clock=clock, lease_seconds=10, owner="A")
    b = Engine(store, RecordingContinuation(), clock=clock, lease_seconds=10, owner="B")
    release = asyncio.Event()
    runs: list[str] = []

    entered = asyncio.Event()

    async def slow(who: str) -> str:
        runs.append(who)
        entered.set()
        if len(runs) == 1:
            await release.wait()
        return who

    async def wf(ctx: WorkflowContext) -> str:
        return str(await ctx.step("slow", slow, ctx.step_id))

    a.register("wf", wf)
    b.register("wf", wf)
    run_id = await a.start("wf")
    stalled = asyncio.ensure_future(a.resume(run_id, remaining=lambda: math.inf))
    await entered.wait()  # A holds the lease and is inside the step
    assert (await b.resume(run_id)).status == "busy"
    clock.advance(11)
    finished = await b.resume(run_id)
    release.set()
    lost = await stalled
    assert finished.status == "completed" and lost.status == "lease_lost"
    assert lost.error is not None and "lease lost" in lost.error["message"]
    progress = await b.progress(run_id)
    assert [p.kind for p in progress].count("step") == 1


async def test_duplicate_continuations_are_no_ops(engine: Engine, clock: FakeClock) -> None:
    """Two resumes of one run at once: one runs it, the other finds it busy; resuming a
    finished run returns its result and runs nothing."""
    effects: list[int] = []
    release, entered = asyncio.Event(), asyncio.Event()

    async def step() -> int:
        effects.append(1)
        entered.set()
        await release.wait()
        return 5

    async def wf(ctx: WorkflowContext) -> int:
        return int(await ctx.step("s", step))

    run_id = await engine.start("wf", wf)
    running = asyncio.ensure_future(engine.resume(run_id))
    await entered.wait()  # the first delivery holds the lease and is inside the step
    duplicate = await engine.resume(run_id)
    release.set()
    assert duplicate.status == "busy" and (await running).status == "completed"
    again = await engine.resume(run_id)
    assert again.status == "completed" and again.result == 5 and effects == [1]


async def test_deadline_splitting_across_invocations(engine: Engine, clock: FakeClock) -> None:
    """With a 7 s invocation budget and 2 s steps, the engine splits the run across several
    invocations (learning step durations as it goes) and reaches the same result as one long
    invocation."""

    def work(i: int) -> int:
        clock.advance(2.0)
        return i * 10

    async def wf(n: int, ctx: WorkflowContext) -> int:
        total = 0
        for i in range(n):
            total += await ctx.step(f"work:{i}", work, i, estimate=None if i else 2.0)
        return total

    engine.policy = dataclasses.replace(engine.policy, margin=0.5)
    split_run = await engine.start("wf", wf, 10)
    split = await drive(engine, split_run, clock, budget=7.0)
    straight_run = await engine.start("wf", wf, 10)
    straight = await drive(engine, straight_run, clock)
    assert split.outcome.result == straight.outcome.result == 450
    assert split.invocations >= 4 and straight.invocations == 1

    # The run record lists each invocation, the steps it committed and why it yielded.
    invocations = (await engine.get(split_run)).invocations
    assert len(invocations) == split.invocations
    assert [s for i in invocations for s in i["steps"]] == [f"work:{i}" for i in range(10)]
    assert all(i["steps"] for i in invocations)  # every invocation made progress
    assert [i["ended"] for i in invocations] == ["suspended"] * (len(invocations) - 1) + [
        "completed"
    ]
    for invocation in invocations[:-1]:
        assert invocation["reason"].startswith("deadline: step 'work:")
        assert "s left" in invocation["reason"] and invocation["due_at"] is not None
    assert invocations[0]["remaining_s"] == 7.0 and invocations[0]["replayed_steps"] == 0
    assert invocations[1]["replayed_steps"] == len(invocations[0]["steps"])
    assert not any(i["interrupted"] for i in invocations)
    (only,) = (await engine.get(straight_run)).invocations
    assert only["remaining_s"] is None and only["ended"] == "completed" and len(only["steps"]) == 10


async def test_a_call_refused_for_lack_of_time_splits_instead_of_costing_an_attempt(
    engine: Engine, clock: FakeClock
) -> None:
    """A step whose model call gives up before sending anything (``ModelError.out_of_time``:
    too little of the invocation left) late in an invocation is not a failed attempt: the run
    splits and the next invocation runs the step, once, with its full time."""
    refused: list[float] = []

    def slow() -> str:
        clock.advance(6.0)
        return "done"

    def call() -> str:
        if not refused:
            refused.append(clock.now())
            raise ModelError("not started: 0.5s left", retryable=True, out_of_time=True)
        return "answer"

    async def wf(ctx: WorkflowContext) -> list[str]:
        return [await ctx.step("slow", slow, estimate=1.0), await ctx.step("call", call)]

    run_id = await engine.start("wf", wf)
    driven = await drive(engine, run_id, clock, budget=10.0)
    assert driven.outcome.result == ["done", "answer"] and driven.invocations == 2
    view = await engine.get(run_id)
    assert [(s["name"], s["attempts"]) for s in view.steps] == [("slow", 1), ("call", 1)]
    first, second = view.invocations
    assert first["steps"] == ["slow"] and second["steps"] == ["call"]
    assert first["reason"].startswith("deadline: step 'call': not started")


async def test_a_call_refused_at_the_start_of_a_fresh_invocation_counts_as_an_attempt(
    engine: Engine, clock: FakeClock
) -> None:
    """When even a fresh invocation is too short for the call, splitting would loop forever:
    the refusal counts as a failed attempt and the step fails after its retries, naming why."""

    def call() -> str:
        raise ModelError("not started: 0.5s left", retryable=True, out_of_time=True)

    async def wf(ctx: WorkflowContext) -> str:
        retry = RetryPolicy(max_attempts=2, initial_delay=0.0)
        value: str = await ctx.step("call", call, retry=retry)
        return value

    run_id = await engine.start("wf", wf)
    driven = await drive(engine, run_id, clock, budget=10.0)
    assert driven.outcome.status == "failed" and driven.invocations == 1
    assert "not started" in driven.outcome.error["message"]


async def test_step_too_long_for_any_invocation_fails_fast(
    engine: Engine, clock: FakeClock
) -> None:
    """A step whose need exceeds the whole invocation budget fails the run at once with an
    error that says so and suggests the container target; the step never runs."""
    ran: list[int] = []

    async def wf(ctx: WorkflowContext) -> None:
        await ctx.step("think", lambda: ran.append(1), estimate=1200)

    run_id = await engine.start("wf", wf)
    driven = await drive(engine, run_id, clock, budget=900)
    assert driven.outcome.status == "failed" and driven.invocations == 1 and ran == []
    assert driven.outcome.error is not None
    assert driven.outcome.error["type"] == "relaykit.errors.StepTooLong"
    assert "container" in driven.outcome.error["message"]


async def test_now_and_random_are_recorded(engine: Engine, clock: FakeClock, mode: str) -> None:
    """ctx.now() and ctx.random() return the recorded values on replay."""
    seen: list[tuple[float, float]] = []

    async def wf(ctx: WorkflowContext) -> list[float]:
        t = await ctx.now()
        r = await ctx.random()
        seen.append((t, r))
        clock.advance(5)
        await ctx.step("after", lambda: None)
        return [t, r]

    run_id = await engine.start("wf", wf)
    driven = await drive(engine, run_id, clock, mode=mode)
    assert driven.outcome.result is not None
    assert {pair for pair in seen} == {tuple(driven.outcome.result)}


async def test_idempotent_start_and_listing(engine: Engine, clock: FakeClock) -> None:
    """start with an idempotency key returns the same run; runs list by workflow."""

    async def wf(x: int, ctx: WorkflowContext) -> int:
        return x

    one = await engine.start("wf", wf, 1, idempotency_key="abc")
    two = await engine.start("wf", wf, 2, idempotency_key="abc")
    assert one == two
    page = await engine.list(workflow="wf")
    assert [r.run_id for r in page.runs] == [one]


async def test_a_run_past_its_step_limit_fails_with_a_clear_error(
    store: Store, clock: FakeClock, continuation: RecordingContinuation
) -> None:
    """With ``max_steps=5`` a loop that asks for a sixth step fails the run with
    ``HistoryTooLong``, naming the limit and the setting; the five committed steps stay."""
    engine = Engine(store, continuation, clock=clock, lease_seconds=30.0, max_steps=5)

    async def endless(ctx: WorkflowContext) -> None:
        i = 0
        while True:
            await ctx.step(f"tick:{i}", lambda: None)
            i += 1

    run_id = await engine.start("endless", endless)
    driven = await drive(engine, run_id, clock)
    assert driven.outcome.status == "failed"
    error = driven.outcome.error
    assert error is not None and error["type"].endswith("HistoryTooLong")
    assert "5 steps" in error["message"] and "workflow_max_steps" in error["message"]
    assert "'tick:5'" in error["message"]
    assert len((await engine.get(run_id)).steps) == 5


def test_the_step_limit_comes_from_settings() -> None:
    """``workflow_max_steps`` reaches the app's engine; a bad value names the setting."""
    app = App("limits", settings={"store": "memory://", "workflow_max_steps": 3})

    @app.workflow("/w")
    async def noop(ctx: WorkflowContext) -> None:
        return None

    assert app.engine.max_steps == 3
    with pytest.raises(ConfigError, match="workflow_max_steps"):
        _ = App("bad", settings={"store": "memory://", "workflow_max_steps": 0}).settings

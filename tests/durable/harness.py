"""Test harness for durable workflows: a fake clock, a recording continuation, fake invocation
budgets, and drivers that run a workflow to its end (straight, or replaying after every step)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from relaykit.durable import Engine, RunOutcome

WAITING = ("suspended",)


class FakeClock:
    """Time that moves only when a test (or a step, or an engine sleep) moves it."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class RecordingContinuation:
    """A continuation that only records what was scheduled: the test delivers them."""

    scheduled: list[tuple[str, float | None]] = field(default_factory=list)

    def schedule(self, run_id: str, *, not_before: float | None = None) -> None:
        self.scheduled.append((run_id, not_before))


class Invocation:
    """A fake invocation budget on a fake clock: ``remaining()`` = budget minus time used."""

    def __init__(self, clock: FakeClock, budget: float) -> None:
        self.clock = clock
        self.budget = budget
        self.started = clock.now()

    def remaining(self) -> float:
        return max(0.0, self.budget - (self.clock.now() - self.started))


class OneStepInvocation:
    """Says the first step of an invocation fits and nothing after it does: every invocation
    then runs exactly one new step and the next one replays everything before it. (The
    engine reads the time left once when it opens the invocation, for the run record, and once
    per step check.)"""

    def __init__(self) -> None:
        self.calls = 0

    def remaining(self) -> float:
        self.calls += 1
        return math.inf if self.calls <= 2 else 0.0


@dataclass
class Driven:
    outcome: RunOutcome
    invocations: int


async def drive(
    engine: Engine,
    run_id: str,
    clock: FakeClock,
    *,
    mode: str = "straight",
    budget: float | None = None,
    max_invocations: int = 500,
    stop_when_waiting_for_event: bool = True,
) -> Driven:
    """Resume ``run_id`` until it finishes (or waits for an event), advancing the fake clock to
    each wake-up. ``mode="replay"`` re-runs the workflow from the store after every step."""
    invocations = 0
    while invocations < max_invocations:
        invocations += 1
        remaining: Callable[[], float]
        run_budget: float | None
        if mode == "replay":
            remaining, run_budget = OneStepInvocation().remaining, math.inf
        elif budget is not None:
            invocation = Invocation(clock, budget)
            remaining, run_budget = invocation.remaining, budget
        else:
            remaining, run_budget = (lambda: math.inf), math.inf
        outcome = await engine.resume(run_id, remaining=remaining, budget=run_budget)
        if outcome.status == "suspended":
            if outcome.due_at is None:
                if stop_when_waiting_for_event:
                    return Driven(outcome, invocations)
                continue
            if outcome.due_at > clock.now():
                clock.t = outcome.due_at
            continue
        if outcome.status == "not_due" and outcome.due_at is not None:
            clock.t = max(clock.t, outcome.due_at)
            continue
        return Driven(outcome, invocations)
    raise AssertionError(f"run {run_id} did not finish in {max_invocations} invocations")

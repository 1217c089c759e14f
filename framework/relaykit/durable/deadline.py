"""Deadline-aware splitting: does the next step fit in what is left of this invocation?

Before each step the engine asks ``Planner.check``. A step's *need* is its explicit ``estimate=``
or else a high percentile (default p95) of the recorded durations of its *profile* (the step name
up to the first ``:`` or ``[``, so ``search:cats`` and ``search:dogs`` share ``search``), plus
``margin`` seconds. When the need exceeds the whole invocation budget the step can never fit and
``StepTooLong`` is raised; when it exceeds only the time left, the engine splits: it commits,
schedules a continuation and returns. Waits ask ``fits_inline`` to choose between sleeping
in-process and suspending.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from relaykit.errors import StepTooLong

Decision = Literal["run", "split"]
_MAX_SAMPLES = 200


class Clock(Protocol):
    """Wall time as Unix seconds, and a way to wait. Tests inject a fake one."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: ``time.time`` and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


@dataclass(frozen=True)
class DeadlinePolicy:
    """How the engine budgets time. Every field has a setting (see docs/durable.md)."""

    margin: float = 2.0
    """Seconds kept in reserve after a step's expected end (commit, response, clock skew)."""
    percentile: float = 0.95
    """Which percentile of a profile's recorded durations counts as its need."""
    inline_wait_max: float = 5.0
    """Waits (sleeps, retry back-offs, event polls) up to this long may stay in-process."""
    event_poll_interval: float = 0.25
    """How often an in-process ``wait_for_event`` looks for the event."""


@functools.lru_cache(maxsize=4096)
def profile(step_name: str) -> str:
    """The duration profile of a step name: up to the first ``:`` or ``[``."""
    cut = len(step_name)
    for mark in (":", "["):
        at = step_name.find(mark)
        if 0 < at < cut:
            cut = at
    return step_name[:cut]


class Durations:
    """Recorded step durations per profile (the most recent 200 of each), kept sorted."""

    def __init__(self) -> None:
        self._recent: dict[str, deque[float]] = {}
        self._sorted: dict[str, list[float]] = {}

    def add(self, step_name: str, seconds: float) -> None:
        key = profile(step_name)
        recent = self._recent.setdefault(key, deque())
        ordered = self._sorted.setdefault(key, [])
        value = max(0.0, seconds)
        recent.append(value)
        bisect.insort(ordered, value)
        if len(recent) > _MAX_SAMPLES:
            oldest = recent.popleft()
            del ordered[bisect.bisect_left(ordered, oldest)]

    def percentile(self, step_name: str, q: float) -> float | None:
        ordered = self._sorted.get(profile(step_name))
        if not ordered:
            return None
        index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
        return ordered[index]


class Planner:
    """Deadline decisions for one invocation."""

    def __init__(
        self,
        policy: DeadlinePolicy,
        durations: Durations,
        remaining: Callable[[], float],
        budget: float,
    ) -> None:
        self.policy = policy
        self.durations = durations
        self.remaining = remaining
        self.budget = budget
        self.has_deadline = budget != math.inf
        """False in a container (no invocation budget): nothing to plan."""

    def need(self, step_name: str, estimate: float | None) -> float:
        """Seconds the step needs, margin included."""
        expected = estimate
        if expected is None:
            expected = self.durations.percentile(step_name, self.policy.percentile) or 0.0
        return expected + self.policy.margin

    def check(self, step_name: str, estimate: float | None) -> Decision:
        """``run`` or ``split``; raises ``StepTooLong`` when no invocation is long enough."""
        if not self.has_deadline:  # no deadline anywhere (a container): nothing to estimate
            left = self.remaining()
            if left == math.inf:
                return "run"
            return "run" if self.need(step_name, estimate) <= left else "split"
        need = self.need(step_name, estimate)
        if need > self.budget:
            raise StepTooLong(step_name, need, self.budget)
        return "run" if need <= self.remaining() else "split"

    def can_gain_time(self) -> bool:
        """True when a fresh invocation would have more time than this one has left."""
        return self.budget > self.remaining() + self.policy.margin

    def fits_inline(self, wait_seconds: float) -> bool:
        """True when a wait is short enough to sleep through inside this invocation."""
        if wait_seconds > self.policy.inline_wait_max:
            return False
        return wait_seconds + self.policy.margin <= self.remaining()

"""``Execution``: the state of one resume of one run, shared by its context tree.

It holds the lease, the step log loaded at acquire, the deadline planner, and makes every
executor write. A write that finds the lease gone (``LeaseLost``) or a cancel requested stops the
workflow with ``Stop``, a ``BaseException`` the workflow cannot swallow; a wait or a deadline
pauses it with ``Suspend``, another one.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from relaykit.durable import codec
from relaykit.durable.deadline import Clock, Durations, Planner, SystemClock
from relaykit.durable.retry import RetryPolicy
from relaykit.durable.store import Lease, StepRecord, Store
from relaykit.errors import (
    DurableError,
    EventTimeout,
    HistoryTooLong,
    LeaseLost,
    NonDeterminismError,
    StepFailed,
    StepTooLong,
    StoreError,
)

R = TypeVar("R")


class Suspend(BaseException):
    """The run pauses here: not an ``Exception``, so ``except Exception`` cannot swallow it."""

    def __init__(self, due_at: float | None, reason: str) -> None:
        self.due_at = due_at
        self.reason = reason
        super().__init__(f"suspend ({reason}) until {due_at}")


class StepInterrupted(Exception):
    """An at-most-once step's attempt was started but never finished (its executor died)."""


class Stop(BaseException):
    """The executor must stop now: ``reason`` is ``lease_lost``, ``cancelled`` or
    ``store_error`` (a transient store failure: the run is resumed later, not failed)."""

    def __init__(self, reason: str, error: DurableError | None = None) -> None:
        self.reason = reason
        self.error = error
        super().__init__(reason)


class Execution:
    """One resume of one run."""

    def __init__(
        self,
        *,
        store: Store,
        lease: Lease,
        records: dict[str, StepRecord],
        clock: Clock,
        planner: Planner,
        durations: Durations,
        lease_seconds: float,
        max_steps: int | None = None,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.lease = lease
        self.records = records
        self.clock = clock
        self.planner = planner
        self.durations = durations
        self.lease_seconds = lease_seconds
        self.max_steps = max_steps
        self.owner = owner
        self.inline = not store.blocking
        """True when store calls are made on the event loop (``commit_now`` may be used)."""
        self.now: Callable[[], float] = time.time if type(clock) is SystemClock else clock.now
        """``clock.now`` (for the real clock, ``time.time`` itself: one call less per read)."""
        self.rng = random.Random()
        self.visited: set[str] = set()
        self.fatal: DurableError | None = None
        self.new_steps = 0
        self.last_write = clock.now()
        self._event_counts: dict[str, int] = {}
        self._write_lock = asyncio.Lock()

    @property
    def run_id(self) -> str:
        return self.lease.run_id

    async def call(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Call a store method: in a worker thread when the store does network I/O."""
        if self.store.blocking:
            return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))
        return fn(*args, **kwargs)

    # Replay -------------------------------------------------------------------------------

    def raise_fatal(self) -> None:
        if self.fatal is not None:
            raise self.fatal

    def lookup(self, step_id: str, name: str) -> StepRecord | None:
        """The committed record at ``step_id``; ``NonDeterminismError`` if its name differs."""
        self.visited.add(step_id)
        record = self.records.get(step_id)
        if record is not None and record.name != name:
            self.fatal = NonDeterminismError(self.run_id, step_id, record.name, name)
            raise self.fatal
        if record is None and self.max_steps is not None and len(self.records) >= self.max_steps:
            self.fatal = HistoryTooLong(self.run_id, self.max_steps, name)
            raise self.fatal
        return record

    def unvisited(self) -> list[StepRecord]:
        """Committed records the finished workflow never asked for (code changed)."""
        return [r for step_id, r in self.records.items() if step_id not in self.visited]

    def next_event_index(self, name: str) -> int:
        index = self._event_counts.get(name, 0)
        self._event_counts[name] = index + 1
        return index

    def stored_failure(self, record: StepRecord) -> Exception:
        error = codec.decode_error(record.error or "{}")
        kind = str(error.get("type", "Error"))
        message = str(error.get("message", ""))
        if kind.endswith("EventTimeout"):
            return EventTimeout(message)
        return StepFailed(record.name, kind, message, int(error.get("attempts", record.attempts)))

    # Writes -------------------------------------------------------------------------------

    async def commit(self, record: StepRecord) -> None:
        """Commit a step record (and renew the lease); stop if the lease is gone."""
        if self.inline:  # a synchronous call cannot interleave with another
            self.commit_now(record, self.clock.now())
            return
        async with self._write_lock:
            now = self.clock.now()
            try:
                result = await self.call(
                    self.store.commit_step,
                    self.lease,
                    record,
                    now=now,
                    lease_seconds=self.lease_seconds,
                )
            except LeaseLost as exc:
                raise Stop("lease_lost", exc) from exc
            except StoreError as exc:
                if exc.transient:  # the run is resumed later, not failed
                    raise Stop("store_error", exc) from exc
                raise
            self._committed(record, result, now)

    def commit_now(self, record: StepRecord, now: float) -> None:
        """``commit`` for a store called on the event loop (``inline``), at time ``now``."""
        try:
            result = self.store.commit_step(
                self.lease, record, now=now, lease_seconds=self.lease_seconds
            )
        except LeaseLost as exc:
            raise Stop("lease_lost", exc) from exc
        except StoreError as exc:
            if exc.transient:  # the run is resumed later, not failed
                raise Stop("store_error", exc) from exc
            raise
        self._committed(record, result, now)

    def _committed(self, record: StepRecord, result: str, now: float) -> None:
        if result == "cancelled":
            raise Stop("cancelled")
        self.last_write = now
        self.records[record.step_id] = record
        if record.status in ("completed", "failed"):
            self.new_steps += 1

    async def append_progress(self, kind: str, data: dict[str, Any]) -> int:
        """Append a progress entry (model tokens) outside a step commit; stop if the lease is
        gone. Serialised with commits, so progress ids stay in order."""
        if self.inline:
            return self._fence(self.store.append_progress, kind, data)
        async with self._write_lock:
            return await self.call(self._fence, self.store.append_progress, kind, data)

    def _fence(self, append: Callable[..., int], kind: str, data: dict[str, Any]) -> int:
        try:
            return append(self.lease, kind, data, now=self.clock.now())
        except LeaseLost as exc:
            raise Stop("lease_lost", exc) from exc
        except StoreError as exc:
            if exc.transient:  # the run is resumed later, not failed
                raise Stop("store_error", exc) from exc
            raise

    async def get_event(self, name: str, index: int) -> str | None:
        """The payload of the ``index``-th event ``name``, if delivered. A transient store
        failure stops the executor (the run resumes later) like a failed commit does: it must
        not reach the workflow as an exception and fail the run."""
        try:
            return await self.call(self.store.get_event, self.run_id, name, index)
        except StoreError as exc:
            if exc.transient:
                raise Stop("store_error", exc) from exc
            raise

    async def renew(self) -> None:
        async with self._write_lock:
            now = self.clock.now()
            await self.call(self.store.renew, self.lease, now=now, lease_seconds=self.lease_seconds)
            self.last_write = now

    # Time ---------------------------------------------------------------------------------

    def check_deadline(self, name: str, estimate: float | None) -> None:
        """Split (suspend, due now) when the step does not fit in this invocation."""
        try:
            decision = self.planner.check(name, estimate)
        except StepTooLong as exc:
            self.fatal = exc
            raise
        if decision == "split":
            need, left = self.planner.need(name, estimate), self.planner.remaining()
            reason = f"deadline: step {name!r} needs {need:.2f}s with the margin, {left:.2f}s left"
            raise Suspend(self.clock.now(), reason)

    async def wait_until(self, wake_at: float, label: str) -> None:
        """Sleep in-process until ``wake_at`` when that fits, else suspend until then."""
        left = wake_at - self.clock.now()
        if left <= 0:
            return
        if self.planner.fits_inline(left):
            await self.clock.sleep(left)
            return
        raise Suspend(wake_at, label)

    async def after_failure(
        self,
        step_id: str,
        name: str,
        error: BaseException,
        attempts: int,
        policy: RetryPolicy,
        *,
        usage: str | None = None,
    ) -> float | None:
        """Apply the retry policy after a failed attempt: wait (in-process or suspended) and
        return, or record the failure and raise ``StepFailed``. ``usage`` (model steps: what
        the attempts so far consumed) is kept in the step record either way."""
        now = self.clock.now()
        if policy.should_retry(error, attempts):
            delay = policy.delay(attempts, self.rng)
            if self.planner.fits_inline(delay):
                await self.clock.sleep(delay)
                return None
            wake = now + delay
            await self.commit(
                StepRecord(
                    step_id,
                    name,
                    "waiting",
                    error=codec.encode_error(error, attempts=attempts, step=name),
                    attempts=attempts,
                    started_at=now,
                    wake_at=wake,
                    usage=usage,
                )
            )
            raise Suspend(wake, f"retry {name!r}")
        text = codec.encode_error(error, attempts=attempts, step=name)
        await self.commit(
            StepRecord(step_id, name, "failed", error=text, attempts=attempts, usage=usage)
        )
        failure = StepFailed(name, codec.qualified_name(type(error)), str(error), attempts)
        raise failure from error

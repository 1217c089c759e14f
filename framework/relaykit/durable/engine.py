"""``Engine``: start, resume (by replay), inspect, cancel and signal durable runs.

The engine knows nothing about HTTP or Lambda. A target calls ``resume(run_id, ...)`` when a
continuation arrives, passing how much time the invocation has left; the engine takes the run's
lease, replays the workflow against the step log, runs new steps until the workflow returns,
waits, or runs short of time, and answers a ``RunOutcome``.

The runs API (start, get, list, cancel, events, progress) is ``RunsAPI`` in ``runs``; this module
is the execution loop and how a drive ends (completed, failed, suspended, released).
"""

from __future__ import annotations

import asyncio
import builtins
import itertools
import json
import math
import uuid
from collections.abc import Callable
from typing import Any

from relaykit.context import Context
from relaykit.durable import codec
from relaykit.durable.context import Suspend, WorkflowContext
from relaykit.durable.continuation import Continuation, InProcessContinuation
from relaykit.durable.deadline import Clock, DeadlinePolicy, Durations, Planner, SystemClock
from relaykit.durable.execution import Execution, Stop
from relaykit.durable.runs import RunsAPI
from relaykit.durable.spec import (
    RunOutcome,
    WorkflowSpec,
    default_context,
    error_dict,
    finished_outcome,
    stop_status,
)
from relaykit.durable.store import Lease, RunRecord, Store
from relaykit.errors import DurableError, NonDeterminismError, SerializationError, UnknownWorkflow

STORE_RETRY_SECONDS = 5.0
"""After a transient store failure the run is due again this much later."""


class Engine(RunsAPI):
    """The durable-workflow engine over one store.

    ``continuation`` defaults to in-process. ``clock`` is injectable (tests use a fake one).
    ``lease_seconds`` is how long a silent executor keeps a run before another may take it
    over; ``max_interrupts`` is how many dead executors a run survives before it is parked as
    failed (a poison run); ``max_steps`` caps the steps one run may record (``HistoryTooLong``
    past it). ``context_factory`` builds the base ``Context`` (``ctx.llm``...).
    """

    def __init__(
        self,
        store: Store,
        continuation: Continuation | None = None,
        *,
        clock: Clock | None = None,
        policy: DeadlinePolicy | None = None,
        lease_seconds: float = 60.0,
        max_interrupts: int = 10,
        max_steps: int | None = None,
        context_factory: Callable[[RunRecord], Context] | None = None,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.clock: Clock = clock or SystemClock()
        if continuation is None:
            continuation = InProcessContinuation(now=self.clock.now)
        if isinstance(continuation, InProcessContinuation):
            continuation.bind(self.resume)
        self.continuation = continuation
        self.policy = policy or DeadlinePolicy()
        self.lease_seconds = lease_seconds
        self.max_interrupts = max_interrupts
        self.max_steps = max_steps
        self.context_factory = context_factory or default_context
        self.owner = owner or uuid.uuid4().hex[:12]
        self._counter = itertools.count(1)
        self._workflows: dict[str, WorkflowSpec] = {}
        self._durations: dict[str, Durations] = {}

    async def sweep(self, *, limit: int = 100) -> builtins.list[RunOutcome]:
        """Resume every due run: timers fired, never started, or abandoned (lease expired)."""
        due: builtins.list[str] = await self._call(
            self.store.due_runs, now=self.clock.now(), limit=limit
        )
        return [await self.resume(run_id) for run_id in due]

    # Resume -------------------------------------------------------------------------------

    async def resume(
        self,
        run_id: str,
        *,
        remaining: Callable[[], float] | None = None,
        budget: float | None = None,
        ctx: Context | None = None,
    ) -> RunOutcome:
        """Take the run's lease and drive it by replay as far as time allows.

        ``remaining`` returns the seconds left in this invocation (default: ``ctx``'s deadline,
        else unlimited). ``budget`` is a whole invocation's length (default: ``remaining()`` now);
        a step that needs more than that fails fast with ``StepTooLong``.
        """
        owner = f"{self.owner}:{next(self._counter)}"
        acquired = await self._call(
            self.store.acquire,
            run_id,
            owner,
            now=self.clock.now(),
            lease_seconds=self.lease_seconds,
        )
        run: RunRecord | None = acquired.run
        if acquired.lease is None:
            if run is None:
                return RunOutcome(run_id, "missing")
            if run.finished:
                return finished_outcome(run)
            return RunOutcome(run_id, acquired.reason, due_at=run.due_at)
        assert run is not None
        lease: Lease = acquired.lease
        if run.cancel_requested:
            return await self._finish(lease, "cancelled")
        if run.interrupts > self.max_interrupts:
            error = {
                "type": "PoisonRun",
                "message": f"run {run_id} was interrupted {run.interrupts} times (its executor "
                f"died each time; limit {self.max_interrupts}); parked as failed",
            }
            return await self._finish(lease, "failed", error=error)
        try:
            spec = self.workflow(run.workflow)
        except UnknownWorkflow:
            now = self.clock.now()
            await self._call(self.store.suspend, lease, now=now, due_at=now + self.lease_seconds)
            raise
        base = ctx or self.context_factory(run)
        remaining = remaining or (ctx.remaining_seconds if ctx else (lambda: math.inf))
        left = remaining()
        opened = {
            "request_id": base.request_id,
            "target": base.target,
            "remaining_s": None if math.isinf(left) else round(left, 3),
            "replayed_steps": len(acquired.steps),
            "interrupted": acquired.interrupted,
        }
        try:  # one progress entry per invocation: the run record lists them
            await self._call(
                self.store.append_progress, lease, "invocation", opened, now=self.clock.now()
            )
        except DurableError as exc:
            return RunOutcome(run_id, stop_status(exc), error=error_dict(exc))
        durations = self._durations.setdefault(run.workflow, Durations())
        records = {step.step_id: step for step in acquired.steps}
        for step in acquired.steps:
            if step.status == "completed" and step.duration is not None:
                durations.add(step.name, step.duration)
        planner = Planner(self.policy, durations, remaining, budget or remaining())
        payload = codec.decode(run.input, spec.input_type)
        replayed = len(records)
        while True:
            execution = Execution(
                store=self.store,
                lease=lease,
                records=records,
                clock=self.clock,
                planner=planner,
                durations=durations,
                lease_seconds=self.lease_seconds,
                max_steps=self.max_steps,
                owner=run.owner,
            )
            outcome = await self._drive(spec, payload, base, execution, replayed)
            if outcome is not None:
                return outcome
            records = execution.records  # an event arrived while suspending: replay again

    async def _drive(
        self, spec: WorkflowSpec, payload: Any, base: Context, x: Execution, replayed: int
    ) -> RunOutcome | None:
        ctx = WorkflowContext(base, x)
        args = (payload, ctx) if spec.takes_input else (ctx,)
        heartbeat = asyncio.ensure_future(self._heartbeat(x))
        try:
            value = await spec.fn(*args)
        except Suspend as suspend:
            return await self._suspend(x, suspend, replayed)
        except Stop as stop:
            if stop.reason == "cancelled":
                return await self._finish(x.lease, "cancelled", new_steps=x.new_steps)
            if stop.reason == "store_error":
                return await self._release(x, stop.error)
            return RunOutcome(x.run_id, "lease_lost", error=error_dict(stop.error))
        except Exception as exc:
            return await self._fail(x, x.fatal or exc)
        finally:
            heartbeat.cancel()
        if x.fatal is not None:
            return await self._fail(x, x.fatal)
        extra = x.unvisited()
        if extra:
            first = extra[0]
            x.fatal = NonDeterminismError(x.run_id, first.step_id, first.name, "<end of workflow>")
            return await self._fail(x, x.fatal)
        try:
            text = codec.encode(value, spec.output_type)
        except SerializationError as exc:
            return await self._fail(x, exc)
        return await self._finish(
            x.lease, "completed", result=text, new_steps=x.new_steps, replayed=replayed
        )

    async def _heartbeat(self, x: Execution) -> None:
        """Renew the lease while a long step runs (the step commits renew it otherwise)."""
        interval = max(0.05, self.lease_seconds / 6)
        while True:
            await asyncio.sleep(interval)
            if self.clock.now() - x.last_write > self.lease_seconds / 3:
                try:
                    await x.renew()
                except DurableError:
                    return

    async def _suspend(self, x: Execution, suspend: Suspend, replayed: int) -> RunOutcome | None:
        try:
            result = await self._call(
                self.store.suspend,
                x.lease,
                now=self.clock.now(),
                due_at=suspend.due_at,
                reason=suspend.reason,
            )
        except DurableError as exc:
            return RunOutcome(x.run_id, stop_status(exc), error=error_dict(exc))
        if result == "event":
            return None
        if result == "cancelled":
            return await self._finish(x.lease, "cancelled", new_steps=x.new_steps)
        if suspend.due_at is not None:
            now = self.clock.now()
            self.continuation.schedule(
                x.run_id, not_before=None if suspend.due_at <= now else suspend.due_at
            )
        return RunOutcome(
            x.run_id,
            "suspended",
            due_at=suspend.due_at,
            new_steps=x.new_steps,
            replayed_steps=replayed,
        )

    async def _release(self, x: Execution, error: BaseException | None) -> RunOutcome:
        """After a transient store failure: stop, hand the run back (suspended, due again
        shortly) if the store takes the write, and schedule its continuation. If it does not,
        the lease expires and the sweep resumes the run. Either way nothing is failed."""
        now = self.clock.now()
        due = now + STORE_RETRY_SECONDS
        reason = f"store error, retried: {error}"
        try:
            await self._call(self.store.suspend, x.lease, now=now, due_at=due, reason=reason)
        except DurableError:
            return RunOutcome(x.run_id, "store_error", error=error_dict(error))
        self.continuation.schedule(x.run_id, not_before=due)
        return RunOutcome(x.run_id, "store_error", error=error_dict(error), due_at=due)

    async def _fail(self, x: Execution, exc: BaseException) -> RunOutcome:
        error = json.loads(codec.encode_error(exc))
        return await self._finish(
            x.lease, "failed", error=error, new_steps=x.new_steps, replayed=len(x.records)
        )

    async def _finish(
        self,
        lease: Lease,
        status: str,
        *,
        result: str | None = None,
        error: dict[str, Any] | None = None,
        new_steps: int = 0,
        replayed: int = 0,
    ) -> RunOutcome:
        text = json.dumps(error, separators=(",", ":")) if error is not None else None
        try:
            await self._call(
                self.store.finish,
                lease,
                status,
                now=self.clock.now(),
                result=result,
                error=text,
            )
        except DurableError as exc:
            return RunOutcome(lease.run_id, stop_status(exc), error=error_dict(exc))
        value = json.loads(result) if result is not None else None
        return RunOutcome(lease.run_id, status, value, error, None, new_steps, replayed)

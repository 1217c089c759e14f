"""The runs API of the engine: registering workflows, and what callers do to runs (start, get,
list, cancel, send an event, read the progress log, find the due ones). Driving a run is
``Engine.resume`` (``relaykit.durable.engine``), the subclass that adds the execution loop."""

from __future__ import annotations

import asyncio
import builtins
import uuid
from collections.abc import Callable
from typing import Any

from relaykit.durable import codec
from relaykit.durable.continuation import Continuation
from relaykit.durable.deadline import Clock
from relaykit.durable.spec import Workflow, WorkflowSpec, workflow_spec
from relaykit.durable.store import Progress, RunPage, RunRecord, Store
from relaykit.durable.view import RunView, run_view
from relaykit.errors import DurableError, RunNotFound, UnknownWorkflow


class RunsAPI:
    """Workflow registry and runs API over ``store``; ``Engine`` builds it (see its
    constructor for the attributes)."""

    store: Store
    clock: Clock
    continuation: Continuation
    _workflows: dict[str, WorkflowSpec]

    # Registry -----------------------------------------------------------------------------

    def register(self, name: str, fn: Workflow) -> WorkflowSpec:
        """Make ``fn`` resumable under ``name`` (runs store only the name)."""
        spec = workflow_spec(name, fn)
        existing = self._workflows.get(name)
        if existing is not None and existing.fn is not fn:
            raise DurableError(f"workflow {name!r} is already registered to {existing.fn!r}")
        self._workflows[name] = spec
        return spec

    def workflow(self, name: str) -> WorkflowSpec:
        spec = self._workflows.get(name)
        if spec is None:
            known = ", ".join(sorted(self._workflows)) or "none"
            raise UnknownWorkflow(f"no workflow {name!r} is registered (registered: {known})")
        return spec

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.store.blocking:
            return await asyncio.to_thread(lambda: fn(*args, **kwargs))
        return fn(*args, **kwargs)

    # Runs API -----------------------------------------------------------------------------

    async def start(
        self,
        workflow: str,
        fn: Workflow | None = None,
        input: Any = None,
        *,
        idempotency_key: str | None = None,
        run_id: str | None = None,
        schedule: bool = True,
    ) -> str:
        """Create a run (or find the one with this idempotency key) and schedule it."""
        spec = self.register(workflow, fn) if fn is not None else self.workflow(workflow)
        text = codec.encode(input, spec.input_type)
        run, created = await self._call(
            self.store.create_run,
            run_id or uuid.uuid4().hex,
            workflow,
            text,
            now=self.clock.now(),
            idempotency_key=idempotency_key,
        )
        if created and schedule:
            self.continuation.schedule(run.run_id)
        return str(run.run_id)

    async def get(self, run_id: str) -> RunView:
        """Status, result or error, the step history and the invocations of a run."""
        loaded = await self._call(self.store.load, run_id)
        if loaded is None:
            raise RunNotFound(f"no run {run_id!r}")
        run, steps = loaded
        entries: builtins.list[Progress] = []
        while True:  # the progress log, for the invocations (a page per 1,000 entries)
            after = entries[-1].id if entries else 0
            page = await self._call(self.store.progress, run_id, after_id=after, limit=1000)
            entries += page
            if len(page) < 1000:
                return run_view(run, steps, entries)

    async def list(
        self,
        *,
        workflow: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunPage:
        page: RunPage = await self._call(
            self.store.list_runs, workflow=workflow, status=status, limit=limit, cursor=cursor
        )
        return page

    async def cancel(self, run_id: str) -> RunRecord:
        """Cancel now if nobody executes the run, else at its next step boundary."""
        run: RunRecord = await self._call(self.store.request_cancel, run_id, now=self.clock.now())
        return run

    async def send_event(self, run_id: str, name: str, payload: Any = None) -> int:
        """Deliver an event to a run and wake it; returns the event's index for that name."""
        index: int = await self._call(
            self.store.deliver_event, run_id, name, codec.encode(payload), now=self.clock.now()
        )
        self.continuation.schedule(run_id)
        return index

    async def progress(
        self, run_id: str, after_id: int = 0, limit: int = 1000
    ) -> builtins.list[Progress]:
        """Progress entries after ``after_id`` (the SSE stream's ``Last-Event-ID``)."""
        entries: builtins.list[Progress] = await self._call(
            self.store.progress, run_id, after_id=after_id, limit=limit
        )
        return entries

    async def due_runs(self, *, limit: int = 100) -> builtins.list[str]:
        """Ids of unfinished runs that need an executor now (timers due, never started, or
        abandoned by a dead executor)."""
        due: builtins.list[str] = await self._call(
            self.store.due_runs, now=self.clock.now(), limit=limit
        )
        return due

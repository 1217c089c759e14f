"""The store seam: the records the engine keeps and the small protocol every store implements.

One run is one ``RunRecord`` plus its ``StepRecord`` log, its delivered events and a progress log.
Values are JSON text (see ``codec``); stores never interpret them.

Fencing: ``acquire`` hands one executor a ``Lease`` and bumps the run's ``version``. Every write an
executor makes afterwards (``commit_step``, ``start_step``, ``suspend``, ``finish``, ``renew``) is a
conditional write on that version, so an executor whose lease was taken over gets ``LeaseLost``
and must stop. Writes from outside (``deliver_event``, ``request_cancel``) never bump the version;
they bump ``event_seq`` or set ``cancel_requested``, which the executor's writes check.

Every executor write also appends one entry to the run's progress log (ids increase by one per
run; the lease carries the counter), inside the same transaction: one store write per step.
``append_progress`` adds an entry on its own (a batch of model tokens from ``ctx.llm_step``),
fenced like the other executor writes, so ids stay gap-free and increasing across invocations.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

RunStatus = Literal["pending", "running", "suspended", "completed", "failed", "cancelled"]
StepStatus = Literal["running", "waiting", "completed", "failed"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
SuspendResult = Literal["suspended", "event", "cancelled"]
CommitResult = Literal["committed", "cancelled"]


@dataclass(frozen=True)
class RunRecord:
    """A run as stored."""

    run_id: str
    workflow: str
    status: RunStatus
    input: str
    created_at: float
    updated_at: float
    version: int = 0
    result: str | None = None
    error: str | None = None
    idempotency_key: str | None = None
    lease_owner: str | None = None
    lease_expires: float = 0.0
    due_at: float | None = None
    """When the run next needs an executor (``None``: only an event or a cancel wakes it)."""
    interrupts: int = 0
    """How many times an executor died holding this run (found by lease expiry)."""
    cancel_requested: bool = False
    event_seq: int = 0
    progress_seq: int = 0
    owner: str | None = None
    """Who started the run (``Principal.owner``, such as ``api-key:alice``); ``None`` when it was
    started without authentication. Not the executor holding the lease (``lease_owner``)."""

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class StepRecord:
    """One entry of a run's step log, keyed by its position id (``"3"``, ``"4.1.0"``...)."""

    step_id: str
    name: str
    status: StepStatus
    value: str | None = None
    """JSON text of the result (completed), or of the wake-up time (waiting)."""
    error: str | None = None
    attempts: int = 1
    started_at: float = 0.0
    duration: float | None = None
    wake_at: float | None = None
    commit_seq: int = 0
    usage: str | None = None
    """JSON text of the model usage of the step (tokens, cost), for ``ctx.llm_step`` steps."""


@dataclass
class Lease:
    """Proof that this executor holds a run: the version it acquired and its progress counter."""

    run_id: str
    owner: str
    version: int
    progress_seq: int
    event_seq: int

    def next_progress(self) -> int:
        self.progress_seq += 1
        return self.progress_seq


@dataclass(frozen=True)
class Progress:
    """One progress entry: ``kind`` is ``started``, ``step``, ``suspended``, ``completed``..."""

    id: int
    kind: str
    data: str
    at: float


@dataclass(frozen=True)
class Acquired:
    """The result of ``acquire``: ``lease`` is set only when this executor now holds the run.

    ``reason`` explains a refusal: ``missing``, ``finished``, ``busy`` (another live executor)
    or ``not_due`` (a timer has not fired yet); the run and its steps are returned whenever known.
    """

    run: RunRecord | None
    steps: tuple[StepRecord, ...] = ()
    lease: Lease | None = None
    reason: str = ""
    interrupted: bool = False
    """True when the previous executor died holding the run (its lease expired)."""


@dataclass(frozen=True)
class RunPage:
    """One page of ``list_runs``; pass ``cursor`` back for the next page."""

    runs: tuple[RunRecord, ...]
    cursor: str | None = None


@dataclass
class StoreStats:
    """Round trips made to the backing store (for tests and benchmarks)."""

    reads: int = 0
    writes: int = 0
    extra: dict[str, int] = field(default_factory=dict)


def step_progress(step: StepRecord) -> dict[str, Any]:
    """The data of the ``step`` progress entry a commit of ``step`` appends (every store)."""
    data: dict[str, Any] = {
        "step_id": step.step_id,
        "name": step.name,
        "status": step.status,
        "attempts": step.attempts,
    }
    if step.duration is not None:
        data["duration"] = round(step.duration, 6)
    if step.wake_at is not None:
        data["wake_at"] = step.wake_at
    if step.usage is not None:
        data["usage"] = json.loads(step.usage)
    return data


def suspend_note(due_at: float | None, reason: str) -> dict[str, Any]:
    """The data of the ``suspended`` progress entry: when the run is due, and why it yielded."""
    return {"due_at": due_at, "reason": reason} if reason else {"due_at": due_at}


@runtime_checkable
class Store(Protocol):
    """What the engine needs from a store. Methods are synchronous; see ``blocking``."""

    blocking: bool
    """True when calls do network I/O: the engine then runs them in a worker thread."""
    stats: StoreStats

    def create_run(
        self,
        run_id: str,
        workflow: str,
        input: str,
        *,
        now: float,
        idempotency_key: str | None = None,
        owner: str | None = None,
    ) -> tuple[RunRecord, bool]:
        """Create a pending run, or return the one already created with this idempotency key.

        The boolean says whether a new run was created. ``owner`` is recorded on the run.
        """
        ...

    def acquire(self, run_id: str, owner: str, *, now: float, lease_seconds: float) -> Acquired:
        """Take the run's lease (bumping its version) and load its steps: 1 query plus pages."""
        ...

    def load(self, run_id: str) -> tuple[RunRecord, tuple[StepRecord, ...]] | None:
        """The run and its step log (in commit order), without taking the lease."""
        ...

    def commit_step(
        self, lease: Lease, step: StepRecord, *, now: float, lease_seconds: float
    ) -> CommitResult:
        """Record a step's outcome and renew the lease, atomically, if ``lease`` still holds.

        Raises ``LeaseLost`` when another executor took over. Returns ``cancelled`` (and commits
        nothing) when a cancel was requested. A step already completed or failed is never
        overwritten (a ``StoreError`` says so).
        """
        ...

    def finish(
        self,
        lease: Lease,
        status: RunStatus,
        *,
        now: float,
        result: str | None = None,
        error: str | None = None,
    ) -> None:
        """End the run (completed, failed or cancelled) and release the lease."""
        ...

    def suspend(
        self, lease: Lease, *, now: float, due_at: float | None, reason: str = ""
    ) -> SuspendResult:
        """Release the lease, leaving the run suspended until ``due_at`` (or an event);
        ``reason`` (why the executor yielded) goes into the ``suspended`` progress entry.

        Returns ``event`` (and keeps the lease) if an event arrived since the lease was taken,
        ``cancelled`` if a cancel was requested.
        """
        ...

    def renew(self, lease: Lease, *, now: float, lease_seconds: float) -> None:
        """Extend the lease (raises ``LeaseLost`` if it is gone)."""
        ...

    def append_progress(
        self, lease: Lease, kind: str, data: Mapping[str, Any], *, now: float
    ) -> int:
        """Append one progress entry (``data`` as JSON) if ``lease`` still holds; return its id.

        Raises ``LeaseLost`` when another executor took over. Does not renew the lease.
        """
        ...

    def request_cancel(self, run_id: str, *, now: float) -> RunRecord:
        """Ask a run to stop: a run nobody executes is cancelled at once, a running one at
        its next step boundary. A finished run is returned unchanged."""
        ...

    def deliver_event(self, run_id: str, name: str, payload: str, *, now: float) -> int:
        """Store an event for the run (the n-th of that name gets index n) and make it due."""
        ...

    def get_event(self, run_id: str, name: str, index: int) -> str | None:
        """The payload of the ``index``-th event named ``name``, if delivered."""
        ...

    def due_runs(self, *, now: float, limit: int = 100) -> list[str]:
        """Unfinished runs that need an executor: timers due, never started, or lease expired."""
        ...

    def list_runs(
        self,
        *,
        workflow: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        owner: str | None = None,
    ) -> RunPage:
        """Runs, newest first, filtered by workflow, status and (when given) owner."""
        ...

    def progress(self, run_id: str, *, after_id: int = 0, limit: int = 1000) -> list[Progress]:
        """Progress entries with ``id > after_id``, in id order."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...

"""The embedded store: one SQLite file (WAL), safe for several processes on one machine.

Every write is one ``BEGIN IMMEDIATE`` transaction: the writer takes SQLite's reserved lock first,
then reads the run row, checks the fencing version and writes, so a check and its write can never
interleave with another process. ``busy_timeout`` makes a contended writer wait instead of failing.
``memory://`` is the same store on a private in-memory database (one process, for tests).

Calls are synchronous and the engine makes them on its event loop (``blocking = False``): a WAL
commit with ``synchronous=NORMAL`` takes tens of microseconds, far less than a hop to a worker
thread, and it survives a killed process (only an OS crash can lose the last commits; pass
``synchronous="FULL"`` to trade speed for that too). Contention waits up to ``busy_timeout``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from relaykit.durable.sqlite_reads import SQLiteReads
from relaykit.durable.sqlite_schema import RUN_COLUMNS, STEP_COLUMNS, run_record, step_record
from relaykit.durable.store import (
    TERMINAL,
    Acquired,
    CommitResult,
    Lease,
    RunRecord,
    RunStatus,
    StepRecord,
    SuspendResult,
    step_progress,
    suspend_note,
)
from relaykit.errors import LeaseLost, RunNotFound, StoreError


class SQLiteStore(SQLiteReads):
    """The ``Store`` protocol on SQLite. ``path`` is a file path or ``":memory:"``; the layout and
    transactions are in ``sqlite_schema``, the reads in ``sqlite_reads``."""

    blocking = False

    def _fenced(self, db: sqlite3.Connection, lease: Lease) -> tuple[bool, int]:
        """Check the lease's version; return (cancel requested, event_seq)."""
        row = db.execute(
            "SELECT version, cancel_requested, event_seq FROM runs WHERE run_id = ?",
            (lease.run_id,),
        ).fetchone()
        if row is None or row[0] != lease.version:
            now_held = f"run is at version {row[0]}" if row else "run is gone"
            raise LeaseLost(lease.run_id, lease.version, now_held)
        return bool(row[1]), int(row[2])

    def _progress(
        self, db: sqlite3.Connection, lease: Lease, kind: str, data: Mapping[str, Any], now: float
    ) -> int:
        seq = lease.progress_seq + 1
        db.execute(
            "INSERT INTO progress (run_id, id, kind, data, at) VALUES (?, ?, ?, ?, ?)",
            (lease.run_id, seq, kind, json.dumps(dict(data), separators=(",", ":")), now),
        )
        return seq

    # Runs ---------------------------------------------------------------------------------

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
        with self._write() as db:
            if idempotency_key is not None:
                row = db.execute(
                    f"SELECT {RUN_COLUMNS} FROM runs WHERE idempotency_key = ?",
                    (idempotency_key,),
                ).fetchone()
                if row:
                    return run_record(row), False
            db.execute(
                "INSERT INTO runs (run_id, workflow, status, input, idempotency_key, due_at, "
                "created_at, updated_at, progress_seq, owner) "
                "VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, 1, ?)",
                (run_id, workflow, input, idempotency_key, now, now, now, owner),
            )
            db.execute(
                "INSERT INTO progress (run_id, id, kind, data, at) VALUES (?, 1, 'created', ?, ?)",
                (run_id, json.dumps({"workflow": workflow}), now),
            )
            run = self._get(db, run_id)
        assert run is not None
        return run, True

    def acquire(self, run_id: str, owner: str, *, now: float, lease_seconds: float) -> Acquired:
        with self._write() as db:
            run = self._get(db, run_id)
            if run is None:
                return Acquired(None, reason="missing")
            if run.finished:
                return Acquired(run, reason="finished")
            live = run.lease_owner is not None and run.lease_expires > now
            if live and run.lease_owner != owner:
                return Acquired(run, reason="busy")
            waiting = run.status == "suspended" and not run.cancel_requested
            if waiting and (run.due_at is None or run.due_at > now):
                return Acquired(run, reason="not_due")
            interrupted = run.status == "running" and not live
            expires = now + lease_seconds
            db.execute(
                "UPDATE runs SET status = 'running', lease_owner = ?, lease_expires = ?, "
                "due_at = ?, version = version + 1, interrupts = interrupts + ?, updated_at = ? "
                "WHERE run_id = ?",
                (owner, expires, expires, int(interrupted), now, run_id),
            )
            rows = db.execute(
                f"SELECT {STEP_COLUMNS} FROM steps WHERE run_id = ? ORDER BY commit_seq",
                (run_id,),
            ).fetchall()
            fresh = self._get(db, run_id)
        assert fresh is not None
        lease = Lease(run_id, owner, fresh.version, fresh.progress_seq, fresh.event_seq)
        steps = tuple(step_record(row) for row in rows)
        return Acquired(fresh, steps, lease, interrupted=interrupted)

    def load(self, run_id: str) -> tuple[RunRecord, tuple[StepRecord, ...]] | None:
        with self._read() as db:
            run = self._get(db, run_id)
            if run is None:
                return None
            rows = db.execute(
                f"SELECT {STEP_COLUMNS} FROM steps WHERE run_id = ? ORDER BY commit_seq",
                (run_id,),
            ).fetchall()
        return run, tuple(step_record(row) for row in rows)

    # Executor writes ----------------------------------------------------------------------

    def commit_step(
        self, lease: Lease, step: StepRecord, *, now: float, lease_seconds: float
    ) -> CommitResult:
        with self._write() as db:
            cancel_requested, _ = self._fenced(db, lease)
            if cancel_requested:
                return "cancelled"
            seq = lease.progress_seq + 1
            cursor = db.execute(
                f"INSERT INTO steps (run_id, {STEP_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (run_id, step_id) DO UPDATE SET name = excluded.name, "
                "status = excluded.status, value = excluded.value, error = excluded.error, "
                "attempts = excluded.attempts, started_at = excluded.started_at, "
                "duration = excluded.duration, wake_at = excluded.wake_at, "
                "commit_seq = excluded.commit_seq, usage = excluded.usage "
                "WHERE steps.status IN ('running', 'waiting')",
                (
                    lease.run_id,
                    step.step_id,
                    step.name,
                    step.status,
                    step.value,
                    step.error,
                    step.attempts,
                    step.started_at,
                    step.duration,
                    step.wake_at,
                    seq,
                    step.usage,
                ),
            )
            if cursor.rowcount != 1:
                raise StoreError(
                    f"run {lease.run_id}: step {step.step_id} ({step.name!r}) is already "
                    "committed; a step result is never recorded twice"
                )
            self._progress(db, lease, "step", step_progress(step), now)
            expires = now + lease_seconds
            db.execute(
                "UPDATE runs SET progress_seq = ?, lease_expires = ?, due_at = ?, updated_at = ? "
                "WHERE run_id = ?",
                (seq, expires, expires, now, lease.run_id),
            )
        lease.progress_seq = seq
        return "committed"

    def finish(
        self,
        lease: Lease,
        status: RunStatus,
        *,
        now: float,
        result: str | None = None,
        error: str | None = None,
    ) -> None:
        if status not in TERMINAL:
            raise ValueError(f"finish() needs a terminal status, got {status!r}")
        with self._write() as db:
            self._fenced(db, lease)
            seq = self._progress(db, lease, status, {}, now)
            db.execute(
                "UPDATE runs SET status = ?, result = ?, error = ?, lease_owner = NULL, "
                "lease_expires = 0, due_at = NULL, progress_seq = ?, updated_at = ? "
                "WHERE run_id = ?",
                (status, result, error, seq, now, lease.run_id),
            )
        lease.progress_seq = seq

    def suspend(
        self, lease: Lease, *, now: float, due_at: float | None, reason: str = ""
    ) -> SuspendResult:
        with self._write() as db:
            cancel_requested, event_seq = self._fenced(db, lease)
            if cancel_requested:
                return "cancelled"
            if event_seq != lease.event_seq:
                lease.event_seq = event_seq
                return "event"
            note = suspend_note(due_at, reason)
            seq = self._progress(db, lease, "suspended", note, now)
            db.execute(
                "UPDATE runs SET status = 'suspended', lease_owner = NULL, lease_expires = 0, "
                "due_at = ?, progress_seq = ?, updated_at = ? WHERE run_id = ?",
                (due_at, seq, now, lease.run_id),
            )
        lease.progress_seq = seq
        return "suspended"

    def renew(self, lease: Lease, *, now: float, lease_seconds: float) -> None:
        with self._write() as db:
            self._fenced(db, lease)
            expires = now + lease_seconds
            db.execute(
                "UPDATE runs SET lease_expires = ?, due_at = ? WHERE run_id = ?",
                (expires, expires, lease.run_id),
            )

    def append_progress(
        self, lease: Lease, kind: str, data: Mapping[str, Any], *, now: float
    ) -> int:
        with self._write() as db:
            self._fenced(db, lease)
            seq = self._progress(db, lease, kind, data, now)
            db.execute("UPDATE runs SET progress_seq = ? WHERE run_id = ?", (seq, lease.run_id))
        lease.progress_seq = seq
        return seq

    # Writes from outside ------------------------------------------------------------------

    def request_cancel(self, run_id: str, *, now: float) -> RunRecord:
        with self._write() as db:
            run = self._get(db, run_id)
            if run is None:
                raise RunNotFound(f"no run {run_id!r}")
            if run.finished:
                return run
            if run.lease_owner is not None and run.lease_expires > now:
                db.execute(
                    "UPDATE runs SET cancel_requested = 1, updated_at = ? WHERE run_id = ?",
                    (now, run_id),
                )
            else:
                # Nobody executes it: cancel now, and bump the version to fence any zombie.
                seq = run.progress_seq + 1
                db.execute(
                    "INSERT INTO progress (run_id, id, kind, data, at) "
                    "VALUES (?, ?, 'cancelled', '{}', ?)",
                    (run_id, seq, now),
                )
                db.execute(
                    "UPDATE runs SET status = 'cancelled', cancel_requested = 1, "
                    "version = version + 1, lease_owner = NULL, lease_expires = 0, "
                    "due_at = NULL, progress_seq = ?, updated_at = ? WHERE run_id = ?",
                    (seq, now, run_id),
                )
            fresh = self._get(db, run_id)
        assert fresh is not None
        return fresh

    def deliver_event(self, run_id: str, name: str, payload: str, *, now: float) -> int:
        with self._write() as db:
            run = self._get(db, run_id)
            if run is None:
                raise RunNotFound(f"no run {run_id!r}")
            (index,) = db.execute(
                "SELECT COUNT(*) FROM events WHERE run_id = ? AND name = ?", (run_id, name)
            ).fetchone()
            db.execute(
                "INSERT INTO events (run_id, name, idx, payload, at) VALUES (?, ?, ?, ?, ?)",
                (run_id, name, index, payload, now),
            )
            db.execute(
                "UPDATE runs SET event_seq = event_seq + 1, updated_at = ?, due_at = CASE "
                "WHEN status = 'suspended' THEN ? ELSE due_at END WHERE run_id = ?",
                (now, now, run_id),
            )
        return int(index)


__all__ = ["SQLiteStore"]

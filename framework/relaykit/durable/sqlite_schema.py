"""The SQLite store's layout and connection: the schema (and the migrations of databases made
by older versions), the row converters, and the two kinds of transaction every call runs in.

A write is one ``BEGIN IMMEDIATE`` transaction (SQLite's reserved lock first, so a check and its
write never interleave with another process); a read is one deferred ``BEGIN``. ``busy_timeout``
makes a contended writer wait instead of failing; ``synchronous`` is SQLite's setting (``NORMAL``
survives a killed process, ``FULL`` also an OS crash).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from relaykit.durable.store import RunRecord, StepRecord, StoreStats
from relaykit.errors import StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, workflow TEXT NOT NULL, status TEXT NOT NULL, input TEXT NOT NULL,
    result TEXT, error TEXT, idempotency_key TEXT UNIQUE, version INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT, lease_expires REAL NOT NULL DEFAULT 0, due_at REAL,
    interrupts INTEGER NOT NULL DEFAULT 0, cancel_requested INTEGER NOT NULL DEFAULT 0,
    event_seq INTEGER NOT NULL DEFAULT 0, progress_seq INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL, updated_at REAL NOT NULL, owner TEXT
);
CREATE INDEX IF NOT EXISTS runs_due ON runs (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS runs_created ON runs (created_at DESC, run_id DESC);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL, step_id TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
    value TEXT, error TEXT, attempts INTEGER NOT NULL, started_at REAL NOT NULL, duration REAL,
    wake_at REAL, commit_seq INTEGER NOT NULL, usage TEXT, PRIMARY KEY (run_id, step_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL, name TEXT NOT NULL, idx INTEGER NOT NULL, payload TEXT NOT NULL,
    at REAL NOT NULL, PRIMARY KEY (run_id, name, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS progress (
    run_id TEXT NOT NULL, id INTEGER NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL,
    at REAL NOT NULL, PRIMARY KEY (run_id, id)
) WITHOUT ROWID;
"""
RUN_COLUMNS = (
    "run_id, workflow, status, input, created_at, updated_at, version, result, error, "
    "idempotency_key, lease_owner, lease_expires, due_at, interrupts, cancel_requested, "
    "event_seq, progress_seq, owner"
)
STEP_COLUMNS = (
    "step_id, name, status, value, error, attempts, started_at, duration, wake_at, commit_seq, "
    "usage"
)


def run_record(row: Any) -> RunRecord:
    values = list(row)
    values[14] = bool(values[14])
    return RunRecord(*values)


def step_record(row: Any) -> StepRecord:
    return StepRecord(*row)


class SQLiteBase:
    """A SQLite connection holding the store's schema, with its transactions (the base of
    ``SQLiteStore``). ``path`` is a file path or ``":memory:"``."""

    def __init__(
        self, path: str | Path, *, busy_timeout: float = 10.0, synchronous: str = "NORMAL"
    ) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.stats = StoreStats()
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute(f"PRAGMA synchronous = {synchronous}")
        with self._lock:
            self._db.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(steps)")}
            if "usage" not in columns:  # a database made before steps recorded model usage
                self._db.execute("ALTER TABLE steps ADD COLUMN usage TEXT")
            if "owner" not in {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}:
                self._db.execute("ALTER TABLE runs ADD COLUMN owner TEXT")  # before run owners
            self._db.execute(
                "CREATE INDEX IF NOT EXISTS runs_owner ON runs (owner, created_at DESC, run_id "
                "DESC) WHERE owner IS NOT NULL"
            )

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite store {self.path}: cannot start a write: {exc}") from exc
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise StoreError(f"SQLite store {self.path}: commit failed: {exc}") from exc
            self.stats.writes += 1

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("COMMIT")
            self.stats.reads += 1

    def _get(self, db: sqlite3.Connection, run_id: str) -> RunRecord | None:
        row = db.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return run_record(row) if row else None

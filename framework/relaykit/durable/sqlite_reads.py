"""The SQLite store's reads outside an execution: an event's payload, the runs due for an
executor, a page of runs, and the progress log (the stream a client follows)."""

from __future__ import annotations

from relaykit.durable.sqlite_schema import RUN_COLUMNS, SQLiteBase, run_record
from relaykit.durable.store import Progress, RunPage


class SQLiteReads(SQLiteBase):
    """The reads of ``SQLiteStore`` (each one deferred transaction)."""

    def get_event(self, run_id: str, name: str, index: int) -> str | None:
        with self._read() as db:
            row = db.execute(
                "SELECT payload FROM events WHERE run_id = ? AND name = ? AND idx = ?",
                (run_id, name, index),
            ).fetchone()
        return str(row[0]) if row else None

    def due_runs(self, *, now: float, limit: int = 100) -> list[str]:
        with self._read() as db:
            rows = db.execute(
                "SELECT run_id FROM runs WHERE due_at IS NOT NULL AND due_at <= ? "
                "ORDER BY due_at LIMIT ?",
                (now, limit),
            ).fetchall()
        return [str(row[0]) for row in rows]

    def list_runs(
        self,
        *,
        workflow: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        owner: str | None = None,
    ) -> RunPage:
        where: list[str] = ["1 = 1"]
        args: list[str | float] = []
        if owner is not None:
            where.append("owner = ?")
            args.append(owner)
        if workflow is not None:
            where.append("workflow = ?")
            args.append(workflow)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if cursor:
            created, last_id = _parse_cursor(cursor)
            where.append("(created_at < ? OR (created_at = ? AND run_id < ?))")
            args += [created, created, last_id]
        with self._read() as db:
            rows = db.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE {' AND '.join(where)} "
                "ORDER BY created_at DESC, run_id DESC LIMIT ?",
                (*args, limit + 1),
            ).fetchall()
        runs = tuple(run_record(row) for row in rows[:limit])
        more = len(rows) > limit
        next_cursor = f"{runs[-1].created_at!r}|{runs[-1].run_id}" if more and runs else None
        return RunPage(runs, next_cursor)

    def progress(self, run_id: str, *, after_id: int = 0, limit: int = 1000) -> list[Progress]:
        with self._read() as db:
            rows = db.execute(
                "SELECT id, kind, data, at FROM progress WHERE run_id = ? AND id > ? "
                "ORDER BY id LIMIT ?",
                (run_id, after_id, limit),
            ).fetchall()
        return [Progress(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _parse_cursor(cursor: str) -> tuple[float, str]:
    """``created_at|run_id`` as ``list_runs`` returned it; ``ValueError`` for anything else."""
    created, sep, last_id = cursor.partition("|")
    try:
        when = float(created)
    except ValueError:
        when = float("nan")
    if not sep or when != when or not last_id or len(last_id) > 128 or "|" in last_id:
        raise ValueError("the cursor is not one a page of runs returned")
    return when, last_id

"""The local measurements store: a SQLite file written in batches by a background thread.

The recorder hands over lists of measurements (see ``relaykit.measure.Recorder``); one daemon
thread per recorder takes whatever lists have queued up (up to ``BATCH`` of them at a time) and
writes them in one transaction. ``flush`` waits until the queue is empty and written; the
recorder also flushes at interpreter exit. ``read_measurements`` is what ``relaykit advise``
reads.
"""

from __future__ import annotations

import atexit
import os
import queue
import sqlite3
import threading
from collections.abc import Iterable
from typing import Any

from relaykit.measure import Measurement

BATCH = 500
_COLUMNS = Measurement._fields
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS measurements (
    id INTEGER PRIMARY KEY AUTOINCREMENT, {", ".join(_COLUMNS)}
);
CREATE INDEX IF NOT EXISTS measurements_handler ON measurements (handler, at);
"""
_INSERT = (
    f"INSERT INTO measurements ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"
)


def connect(path: str) -> sqlite3.Connection:
    """Open (and create) the measurements database at ``path``."""
    if path != ":memory:":
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
    connection = sqlite3.connect(path, timeout=10.0, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.executescript(_SCHEMA)
    return connection


def write_measurements(connection: sqlite3.Connection, items: Iterable[Measurement]) -> int:
    """Insert ``items`` in one transaction; return how many."""
    rows = [tuple(item) for item in items]
    with connection:
        connection.executemany(_INSERT, rows)
    return len(rows)


def read_measurements(path: str, handler: str | None = None) -> list[Measurement]:
    """Every measurement in the file at ``path`` (of ``handler`` only, when given), oldest first."""
    if not os.path.exists(path):
        return []
    connection = connect(path)
    try:
        sql = f"SELECT {', '.join(_COLUMNS)} FROM measurements"
        args: tuple[str, ...] = ()
        if handler is not None:
            sql += " WHERE handler = ?"
            args = (handler,)
        rows = connection.execute(sql + " ORDER BY at, id", args).fetchall()
    finally:
        connection.close()
    bools = {"cpu_exact", "streamed", "error"}
    result = []
    for row in rows:
        values: dict[str, Any] = dict(zip(_COLUMNS, row, strict=True))
        for name in bools:
            values[name] = bool(values[name])
        result.append(Measurement(**values))
    return result


class BackgroundWriter:
    """Takes measurements on any thread; writes them in batches on its own thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._queue: queue.Queue[list[Measurement] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="relaykit-measure", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def put(self, batch: list[Measurement]) -> None:
        self._queue.put_nowait(batch)

    def flush(self) -> None:
        """Block until everything put so far is written."""
        if self._thread.is_alive():
            self._queue.join()

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        atexit.unregister(self.close)
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=10.0)

    def _run(self) -> None:
        connection = connect(self.path)
        try:
            while True:
                first = self._queue.get()
                batch = [first]
                while len(batch) < BATCH:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                items = [m for part in batch if part is not None for m in part]
                try:
                    if items:
                        write_measurements(connection, items)
                except sqlite3.Error:  # a full disk must not take the app down
                    pass
                finally:
                    for _ in batch:
                        self._queue.task_done()
                if any(part is None for part in batch):
                    return
        finally:
            connection.close()

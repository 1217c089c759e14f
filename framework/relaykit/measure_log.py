"""Measurement log lines written off the request path, for a server handling many requests.

In ``log`` mode a container (``relaykit serve``, the worker) hands each measurement to a
``LineWriter``: appending to a deque is all the request path pays. A daemon thread wakes every
``INTERVAL_S``, formats what has queued up and writes it to stdout in one call. Formatting a
batch in a tight loop costs a fraction of formatting one line between two requests (the
formatter's code and data stay in the CPU caches), and the request never waits on stdout.

A line is written at most ``INTERVAL_S`` after its measurement; ``flush`` writes what is queued
now, and ``close`` (registered at interpreter exit) writes the rest and stops the thread. On
Lambda lines are never deferred past their invocation (``relaykit.measure.Recorder.emit``).
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from relaykit.measure import Measurement


class LineWriter:
    """Queues measurements on any thread; formats and writes them in batches on its own."""

    INTERVAL_S = 0.25

    def __init__(self, line: Callable[[Measurement], str], write: Callable[[str], None]) -> None:
        self._line = line
        self._write = write
        self._queue: deque[Measurement] = deque()
        self.put: Callable[[Measurement], None] = self._queue.append
        """Queue a measurement (the deque's ``append``: atomic, and no Python call on the
        request path); the thread picks it up."""
        self._lock = threading.Lock()  # one drain at a time keeps lines in order
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="relaykit-measure-log", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def flush(self) -> None:
        """Write everything queued so far, now, in the calling thread."""
        self._drain()

    def close(self) -> None:
        """Stop the thread, then write what is left."""
        atexit.unregister(self.close)
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10.0)
        self._drain()

    def _run(self) -> None:
        while not self._stop.wait(self.INTERVAL_S):
            self._drain()

    def _drain(self) -> None:
        with self._lock:
            queue, line = self._queue, self._line
            lines: list[str] = []
            while queue:
                lines.append(line(queue.popleft()))
            if not lines:
                return
            with contextlib.suppress(OSError, ValueError):  # a closed stdout must not kill it
                self._write("\n".join(lines))

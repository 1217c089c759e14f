"""Continuations: how a suspended or split run gets an executor again.

A continuation carries ids only, never values: ``schedule(run_id, not_before=...)``. Whatever
delivers it calls ``Engine.resume(run_id)``; delivering one twice is harmless (the second finds
the run busy, finished or not yet due). In a container the in-process implementation below runs
the resume on the event loop; on Lambda an async self-invoke or an SQS message does (they live
with the Lambda target and only need to implement ``Continuation``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

Resume = Callable[[str], Awaitable[Any]]


@runtime_checkable
class Continuation(Protocol):
    """Arrange for ``Engine.resume(run_id)`` to be called, not before ``not_before`` (epoch s)."""

    def schedule(self, run_id: str, *, not_before: float | None = None) -> None: ...


class InProcessContinuation:
    """Resumes runs as tasks on the running event loop (the container target).

    ``bind`` gives it the resume function (``Engine`` does this for you). Pending wake-ups live in
    memory only: after a restart, ``Engine.sweep`` finds due runs in the store again.
    """

    def __init__(self, resume: Resume | None = None, *, now: Callable[[], float] = time.time):
        self._resume = resume
        self._now = now
        self._handles: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def bind(self, resume: Resume) -> None:
        self._resume = resume

    def schedule(self, run_id: str, *, not_before: float | None = None) -> None:
        if self._resume is None:
            raise RuntimeError("InProcessContinuation is not bound to an engine (call bind)")
        loop = asyncio.get_running_loop()
        delay = 0.0 if not_before is None else max(0.0, not_before - self._now())
        previous = self._handles.pop(run_id, None)
        if previous is not None:
            previous.cancel()
        self._handles[run_id] = loop.call_later(delay, self._start, run_id)

    def _start(self, run_id: str) -> None:
        self._handles.pop(run_id, None)
        assert self._resume is not None
        task = asyncio.ensure_future(self._resume(run_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def pending(self) -> int:
        """Wake-ups scheduled plus resumes running."""
        return len(self._handles) + len(self._tasks)

    async def drain(self, *, max_delay: float = 0.0) -> None:
        """Wait until no resume is running and none is due within ``max_delay`` seconds."""
        while True:
            soon = [h for h in self._handles.values() if h.when() - _loop_time() <= max_delay]
            if not self._tasks and not soon:
                return
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            else:
                await asyncio.sleep(0.001)

    def close(self) -> None:
        """Forget scheduled wake-ups (running resumes finish on their own)."""
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()


def _loop_time() -> float:
    return asyncio.get_running_loop().time()

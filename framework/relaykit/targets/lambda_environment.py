"""What a Lambda handler keeps for as long as its execution environment lives.

Both Lambda handlers (``LambdaHandler`` for a relaykit app, ``AsgiLambdaHandler`` for any ASGI
application) own one event loop that every invocation runs on, shut down on SIGTERM or at
interpreter exit, and close the same way: their own ``aclose`` (lifespan shutdown, shutdown
hooks), then whatever is still pending on the loop, then the loop. ``LambdaEnvironment`` is that
shared part. Standard library only: the lean ASGI path imports it on every cold start.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import signal
import sys
import threading
import time
from collections.abc import Coroutine
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")
logger = logging.getLogger("relaykit.lambda")


class LambdaEnvironment:
    """The environment's event loop, its SIGTERM and exit hooks, and its close."""

    _loop: asyncio.AbstractEventLoop | None = None
    _previous_sigterm: Any = None
    _sigterm_hooked = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The environment's event loop, created on first use and kept until ``close``."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the environment's loop (the Lambda runtime calls us outside any loop)."""
        return self.loop.run_until_complete(work)

    async def aclose(self) -> None:
        """What closing the environment runs on its loop (subclasses: lifespan, hooks)."""

    def _hook_exit(self, on_lambda: bool) -> None:
        """Close at interpreter exit; on Lambda, on SIGTERM too (once per handler: installing it
        again would make the handler chain to itself)."""
        atexit.register(self.close)
        if self._sigterm_hooked or not on_lambda:
            return
        # Lambda sends SIGTERM before it shuts an environment down (when an extension is
        # registered); Python's default action would exit without running shutdown hooks.
        if threading.current_thread() is threading.main_thread():
            self._previous_sigterm = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, self._on_sigterm)
            self._sigterm_hooked = True

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        logger.info("SIGTERM: shutting down")
        self.close()
        previous = self._previous_sigterm
        if callable(previous):
            previous(signum, frame)
        else:
            sys.exit(0)

    def close(self) -> bool:
        """Shut the environment down: ``aclose``, what is still pending, the loop. False when
        there was nothing to close (no loop yet, or called from inside it)."""
        loop = self._loop
        if loop is None or loop.is_closed() or loop.is_running():
            return False
        atexit.unregister(self.close)
        try:
            loop.run_until_complete(self._close_on(loop))  # one turn of the loop: cheap at exit
        finally:
            loop.close()
            self._loop = None
        return True

    async def _close_on(self, loop: asyncio.AbstractEventLoop) -> None:
        """``aclose``, then cancel what is still pending and close the async generators."""
        try:
            await self.aclose()
        finally:
            current = asyncio.current_task()
            pending = [task for task in asyncio.all_tasks(loop) if task is not current]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await loop.shutdown_asyncgens()


def ms_since(began: float) -> float:
    """Milliseconds since ``began`` (a ``time.perf_counter()`` reading)."""
    return (time.perf_counter() - began) * 1000.0

"""What a Lambda handler keeps for as long as its execution environment lives.

Both Lambda handlers (``LambdaHandler`` for a relaykit app, ``AsgiLambdaHandler`` for any ASGI
application) own one event loop that every invocation runs on, shut down on SIGTERM or at
interpreter exit, and close the same way: their own ``aclose`` (lifespan shutdown, shutdown
hooks), then whatever is still pending on the loop, then the loop. ``LambdaEnvironment`` is that
shared part.

``Lifespan`` runs an ASGI application's lifespan once per environment, on that loop. Mangum 0.22
enters the lifespan on every invocation (Kludex/mangum#342): startup and shutdown run around each
event, and anything built at startup is thrown away. The Lambda targets instead run the ASGI
lifespan protocol themselves: ``startup`` once per execution environment, on the one event loop
that serves every invocation, and ``shutdown`` when the environment goes away. The lifespan
``state`` dict is copied into each request's scope, as uvicorn does.

Standard library only, and one module: the lean ASGI path imports it on every cold start.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # only type checkers read these (each costs at import)
    T = TypeVar("T")
    Message = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[Message], Awaitable[None]]
    ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

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


class Lifespan:
    """The lifespan of one ASGI app: ``startup`` and ``shutdown`` are awaited on the same loop."""

    def __init__(self, asgi: ASGIApp) -> None:
        self.asgi = asgi
        self.state: dict[str, Any] = {}
        self.supported = True
        self._inbox: asyncio.Queue[Message] | None = None
        self._outbox: asyncio.Queue[Message] | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def startup(self) -> None:
        """Send ``lifespan.startup`` and wait for the answer; ``StartupError`` if it failed."""
        if self._task is not None:
            return
        self._inbox, self._outbox = asyncio.Queue(), asyncio.Queue()
        self._inbox.put_nowait({"type": "lifespan.startup"})
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        self._task = asyncio.get_running_loop().create_task(self._main(scope))
        answer = await self._outbox.get()
        if answer["type"] == "lifespan.startup.failed":
            from relaykit.errors import StartupError

            raise StartupError(f"the app's startup failed: {answer.get('message') or 'no message'}")
        if answer["type"] == "relaykit.unsupported":
            self.supported = False

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` and wait for the app to finish it (once)."""
        task, inbox, outbox = self._task, self._inbox, self._outbox
        if task is None or inbox is None or outbox is None or task.done():
            return
        inbox.put_nowait({"type": "lifespan.shutdown"})
        answer = await outbox.get()
        await task
        if answer["type"] == "lifespan.shutdown.failed":
            message = answer.get("message") or "no message"
            from relaykit.errors import StartupError

            raise StartupError(f"the app's shutdown failed: {message}")

    async def _main(self, scope: MutableMapping[str, Any]) -> None:
        assert self._inbox is not None and self._outbox is not None
        inbox, outbox = self._inbox, self._outbox
        try:
            await self.asgi(scope, inbox.get, outbox.put)
        except Exception as exc:
            # An app that raises on the lifespan scope does not support it (ASGI spec); a
            # failure after startup began was already reported by lifespan.startup.failed.
            outbox.put_nowait({"type": "relaykit.unsupported", "message": str(exc)})


def ms_since(began: float) -> float:
    """Milliseconds since ``began`` (a ``time.perf_counter()`` reading)."""
    return (time.perf_counter() - began) * 1000.0

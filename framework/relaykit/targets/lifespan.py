"""Runs an ASGI application's lifespan once, on an event loop that the caller keeps.

Mangum 0.22 enters the lifespan on every invocation (Kludex/mangum#342): startup and shutdown
run around each event, and anything built at startup is thrown away. The Lambda target instead
runs the ASGI lifespan protocol itself: ``startup`` once per execution environment, on the one
event loop that serves every invocation, and ``shutdown`` when the environment goes away. The
lifespan ``state`` dict is copied into each request's scope, as uvicorn does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


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

"""A value fetched from elsewhere (API keys from AWS, a JWKS over HTTPS), kept for a while.

The fetch is synchronous (boto3, urllib) and runs in a worker thread, never on the event loop.
Concurrent callers on one loop share one fetch. When a refresh fails and an older value is at
hand, that value stays in use and the refresh is tried again after ``retry_seconds`` (the
failure is logged); with no value at all the failure is ``AuthUnavailable``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from relaykit.auth.types import AuthUnavailable

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")
logger = logging.getLogger("relaykit.auth")


class Cached(Generic[T]):
    """``fetch()`` in a thread, its result kept for ``max_age`` seconds; ``what`` names it in
    errors and logs (a secret's name, a URL: never the value)."""

    def __init__(
        self,
        fetch: Callable[[], T],
        *,
        what: str,
        max_age: float,
        retry_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.what = what
        self.max_age = max_age
        self.retry_seconds = retry_seconds
        self._clock = clock
        self._value: T | None = None
        self._expires = 0.0
        self.fetched_at: float | None = None
        self._inflight: asyncio.Task[T] | None = None

    async def get(self) -> T:
        """The value, fetched again once it is older than ``max_age``."""
        if self._value is not None and self._clock() < self._expires:
            return self._value
        return await self._refresh()

    async def refresh(self, min_interval: float) -> T:
        """Fetch again now unless the last fetch is younger than ``min_interval`` seconds (an
        unknown key id may mean a rotation; the interval bounds what a caller can make us do)."""
        last = self.fetched_at
        if self._value is not None and last is not None and self._clock() - last < min_interval:
            return self._value
        return await self._refresh()

    async def _refresh(self) -> T:
        import asyncio  # here: building an authenticator must not load the event loop machinery

        loop = asyncio.get_running_loop()
        task = self._inflight
        if task is None or task.done() or task.get_loop() is not loop:
            task = self._inflight = loop.create_task(self._load())
        return await asyncio.shield(task)

    async def _load(self) -> T:
        import asyncio

        try:
            value = await asyncio.to_thread(self._fetch)
        except AuthUnavailable as exc:
            return self._stale(exc)
        except Exception as exc:
            return self._stale(AuthUnavailable(f"could not read {self.what}: {_describe(exc)}"))
        now = self._clock()
        self._value, self._expires, self.fetched_at = value, now + self.max_age, now
        return value

    def _stale(self, error: AuthUnavailable) -> T:
        if self._value is None:
            raise error
        logger.warning("%s; still using the copy read before", error)
        self._expires = self._clock() + self.retry_seconds
        return self._value


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"

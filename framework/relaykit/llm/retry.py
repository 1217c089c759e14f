"""Retries for model calls: exponential backoff with full jitter, ``retry-after``, deadlines.

relaykit's retries are the only ones: providers build their SDK clients with retries off
(``max_retries=0`` for ``anthropic``, ``total_max_attempts=1`` for botocore), so that every wait
is visible here and bounded by the invocation's deadline.

- Retried: 429 (rate limit), 529 and other "overloaded" errors, 5xx, timeouts and connection
  errors. The wait before retry ``n`` is ``retry-after`` when the server sent one, else a random
  value in ``[0, min(max_delay, base_delay * 2**n)]`` (full jitter).
- Never retried: 400, 401, 403, 404 and other client errors; the error names the cause.
- Deadline: with ``remaining_seconds`` given (``ctx.remaining_seconds``), an attempt's timeout
  is ``min(timeout, remaining - reserve)``; an attempt is not started with less than
  ``min_attempt`` seconds left, and a retry whose wait would leave less than that fails at once
  with a clear error instead of sleeping into the deadline.
- A stream that fails before its first event is retried like a call; once events were handed
  out, a cut raises a retryable ``ProviderError`` (``kind="stream_cut"``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from relaykit.errors import ModelError
from relaykit.model import Usage

T = TypeVar("T")
E = TypeVar("E")
PARTIAL_USAGE = "relaykit_partial_usage"
"""Attribute a provider sets on an exception that cut its stream: the usage reported so far."""


def note_partial_usage(exc: BaseException, usage: Usage) -> None:
    """Attach the usage a stream reported before ``exc`` cut it (billed tokens, kept in the
    ``stream_cut`` error that ``stream_with_retries`` raises)."""
    if usage != Usage():
        setattr(exc, PARTIAL_USAGE, usage)


log = logging.getLogger("relaykit.llm")


class ProviderError(ModelError):
    """A model provider call failed. ``kind`` names the cause; ``status`` is the HTTP status.

    Kinds: ``rate_limit``, ``overloaded``, ``server``, ``timeout``, ``connection``,
    ``stream_cut`` (all retryable), ``auth``, ``permission``, ``bad_request``, ``not_found``,
    ``deadline``, ``error``.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
        usage: Usage | None = None,
        out_of_time: bool = False,
    ) -> None:
        super().__init__(message, retryable=retryable, usage=usage, out_of_time=out_of_time)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after


def kind_of_status(status: int) -> tuple[str, bool]:
    """The error kind of an HTTP status and whether it is worth retrying."""
    if status == 429:
        return "rate_limit", True
    if status == 529:
        return "overloaded", True
    if status in (408, 409) or status >= 500:
        return ("timeout" if status in (408, 504) else "server"), True
    known = {400: "bad_request", 401: "auth", 403: "permission", 404: "not_found"}
    return known.get(status, "error"), False


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``retry-after`` (seconds) or ``retry-after-ms`` value; ``None`` if bad."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


@dataclass(frozen=True)
class RetryPolicy:
    """How model calls are retried; ``sleep`` and ``random`` are injectable for tests."""

    max_retries: int = 2
    timeout: float = 120.0
    base_delay: float = 0.5
    max_delay: float = 20.0
    min_attempt: float = 1.0
    reserve: float = 0.25
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, compare=False)
    random: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        if retry_after is not None:
            return retry_after
        cap: float = min(self.max_delay, self.base_delay * 2**retry)
        return self.random() * cap

    def attempt_timeout(
        self, remaining: Callable[[], float] | None, what: str, *, retry: int = 0
    ) -> float:
        """This attempt's timeout; ``ProviderError(kind="deadline")`` if none can fit (marked
        ``out_of_time`` when it is the call's first attempt: then nothing was sent at all)."""
        if remaining is None:
            return self.timeout
        left = remaining() - self.reserve
        if left < self.min_attempt:
            raise ProviderError(
                f"{what}: not started, {max(left, 0.0):.2f}s left before the invocation's "
                f"deadline and a model call needs at least {self.min_attempt:.2f}s; "
                "give the function a longer timeout or split the work into steps",
                kind="deadline",
                retryable=True,
                out_of_time=retry == 0,
            )
        return min(self.timeout, left)

    def check_retry(
        self, error: ProviderError, retry: int, remaining: Callable[[], float] | None, what: str
    ) -> float:
        """The wait before retrying ``error``; raises when it must not be retried."""
        if not error.retryable or retry >= self.max_retries:
            if error.retryable:
                error.args = (f"{error.args[0]} (gave up after {retry + 1} attempts)",)
            raise error
        wait = self.delay(retry, error.retry_after)
        if remaining is not None:
            left = remaining() - self.reserve
            if left - wait < self.min_attempt:
                raise ProviderError(
                    f"{what}: {error.args[0]}; no retry: waiting {wait:.2f}s would leave "
                    f"{max(left - wait, 0.0):.2f}s before the invocation's deadline, less than "
                    f"the {self.min_attempt:.2f}s a model call needs",
                    kind="deadline",
                    retryable=True,
                    status=error.status,
                ) from error
        return wait


Classify = Callable[[BaseException], ProviderError | None]
"""Maps a provider failure to a ``ProviderError``; ``None`` lets the exception through."""


async def call_with_retries(
    attempt: Callable[[float], Awaitable[T]],
    *,
    policy: RetryPolicy,
    classify: Classify,
    remaining: Callable[[], float] | None,
    what: str,
) -> T:
    """Run ``attempt(timeout)`` until it succeeds, retrying as the module docstring says."""
    retry = 0
    while True:
        timeout = policy.attempt_timeout(remaining, what, retry=retry)
        try:
            async with asyncio.timeout(timeout):
                return await attempt(timeout)
        except (Exception, TimeoutError) as exc:
            error = _as_provider_error(exc, classify, timeout)
            if error is None:
                raise
            wait = policy.check_retry(error, retry, remaining, what)
        log.warning(
            "model call retry",
            extra={
                "relaykit_extra": {
                    "call": what,
                    "retry": retry + 1,
                    "wait_s": wait,
                    "error_kind": error.kind,
                    "status": error.status,
                }
            },
        )
        await policy.sleep(wait)
        retry += 1


async def stream_with_retries(
    open_stream: Callable[[float], AsyncIterator[E]],
    *,
    policy: RetryPolicy,
    classify: Classify,
    remaining: Callable[[], float] | None,
    what: str,
) -> AsyncIterator[E]:
    """Events of ``open_stream(timeout)``, retried until the first event arrives."""
    retry = 0
    while True:
        timeout = policy.attempt_timeout(remaining, what, retry=retry)
        events = open_stream(timeout)
        try:
            async with asyncio.timeout(timeout):
                first = await anext(events)
            break
        except (Exception, TimeoutError) as exc:
            await _close(events)
            error = _as_provider_error(exc, classify, timeout)
            if error is None:
                raise
            wait = policy.check_retry(error, retry, remaining, what)
        log.warning(
            "model stream retry",
            extra={
                "relaykit_extra": {
                    "call": what,
                    "retry": retry + 1,
                    "wait_s": wait,
                    "error_kind": error.kind,
                    "status": error.status,
                }
            },
        )
        await policy.sleep(wait)
        retry += 1
    count = 1
    try:
        yield first
        async for event in events:
            count += 1
            yield event
    except ModelError:
        raise
    except Exception as exc:
        cause = _as_provider_error(exc, classify, timeout)
        if cause is None:
            raise
        raise ProviderError(
            f"{what}: the stream was cut after {count} events ({cause.args[0]}); the partial "
            "reply is incomplete, so call the model again (this error is retryable)",
            kind="stream_cut",
            retryable=True,
            status=cause.status,
            usage=getattr(exc, PARTIAL_USAGE, None),
        ) from exc
    finally:
        await _close(events)


def _as_provider_error(
    exc: BaseException, classify: Classify, timeout: float
) -> ProviderError | None:
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, TimeoutError):
        return ProviderError(
            f"no answer within the attempt's {timeout:.2f}s timeout", kind="timeout", retryable=True
        )
    return classify(exc)


async def _close(events: AsyncIterator[object]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()

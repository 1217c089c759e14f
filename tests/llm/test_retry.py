"""Retries: backoff with full jitter, retry-after, terminal errors, deadlines (no wall clock)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from relaykit.llm.retry import (
    ProviderError,
    RetryPolicy,
    call_with_retries,
    kind_of_status,
    parse_retry_after,
    stream_with_retries,
)
from stubs.recording import Sleeps, policy


def failure(status: int, retry_after: float | None = None) -> ProviderError:
    kind, retryable = kind_of_status(status)
    return ProviderError(
        f"status {status}", kind=kind, retryable=retryable, status=status, retry_after=retry_after
    )


class Flaky:
    """Fails with the given errors in order, then answers ``"ok"``; records each timeout."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.timeouts: list[float] = []

    async def __call__(self, timeout: float) -> str:  # noqa: ASYNC109
        self.timeouts.append(timeout)
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def no_classify(exc: BaseException) -> ProviderError | None:
    return None


async def run(attempt: Flaky, retry: RetryPolicy, remaining: float | None = None) -> str:
    return await call_with_retries(
        attempt,
        policy=retry,
        classify=no_classify,
        what="test call",
        remaining=None if remaining is None else (lambda: remaining),
    )


def test_status_kinds_and_retry_after_parsing() -> None:
    """429, 529, 5xx, 408 retry; 400, 401, 403, 404 do not; retry-after must be a number >= 0."""
    assert [kind_of_status(s) for s in (429, 529, 500, 503, 408)] == [
        ("rate_limit", True),
        ("overloaded", True),
        ("server", True),
        ("server", True),
        ("timeout", True),
    ]
    assert [kind_of_status(s)[1] for s in (400, 401, 403, 404, 422)] == [False] * 5
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after("soon") is None and parse_retry_after("-1") is None


async def test_backoff_is_exponential_with_full_jitter() -> None:
    """Waits are random() * min(max_delay, base * 2**n): 0.5, 1, 2 at random() = 1, capped."""
    sleeps = Sleeps()
    attempt = Flaky(failure(500), failure(503), failure(529), failure(429))
    assert await run(attempt, policy(sleeps, max_retries=4, max_delay=1.5)) == "ok"
    assert sleeps.waits == [0.5, 1.0, 1.5, 1.5]
    half = RetryPolicy(sleep=sleeps, random=lambda: 0.5, base_delay=1.0)
    assert [half.delay(n, None) for n in range(3)] == [0.5, 1.0, 2.0]


async def test_retry_after_is_honoured() -> None:
    """A server's retry-after replaces the computed backoff."""
    sleeps = Sleeps()
    assert await run(Flaky(failure(429, retry_after=7.0)), policy(sleeps)) == "ok"
    assert sleeps.waits == [7.0]


async def test_gives_up_after_max_retries() -> None:
    """max_retries=2 means three attempts; the last error says how many were made."""
    sleeps = Sleeps()
    attempt = Flaky(failure(500), failure(500), failure(500))
    with pytest.raises(ProviderError, match=r"gave up after 3 attempts") as caught:
        await run(attempt, policy(sleeps))
    assert caught.value.retryable and len(attempt.timeouts) == 3 and len(sleeps.waits) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_terminal_errors_are_not_retried(status: int) -> None:
    """Client errors fail on the first attempt, without a sleep."""
    sleeps = Sleeps()
    attempt = Flaky(failure(status))
    with pytest.raises(ProviderError) as caught:
        await run(attempt, policy(sleeps))
    assert not caught.value.retryable and len(attempt.timeouts) == 1 and sleeps.waits == []


async def test_attempt_timeout_is_bounded_by_the_deadline() -> None:
    """With 10 s left, an attempt gets 10 - reserve seconds, not the configured 120."""
    attempt = Flaky()
    await run(attempt, policy(Sleeps(), reserve=0.5), remaining=10.0)
    assert attempt.timeouts == [9.5]


async def test_a_retry_that_cannot_fit_fails_fast() -> None:
    """retry-after 30 s with 5 s left: no sleep, an error naming the deadline at once."""
    sleeps = Sleeps()
    attempt = Flaky(failure(429, retry_after=30.0))
    with pytest.raises(ProviderError, match=r"no retry: waiting 30\.00s") as caught:
        await run(attempt, policy(sleeps), remaining=5.0)
    assert caught.value.kind == "deadline" and caught.value.status == 429
    assert sleeps.waits == [] and len(attempt.timeouts) == 1
    assert not caught.value.out_of_time  # a request was sent (and failed): a real attempt


async def test_no_attempt_starts_without_time_left() -> None:
    """Less than min_attempt seconds left: the call is not even started, and the error says
    so (``out_of_time``: a durable step continues in the next invocation)."""
    attempt = Flaky()
    with pytest.raises(ProviderError, match="not started") as caught:
        await run(attempt, policy(Sleeps(), min_attempt=1.0), remaining=0.8)
    assert caught.value.kind == "deadline" and attempt.timeouts == []
    assert caught.value.out_of_time


async def test_a_hung_attempt_times_out_and_is_retried() -> None:
    """An attempt that never answers is cut at its timeout and retried as a timeout."""
    sleeps = Sleeps()
    calls: list[float] = []

    async def hang_once(timeout: float) -> str:  # noqa: ASYNC109
        calls.append(timeout)
        if len(calls) == 1:
            await asyncio.Event().wait()
        return "ok"

    retry = policy(sleeps, timeout=0.05)
    result = await call_with_retries(
        hang_once, policy=retry, classify=no_classify, remaining=None, what="hang"
    )
    assert result == "ok" and calls == [0.05, 0.05] and len(sleeps.waits) == 1


async def test_unclassified_errors_pass_through_unchanged() -> None:
    """A programming error (not a provider failure) is raised as it is, never retried."""
    attempt = Flaky(TypeError("bad option"))
    with pytest.raises(TypeError, match="bad option"):
        await run(attempt, policy(Sleeps()))
    assert len(attempt.timeouts) == 1


async def test_stream_retries_before_the_first_event_only() -> None:
    """A stream failing before any event is retried; a cut after events is a stream_cut error."""
    sleeps = Sleeps()
    opened: list[int] = []

    async def events(timeout: float) -> AsyncIterator[str]:  # noqa: ASYNC109
        opened.append(1)
        if len(opened) == 1:
            raise failure(503)
        yield "a"
        yield "b"
        raise ConnectionResetError("peer reset")

    def classify(exc: BaseException) -> ProviderError | None:
        return ProviderError(str(exc), kind="connection", retryable=True)

    seen: list[str] = []
    with pytest.raises(ProviderError, match="cut after 2 events") as caught:
        async for item in stream_with_retries(
            events, policy=policy(sleeps), classify=classify, remaining=None, what="s"
        ):
            seen.append(item)
    assert seen == ["a", "b"] and len(opened) == 2 and sleeps.waits == [0.5]
    assert caught.value.kind == "stream_cut" and caught.value.retryable

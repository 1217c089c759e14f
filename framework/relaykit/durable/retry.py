"""Per-step retry policies: how many attempts, how long between them, which errors retry."""

from __future__ import annotations

import random
from dataclasses import dataclass

from relaykit.errors import TerminalError


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with jitter.

    Attempt ``n`` (1-based) that failed waits ``min(max_delay, initial_delay * backoff**(n-1))``,
    scaled down by up to ``jitter`` (1.0 = full jitter), before attempt ``n + 1``. An error is
    retried when it is an instance of ``retry_on`` and not terminal: ``TerminalError``, or any
    exception whose ``retryable`` attribute is ``False`` (``ModelError`` carries one), fails the
    step at once.
    """

    max_attempts: int = 3
    initial_delay: float = 1.0
    max_delay: float = 60.0
    backoff: float = 2.0
    jitter: float = 1.0
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be 1 or more")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("RetryPolicy.jitter must be between 0 and 1")

    def should_retry(self, error: BaseException, attempts: int) -> bool:
        """Whether to try again after ``attempts`` failed attempts ending in ``error``."""
        if attempts >= self.max_attempts or isinstance(error, TerminalError):
            return False
        if getattr(error, "retryable", True) is False:
            return False
        return isinstance(error, self.retry_on)

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after ``attempts`` failed attempts."""
        base = min(self.max_delay, self.initial_delay * self.backoff ** max(0, attempts - 1))
        draw = (rng or random).random()
        return base * (1.0 - self.jitter * draw)


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(max_attempts=1)

"""An injected sleep and jitter source: retries are checked by what they asked for, not by time."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from relaykit.llm.retry import RetryPolicy


@dataclass
class Sleeps:
    """Records each requested sleep instead of sleeping."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def policy(sleeps: Sleeps, **overrides: float) -> RetryPolicy:
    """A retry policy with recorded sleeps and jitter fixed at its upper bound (random() = 1)."""
    return RetryPolicy(sleep=sleeps, random=lambda: 1.0, **overrides)  # type: ignore[arg-type]


class Collect(logging.Handler):
    """Keeps every formatted record of the loggers it is attached to."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(f"{record.getMessage()} {record.__dict__}")

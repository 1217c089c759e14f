"""Durable waits: a timer (``ctx.sleep``), an event (``ctx.wait_for_event``) and recorded values
(``ctx.now``, ``ctx.random``), each at its position in the step log.

A wait records when it ends (``wake_at``) as a ``waiting`` step, so every replay waits for the
same moment. Short waits that end before the deadline sleep in-process; longer ones raise
``Suspend`` and a continuation resumes the run by replay. An event is polled while the wait stays
in-process; its payload (or the timeout, as ``EventTimeout``) is committed like a step result.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from relaykit.durable import codec
from relaykit.durable.execution import Execution, Suspend
from relaykit.durable.store import StepRecord
from relaykit.errors import EventTimeout


async def recorded(
    x: Execution, step_id: str, record: StepRecord | None, name: str, produce: Callable[[], float]
) -> Any:
    """``produce()`` the first time, committed; its recorded value on every replay."""
    if record is not None and record.status == "completed":
        return codec.decode(record.value or "null")
    value = produce()
    now = x.clock.now()
    await x.commit(
        StepRecord(step_id, name, "completed", value=codec.encode(value), started_at=now)
    )
    return value


async def sleep(
    x: Execution, step_id: str, record: StepRecord | None, name: str, seconds: float
) -> None:
    """Wait until ``seconds`` after the first time this position ran."""
    if record is not None:
        wake = record.wake_at or 0.0
    else:
        now = x.clock.now()
        wake = now + max(0.0, seconds)
        await x.commit(StepRecord(step_id, name, "waiting", started_at=now, wake_at=wake))
    await x.wait_until(wake, name)


async def wait_for_event(
    x: Execution,
    step_id: str,
    record: StepRecord | None,
    name: str,
    index: int,
    timeout: float | None,  # noqa: ASYNC109 - a durable timeout, not asyncio's
    type: Any,
) -> Any:
    """The payload of the ``index``-th event ``name``, restored as ``type``; ``EventTimeout``
    once ``timeout`` seconds have passed since this position first ran."""
    label = f"event:{name}"
    if record is not None and record.status == "completed":
        return codec.decode(record.value or "null", type)
    if record is not None and record.status == "failed":
        raise x.stored_failure(record)
    if record is not None:
        deadline = record.wake_at
        started = record.started_at
    else:
        started = x.clock.now()
        deadline = None if timeout is None else started + timeout
        await x.commit(StepRecord(step_id, label, "waiting", started_at=started, wake_at=deadline))
    while True:
        payload = await x.get_event(name, index)
        now = x.clock.now()
        if payload is not None:
            value = codec.decode(payload, type)
            await x.commit(
                StepRecord(
                    step_id,
                    label,
                    "completed",
                    value=payload,
                    started_at=started,
                    duration=now - started,
                )
            )
            return value
        if deadline is not None and now >= deadline:
            timed_out = EventTimeout(f"no event {name!r} within {timeout or 0:.3g}s")
            await x.commit(
                StepRecord(
                    step_id,
                    label,
                    "failed",
                    error=codec.encode_error(timed_out),
                    started_at=started,
                    duration=now - started,
                )
            )
            raise timed_out
        left = math.inf if deadline is None else deadline - now
        if not x.planner.fits_inline(left):
            raise Suspend(deadline, f"waiting for event {name!r}")
        await x.clock.sleep(min(x.planner.policy.event_poll_interval, left))

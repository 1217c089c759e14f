"""Running one durable step: replay its record, else run the body with the retry policy and
the deadline in view, and commit the outcome before the workflow goes on.

``run_step`` is the per-step path of every workflow (``WorkflowContext.step`` and ``llm_step``
call it), so it is kept flat: one coroutine layer between the workflow and the step's body, the
commit made inline when the store is synchronous, no deadline arithmetic without a deadline.
A synchronous body runs in a worker thread. ``current`` names the step running now (and its
attempt) for ``ctx.step_id`` and model calls.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Literal

from relaykit.durable import codec
from relaykit.durable.execution import Execution, StepInterrupted, Suspend
from relaykit.durable.retry import DEFAULT_RETRY, NO_RETRY, RetryPolicy
from relaykit.durable.store import StepRecord

if TYPE_CHECKING:
    from relaykit.context import Context

Semantics = Literal["at_least_once", "at_most_once"]
current: ContextVar[tuple[str, int] | None] = ContextVar("relaykit_step", default=None)
"""The step running now and its attempt number (one variable: one set per step)."""


async def run_step(
    ctx: Context,
    x: Execution,
    step_id: str,
    record: StepRecord | None,
    name: str,
    fn: Callable[..., Any],
    args: Sequence[Any],
    retry: RetryPolicy | None,
    semantics: Semantics,
    estimate: float | None,
    annotation: Any,
    is_async: bool,
    usage_of: Callable[[str | None], str | None] | None = None,
) -> Any:
    """The value of the step at ``step_id`` (``record``: its committed record, if any), restored
    as ``annotation``; ``usage_of`` (model steps) gives the usage to keep in its record."""
    attempts, not_before, prior_usage = 0, None, None
    policy = retry or (NO_RETRY if semantics == "at_most_once" else DEFAULT_RETRY)
    if record is not None:
        if record.status == "completed":
            return codec.decode(record.value or "null", annotation)
        if record.status == "failed":
            raise x.stored_failure(record)
        attempts, prior_usage = record.attempts, record.usage
        if record.status == "waiting":
            not_before = record.wake_at
        elif record.status == "running":
            interrupted = StepInterrupted(f"attempt {attempts} was interrupted")
            not_before = await x.after_failure(
                step_id, name, interrupted, attempts, policy, usage=prior_usage
            )
    while True:
        if not_before is not None:
            await x.wait_until(not_before, f"retry {name}")
        if x.planner.has_deadline or x.planner.remaining() != math.inf:
            x.check_deadline(name, estimate)  # else there is nothing to plan
        attempts += 1
        started = x.now()
        if semantics == "at_most_once":
            await x.commit(
                StepRecord(step_id, name, "running", attempts=attempts, started_at=started)
            )
        token = current.set((step_id, attempts))
        recorder = ctx.recorder
        probe = recorder.start(ctx, "step", streamed=False, step=name) if recorder else None
        try:
            value = await fn(*args) if is_async else await _call_sync(fn, args)
        except Exception as exc:
            if probe is not None:
                probe.finish(0, error=True, wall_s=x.clock.now() - started)
            usage = usage_of(prior_usage) if usage_of is not None else None
            if _out_of_time(x, exc, semantics):
                # The call sent nothing for lack of time: not an attempt; split now.
                await _split(x, step_id, name, attempts - 1, usage, prior_usage, exc)
            not_before = await x.after_failure(step_id, name, exc, attempts, policy, usage=usage)
            continue
        except BaseException:
            if probe is not None:
                probe.discard()
            raise
        finally:
            current.reset(token)
        ended = x.now()
        duration = ended - started
        text, restored = codec.round_trip(value, annotation)
        done = StepRecord(
            step_id,
            name,
            "completed",
            value=text,
            attempts=attempts,
            started_at=started,
            duration=duration,
            usage=usage_of(prior_usage) if usage_of is not None else None,
        )
        if x.inline:  # a synchronous store: commit without another coroutine layer
            x.commit_now(done, ended)
        else:
            await x.commit(done)
        if x.planner.has_deadline:  # learned durations only serve deadline planning
            x.durations.add(name, duration)
        if probe is not None:  # the step record's own duration, as the planner sees it
            probe.finish(len(text), error=False, wall_s=duration)
        return restored


async def _split(
    x: Execution,
    step_id: str,
    name: str,
    attempts: int,
    usage: str | None,
    prior_usage: str | None,
    cause: Exception,
) -> None:
    """Suspend before ``name`` (due now), keeping what earlier attempts of this invocation
    used of the model, if any, in a waiting record."""
    now = x.clock.now()
    if usage != prior_usage:
        record = StepRecord(
            step_id,
            name,
            "waiting",
            attempts=attempts,
            started_at=now,
            wake_at=now,
            usage=usage,
        )
        await x.commit(record)
    raise Suspend(now, f"deadline: step {name!r}: {cause}") from cause


def _out_of_time(x: Execution, exc: Exception, semantics: Semantics) -> bool:
    """The step's call gave up before sending anything because the invocation was nearly
    over (``ModelError.out_of_time``), and the next invocation would have more time."""
    if not getattr(exc, "out_of_time", False) or semantics == "at_most_once":
        return False
    return x.planner.can_gain_time()


async def _call_sync(fn: Callable[..., Any], args: Sequence[Any]) -> Any:
    """A synchronous step body runs in a worker thread (it may block); if it returns an
    awaitable (``def f() -> Awaitable[T]``), that is awaited here."""
    result = await asyncio.to_thread(fn, *args)
    if asyncio.iscoroutine(result):
        return await result
    return result

"""``WorkflowContext``: the ``Context`` a workflow gets, with durable steps, waits and fan-out.

Every operation takes the next *position* of its context: ``"0"``, ``"1"``... at the top level,
``"3.2.0"`` for the first step of branch 2 of the fan-out at position 3. On replay a position with
a committed record returns (or re-raises) what was recorded; a record whose name differs from the
requested one is a ``NonDeterminismError``. Errors that must end the run (non-determinism, a step
too long for any invocation) are also remembered by the execution, so a workflow that catches
them with ``except Exception`` still fails.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from relaykit.context import Context
from relaykit.durable import codec
from relaykit.durable.llm_step import FLUSH_SECONDS, FLUSH_TOKENS, ModelCall, bind
from relaykit.durable.retry import DEFAULT_RETRY, NO_RETRY, RetryPolicy
from relaykit.durable.store import StepRecord
from relaykit.errors import EventTimeout, NonDeterminismError, StepFailed
from relaykit.model import Message, Model, Reply, ToolSpec

if TYPE_CHECKING:
    from relaykit.durable.execution import Execution

T = TypeVar("T")
Semantics = Literal["at_least_once", "at_most_once"]
_NOT_GIVEN: Any = object()
_current_step: ContextVar[str | None] = ContextVar("relaykit_step_id", default=None)
_current_attempt: ContextVar[int] = ContextVar("relaykit_step_attempt", default=0)


class Suspend(BaseException):
    """The run pauses here: not an ``Exception``, so ``except Exception`` cannot swallow it."""

    def __init__(self, due_at: float | None, reason: str) -> None:
        self.due_at = due_at
        self.reason = reason
        super().__init__(f"suspend ({reason}) until {due_at}")


class StepInterrupted(Exception):
    """An at-most-once step's attempt was started but never finished (its executor died)."""


class WorkflowContext(Context):
    """A ``Context`` (``llm``, ``logger``, ``settings``...) plus the durable operations."""

    def __init__(self, base: Context, execution: Execution, prefix: str = "") -> None:
        super().__init__(
            request_id=base.request_id,
            settings=base.settings,
            llm=base.llm,
            handler=base.handler,
            target=base.target,
            deadline=base.deadline,
            function_arn=base.function_arn,
            trace_id=base.trace_id,
            meta=base.meta,
            recorder=base.recorder,
        )
        self._x = execution
        self._prefix = prefix
        self._counter = 0
        self.logger.extra = {**(self.logger.extra or {}), "run_id": execution.run_id}

    # Identity -----------------------------------------------------------------------------

    @property
    def run_id(self) -> str:
        return self._x.run_id

    @property
    def step_id(self) -> str:
        """A stable key for the step running now (``RUN_ID:POSITION``): hand it to external
        APIs as an idempotency key. Outside a step it names the next position."""
        current = _current_step.get()
        return f"{self._x.run_id}:{current or self._prefix + str(self._counter)}"

    def is_replaying(self) -> bool:
        """True while the next position already has a committed record."""
        return self._prefix + str(self._counter) in self._x.records

    @property
    def owner(self) -> str | None:
        """Who started this run (``method:subject``, such as ``api-key:alice``), when the app
        has authentication; ``None`` otherwise."""
        return self._x.owner

    def remaining_seconds(self) -> float:
        return self._x.planner.remaining()

    def _next(self, name: str) -> tuple[str, StepRecord | None]:
        self._x.raise_fatal()
        step_id = self._prefix + str(self._counter)
        self._counter += 1
        return step_id, self._x.lookup(step_id, name)

    # Steps --------------------------------------------------------------------------------

    async def step(
        self,
        name: str,
        fn: Callable[..., Any],
        *args: Any,
        retry: RetryPolicy | None = None,
        semantics: Semantics = "at_least_once",
        estimate: float | None = None,
        type: Any = _NOT_GIVEN,
    ) -> Any:
        """Run ``fn(*args)`` (sync or async) as a durable step and return its value.

        The value is committed before this returns; on replay it comes from the log. ``type``
        (default: ``fn``'s return annotation) is the type the value is restored as.
        """
        annotation = codec.declared_type(fn) if type is _NOT_GIVEN else type
        return await self._step(name, fn, args, retry, semantics, estimate, annotation)

    async def llm_step(
        self,
        name: str,
        messages: Sequence[Message],
        *,
        system: str | Sequence[Mapping[str, Any]] | None = None,
        tools: Sequence[ToolSpec] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        model: Model | None = None,
        stream: bool = True,
        retry: RetryPolicy | None = None,
        estimate: float | None = None,
        flush_tokens: int = FLUSH_TOKENS,
        flush_seconds: float = FLUSH_SECONDS,
        **options: Any,
    ) -> Reply:
        """Call the model (``model``, default ``ctx.llm``) as a durable step; return its ``Reply``.

        While the step runs, the reply's text is appended to the run's progress stream as
        ``token`` entries (batched: see ``relaykit.durable.llm_step``); the final reply and its
        usage (tokens, cost) are committed at the end. On replay the stored ``Reply`` comes
        back and the model is not called. ``stream=False`` calls ``complete`` (no tokens).
        """
        arguments = {
            "system": system,
            "tools": tools,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "remaining_seconds": self.remaining_seconds,
            **options,
        }
        call = ModelCall(
            self._x,
            self.llm if model is None else bind(model, self),
            messages,
            arguments,
            stream=stream,
            flush_tokens=flush_tokens,
            flush_seconds=flush_seconds,
        )

        async def body() -> Reply:
            return await call.run(_current_step.get() or "", name, _current_attempt.get())

        value: Reply = await self._step(
            name, body, (), retry, "at_least_once", estimate, Reply, call.usage_of
        )
        return value

    async def _step(
        self,
        name: str,
        fn: Callable[..., Any],
        args: Sequence[Any],
        retry: RetryPolicy | None,
        semantics: Semantics,
        estimate: float | None,
        annotation: Any,
        usage_of: Callable[[str | None], str | None] | None = None,
    ) -> Any:
        step_id, record = self._next(name)
        prior_usage = record.usage if record is not None else None
        if record is not None and record.status == "completed":
            return codec.decode(record.value or "null", annotation)
        if record is not None and record.status == "failed":
            raise self._x.stored_failure(record)
        policy = retry or (NO_RETRY if semantics == "at_most_once" else DEFAULT_RETRY)
        attempts = record.attempts if record is not None else 0
        not_before = record.wake_at if record is not None and record.status == "waiting" else None
        if record is not None and record.status == "running":
            interrupted = StepInterrupted(f"attempt {attempts} was interrupted")
            not_before = await self._x.after_failure(
                step_id, name, interrupted, attempts, policy, usage=prior_usage
            )
        while True:
            if not_before is not None:
                await self._x.wait_until(not_before, f"retry {name}")
            self._x.check_deadline(name, estimate)
            attempts += 1
            started = self._x.clock.now()
            if semantics == "at_most_once":
                await self._x.commit(
                    StepRecord(step_id, name, "running", attempts=attempts, started_at=started)
                )
            token = _current_step.set(step_id)
            attempt_token = _current_attempt.set(attempts)
            recorder = self.recorder
            probe = recorder.start(self, "step", streamed=False, step=name) if recorder else None
            try:
                value = await _call(fn, args)
            except Exception as exc:
                if probe is not None:
                    probe.finish(0, error=True, wall_s=self._x.clock.now() - started)
                usage = usage_of(prior_usage) if usage_of is not None else None
                if self._out_of_time(exc, semantics):
                    # The call sent nothing for lack of time: not an attempt; split now.
                    await self._split(step_id, name, attempts - 1, usage, prior_usage, exc)
                not_before = await self._x.after_failure(
                    step_id, name, exc, attempts, policy, usage=usage
                )
                continue
            except BaseException:
                if probe is not None:
                    probe.discard()
                raise
            finally:
                _current_attempt.reset(attempt_token)
                _current_step.reset(token)
            duration = self._x.clock.now() - started
            text, restored = codec.round_trip(value, annotation)
            await self._x.commit(
                StepRecord(
                    step_id,
                    name,
                    "completed",
                    value=text,
                    attempts=attempts,
                    started_at=started,
                    duration=duration,
                    usage=usage_of(prior_usage) if usage_of is not None else None,
                )
            )
            if self._x.planner.has_deadline:  # learned durations only serve deadline planning
                self._x.durations.add(name, duration)
            if probe is not None:  # the step record's own duration, as the planner sees it
                probe.finish(len(text), error=False, wall_s=duration)
            return restored

    async def _split(
        self,
        step_id: str,
        name: str,
        attempts: int,
        usage: str | None,
        prior_usage: str | None,
        cause: Exception,
    ) -> None:
        """Suspend before ``name`` (due now), keeping what earlier attempts of this invocation
        used of the model, if any, in a waiting record."""
        now = self._x.clock.now()
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
            await self._x.commit(record)
        raise Suspend(now, f"deadline: step {name!r}: {cause}") from cause

    def _out_of_time(self, exc: Exception, semantics: Semantics) -> bool:
        """The step's call gave up before sending anything because the invocation was nearly
        over (``ModelError.out_of_time``), and the next invocation would have more time."""
        if not getattr(exc, "out_of_time", False) or semantics == "at_most_once":
            return False
        return self._x.planner.can_gain_time()

    async def now(self) -> float:
        """The current time (Unix seconds), recorded: replays see the same value."""
        return float(await self._recorded("now", self._x.clock.now))

    async def random(self) -> float:
        """A random float in [0, 1), recorded: replays see the same value."""
        return float(await self._recorded("random", self._x.rng.random))

    async def _recorded(self, name: str, produce: Callable[[], float]) -> Any:
        step_id, record = self._next(name)
        if record is not None and record.status == "completed":
            return codec.decode(record.value or "null")
        value = produce()
        now = self._x.clock.now()
        await self._x.commit(
            StepRecord(step_id, name, "completed", value=codec.encode(value), started_at=now)
        )
        return value

    # Waits --------------------------------------------------------------------------------

    async def sleep(self, seconds: float, *, name: str = "sleep") -> None:
        """Wait ``seconds``: in-process when short and before the deadline, else suspended
        (no compute held) until a continuation resumes the run."""
        step_id, record = self._next(name)
        if record is not None:
            wake = record.wake_at or 0.0
        else:
            now = self._x.clock.now()
            wake = now + max(0.0, seconds)
            await self._x.commit(StepRecord(step_id, name, "waiting", started_at=now, wake_at=wake))
        await self._x.wait_until(wake, name)

    async def wait_for_event(
        self,
        name: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a durable timeout, not asyncio's
        type: Any = Any,
    ) -> Any:
        """The payload of the next event ``name`` sent to this run, restored as ``type``.

        Raises ``EventTimeout`` when ``timeout`` seconds pass first (and on every replay).
        """
        label = f"event:{name}"
        step_id, record = self._next(label)
        index = self._x.next_event_index(name)
        if record is not None and record.status == "completed":
            return codec.decode(record.value or "null", type)
        if record is not None and record.status == "failed":
            raise self._x.stored_failure(record)
        if record is not None:
            deadline = record.wake_at
            started = record.started_at
        else:
            started = self._x.clock.now()
            deadline = None if timeout is None else started + timeout
            await self._x.commit(
                StepRecord(step_id, label, "waiting", started_at=started, wake_at=deadline)
            )
        while True:
            payload = await self._x.call(self._x.store.get_event, self.run_id, name, index)
            now = self._x.clock.now()
            if payload is not None:
                value = codec.decode(payload, type)
                await self._x.commit(
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
                await self._x.commit(
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
            if not self._x.planner.fits_inline(left):
                raise Suspend(deadline, f"waiting for event {name!r}")
            await self._x.clock.sleep(min(self._x.planner.policy.event_poll_interval, left))

    # Fan-out ------------------------------------------------------------------------------

    async def gather(
        self, *branches: Callable[[WorkflowContext], Awaitable[Any]], concurrency: int = 8
    ) -> list[Any]:
        """Run each ``branch(child_ctx)`` concurrently (at most ``concurrency`` at once) and
        return their results in order. Branch ``i`` of the gather at position ``p`` numbers its
        steps ``p.i.0``, ``p.i.1``..., whatever order they finish in."""
        base, _ = self._next("gather")
        semaphore = asyncio.Semaphore(max(1, concurrency))

        async def run(index: int, branch: Callable[[WorkflowContext], Awaitable[Any]]) -> Any:
            async with semaphore:
                child = WorkflowContext(self, self._x, f"{base}.{index}.")
                return await branch(child)

        tasks = [asyncio.ensure_future(run(i, branch)) for i, branch in enumerate(branches)]
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        self._x.raise_fatal()
        suspends = [o for o in outcomes if isinstance(o, Suspend)]
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, Suspend | Exception):
                raise outcome
        if suspends:
            dues = [s.due_at for s in suspends]
            timed = [d for d in dues if d is not None]
            raise Suspend(min(timed) if timed else None, suspends[0].reason)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return list(outcomes)

    async def map(
        self,
        name: str,
        fn: Callable[[T], Any],
        items: Iterable[T],
        *,
        concurrency: int = 8,
        retry: RetryPolicy | None = None,
        semantics: Semantics = "at_least_once",
        estimate: float | None = None,
        type: Any = _NOT_GIVEN,
    ) -> list[Any]:
        """``fn(item)`` as one step per item (all named ``name``), with bounded concurrency."""

        def branch(item: T) -> Callable[[WorkflowContext], Awaitable[Any]]:
            async def run(child: WorkflowContext) -> Any:
                return await child.step(
                    name, fn, item, retry=retry, semantics=semantics, estimate=estimate, type=type
                )

            return run

        return await self.gather(*(branch(item) for item in items), concurrency=concurrency)


async def _call(fn: Callable[..., Any], args: Sequence[Any]) -> Any:
    if codec.is_coroutine_function(fn):
        return await fn(*args)
    result = await asyncio.to_thread(fn, *args)
    if asyncio.iscoroutine(result):
        return await result
    return result


__all__ = [
    "NonDeterminismError",
    "StepFailed",
    "StepInterrupted",
    "Suspend",
    "WorkflowContext",
]

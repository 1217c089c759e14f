"""``WorkflowContext``: the ``Context`` a workflow gets, with durable steps, waits and fan-out.

Every operation takes the next *position* of its context: ``"0"``, ``"1"``... at the top level,
``"3.2.0"`` for the first step of branch 2 of the fan-out at position 3. On replay a position with
a committed record returns (or re-raises) what was recorded; a record whose name differs from the
requested one is a ``NonDeterminismError``. Errors that must end the run (non-determinism, a step
too long for any invocation) are also remembered by the execution, so a workflow that catches
them with ``except Exception`` still fails.

This class holds the positions and the public methods; how a step runs is ``steps``, waits are
``waits``, fan-out is ``fanout``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from relaykit.context import Context
from relaykit.durable import codec, fanout, waits
from relaykit.durable.execution import Execution, StepInterrupted, Suspend
from relaykit.durable.llm_step import FLUSH_SECONDS, FLUSH_TOKENS, ModelCall, bind
from relaykit.durable.retry import RetryPolicy
from relaykit.durable.steps import Semantics, current, run_step
from relaykit.durable.store import StepRecord
from relaykit.errors import NonDeterminismError, StepFailed
from relaykit.model import Message, Model, Reply, ToolSpec

T = TypeVar("T")
_NOT_GIVEN: Any = object()


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
        running = current.get()
        position = running[0] if running else self._prefix + str(self._counter)
        return f"{self._x.run_id}:{position}"

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
        annotation, is_async = codec.describe(fn)
        if type is not _NOT_GIVEN:
            annotation = type
        x = self._x
        if x.fatal is not None:  # ``_next``, inlined: this is the per-step path
            raise x.fatal
        step_id = self._prefix + str(self._counter)
        self._counter += 1
        record = x.lookup(step_id, name)
        return await run_step(
            self,
            x,
            step_id,
            record,
            name,
            fn,
            args,
            retry,
            semantics,
            estimate,
            annotation,
            is_async,
        )

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
            step_id, attempt = current.get() or ("", 0)
            return await call.run(step_id, name, attempt)

        step_id, record = self._next(name)
        value: Reply = await run_step(
            self,
            self._x,
            step_id,
            record,
            name,
            body,
            (),
            retry,
            "at_least_once",
            estimate,
            Reply,
            True,
            call.usage_of,
        )
        return value

    async def now(self) -> float:
        """The current time (Unix seconds), recorded: replays see the same value."""
        step_id, record = self._next("now")
        return float(await waits.recorded(self._x, step_id, record, "now", self._x.clock.now))

    async def random(self) -> float:
        """A random float in [0, 1), recorded: replays see the same value."""
        step_id, record = self._next("random")
        return float(await waits.recorded(self._x, step_id, record, "random", self._x.rng.random))

    # Waits --------------------------------------------------------------------------------

    async def sleep(self, seconds: float, *, name: str = "sleep") -> None:
        """Wait ``seconds``: in-process when short and before the deadline, else suspended
        (no compute held) until a continuation resumes the run."""
        step_id, record = self._next(name)
        await waits.sleep(self._x, step_id, record, name, seconds)

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
        step_id, record = self._next(f"event:{name}")
        index = self._x.next_event_index(name)
        return await waits.wait_for_event(self._x, step_id, record, name, index, timeout, type)

    # Fan-out ------------------------------------------------------------------------------

    async def gather(
        self, *branches: Callable[[WorkflowContext], Awaitable[Any]], concurrency: int = 8
    ) -> list[Any]:
        """Run each ``branch(child_ctx)`` concurrently (at most ``concurrency`` at once) and
        return their results in order. Branch ``i`` of the gather at position ``p`` numbers its
        steps ``p.i.0``, ``p.i.1``..., whatever order they finish in."""
        base, _ = self._next("gather")

        def child(index: int) -> WorkflowContext:
            return WorkflowContext(self, self._x, f"{base}.{index}.")

        return await fanout.gather(child, branches, concurrency, self._x.raise_fatal)

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
        options = {"retry": retry, "semantics": semantics, "estimate": estimate, "type": type}
        branches = [fanout.step_branch(name, fn, item, options) for item in items]
        return await self.gather(*branches, concurrency=concurrency)


__all__ = [
    "NonDeterminismError",
    "StepFailed",
    "StepInterrupted",
    "Suspend",
    "WorkflowContext",
]

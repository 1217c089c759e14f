"""``BoundModel``: the app's model bound to one invocation (what ``ctx.llm`` is).

It passes the invocation's ``remaining_seconds`` to every call (so attempts and retries stop
before the deadline), and records every call, failed ones included, in ``usage`` (a
``UsageMeter``: tokens, latency, cost) and as one ``model call`` line in the structured log.
Standard library only, cheap to build: the core can make one per invocation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Protocol

from relaykit.errors import ModelError
from relaykit.llm.usage import CallRecord, UsageMeter, price_table
from relaykit.measure import MODEL_CALLS
from relaykit.model import Message, Model, Reply, ReplyStream, StreamEvent, ToolSpec, Usage


class CallSite(Protocol):
    """What ``BoundModel`` needs of a ``Context``."""

    @property
    def settings(self) -> Any: ...

    @property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]: ...

    def remaining_seconds(self) -> float: ...


class BoundModel:
    """``model`` bound to ``ctx``'s deadline, usage meter and logger; see the module docstring."""

    def __init__(
        self,
        model: Model,
        ctx: CallSite,
        *,
        meter: UsageMeter | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.model = model
        self.name = model.name
        self.usage = meter if meter is not None else UsageMeter()
        self._ctx = ctx
        self._clock = clock

    def __repr__(self) -> str:
        return f"BoundModel({self.model.name!r}, calls={len(self.usage.calls)})"

    def metered(self) -> BoundModel:
        """This model with a meter of its own whose records also reach this one's: what one
        durable step's calls (failed attempts included) used, apart from concurrent steps."""
        meter = UsageMeter(hooks=[self.usage.add])
        return BoundModel(self.model, self._ctx, meter=meter, clock=self._clock)

    def _price(self, model_id: str, usage: Usage) -> float | None:
        return price_table(getattr(self._ctx.settings, "price_table", None)).cost(model_id, usage)

    def record(
        self, kind: str, start: float, reply: Reply | None, error: BaseException | None
    ) -> None:
        """Add one call to ``usage`` (and to the measured invocation's calls: see
        ``relaykit.measure.MODEL_CALLS``) and write its ``model call`` log line."""
        # A failed call: what it consumed before failing, when the provider said (billed).
        failed_usage = getattr(error, "usage", None) or Usage()
        usage = reply.usage if reply is not None else failed_usage
        priced = reply is not None or usage != Usage()
        model_id = reply.model if reply is not None else self.model.name
        record = CallRecord(
            model=model_id,
            kind=kind,
            usage=usage,
            latency_s=self._clock() - start,
            cost_usd=self._price(model_id, usage) if priced else None,
            stop_reason=reply.stop_reason if reply is not None else None,
            error=None if error is None else f"{type(error).__name__}: {error}",
        )
        if not getattr(error, "out_of_time", False):  # a call refused unsent is not a call
            self.usage.add(record)
            invocation = MODEL_CALLS.get()  # the invocation is measured as a whole
            if invocation is not None:
                invocation.append(record)
        level = logging.INFO if error is None else logging.WARNING
        self._ctx.logger.log(level, "model call", extra=record.log_fields())

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        system: str | Sequence[Mapping[str, Any]] | None = None,
        tools: Sequence[ToolSpec] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        remaining_seconds: Callable[[], float] | None = None,
        **options: Any,
    ) -> Reply:
        start = self._clock()
        try:
            reply = await self.model.complete(
                messages,
                system=system,
                tools=tools,
                max_tokens=max_tokens,
                temperature=temperature,
                remaining_seconds=remaining_seconds or self._ctx.remaining_seconds,
                **options,
            )
        except ModelError as exc:
            self.record("complete", start, None, exc)
            raise
        self.record("complete", start, reply, None)
        return reply

    def stream(
        self,
        messages: Sequence[Message],
        *,
        system: str | Sequence[Mapping[str, Any]] | None = None,
        tools: Sequence[ToolSpec] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        remaining_seconds: Callable[[], float] | None = None,
        **options: Any,
    ) -> BoundStream:
        start = self._clock()
        inner = self.model.stream(
            messages,
            system=system,
            tools=tools,
            max_tokens=max_tokens,
            temperature=temperature,
            remaining_seconds=remaining_seconds or self._ctx.remaining_seconds,
            **options,
        )
        return BoundStream(inner, lambda reply, exc: self.record("stream", start, reply, exc))


class BoundStream:
    """A provider's ``ReplyStream`` that reports its final reply (or its failure) once."""

    def __init__(
        self, inner: ReplyStream, done: Callable[[Reply | None, BaseException | None], None]
    ) -> None:
        self._inner = inner
        self._done = done

    @property
    def reply(self) -> Reply | None:
        return self._inner.reply

    def events(self) -> AsyncIterator[StreamEvent]:
        return self._watch(self._inner.events())

    def __aiter__(self) -> AsyncIterator[str]:
        return self._watch(self._inner.__aiter__())

    async def _watch(self, source: AsyncIterator[Any]) -> AsyncIterator[Any]:
        try:
            async for item in source:
                yield item
        except ModelError as exc:
            self._done(None, exc)
            raise
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()  # the consumer stopped early: release the connection now
        self._done(self._inner.reply, None)

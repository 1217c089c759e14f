"""The body of ``ctx.llm_step``: one model call whose tokens reach the run's progress stream.

``ModelCall.run`` streams the reply (or calls ``complete`` when ``stream=False``) and forwards
its text deltas to the progress log as ``token`` entries while the step runs; the step then
commits the final ``Reply``. Tokens are batched: a ``token`` entry is written when
``flush_tokens`` deltas are waiting or ``flush_seconds`` have passed since the first of them
(checked as deltas arrive), and once more when the stream ends, before the reply is committed.
So a reply costs about one store write per ``flush_tokens`` deltas, not one per token, and every
``token`` entry of a step has a smaller progress id than the step's commit.

An entry's data is ``{"step_id", "name", "attempt", "text"}``: ``text`` is the batch's deltas
joined. A retried attempt (a stream cut mid-way) streams again under the next ``attempt``
number: a client that shows tokens starts the step's text over when ``attempt`` changes.

Standard library only: the model is reached through the ``relaykit.model`` protocol, and its
cost is read from the ``UsageMeter`` of a bound model (``ctx.llm``) when there is one. A model
passed to ``llm_step(model=...)`` is bound to the same meter (``bind``), so its calls are
priced and logged like ``ctx.llm``'s.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from relaykit.model import Message, Model, Reply, TextDelta

if TYPE_CHECKING:
    from relaykit.durable.execution import Execution

FLUSH_TOKENS = 16
"""Default: write a ``token`` entry once this many text deltas are waiting."""
FLUSH_SECONDS = 0.25
"""Default: ...or once the oldest waiting delta is this many seconds old."""


def bind(model: Model, ctx: Any) -> Model:
    """``model`` bound like ``ctx.llm`` (same usage meter, deadline and logger), when
    ``ctx.llm`` is a bound model and ``model`` is not; else ``model`` unchanged."""
    meter = getattr(ctx.llm, "usage", None)
    if meter is None or hasattr(model, "usage"):
        return model
    # Resolved by name: the durable layer does not import the model layer.
    bound_model = importlib.import_module("relaykit.llm.bound").BoundModel
    bound: Model = bound_model(model, ctx, meter=meter)
    return bound


class TokenBatcher:
    """Collects text deltas of one step attempt and appends them as ``token`` entries."""

    def __init__(
        self,
        execution: Execution,
        data: Mapping[str, Any],
        *,
        flush_tokens: int = FLUSH_TOKENS,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self._x = execution
        self._data = dict(data)
        self._flush_tokens = max(1, flush_tokens)
        self._flush_seconds = flush_seconds
        self._pending: list[str] = []
        self._since = 0.0
        self.entries = 0

    async def add(self, text: str) -> None:
        if not text:
            return
        now = self._x.clock.now()
        if not self._pending:
            self._since = now
        self._pending.append(text)
        full = len(self._pending) >= self._flush_tokens
        if full or now - self._since >= self._flush_seconds:
            await self.flush()

    async def flush(self) -> None:
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        await self._x.append_progress("token", {**self._data, "text": text})
        self.entries += 1


class ModelCall:
    """One ``llm_step`` call: its arguments, and the step function that makes it."""

    def __init__(
        self,
        execution: Execution,
        model: Model,
        messages: Sequence[Message],
        arguments: Mapping[str, Any],
        *,
        stream: bool,
        flush_tokens: int = FLUSH_TOKENS,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self._x = execution
        self.model = model
        self.messages = list(messages)  # a snapshot: the caller may append to its list later
        self.arguments = dict(arguments)
        self.stream = stream
        self.flush_tokens = flush_tokens
        self.flush_seconds = flush_seconds
        self._mark = 0

    async def run(self, step_id: str, name: str, attempt: int) -> Reply:
        """Call the model (streaming tokens to the progress log) and return the final reply."""
        meter = getattr(self.model, "usage", None)
        self._mark = len(getattr(meter, "calls", ()))
        if not self.stream:
            return await self.model.complete(self.messages, **self.arguments)
        batcher = TokenBatcher(
            self._x,
            {"step_id": step_id, "name": name, "attempt": attempt},
            flush_tokens=self.flush_tokens,
            flush_seconds=self.flush_seconds,
        )
        stream = self.model.stream(self.messages, **self.arguments)
        reply: Reply | None = None
        async for event in stream.events():
            if isinstance(event, TextDelta):
                await batcher.add(event.text)
            elif isinstance(event, Reply):
                reply = event
        await batcher.flush()
        final = stream.reply or reply
        assert final is not None  # a ReplyStream ends with its reply or raises
        return final

    def usage_of(self, reply: Reply) -> str:
        """The step's usage record: the reply's tokens, model and cost (``None`` if unknown)."""
        data: dict[str, Any] = {"model": reply.model, **asdict(reply.usage)}
        data["cost_usd"] = self._cost(reply)
        return json.dumps(data, separators=(",", ":"))

    def _cost(self, reply: Reply) -> float | None:
        # The bound model (ctx.llm) recorded the call with its price; find that record by the
        # identity of the reply's usage (safe when several llm steps run concurrently).
        meter = getattr(self.model, "usage", None)
        for record in reversed(list(getattr(meter, "calls", ()))[self._mark :]):
            if getattr(record, "usage", None) is reply.usage:
                cost = getattr(record, "cost_usd", None)
                return None if cost is None else float(cost)
        return None

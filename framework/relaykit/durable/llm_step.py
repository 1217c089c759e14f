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
from typing import TYPE_CHECKING, Any

from relaykit.model import Message, Model, Reply, TextDelta

if TYPE_CHECKING:
    from relaykit.durable.execution import Execution

_TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
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
        # A meter of the step's own (forwarding to ``ctx.llm``'s), so its calls are told apart
        # from those of concurrent steps.
        metered = getattr(model, "metered", None)
        self.model: Model = metered() if callable(metered) else model
        self.messages = list(messages)  # a snapshot: the caller may append to its list later
        self.arguments = dict(arguments)
        self.stream = stream
        self.flush_tokens = flush_tokens
        self.flush_seconds = flush_seconds
        self._reply: Reply | None = None

    async def run(self, step_id: str, name: str, attempt: int) -> Reply:
        """Call the model (streaming tokens to the progress log) and return the final reply."""
        if not self.stream:
            self._reply = await self.model.complete(self.messages, **self.arguments)
            return self._reply
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
        self._reply = final
        return final

    def usage_of(self, prior: str | None) -> str | None:
        """The step's usage record (JSON): every call this step made in this invocation,
        failed attempts included (their tokens when the provider reported them before failing),
        added to ``prior``, what earlier invocations recorded for the step. ``calls`` and
        ``failed_calls`` count the calls; ``cost_usd`` is ``None`` while no call had a price."""
        meter = getattr(self.model, "usage", None)
        if meter is not None:
            made = [(r.model, r.usage, r.cost_usd, r.error is not None) for r in meter.calls]
        elif self._reply is not None:  # a model that is not bound: the reply's tokens only
            made = [(self._reply.model, self._reply.usage, None, False)]
        else:
            made = []
        if not made and not prior:
            return None
        total: dict[str, Any] = {"model": self.model.name, **dict.fromkeys(_TOKENS, 0)}
        total.update(cost_usd=None, calls=0, failed_calls=0)
        total.update(json.loads(prior) if prior else {})
        for model, usage, cost, failed in made:
            if not failed:
                total["model"] = model
            for key in _TOKENS:
                total[key] = int(total.get(key) or 0) + int(getattr(usage, key))
            if cost is not None:
                total["cost_usd"] = round(float(total["cost_usd"] or 0.0) + cost, 8)
            total["calls"] = int(total.get("calls") or 0) + 1
            total["failed_calls"] = int(total.get("failed_calls") or 0) + failed
        return json.dumps(total, separators=(",", ":"))

"""``ModelStream``: the ``ReplyStream`` every provider returns, built over an event iterator.

A provider produces one async iterator of ``StreamEvent`` (text and tool-call deltas, then the
final ``Reply``). ``ModelStream`` hands it out either whole (``events()``) or as text only
(``async for text in stream``), remembers the final reply, and closes the provider's iterator
(and so its connection) when the consumer stops early.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from relaykit.errors import ModelError
from relaykit.model import Reply, StreamEvent, TextDelta, ToolCall, ToolCallDelta, Usage


class ModelStream:
    """A one-shot stream of one model reply; see the module docstring."""

    def __init__(
        self,
        source: AsyncIterator[StreamEvent],
        *,
        on_reply: Callable[[Reply], None] | None = None,
    ) -> None:
        self._source = source
        self._on_reply = on_reply
        self._used = False
        self.reply: Reply | None = None

    def events(self) -> AsyncIterator[StreamEvent]:
        """Every event: ``TextDelta`` and ``ToolCallDelta`` in order, then the final ``Reply``."""
        if self._used:
            raise RuntimeError("a model stream can be iterated once; call stream() again")
        self._used = True
        return self._events()

    async def _events(self) -> AsyncIterator[StreamEvent]:
        source = self._source
        try:
            async for event in source:
                if type(event) is Reply:
                    self.reply = event
                    if self._on_reply is not None:
                        self._on_reply(event)
                yield event
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()
        if self.reply is None:
            raise ModelError("the model stream ended without a final reply", retryable=True)

    async def __aiter__(self) -> AsyncIterator[str]:
        events = self.events()
        try:
            async for event in events:
                if type(event) is TextDelta:
                    yield event.text
        finally:
            await events.aclose()  # type: ignore[attr-defined]

    async def final(self) -> Reply:
        """Read the rest of the stream and return the final reply."""
        async for _ in self.events():
            pass
        assert self.reply is not None
        return self.reply


class ReplyBuilder:
    """Collects deltas into the final ``Reply`` (used by providers that stream raw deltas)."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.text: list[str] = []
        self.calls: dict[int, list[str]] = {}
        self.heads: dict[int, tuple[str, str]] = {}
        self.stop_reason = "end_turn"
        self.usage = Usage()

    def start_call(self, index: int, call_id: str, name: str) -> ToolCallDelta:
        self.heads[index] = (call_id, name)
        self.calls[index] = []
        return ToolCallDelta(index, call_id, name, "")

    def call_delta(self, index: int, piece: str) -> ToolCallDelta:
        call_id, name = self.heads[index]
        self.calls[index].append(piece)
        return ToolCallDelta(index, call_id, name, piece)

    def build(self) -> Reply:
        calls: list[ToolCall] = []
        for index in sorted(self.heads):
            call_id, name = self.heads[index]
            raw = "".join(self.calls[index])
            try:
                data: Any = json.loads(raw) if raw else {}
            except ValueError:
                raise ModelError(
                    f"the model streamed tool call {name!r} with input that is not valid JSON",
                    retryable=True,
                ) from None
            calls.append(ToolCall(call_id, name, data if isinstance(data, dict) else {}))
        return Reply(
            text="".join(self.text),
            model=self.model,
            stop_reason=self.stop_reason,
            tool_calls=tuple(calls),
            usage=self.usage,
        )

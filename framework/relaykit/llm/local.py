"""The local model: offline, deterministic, free. The default when no provider key is set.

Unscripted, it answers every prompt with a reply derived from the last user message, streamed
word by word at ``delay`` seconds per word. Scripted, it returns the given replies in order: text,
a ``ToolCall`` (or a list of them) for a tool-use turn, or a whole ``Reply``, so that tests and
examples can play a conversation, tool calls included. Usage counts words as tokens.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any

from relaykit.errors import ModelError
from relaykit.llm.streams import ModelStream
from relaykit.model import (
    Message,
    Reply,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
    Usage,
    last_user_text,
)

ScriptItem = str | Reply | ToolCall | Sequence[ToolCall]


def _words(text: str) -> list[str]:
    """Split into streamable pieces that join back to ``text`` exactly."""
    pieces: list[str] = []
    for index, word in enumerate(text.split(" ")):
        pieces.append(word if index == 0 else " " + word)
    return [piece for piece in pieces if piece]


def _count_tokens(text: str) -> int:
    return len(text.split())


def _halves(text: str) -> list[str]:
    middle = len(text) // 2
    return [piece for piece in (text[:middle], text[middle:]) if piece]


class LocalReplyStream(ModelStream):
    """Text and tool-call deltas of one local reply; ``reply`` is set when the stream ends."""

    def __init__(self, reply: Reply, delay: float) -> None:
        super().__init__(self._play(reply, delay))

    @staticmethod
    async def _play(reply: Reply, delay: float) -> AsyncIterator[StreamEvent]:
        for piece in _words(reply.text):
            if delay:
                await asyncio.sleep(delay)
            yield TextDelta(piece)
        for index, call in enumerate(reply.tool_calls):
            yield ToolCallDelta(index, call.id, call.name, "")
            for piece in _halves(json.dumps(call.input)):
                yield ToolCallDelta(index, call.id, call.name, piece)
        yield reply


class LocalModel:
    """A deterministic stand-in for a hosted model; see the module docstring."""

    def __init__(
        self,
        model_id: str = "",
        *,
        delay: float = 0.05,
        script: Iterable[ScriptItem] | None = None,
    ) -> None:
        self.name = f"local:{model_id}" if model_id else "local"
        self.delay = delay
        self._script = list(script) if script is not None else None
        self._turn = 0

    def _scripted(self, item: ScriptItem) -> Reply:
        if isinstance(item, Reply):
            return item
        if isinstance(item, str):
            return Reply(text=item, model=self.name)
        calls = (item,) if isinstance(item, ToolCall) else tuple(item)
        return Reply(text="", model=self.name, stop_reason="tool_use", tool_calls=calls)

    def _next_reply(self, messages: Sequence[Message], max_tokens: int | None) -> Reply:
        prompt = last_user_text(messages)
        if self._script is None:
            text = f"Local model reply to: {prompt}" if prompt else "Local model reply."
            reply = Reply(text=text, model=self.name)
        else:
            if self._turn >= len(self._script):
                raise ModelError(
                    f"the local model's script has {len(self._script)} replies and all were "
                    "used; add replies to LocalModel(script=[...])"
                )
            reply = self._scripted(self._script[self._turn])
        self._turn += 1
        if max_tokens is not None and _count_tokens(reply.text) > max_tokens:
            kept = " ".join(reply.text.split()[:max_tokens])
            reply = Reply(text=kept, model=reply.model, stop_reason="max_tokens")
        output = _count_tokens(reply.text) + sum(
            _count_tokens(json.dumps(call.input)) for call in reply.tool_calls
        )
        return Reply(
            text=reply.text,
            model=reply.model,
            stop_reason=reply.stop_reason,
            tool_calls=reply.tool_calls,
            usage=Usage(input_tokens=_count_tokens(prompt), output_tokens=output),
        )

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
        return self._next_reply(messages, max_tokens)

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
    ) -> LocalReplyStream:
        return LocalReplyStream(self._next_reply(messages, max_tokens), self.delay)

"""The local model: offline, deterministic, free. The default when no provider key is set.

Unscripted, it answers every prompt with a reply derived from the last user message, streamed
word by word at ``delay`` seconds per word. Scripted, it returns the given replies in order (text,
or ``Reply`` objects with tool calls) so that tests and examples can play a conversation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from relaykit.errors import ModelError
from relaykit.model import Message, Reply, Usage, last_user_text


def _words(text: str) -> list[str]:
    """Split into streamable pieces that join back to ``text`` exactly."""
    pieces: list[str] = []
    for index, word in enumerate(text.split(" ")):
        pieces.append(word if index == 0 else " " + word)
    return [piece for piece in pieces if piece]


def _count_tokens(text: str) -> int:
    return len(text.split())


class LocalReplyStream:
    """Text deltas of one local reply; ``reply`` is set when the stream ends."""

    def __init__(self, reply: Reply, delay: float) -> None:
        self._final = reply
        self._delay = delay
        self.reply: Reply | None = None

    async def __aiter__(self) -> AsyncIterator[str]:
        for piece in _words(self._final.text):
            if self._delay:
                await asyncio.sleep(self._delay)
            yield piece
        self.reply = self._final


class LocalModel:
    """A deterministic stand-in for a hosted model; see the module docstring."""

    def __init__(
        self,
        model_id: str = "",
        *,
        delay: float = 0.05,
        script: Iterable[str | Reply] | None = None,
    ) -> None:
        self.name = f"local:{model_id}" if model_id else "local"
        self.delay = delay
        self._script = list(script) if script is not None else None
        self._turn = 0

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
            item = self._script[self._turn]
            reply = item if isinstance(item, Reply) else Reply(text=item, model=self.name)
        self._turn += 1
        if max_tokens is not None and _count_tokens(reply.text) > max_tokens:
            kept = " ".join(reply.text.split()[:max_tokens])
            reply = Reply(text=kept, model=reply.model, stop_reason="max_tokens")
        usage = Usage(input_tokens=_count_tokens(prompt), output_tokens=_count_tokens(reply.text))
        return Reply(
            text=reply.text,
            model=reply.model,
            stop_reason=reply.stop_reason,
            tool_calls=reply.tool_calls,
            usage=usage,
        )

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        system: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **options: Any,
    ) -> Reply:
        return self._next_reply(messages, max_tokens)

    def stream(
        self,
        messages: Sequence[Message],
        *,
        system: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **options: Any,
    ) -> LocalReplyStream:
        return LocalReplyStream(self._next_reply(messages, max_tokens), self.delay)

"""``ScriptedAgentModel``: the local model's scripted mode, indexed by the conversation's turn.

``LocalModel(script=[...])`` plays its replies in call order, with the cursor in the process. A
durable agent is replayed, and may resume in another process (a Lambda continuation, a restarted
container), where a fresh ``LocalModel`` would start its script over. This model picks the
reply from the conversation instead: a conversation with ``k`` assistant messages gets
``script[k]``. The reply itself is made by ``LocalModel`` (the same streaming, usage counting
and ``max_tokens`` truncation), so any number of runs, in any number of processes, play the
same conversation. ``calls`` counts the calls this object served.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from relaykit.errors import ModelError
from relaykit.llm.local import LocalModel, LocalReplyStream, ScriptItem
from relaykit.model import Message, Reply, ToolSpec


class ScriptedAgentModel:
    """A scripted local model for agents; see the module docstring."""

    def __init__(
        self, script: Sequence[ScriptItem], *, model_id: str = "", delay: float = 0.0
    ) -> None:
        self.script = list(script)
        self.model_id = model_id
        self.delay = delay
        self.name = f"local:{model_id}" if model_id else "local"
        self.calls = 0

    def _player(self, messages: Sequence[Message]) -> LocalModel:
        turn = sum(1 for message in messages if message.get("role") == "assistant")
        if turn >= len(self.script):
            raise ModelError(
                f"the agent script has {len(self.script)} replies and the conversation is at "
                f"turn {turn + 1}; add replies to ScriptedAgentModel([...])"
            )
        self.calls += 1
        return LocalModel(self.model_id, delay=self.delay, script=[self.script[turn]])

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
        return await self._player(messages).complete(messages, max_tokens=max_tokens)

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
        return self._player(messages).stream(messages, max_tokens=max_tokens)

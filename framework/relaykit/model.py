"""The model seam: what ``ctx.llm`` is, whatever provider sits behind it.

Providers (the local model here; Anthropic and Bedrock in ``relaykit.llm``) implement ``Model``.
The core knows them only through this protocol and resolves one by name on first use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypedDict, runtime_checkable


class Message(TypedDict):
    """One chat message: ``content`` is text or a list of provider content blocks."""

    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]


@dataclass(frozen=True)
class Usage:
    """Token counts of one model call."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(frozen=True)
class ToolCall:
    """A tool the model asked to call, with its JSON input."""

    id: str
    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """A finished model reply."""

    text: str
    model: str
    stop_reason: str = "end_turn"
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)


class ReplyStream(Protocol):
    """Async iterator of text deltas; ``reply`` holds the final ``Reply`` once exhausted."""

    def __aiter__(self) -> AsyncIterator[str]: ...

    @property
    def reply(self) -> Reply | None: ...


@runtime_checkable
class Model(Protocol):
    """What every model provider offers to handlers."""

    name: str

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        system: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **options: Any,
    ) -> Reply: ...

    def stream(
        self,
        messages: Sequence[Message],
        *,
        system: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        **options: Any,
    ) -> ReplyStream: ...


def last_user_text(messages: Sequence[Message]) -> str:
    """The text of the last user message (content blocks of type ``text`` joined)."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content", "")
        if isinstance(content, str):
            return content
        return " ".join(
            str(block.get("text", "")) for block in content if block.get("type") == "text"
        )
    return ""

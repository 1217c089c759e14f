"""The model seam: what ``ctx.llm`` is, whatever provider sits behind it.

Providers (``relaykit.llm.local``, ``relaykit.llm.anthropic``, ``relaykit.llm.bedrock``) implement
``Model``. The core knows them only through this protocol and resolves one by name on first use.
Standard library only: this module is part of ``import relaykit``.

Messages use one shape for every provider (Anthropic's): ``content`` is a string or a list of
blocks ``{"type": "text", "text": ...}``, ``{"type": "tool_use", "id", "name", "input"}`` and
``{"type": "tool_result", "tool_use_id", "content", "is_error"}``; providers translate.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypedDict, runtime_checkable

STOP_REASONS = ("end_turn", "tool_use", "max_tokens", "stop_sequence")
"""The stop reasons every provider maps to; a provider-only reason (``refusal``,
``guardrail_intervened``...) is passed through unchanged."""


class Message(TypedDict):
    """One chat message: ``content`` is text or a list of content blocks."""

    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]


@dataclass(frozen=True)
class Usage:
    """Token counts of one model call (cache reads and writes counted apart from input)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )


@dataclass(frozen=True)
class ToolCall:
    """A tool the model asked to call, with its JSON input."""

    id: str
    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class Tool:
    """A tool offered to the model. ``options`` carries provider keys such as ``cache_control``.

    Build one from a typed function or a pydantic model with ``relaykit.llm.tools.tool``.
    """

    name: str
    description: str
    input_schema: Mapping[str, Any]
    options: Mapping[str, Any] = field(default_factory=dict)


ToolSpec = Tool | Mapping[str, Any] | Callable[..., Any] | type
"""What ``tools=`` accepts: a ``Tool``, a JSON-schema dict (``name``, ``description``,
``input_schema``), a typed function, or a pydantic model class."""


@dataclass(frozen=True)
class Reply:
    """A finished model reply."""

    text: str
    model: str
    stop_reason: str = "end_turn"
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)

    def to_message(self) -> Message:
        """This reply as the assistant message to append before sending tool results back."""
        blocks: list[dict[str, Any]] = [{"type": "text", "text": self.text}] if self.text else []
        blocks += [
            {"type": "tool_use", "id": c.id, "name": c.name, "input": c.input}
            for c in self.tool_calls
        ]
        return {"role": "assistant", "content": blocks}


def tool_result(call: ToolCall | str, content: Any, *, is_error: bool = False) -> dict[str, Any]:
    """A ``tool_result`` content block answering ``call`` (a ``ToolCall`` or its id).

    ``content`` is text, a list of content blocks, or any JSON value (sent as JSON text).
    """
    if not isinstance(content, str | list):
        content = json.dumps(content, default=str)
    call_id = call.id if isinstance(call, ToolCall) else call
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": call_id, "content": content}
    if is_error:
        block["is_error"] = True
    return block


@dataclass(frozen=True)
class TextDelta:
    """A piece of the reply's text, as it arrives."""

    text: str


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a tool call's JSON input; ``index`` tells concurrent calls apart."""

    index: int
    id: str
    name: str
    input_json: str


StreamEvent = TextDelta | ToolCallDelta | Reply
"""What ``ReplyStream.events()`` yields: deltas in order, then the final ``Reply`` last."""


class ReplyStream(Protocol):
    """``async for text in stream`` yields text deltas; ``events()`` yields every event.

    Either iteration may run once. ``reply`` holds the final ``Reply`` once the stream ended.
    """

    def __aiter__(self) -> AsyncIterator[str]: ...

    def events(self) -> AsyncIterator[StreamEvent]: ...

    @property
    def reply(self) -> Reply | None: ...


@runtime_checkable
class Model(Protocol):
    """What every model provider offers to handlers.

    ``remaining_seconds`` (usually ``ctx.remaining_seconds``) bounds each attempt's timeout and
    each retry by the invocation's deadline; ``options`` are passed to the provider unchanged.
    """

    name: str

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
    ) -> Reply: ...

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

"""Translation between relaykit's message shape and Bedrock's Converse API.

relaykit messages use Anthropic's content blocks; Converse uses ``{"text"}``, ``{"toolUse"}``,
``{"toolResult"}``, ``{"image"}``... A block already in Converse shape (no ``type`` key, such as
``{"cachePoint": {"type": "default"}}``) passes through unchanged, so provider features reach
Bedrock without relaykit knowing them.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from relaykit.model import Message, Reply, Tool, ToolCall, Usage


def _result_content(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}]
    out: list[dict[str, Any]] = []
    for block in content:
        if block.get("type") == "text":
            out.append({"text": block["text"]})
        elif "type" in block:
            out.append(to_block(block))
        else:
            out.append(dict(block))
    return out


def to_block(block: Mapping[str, Any]) -> dict[str, Any]:
    """One content block in Converse shape."""
    kind = block.get("type")
    if kind is None:
        return dict(block)
    if kind == "text":
        return {"text": block["text"]}
    if kind == "tool_use":
        return {
            "toolUse": {"toolUseId": block["id"], "name": block["name"], "input": block["input"]}
        }
    if kind == "tool_result":
        result = {
            "toolUseId": block["tool_use_id"],
            "content": _result_content(block.get("content", "")),
            "status": "error" if block.get("is_error") else "success",
        }
        return {"toolResult": result}
    if kind == "image" and block.get("source", {}).get("type") == "base64":
        source = block["source"]
        image_format = str(source["media_type"]).rsplit("/", 1)[-1]
        return {
            "image": {"format": image_format, "source": {"bytes": base64.b64decode(source["data"])}}
        }
    raise ValueError(f"content block type {kind!r} has no Bedrock Converse equivalent")


def to_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Converse ``messages``: every message's content as a list of Converse blocks."""
    out: list[dict[str, Any]] = []
    for message in messages:
        content = message["content"]
        blocks = [{"text": content}] if isinstance(content, str) else [to_block(b) for b in content]
        out.append({"role": message["role"], "content": blocks})
    return out


def to_system(system: str | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(system, str):
        return [{"text": system}]
    return [to_block(block) for block in system]


def to_tool_config(tools: Sequence[Tool], tool_choice: Mapping[str, Any] | None) -> dict[str, Any]:
    """``toolConfig``; ``tool_choice`` in Anthropic's shape (``{"type": "auto"|"any"|"tool"}``)."""
    specs: list[dict[str, Any]] = []
    for tool in tools:
        spec = {"name": tool.name, "inputSchema": {"json": dict(tool.input_schema)}}
        if tool.description:
            spec["description"] = tool.description
        specs.append({"toolSpec": spec})
        if tool.options.get("cache_point"):
            specs.append({"cachePoint": {"type": "default"}})
    config: dict[str, Any] = {"tools": specs}
    if tool_choice is not None:
        kind = tool_choice.get("type", "auto")
        config["toolChoice"] = (
            {"tool": {"name": tool_choice["name"]}} if kind == "tool" else {kind: {}}
        )
    return config


def to_usage(raw: Mapping[str, Any] | None) -> Usage:
    raw = raw or {}
    return Usage(
        int(raw.get("inputTokens", 0)),
        int(raw.get("outputTokens", 0)),
        int(raw.get("cacheReadInputTokens", 0)),
        int(raw.get("cacheWriteInputTokens", 0)),
    )


def to_reply(response: Mapping[str, Any], model_id: str) -> Reply:
    """A ``Reply`` from a Converse response."""
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in response.get("output", {}).get("message", {}).get("content", []):
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            calls.append(ToolCall(use["toolUseId"], use["name"], dict(use.get("input") or {})))
    return Reply(
        text="".join(texts),
        model=model_id,
        stop_reason=response.get("stopReason", "end_turn"),
        tool_calls=tuple(calls),
        usage=to_usage(response.get("usage")),
    )

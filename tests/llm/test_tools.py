"""Tool schemas: from JSON-schema dicts, typed functions and pydantic models."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from relaykit import Context, RegistrationError
from relaykit.llm.tools import to_tool, to_tools, tool
from relaykit.model import Tool


async def search(
    query: Annotated[str, Field(description="What to look for")],
    limit: int = 5,
    *,
    kind: Literal["web", "news"] = "web",
    ctx: Context | None = None,
) -> list[str]:
    """Search the web.

    Longer text that the model does not need.
    """
    return []


class Weather(BaseModel):
    """Get the weather for a city."""

    city: str
    days: int = Field(default=1, ge=1, le=7)


def test_a_typed_function_gives_name_description_and_schema() -> None:
    """Parameters become properties (types, defaults, descriptions); ctx is left out."""
    made = tool(search)
    assert made.name == "search" and made.description == "Search the web."
    assert made.input_schema == {
        "type": "object",
        "required": ["query"],
        "properties": {
            "query": {"type": "string", "description": "What to look for"},
            "limit": {"type": "integer", "default": 5},
            "kind": {"type": "string", "enum": ["web", "news"], "default": "web"},
        },
    }


def test_a_pydantic_model_gives_its_schema() -> None:
    """A pydantic model class is a tool named after the class, with its JSON schema."""
    made = to_tool(Weather)
    assert made.name == "Weather" and made.description == "Get the weather for a city."
    assert made.input_schema["required"] == ["city"]
    assert made.input_schema["properties"]["days"] == {
        "type": "integer",
        "default": 1,
        "minimum": 1,
        "maximum": 7,
    }


def test_dicts_in_anthropic_or_bedrock_shape_and_tool_objects() -> None:
    """Dicts keep extra provider keys as options; Bedrock toolSpec dicts are read too."""
    raw = {
        "name": "f",
        "description": "d",
        "input_schema": {"type": "object"},
        "cache_control": {"type": "ephemeral"},
    }
    assert to_tool(raw) == Tool(
        "f", "d", {"type": "object"}, {"cache_control": {"type": "ephemeral"}}
    )
    bedrock = {
        "toolSpec": {"name": "g", "description": "e", "inputSchema": {"json": {"type": "object"}}}
    }
    assert to_tool(bedrock) == Tool("g", "e", {"type": "object"})
    same = Tool("h", "x", {})
    assert to_tool(same) is same


def test_conversion_is_cached_and_names_must_be_unique() -> None:
    """The same function converts once; two tools with one name are refused."""
    assert to_tool(search) is to_tool(search)
    with pytest.raises(RegistrationError, match="unique"):
        to_tools([search, tool(Weather, name="search")])
    with pytest.raises(RegistrationError, match="needs 'name'"):
        to_tool({"description": "nameless"})

"""Tool schemas: a ``Tool`` from a JSON-schema dict, a typed function or a pydantic model.

``tool(search)`` reads ``search``'s signature and docstring: each parameter becomes a property
of the input schema (its type hint, its default, ``Annotated[..., Field(description=...)]``),
the docstring's first paragraph becomes the description. A parameter typed ``Context`` (or named
``ctx``) is left out: relaykit passes it, not the model. A pydantic model class gives its JSON
schema and its docstring. pydantic is imported when a function or model is first converted;
results are cached per function or class.
"""

from __future__ import annotations

import contextlib
import inspect
import typing
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from relaykit.errors import RegistrationError
from relaykit.model import Tool, ToolSpec

_CACHE: weakref.WeakKeyDictionary[Any, Tool] = weakref.WeakKeyDictionary()


def _description(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.split("\n\n", 1)[0].replace("\n", " ").strip()


def _clean(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop pydantic's generated ``title`` keys (noise to a model), keep everything else."""
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict):
            prop.pop("title", None)
    return schema


def _is_context(name: str, hint: Any) -> bool:
    return name == "ctx" or getattr(hint, "__name__", "") == "Context"


def schema_for_function(fn: Callable[..., Any]) -> dict[str, Any]:
    """The JSON schema of ``fn``'s parameters (``ctx``/``Context`` and ``*args`` left out)."""
    from pydantic import create_model

    hints = typing.get_type_hints(fn, include_extras=True)
    fields: dict[str, Any] = {}
    for name, param in inspect.signature(fn).parameters.items():
        hint = hints.get(name, Any)
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or _is_context(name, hint):
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[name] = (hint, default)
    model = create_model(f"{getattr(fn, '__name__', 'tool')}_input", **fields)
    return _clean(model.model_json_schema())


def _is_pydantic_model(obj: Any) -> bool:
    return isinstance(obj, type) and callable(getattr(obj, "model_json_schema", None))


def tool(
    source: Callable[..., Any] | type,
    *,
    name: str | None = None,
    description: str | None = None,
    **options: Any,
) -> Tool:
    """A ``Tool`` from a typed function or a pydantic model class.

    ``name`` defaults to the function's name (or the class name), ``description`` to the first
    paragraph of its docstring; ``options`` are provider keys (``cache_control=...``).
    """
    if _is_pydantic_model(source):
        model: Any = source
        schema = _clean(model.model_json_schema())
    elif callable(source):
        schema = schema_for_function(source)
    else:
        raise RegistrationError(f"cannot make a tool of {source!r}: not a function or a model")
    return Tool(
        name=name or str(getattr(source, "__name__", "tool")),
        description=description if description is not None else _description(source),
        input_schema=schema,
        options=options,
    )


def _from_mapping(spec: Mapping[str, Any]) -> Tool:
    if "toolSpec" in spec:  # Bedrock Converse shape
        inner = spec["toolSpec"]
        schema = inner.get("inputSchema", {}).get("json", {})
        return Tool(inner["name"], inner.get("description", ""), schema)
    try:
        tool_name = spec["name"]
    except KeyError:
        raise RegistrationError(
            f"a tool given as a dict needs 'name', 'description' and 'input_schema': {spec!r}"
        ) from None
    extra = {k: v for k, v in spec.items() if k not in ("name", "description", "input_schema")}
    schema = spec.get("input_schema", {"type": "object", "properties": {}})
    return Tool(tool_name, spec.get("description", ""), schema, extra)


def to_tool(spec: ToolSpec) -> Tool:
    """Normalise one ``tools=`` entry to a ``Tool`` (cached for functions and classes)."""
    if isinstance(spec, Tool):
        return spec
    if isinstance(spec, Mapping):
        return _from_mapping(spec)
    try:
        return _CACHE[spec]
    except (KeyError, TypeError):
        pass
    made = tool(spec)
    with contextlib.suppress(TypeError):  # not weak-referenceable: not cached
        _CACHE[spec] = made
    return made


def to_tools(specs: Iterable[ToolSpec] | None) -> list[Tool]:
    """Normalise a ``tools=`` argument; duplicate names are an error."""
    tools = [to_tool(spec) for spec in specs or ()]
    names = [t.name for t in tools]
    if len(set(names)) != len(names):
        raise RegistrationError(f"tool names must be unique, got {names}")
    return tools

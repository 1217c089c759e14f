"""Agent tools: a typed function the model may call, with its schema and input validation.

``AgentTool`` wraps a sync or async function. Its ``Tool`` (what the model sees) comes from
``relaykit.llm.tools``: parameters, type hints, ``Annotated[..., Field(description=...)]`` and
the docstring. The model's input is validated against the same parameters with pydantic before
the function runs; invalid input, an unknown tool name, ``ToolError`` and any other exception
from the function all become an ``is_error`` tool result for the model (see ``loop``), never a
failed run. A parameter named ``ctx`` (or typed ``Context``) is left out of the schema and
receives the workflow context. pydantic is imported when a tool is first used, not at import.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

from relaykit.durable.retry import NO_RETRY, RetryPolicy
from relaykit.errors import TerminalError
from relaykit.llm.tools import tool as make_tool
from relaykit.model import Tool


class ToolError(TerminalError):
    """Raise from a tool to tell the model it failed: the message becomes an ``is_error`` tool
    result as it is, and the tool call is not retried."""


class ToolInputError(ToolError):
    """The model called a tool with input that does not match its schema (or no such tool)."""


def _is_context(name: str, hint: Any) -> bool:
    return name == "ctx" or getattr(hint, "__name__", "") == "Context"


class AgentTool:
    """One tool of an agent: ``fn`` plus how it is offered, validated, retried and timed.

    ``retry`` is the durable step's retry policy (default: one attempt; the model sees the
    error and may call again). ``estimate`` (seconds) helps deadline-aware splitting before the
    tool's first recorded run. ``options`` are provider keys for the ``Tool`` (``cache_control``).
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        retry: RetryPolicy | None = None,
        estimate: float | None = None,
        **options: Any,
    ) -> None:
        self.fn = fn
        self.name = name or str(getattr(fn, "__name__", "tool"))
        self.description = description
        self.retry = retry or NO_RETRY
        self.estimate = estimate
        self.options = options
        self.is_async = inspect.iscoroutinefunction(fn)

    def __repr__(self) -> str:
        return f"AgentTool({self.name!r})"

    @functools.cached_property
    def spec(self) -> Tool:
        """The ``Tool`` offered to the model."""
        return make_tool(self.fn, name=self.name, description=self.description, **self.options)

    @functools.cached_property
    def _signature(self) -> tuple[Any, str | None]:
        """The pydantic model of the parameters the model fills, and the context parameter."""
        from pydantic import create_model

        hints = typing.get_type_hints(self.fn, include_extras=True)
        fields: dict[str, Any] = {}
        context: str | None = None
        for name, param in inspect.signature(self.fn).parameters.items():
            hint = hints.get(name, Any)
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if _is_context(name, hint):
                context = name
                continue
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[name] = (hint, default)
        return create_model(f"{self.name}_input", **fields), context

    def arguments(self, input: Mapping[str, Any]) -> dict[str, Any]:
        """The validated keyword arguments for ``fn``; ``ToolInputError`` lists what is wrong."""
        from pydantic import ValidationError

        model, _ = self._signature
        try:
            validated = model.model_validate(dict(input))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'input'}: {error['msg']}"
                for error in exc.errors()
            )
            raise ToolInputError(f"invalid input for tool {self.name!r}: {problems}") from None
        return {name: getattr(validated, name) for name in type(validated).model_fields}

    async def invoke(self, input: Mapping[str, Any], ctx: Any) -> str:
        """Validate ``input``, call the function, and return its result as tool-result text."""
        kwargs = self.arguments(input)
        _, context = self._signature
        if context is not None:
            kwargs[context] = ctx
        if self.is_async:
            result = await self.fn(**kwargs)
        else:
            result = await asyncio.to_thread(functools.partial(self.fn, **kwargs))
            if inspect.isawaitable(result):
                result = await result
        return to_text(result)


def to_text(value: Any) -> str:
    """A tool's return value as the text the model reads: strings as they are, else JSON."""
    if isinstance(value, str):
        return value
    from pydantic_core import to_json

    return to_json(value).decode("utf-8")

"""Serialising step values and errors to JSON text, and restoring them as their declared type.

A step's value is stored as JSON text. JSON types, pydantic models and dataclasses (and any type
pydantic can validate: ``datetime``, ``UUID``, ``list[Model]``...) are accepted. On the way back
the text is validated into the *declared* type: an explicit ``type=`` given to ``ctx.step``, or
else the step function's return annotation; with neither, plain JSON data comes back.

The engine round-trips every fresh value through this codec before the workflow sees it, so the
first run and every replay hand the workflow exactly the same object. pydantic is imported on
first use, not when relaykit is imported.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import traceback
import typing
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from relaykit.errors import SerializationError

if TYPE_CHECKING:
    from pydantic import TypeAdapter


@functools.lru_cache(maxsize=1024)
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    from pydantic import TypeAdapter

    return TypeAdapter(annotation)


def declared_type(fn: Callable[..., Any]) -> Any:
    """The return annotation of ``fn`` (unwrapping ``functools.partial``), or ``Any``."""
    return describe(fn)[0]


def describe(fn: Callable[..., Any]) -> tuple[Any, bool]:
    """``(declared_type(fn), is_coroutine_function(fn))``, cached per callable: a step body is
    looked up once per step, so this sits on the per-step path."""
    try:
        return _DESCRIBED[fn]
    except (KeyError, TypeError):
        pass
    described = (_declared_type(fn), is_coroutine_function(fn))
    with contextlib.suppress(TypeError):  # callables without weak references go uncached
        _DESCRIBED[fn] = described
    return described


# Weak keys: caching a closure must not keep what it captured alive.
_DESCRIBED: weakref.WeakKeyDictionary[Any, tuple[Any, bool]] = weakref.WeakKeyDictionary()


def _declared_type(fn: Callable[..., Any]) -> Any:
    target: Any = fn
    while isinstance(target, functools.partial):
        target = target.func
    try:
        hints = typing.get_type_hints(target)
    except Exception:
        return Any
    hint = hints.get("return", Any)
    if hint is type(None):
        return type(None)
    origin = typing.get_origin(hint)
    # ``def f() -> Awaitable[T]`` (a sync function returning an awaitable) restores as T.
    if origin is not None and getattr(origin, "__name__", "") in {"Awaitable", "Coroutine"}:
        args = typing.get_args(hint)
        return args[-1] if args else Any
    return hint


_PLAIN = (str, int, bool)


def round_trip(value: Any, annotation: Any = Any) -> tuple[str, Any]:
    """``(text, restored)``: the stored text and the value a replay will see. Plain strings,
    ints and bools of their declared type skip the decode (they round-trip unchanged)."""
    kind = type(value)
    if kind in _PLAIN and (annotation is Any or annotation is kind):
        # An int's JSON text is its repr (what json.dumps writes), without the encoder's setup.
        return (int.__repr__(value) if kind is int else json.dumps(value)), value
    text = encode(value, annotation)
    return text, decode(text, annotation)


def encode(value: Any, annotation: Any = Any) -> str:
    """``value`` as compact JSON text, serialised through ``annotation`` when one is declared."""
    try:
        if annotation is Any:
            from pydantic_core import to_json

            return to_json(value).decode("utf-8")
        return _adapter(annotation).dump_json(value).decode("utf-8")
    except Exception as exc:
        raise SerializationError(
            f"cannot serialise a {type(value).__name__} value as JSON ({exc}); return JSON "
            "types, pydantic models or dataclasses from steps"
        ) from None


def decode(text: str, annotation: Any = Any) -> Any:
    """JSON text back to a value of ``annotation`` (plain JSON data for ``Any``)."""
    try:
        if annotation is Any:
            return json.loads(text)
        return _adapter(annotation).validate_json(text)
    except Exception as exc:
        raise SerializationError(
            f"a stored value cannot be restored as {annotation!r} ({exc}); did the step's "
            "declared type change while the run was in flight?"
        ) from None


def qualified_name(exc_type: type[BaseException]) -> str:
    """``module.QualName`` of an exception type (builtins keep their bare name)."""
    module = exc_type.__module__
    name = exc_type.__qualname__
    return name if module == "builtins" else f"{module}.{name}"


def encode_error(exc: BaseException, *, attempts: int = 1, step: str | None = None) -> str:
    """An exception as the JSON error object stored in the log."""
    from relaykit.redact import redact

    error: dict[str, Any] = {
        "type": qualified_name(type(exc)),
        "message": redact(str(exc)),
        "attempts": getattr(exc, "attempts", attempts),
    }
    step = step or getattr(exc, "step", None)
    if step is not None:
        error["step"] = step
    cause = getattr(exc, "error_type", None)
    if cause is not None:
        error["cause"] = cause
    frames = traceback.format_exception(exc)
    error["traceback"] = redact("".join(frames[-6:])[-4000:])
    return json.dumps(error, separators=(",", ":"))


def decode_error(text: str) -> dict[str, Any]:
    """The stored error object (a dict with at least ``type`` and ``message``)."""
    data = json.loads(text)
    if not isinstance(data, dict):
        return {"type": "Error", "message": str(data)}
    return data


def is_coroutine_function(fn: Callable[..., Any]) -> bool:
    """True for ``async def`` functions, also behind ``functools.partial``."""
    target: Any = fn
    while isinstance(target, functools.partial):
        target = target.func
    return inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(
        getattr(target, "__call__", None)  # noqa: B004
    )

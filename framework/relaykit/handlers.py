"""Handler specs: what a registered function is, checked once at registration.

A handler takes at most two parameters: the request body (its annotation is the input type: a
pydantic model, a dataclass or any JSON type; no annotation means any JSON) and the context
(annotated ``Context``, or named ``ctx``/``context``). Either may be left out. A task returns a JSON
value (its return annotation is the output type); a stream is an async generator of text or JSON
chunks. Anything else fails here with a message naming the function and what is wrong.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

from relaykit.context import Context
from relaykit.errors import RegistrationError

Kind = Literal["task", "stream", "workflow"]
RESERVED_PATHS = ("/healthz", "/docs", "/redoc", "/openapi.json", "/runs")
_PATH = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")
_CTX_NAMES = ("ctx", "context")
_NO_ANNOTATION = inspect.Parameter.empty


@dataclass(frozen=True)
class HandlerSpec:
    """A registered handler: its kind, path, function and declared types."""

    kind: Kind
    path: str
    fn: Callable[..., Any]
    name: str
    body_param: str | None
    body_type: Any
    ctx_param: str | None
    output_type: Any
    summary: str
    is_async: bool
    max_concurrency: int | None = None
    """Calls of this handler allowed at once in one process (``None``: unlimited)."""

    @property
    def takes_body(self) -> bool:
        return self.body_param is not None


def describe(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", "?")
    return f"{module}.{getattr(fn, '__qualname__', repr(fn))}"


def check_path(path: str, fn: Callable[..., Any]) -> str:
    where = f"handler {describe(fn)}"
    if not isinstance(path, str) or not _PATH.match(path):
        raise RegistrationError(
            f"{where}: path {path!r} is not valid; use '/name' or '/a/b' with letters, digits, "
            "'.', '_', '~' or '-' (path parameters are not supported: send values in the body)"
        )
    for reserved in RESERVED_PATHS:
        if path == reserved or path.startswith(reserved + "/"):
            raise RegistrationError(f"{where}: path {path!r} is reserved by relaykit")
    return path


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise RegistrationError(
            f"handler {describe(fn)}: its type annotations cannot be resolved ({exc}); "
            "define the types it names before the function"
        ) from None


def _is_context(annotation: Any) -> bool:
    return annotation is Context or (
        isinstance(annotation, type) and issubclass(annotation, Context)
    )


def _split_params(fn: Callable[..., Any], hints: dict[str, Any]) -> tuple[str | None, str | None]:
    where = f"handler {describe(fn)}"
    body: str | None = None
    ctx: str | None = None
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise RegistrationError(
                f"{where}: parameter {param.name!r} is {param.kind.description}; a handler takes "
                "(body, ctx), (body), (ctx) or no parameters, as plain named parameters"
            )
        annotation = hints.get(param.name, _NO_ANNOTATION)
        is_ctx = _is_context(annotation) or (
            annotation is _NO_ANNOTATION and param.name in _CTX_NAMES
        )
        if is_ctx:
            if ctx is not None:
                raise RegistrationError(f"{where}: more than one context parameter")
            ctx = param.name
        elif body is None:
            body = param.name
        else:
            raise RegistrationError(
                f"{where}: too many parameters ({body!r} and {param.name!r} both look like the "
                "body); a handler takes one body parameter and one Context parameter"
            )
    return body, ctx


def _stream_chunk_type(return_hint: Any) -> Any:
    origin = typing.get_origin(return_hint)
    if origin in (AsyncIterator, typing.AsyncGenerator, typing.AsyncIterable) or (
        origin is not None
        and getattr(origin, "__name__", "") in {"AsyncIterator", "AsyncGenerator", "AsyncIterable"}
    ):
        args = typing.get_args(return_hint)
        return args[0] if args else Any
    return Any


def build_spec(
    kind: Kind,
    path: str,
    fn: Callable[..., Any],
    *,
    summary: str | None,
    max_concurrency: int | None = None,
) -> HandlerSpec:
    """Check ``fn`` for ``kind`` and return its spec; raise ``RegistrationError`` otherwise."""
    if not callable(fn):
        raise RegistrationError(f"{kind} at {path!r}: {fn!r} is not a function")
    check_path(path, fn)
    where = f"handler {describe(fn)}"
    hints = _hints(fn)
    body, ctx = _split_params(fn, hints)
    return_hint = hints.get("return", Any)
    if kind == "stream":
        if not inspect.isasyncgenfunction(fn):
            raise RegistrationError(
                f"{where}: a stream handler must be an async generator function "
                "('async def' that yields text or JSON chunks)"
            )
        output = _stream_chunk_type(return_hint)
        is_async = True
    elif kind == "workflow":
        if not inspect.iscoroutinefunction(fn):
            raise RegistrationError(
                f"{where}: a workflow must be an 'async def' function that returns its result "
                "(its side effects go in ctx.step)"
            )
        output = Any if return_hint is type(None) else return_hint
        is_async = True
    else:
        if inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn):
            raise RegistrationError(
                f"{where}: a task handler returns one value; it yields, so register it "
                "with @app.stream instead"
            )
        output = Any if return_hint is type(None) else return_hint
        is_async = inspect.iscoroutinefunction(fn)
    doc = inspect.getdoc(fn) or ""
    return HandlerSpec(
        kind=kind,
        path=path,
        fn=fn,
        name=getattr(fn, "__name__", path.strip("/")),
        body_param=body,
        body_type=hints.get(body, Any) if body else None,
        ctx_param=ctx,
        output_type=output,
        summary=summary or (doc.splitlines()[0] if doc else ""),
        is_async=is_async,
        max_concurrency=_concurrency(max_concurrency, is_async, where),
    )


def _concurrency(limit: int | None, is_async: bool, where: str) -> int | None:
    """The handler's concurrency cap: the given one, else none for async and 1 for sync."""
    if limit is None:
        return None if is_async else 1
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise RegistrationError(f"{where}: max_concurrency must be a whole number >= 1 or None")
    return limit

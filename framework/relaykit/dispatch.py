"""The dispatch seam: a payload in, a handler call, a result or a chunk stream out.

Every target (container, Lambda, CLI, event sources) calls handlers through these functions, so
input validation, output encoding and chunk encoding are the same everywhere. pydantic is imported
on first use, not when relaykit is imported.
"""

from __future__ import annotations

import functools
import json
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from relaykit.context import Context
from relaykit.errors import BadRequest, LimitExceeded, ValidationFailed
from relaykit.handlers import HandlerSpec
from relaykit.measure import MODEL_CALLS, json_size

if TYPE_CHECKING:
    from pydantic import TypeAdapter


@functools.lru_cache(maxsize=512)
def adapter_for(annotation: Any) -> TypeAdapter[Any]:
    """A cached pydantic ``TypeAdapter`` for an annotation."""
    from pydantic import TypeAdapter

    return TypeAdapter(annotation)


def parse_json(raw: bytes | str) -> Any:
    """Decode a JSON body; a clear 400 names where it broke."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"body is not valid UTF-8 (byte {exc.start})") from None
    if not raw.strip():
        raise BadRequest("body is empty; send a JSON value")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise BadRequest("body is not valid JSON: nested too deeply") from None


def field_errors(errors: list[Any], root: str = "body") -> list[dict[str, Any]]:
    """pydantic errors as ``[{field, message, type}]`` with dotted field names."""
    details = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part != "body"]
        details.append(
            {
                "field": ".".join([root, *loc]),
                "message": str(error.get("msg", "invalid")),
                "type": str(error.get("type", "value_error")),
            }
        )
    return details


def validation_message(details: list[dict[str, Any]]) -> str:
    shown = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    more = f" (and {len(details) - 5} more)" if len(details) > 5 else ""
    return f"invalid input: {shown}{more}"


def validate_input(spec: HandlerSpec, payload: Any) -> Any:
    """Convert a decoded JSON payload to the handler's declared input type (422 on mismatch)."""
    from pydantic import ValidationError

    try:
        return adapter_for(spec.body_type).validate_python(payload)
    except ValidationError as exc:
        details = field_errors(exc.errors(include_url=False, include_input=False))
        raise ValidationFailed(validation_message(details), details=details) from None


def encode_output(annotation: Any, value: Any) -> Any:
    """A handler's result as plain JSON data, serialised through its declared type."""
    return adapter_for(annotation).dump_python(value, mode="json")


def _call_args(spec: HandlerSpec, body: Any, ctx: Context) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if spec.body_param is not None:
        kwargs[spec.body_param] = body
    if spec.ctx_param is not None:
        kwargs[spec.ctx_param] = ctx
    return kwargs


_LIMITS: weakref.WeakKeyDictionary[Any, dict[int, Any]] = weakref.WeakKeyDictionary()


def limiter(spec: HandlerSpec) -> Any:
    """The semaphore enforcing ``spec.max_concurrency`` on the running loop (None: no limit)."""
    if spec.max_concurrency is None:
        return None
    import asyncio

    per_loop = _LIMITS.setdefault(asyncio.get_running_loop(), {})
    semaphore = per_loop.get(id(spec))
    if semaphore is None:
        semaphore = per_loop[id(spec)] = asyncio.Semaphore(spec.max_concurrency)
    return semaphore


async def call_task(spec: HandlerSpec, body: Any, ctx: Context) -> Any:
    """Run a task handler with an already-validated body; return its raw result."""
    kwargs = _call_args(spec, body, ctx)
    semaphore = limiter(spec)
    if semaphore is None:
        return await spec.fn(**kwargs)
    async with semaphore:
        if spec.is_async:
            return await spec.fn(**kwargs)
        import asyncio

        return await asyncio.to_thread(spec.fn, **kwargs)


def open_stream(spec: HandlerSpec, body: Any, ctx: Context) -> AsyncIterator[Any]:
    """Start a stream handler with an already-validated body; return its async generator."""
    result: AsyncIterator[Any] = spec.fn(**_call_args(spec, body, ctx))
    return result


@dataclass(frozen=True)
class Chunk:
    """One streamed chunk, encoded: ``kind`` is ``text`` or ``json``; ``data`` is a string."""

    kind: str
    data: str


def encode_chunk(spec: HandlerSpec, value: Any) -> Chunk:
    """Text chunks stay text; anything else is serialised to JSON through the chunk type."""
    if isinstance(value, str):
        return Chunk("text", value)
    if isinstance(value, bytes):
        return Chunk("text", value.decode("utf-8", errors="replace"))
    return Chunk("json", json.dumps(encode_output(spec.output_type, value), separators=(",", ":")))


async def _task(spec: HandlerSpec, payload: Any, ctx: Context) -> Any:
    body = validate_input(spec, payload) if spec.takes_body else None
    result = await call_task(spec, body, ctx)
    return encode_output(spec.output_type, result)


async def run_task(
    spec: HandlerSpec,
    payload: Any,
    ctx: Context,
    encode: Callable[[Any], bytes] | None = None,
) -> Any:
    """Validate, call, encode: the whole task path from decoded JSON to JSON data (measured
    when ``ctx.recorder`` is set, unless the whole invocation is: see ``relaykit.measure``).

    A target that sends the result as a body passes ``encode`` (JSON data to bytes): the result
    is then those bytes, and the measurement's response size is their length, with no second
    encoding to measure it.
    """
    recorder = ctx.recorder
    if recorder is None or MODEL_CALLS.get() is not None:
        output = await _task(spec, payload, ctx)
        return output if encode is None else encode(output)
    started = recorder.begin(ctx)  # no probe object: this runs for every measured task
    try:
        output = await _task(spec, payload, ctx)
        body = output if encode is None else encode(output)
    except BaseException as exc:
        failed = isinstance(exc, Exception)  # cancelled: measured, not an error
        recorder.emit(recorder.measurement(started, ctx.handler, spec.kind, ctx.target, failed))
        raise
    size = json_size(output) if encode is None else len(body)
    recorder.emit(recorder.measurement(started, ctx.handler, spec.kind, ctx.target, False, size))
    return body


async def iter_chunks(spec: HandlerSpec, body: Any, ctx: Context) -> AsyncIterator[Chunk]:
    """Call a stream handler with a validated body; encode each chunk; close it on exit."""
    recorder, probe = ctx.recorder, None
    if recorder is not None and MODEL_CALLS.get() is None:  # else the invocation is measured
        probe = recorder.start(ctx, spec.kind, streamed=True)
    size, failed = 0, False
    semaphore = limiter(spec)
    if semaphore is not None:
        await semaphore.acquire()
    generator = open_stream(spec, body, ctx)
    limit = getattr(ctx.settings, "max_stream_seconds", None)
    values = generator if limit is None else _time_limited(generator, limit)
    try:
        async for value in values:
            chunk = encode_chunk(spec, value)
            size += len(chunk.data)
            yield chunk
    except Exception:
        failed = True
        raise
    finally:
        try:
            aclose = getattr(generator, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            if semaphore is not None:
                semaphore.release()
            if probe is not None:
                probe.finish(size, error=failed)


async def _time_limited(generator: AsyncIterator[Any], seconds: float) -> AsyncIterator[Any]:
    """``generator``'s values until ``seconds`` have passed (the ``max_stream_seconds``
    setting), then ``LimitExceeded``; the wait for each value is cut at that moment too, so a
    handler that stalls is stopped as well."""
    import asyncio  # only when a limit is set: not at import

    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        timer = asyncio.timeout_at(deadline)
        try:
            async with timer:
                value = await anext(generator)
        except StopAsyncIteration:
            return
        except TimeoutError:
            if not timer.expired():
                raise  # the handler's own timeout
            raise LimitExceeded(
                f"the stream ran for {seconds:g}s, the longest allowed (setting "
                "max_stream_seconds), and was stopped"
            ) from None
        yield value


async def run_stream(spec: HandlerSpec, payload: Any, ctx: Context) -> AsyncIterator[Chunk]:
    """Validate, call, encode each chunk: the whole stream path from decoded JSON."""
    body = validate_input(spec, payload) if spec.takes_body else None
    async for chunk in iter_chunks(spec, body, ctx):
        yield chunk

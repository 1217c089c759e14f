"""The contract every Lambda event kind obeys: recognise an event, handle it, report the outcome.

One module per kind (``relaykit.events.http`` for the HTTP shapes; event sources and workflow
continuations add their own), each exposing ``create(env) -> EventKind``. The registry in
``relaykit.events`` lists the modules by name, so adding a kind is adding a file and one line.
``matches`` must be cheap and import nothing heavy: it runs on every event, against every kind,
until one says yes. Whatever ``handle`` needs (Mangum, Powertools, boto3) it imports on first use,
or in ``prepare`` when the app asks for eager initialisation.

This module is stdlib-only, like the rest of the core. Its protocols are what type checkers
hold a kind to; at run time they are plain classes, since nothing checks ``isinstance`` against
them and creating a ``typing.Protocol`` class costs about 30 µs, five of them on every cold start
of an app's Lambda handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextvars import ContextVar, copy_context
from typing import TYPE_CHECKING, Any

from relaykit.lambda_event import Outcome as Outcome  # re-exported: every kind returns one

if TYPE_CHECKING:
    from typing import Protocol, TypeVar

    from relaykit.app import App
    from relaykit.invocation import Invocation

    T = TypeVar("T")
else:
    Protocol = object  # see the module docstring

SERVING: ContextVar[tuple[Any, Invocation] | None] = ContextVar("relaykit_serving", default=None)
"""The Lambda context object of the event being served and the ``Invocation`` the environment
read from it (set by ``LambdaHandler.dispatch`` around ``handle``), so a kind need not read it
again: see ``invocation_of``."""


INLINE: ContextVar[bool] = ContextVar("relaykit_inline", default=False)
"""True while ``LambdaHandler`` serves an event without turning its event loop, because the
kind said (``InlineKind.serves_inline``) that every record goes to a plain ``def`` handler it
can call in the calling thread: the kinds then call those handlers directly, one record after
another, instead of in a worker thread."""


def run_inline(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work``, whose every ``await`` completes at once, to its end in this thread with
    ``INLINE`` set, without an event loop, in a copy of the current context as an asyncio task
    would (what a handler sets in a context variable ends with the invocation)."""
    return copy_context().run(_run_inline, work)


def _run_inline(work: Coroutine[Any, Any, T]) -> T:
    INLINE.set(True)  # in the copy ``run_inline`` made
    try:
        waited = work.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    work.close()
    raise RuntimeError(
        f"relaykit served an event without its event loop, but the work waited for {waited!r}; "
        "this is a relaykit bug, please report it"
    )


def invocation_of(context: Any) -> Invocation:
    """The ``Invocation`` of ``context``: the one the environment read for the event being
    served, or read now (``relaykit.invocation.from_lambda``) when called outside one."""
    serving = SERVING.get()
    if serving is not None and serving[0] is context:
        return serving[1]
    from relaykit.invocation import from_lambda

    return from_lambda(context)


class Environment(Protocol):
    """The Lambda execution environment a kind runs in (the managed-runtime handler, or the
    asyncio runtime loop). Kinds are awaited on the environment's one event loop."""

    @property
    def app(self) -> App: ...


class EventKind(Protocol):
    """One kind of Lambda event: how to recognise it and how to serve it."""

    name: str
    """Short name used in logs and error messages, e.g. ``http``."""

    def matches(self, event: Mapping[str, Any]) -> bool:
        """True when ``event`` is of this kind. Cheap, pure, never raises."""
        ...

    def correlation_id(self, event: Mapping[str, Any]) -> str | None:
        """The caller-side id of this event (API Gateway request id...), for the logs."""
        ...

    async def prepare(self) -> None:
        """Import and build what ``handle`` needs now (eager init); idempotent."""
        ...

    async def handle(self, event: dict[str, Any], context: Any) -> Outcome:
        """Serve one event; answer errors in the event's own response shape where it has one."""
        ...

    async def close(self) -> None:
        """Release what ``prepare``/``handle`` built (the environment is shutting down)."""
        ...


class InlineKind(EventKind, Protocol):
    """A kind that can serve some events without the event loop (the managed runtime's
    ``app.lambda_handler`` asks; see ``INLINE``)."""

    def serves_inline(self, event: Mapping[str, Any]) -> bool:
        """True when every record of ``event`` goes to a handler that runs in the calling
        thread, so ``handle`` never waits for the loop when ``INLINE`` is set (cheap, never
        raises: an event it cannot route is served the usual way)."""
        ...


class ResponseSink(Protocol):
    """Where a streamed response goes (the runtime's chunked POST to the Runtime API)."""

    bytes_written: int

    async def write(self, data: bytes) -> None:
        """Send ``data`` now, unbuffered."""
        ...

    async def close(self) -> None:
        """End the response normally."""
        ...

    async def fail(self, error_type: str, error: dict[str, Any]) -> None:
        """End the response with an error after bytes were sent (trailers)."""
        ...


StreamOpener = Callable[[str], Awaitable[ResponseSink]]
"""Opens the invocation's streamed response with the given content type."""


class StreamingKind(EventKind, Protocol):
    """A kind that can answer some events as a stream (only a runtime that streams asks)."""

    def wants_stream(self, event: Mapping[str, Any]) -> bool:
        """True when ``event`` should be answered as a stream (cheap, never raises)."""
        ...

    async def stream(
        self, event: dict[str, Any], context: Any, open_stream: StreamOpener
    ) -> Outcome:
        """Serve ``event`` into a stream opened with ``open_stream``; close or fail it."""
        ...

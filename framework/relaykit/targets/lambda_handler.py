"""``app.lambda_handler``: the callable AWS Lambda's managed Python runtime invokes.

One ``LambdaHandler`` per app and per execution environment. It owns what must live as long as the
environment: the event loop every invocation runs on (``LambdaEnvironment``), the event kinds
(loaded by name from ``relaykit.events`` on the first event), the app's startup hooks (run once)
and their shutdown (on SIGTERM or at interpreter exit). Per invocation it reads the Lambda context,
puts the request id, function ARN, X-Ray trace id, correlation id and ``cold_start`` on every log
line, lets the first kind that recognises the event serve it, and flushes the invocation's metrics.
An event that the kind can serve without the loop (``events.base.InlineKind``: an SQS or DynamoDB
Streams batch whose every record goes to a plain ``def`` handler) is served in the calling thread,
as Powertools' ``BatchProcessor`` would, with the same bookkeeping and without a turn of the loop.

Building one is cheap: nothing is imported and no loop is created until the first event, unless
the ``lambda_eager_init`` setting asks for that work during the init phase.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import nullcontext
from contextvars import ContextVar
from functools import partial
from typing import TYPE_CHECKING, Any

from relaykit import events, logs
from relaykit.errors import UnknownEventError
from relaykit.events.base import SERVING, USAGE_METERS, EventKind, Outcome, StreamOpener
from relaykit.invocation import from_lambda
from relaykit.targets.lambda_environment import LambdaEnvironment, ms_since
from relaykit.targets.lambda_observe import Observer

if TYPE_CHECKING:
    from relaykit.app import App
    from relaykit.measure import EventProbe

MEASURED_KINDS = frozenset({"sqs", "s3", "dynamodb", "eventbridge", "schedule"})
"""Event kinds measured once per invocation (``relaykit.measure.EventProbe``)."""
_UNTRACED = nullcontext()  # reusable: no X-Ray subsegment when tracing is off
logger = logging.getLogger("relaykit.lambda")


class LambdaHandler(LambdaEnvironment):
    """``handler(event, context)`` for Lambda; also the ``Environment`` the event kinds run in."""

    _UNSERVED = Outcome(None, "other", error=True)
    """The outcome of an invocation whose kind did not return one (it raised)."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._kinds: list[EventKind] | None = None
        self._observer: Observer | None = None
        self._held: ContextVar[Any] | None = None
        self._started = False
        self._cold = True
        settings = app.settings
        if settings.lambda_eager_init and settings.resolved_target() == "lambda":
            self.prepare()

    def __repr__(self) -> str:
        return f"LambdaHandler({self._app.name!r})"

    @property
    def app(self) -> App:
        return self._app

    # Setup and teardown -------------------------------------------------------------------

    def _load(self) -> list[EventKind]:
        if self._kinds is None:
            settings = self._app.settings
            logs.configure(
                service=settings.service, level=settings.log_level, fmt=settings.log_format
            )
            self._observer = Observer(settings)
            self._kinds = events.load(self)
        return self._kinds

    def _start(self) -> None:
        if self._started:
            return
        self.run(self._app.startup())
        self._started = True
        self._hook_exit(self._app.settings.resolved_target() == "lambda")

    async def start(self) -> None:
        """Async start for a caller that owns the loop (the runtime): kinds, hooks, adapters.

        The caller runs shutdown with ``aclose``; no SIGTERM or atexit hook is installed.
        """
        kinds = self._load()
        if not self._started:
            await self._app.startup()
            self._started = True
        for kind in kinds:
            await kind.prepare()
        await self._app.prepare_model()

    def prepare(self) -> None:
        """Do now what the first event would: load the kinds and adapters, run startup hooks."""
        kinds = self._load()
        self._start()
        for kind in kinds:
            self.run(kind.prepare())
        self.run(self._app.prepare_model())
        assert self._observer is not None
        self._observer.prepare()

    async def aclose(self) -> None:
        """Close the kinds (ASGI lifespan shutdown), then run the app's shutdown hooks."""
        try:
            for kind in reversed(self._kinds or []):
                await kind.close()
            if self._started:
                await self._app.shutdown()
        finally:
            self._kinds, self._started = None, False

    # Invocation ---------------------------------------------------------------------------

    def __call__(self, event: Any, context: Any) -> Any:
        kinds = self._load()
        self._start()
        kind = _recognise(kinds, event)
        if not isinstance(kind, UnknownEventError) and _serves_inline(kind, event):
            # Every record goes to a plain ``def`` handler: served in this thread, one record
            # after another (as Powertools' BatchProcessor does), without turning the loop.
            return events.base.run_inline(self._dispatch(event, context, None, kind))
        return self.run(self._dispatch(event, context, None, kind))

    async def dispatch(
        self, event: Any, context: Any, open_stream: StreamOpener | None = None
    ) -> Any:
        """Serve one event on the running loop; return the response (``None`` when streamed).

        ``open_stream`` is given by a runtime that can stream: kinds that want to answer this
        event as a stream open it and write to it instead of returning a response. The
        invocation's metrics are flushed before this returns.
        """
        return await self._dispatch(event, context, open_stream, _recognise(self._load(), event))

    async def _dispatch(
        self,
        event: Any,
        context: Any,
        open_stream: StreamOpener | None,
        kind: EventKind | UnknownEventError,
    ) -> Any:
        response, flush = await self._respond(event, context, open_stream, kind)
        flush()
        return response

    async def respond(
        self, event: Any, context: Any, open_stream: StreamOpener | None = None
    ) -> tuple[Any, Callable[[], None]]:
        """``dispatch`` for a runtime that posts the response itself: the response, and the call
        that flushes the invocation's metrics, to be made once the response is on its way.

        The metrics line (and, on an environment's first invocation, the import of Powertools'
        metrics) then never delays the caller; the latency it records is still the time to the
        response. When serving raises, the metrics are flushed before the error propagates.
        """
        return await self._respond(event, context, open_stream, _recognise(self._load(), event))

    async def _respond(
        self,
        event: Any,
        context: Any,
        open_stream: StreamOpener | None,
        kind: EventKind | UnknownEventError,
    ) -> tuple[Any, Callable[[], None]]:
        """``respond`` for the event ``kind`` serves (or that none recognised: the error)."""
        cold, self._cold = self._cold, False
        began = time.perf_counter()
        invocation = from_lambda(context, cold_start=cold)
        observer = self._observer
        assert observer is not None
        if isinstance(kind, UnknownEventError):
            with logs.invocation_fields(**invocation.log_fields()):
                logger.error("%s", kind)
            body = {"error": {"type": "unknown_event", "message": str(kind)}}
            outcome = Outcome(body, "other", error=True)
            return outcome.response, partial(observer.record, outcome, ms_since(began), cold)
        fields = invocation.log_fields()
        fields["correlation_id"] = kind.correlation_id(event)
        probe = self._measure(kind.name)
        meters = USAGE_METERS.set(probe.meters) if probe is not None else None
        held, holding = self._hold()
        logged = logs.set_invocation(fields)
        failed = False
        try:
            outcome = self._UNSERVED
            serving = SERVING.set((context, invocation))  # the kinds read it, not the context
            try:
                with observer.traced(kind.name, cold) if observer.tracing else _UNTRACED:
                    streaming = open_stream is not None and _wants_stream(kind, event)
                    if streaming:
                        assert open_stream is not None
                        outcome = await kind.stream(event, context, open_stream)  # type: ignore[attr-defined]
                    else:
                        outcome = await kind.handle(event, context)
            except BaseException:
                failed = True
                raise
            finally:
                SERVING.reset(serving)
                if probe is not None and meters is not None:
                    USAGE_METERS.reset(meters)
                    probe.finish(outcome.handler, error=outcome.error)
                if failed:
                    observer.record(outcome, ms_since(began), cold, held)
        finally:
            logs.reset_invocation(logged)
            if holding is not None:
                holding.var.reset(holding)
        return outcome.response, partial(observer.record, outcome, ms_since(began), cold, held)

    def _hold(self) -> tuple[list[Any] | None, Any]:
        """When the app writes measurement lines, a list that holds this invocation's until
        its metrics are recorded (``relaykit.measure.HELD``), and the token that ends it."""
        recorder = self._app.recorder
        if recorder is None or recorder.mode != "log":
            return None, None
        var = self._held
        if var is None:
            from relaykit.measure import HELD  # loaded with the recorder

            var = self._held = HELD
        held: list[Any] = []
        return held, var.set(held)

    def _measure(self, kind: str) -> EventProbe | None:
        """A measurement of this event invocation when the app records them and ``kind`` is
        an event source (HTTP requests and workflow steps are measured where they run)."""
        if kind not in MEASURED_KINDS:
            return None
        recorder = self._app.recorder
        if recorder is None:
            return None
        from relaykit.measure import EventProbe

        return EventProbe(recorder, kind, "lambda")


def _recognise(kinds: list[EventKind], event: Any) -> EventKind | UnknownEventError:
    """The kind that serves ``event``, or the error that says none recognises it."""
    try:
        return events.select(kinds, event)
    except UnknownEventError as exc:
        return exc


def _serves_inline(kind: EventKind, event: Any) -> bool:
    serves_inline = getattr(kind, "serves_inline", None)
    return bool(serves_inline is not None and serves_inline(event))


def _wants_stream(kind: EventKind, event: Any) -> bool:
    wants = getattr(kind, "wants_stream", None)
    return bool(wants is not None and wants(event))

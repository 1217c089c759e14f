"""``app.lambda_handler``: the callable AWS Lambda's managed Python runtime invokes.

One ``LambdaHandler`` per app and per execution environment. It owns what must live as long as the
environment: the event loop every invocation runs on (``LambdaEnvironment``), the event kinds
(loaded by name from ``relaykit.events`` on the first event), the app's startup hooks (run once)
and their shutdown (on SIGTERM or at interpreter exit). Per invocation it reads the Lambda context,
puts the request id, function ARN, X-Ray trace id, correlation id and ``cold_start`` on every log
line, lets the first kind that recognises the event serve it, and flushes the invocation's metrics.
When the app records measurements, an HTTP request to a task or stream and an event batch are
measured as the whole invocation (``Recorder.begin`` and ``measurement``), unless the response is
streamed, and the measurement is written with the metrics.
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
from functools import partial
from typing import TYPE_CHECKING, Any

from relaykit import events, logs
from relaykit.errors import UnknownEventError
from relaykit.events.base import SERVING, EventKind, Outcome, StreamOpener
from relaykit.invocation import from_lambda
from relaykit.measure import MODEL_CALLS
from relaykit.targets.lambda_environment import LambdaEnvironment, ms_since
from relaykit.targets.lambda_observe import Observer

if TYPE_CHECKING:
    from relaykit.app import App
    from relaykit.measure import Measurement, Recorder, Started

MEASURED_KINDS = frozenset({"http", "sqs", "s3", "dynamodb", "eventbridge", "schedule"})
"""Event kinds measured once per invocation (``relaykit.measure``), unless the
response is streamed."""
_HTTP_MEASURED = ("task", "stream")
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
        self._recorder: Recorder | None = None  # set when invocations are measured
        self._http_kinds: dict[str, str] = {}
        """The kind (``task``, ``stream``) of each handler measured when it answers over HTTP."""
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
            recorder = self._recorder = self._app.recorder
            self._observer = Observer(settings, recorder)
            self._http_kinds = {
                spec.path: spec.kind for spec in self._app.handlers if spec.kind in _HTTP_MEASURED
            }
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
        streaming = open_stream is not None and _wants_stream(kind, event)
        started: Started | None = None
        calls: list[Any] | None = None
        measuring = None
        recorder = self._recorder
        if recorder is not None and not streaming and kind.name in MEASURED_KINDS:
            # the whole invocation is measured (see ``relaykit.measure``): an event batch, or an
            # HTTP request; steps and streamed responses are measured where they run
            started, calls = recorder.begin(), []
            measuring = MODEL_CALLS.set(calls)
        logged = logs.set_invocation(fields)
        outcome = self._UNSERVED
        try:
            serving = SERVING.set((context, invocation))  # the kinds read it, not the context
            try:
                with observer.traced(kind.name, cold) if observer.tracing else _UNTRACED:
                    if streaming:
                        assert open_stream is not None
                        outcome = await kind.stream(event, context, open_stream)  # type: ignore[attr-defined]
                    else:
                        outcome = await kind.handle(event, context)
            finally:
                SERVING.reset(serving)
                if measuring is not None:
                    MODEL_CALLS.reset(measuring)
        except BaseException:
            elapsed = ms_since(began)
            measured = self._measurement(started, calls, kind.name, outcome, elapsed)
            observer.record(outcome, elapsed, cold, measured)
            raise
        finally:
            logs.reset_invocation(logged)
        elapsed = ms_since(began)
        measured = self._measurement(started, calls, kind.name, outcome, elapsed)
        return outcome.response, partial(observer.record, outcome, elapsed, cold, measured)

    def _measurement(
        self,
        started: Started | None,
        calls: list[Any] | None,
        kind_name: str,
        outcome: Outcome,
        elapsed_ms: float,
    ) -> Measurement | None:
        """The measurement begun with ``started`` of the invocation that ended with
        ``outcome``, with the model ``calls`` made in serving it: an event batch, or an HTTP
        request to a task or stream (others, such as the runs API or a 404, are not measured).
        Its wall time is the invocation's latency."""
        recorder = self._recorder
        if started is None or recorder is None:
            return None
        response, handler, error = outcome
        if kind_name != "http":
            return recorder.measurement(
                started, handler, "event", "lambda", error, 0, False, elapsed_ms / 1000.0,
                None, None, calls,
            )  # fmt: skip
        kind = self._http_kinds.get(handler)
        if kind is None or type(response) is not dict:  # not a handler, or serving raised
            recorder.cancel(started)
            return None
        body = response.get("body")
        return recorder.measurement(
            started, handler, kind, "lambda", error or response.get("statusCode", 500) >= 400,
            len(body) if type(body) is str else 0, kind == "stream", elapsed_ms / 1000.0, None,
            None, calls,
        )  # fmt: skip


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

"""``relaykit.asgi_lambda_handler(api)``: any ASGI application on Lambda, on a lean path.

``AsgiLambdaHandler`` serves an existing ASGI application (a FastAPI app with no relaykit code in
it) with what relaykit adds over ``Mangum(api)``: the ASGI lifespan run once per execution
environment (startup on the first event, or during init with ``lambda_eager_init``; shutdown on
SIGTERM or at exit), every invocation on one event loop, responses kept within Lambda's size
limit, Function URL responses streamed under relaykit's runtime, JSON logs carrying the
invocation's fields, and one EMF metrics line per invocation. HTTP events take a path that loads
neither the relaykit ``App``, its handlers, contexts and models, nor any adapter package: the
settings, the event translation (``relaykit.targets.lambda_http_shapes``) and the metrics line.

Any other event goes to a relaykit ``App`` built for it on first use, through the same event
kinds as ``app.lambda_handler``, so it gets the same clear error as before (or, for a workflow
continuation, the same answer). An app whose relaykit handlers must receive events is passed as
``asgi_lambda_handler(api, app)``, which serves everything through ``app.lambda_handler``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from relaykit import logs
from relaykit.lambda_event import Outcome, correlation_id, http_shape, streamed
from relaykit.settings import Settings, caller_dir, load_settings
from relaykit.targets.lambda_environment import LambdaEnvironment, ms_since
from relaykit.targets.lambda_http import HttpBridge
from relaykit.targets.lambda_observe import Observer

if TYPE_CHECKING:
    from relaykit.app import App
    from relaykit.events.base import StreamOpener
    from relaykit.targets.lambda_handler import LambdaHandler

_UNTRACED = nullcontext()
logger = logging.getLogger("relaykit.lambda")


@overload
def asgi_lambda_handler(asgi: Any, app: None = None) -> AsgiLambdaHandler: ...


@overload
def asgi_lambda_handler(asgi: Any, app: App) -> LambdaHandler: ...


def asgi_lambda_handler(asgi: Any, app: App | None = None) -> AsgiLambdaHandler | LambdaHandler:
    """A Lambda handler for the managed Python runtime serving any ASGI application.

    HTTP events (API Gateway, ALB, Function URLs) go to ``asgi`` with its lifespan run once per
    execution environment; non-HTTP events go to ``app``'s handlers when one is given (a relaykit
    app whose router ``asgi`` includes), and are otherwise answered with a clear error.
    ``handler = asgi_lambda_handler(api)`` replaces ``handler = Mangum(api)``. Settings are read
    now, from ``RELAYKIT_*`` and the ``relaykit.toml`` or ``pyproject.toml`` near the calling
    module, as ``App`` reads them.
    """
    if app is not None:
        app.serve_asgi(asgi)
        return app.lambda_handler
    return AsgiLambdaHandler(asgi, config_dir=caller_dir(2))


class AsgiLambdaHandler(LambdaEnvironment):
    """``handler(event, context)`` for an ASGI application; also the environment the
    ``relaykit.lambda_runtime`` loop serves (``start``, ``respond``, ``aclose``).

    ``name`` is the service name (the ``service`` setting's default) and the name of the
    relaykit ``App`` built if a non-HTTP event arrives; ``config_dir`` is where ``relaykit.toml``
    and ``pyproject.toml`` are looked for (default: the current folder).
    """

    def __init__(self, asgi: Any, *, name: str = "asgi", config_dir: Path | None = None) -> None:
        self.asgi = asgi
        self.name = name
        self.config_dir = config_dir if config_dir is not None else Path.cwd()
        self.settings: Settings = load_settings(app_name=name, config_dir=self.config_dir)
        self._bridge: HttpBridge | None = None
        self._observer: Observer | None = None
        self._app: App | None = None
        self._events: LambdaHandler | None = None
        self._hooked = False
        self._cold = True
        if self.settings.lambda_eager_init and self.settings.resolved_target() == "lambda":
            self.prepare()

    def __repr__(self) -> str:
        return f"AsgiLambdaHandler({self.name!r})"

    @property
    def app(self) -> App:
        """The relaykit app that serves non-HTTP events (built on first use, with no handlers)."""
        if self._app is None:
            from relaykit.app import App

            # Eager init is this handler's business: the app's own handler must not start the
            # ASGI lifespan a second time.
            app = App(self.name, settings={"lambda_eager_init": False}, config_dir=self.config_dir)
            app.serve_asgi(self.asgi)
            self._app = app
        return self._app

    # Setup and teardown -------------------------------------------------------------------

    def _load(self) -> Observer:
        if self._observer is None:
            settings = self.settings
            logs.configure(
                service=settings.service, level=settings.log_level, fmt=settings.log_format
            )
            self._observer = Observer(settings)
        return self._observer

    async def _started_bridge(self) -> HttpBridge:
        if self._bridge is None:
            bridge = HttpBridge.over(
                self.asgi,
                base_path=self.settings.api_gateway_base_path,
                limit=self.settings.lambda_max_response_bytes,
            )
            await bridge.start()
            self._bridge = bridge
        return self._bridge

    async def start(self) -> None:
        """Async start for a caller that owns the loop (the runtime): logs, metrics and the ASGI
        lifespan startup. The caller runs shutdown with ``aclose``; no SIGTERM or atexit hook is
        installed."""
        self._load()
        await self._started_bridge()

    def prepare(self) -> None:
        """Do now what the first event would: run the ASGI lifespan startup, import the tracer."""
        self._load().prepare()
        self._hook()
        self.run(self._started_bridge())

    def _hook(self) -> None:
        if not self._hooked:
            self._hooked = True
            self._hook_exit(self.settings.resolved_target() == "lambda")

    def close(self) -> bool:
        """Shut the environment down: the ASGI lifespan, the relaykit app if built, the loop."""
        events = self._events
        closed = super().close()
        if closed:
            self._hooked = False
            if events is not None:
                events.close()  # its own loop, if it ever made one
        return closed

    async def aclose(self) -> None:
        """Run the ASGI lifespan shutdown, then close the relaykit app's handler if built."""
        bridge, self._bridge = self._bridge, None
        try:
            if bridge is not None:
                await bridge.close()
        finally:
            events, self._events = self._events, None
            if events is not None:
                await events.aclose()

    # Invocation ---------------------------------------------------------------------------

    def __call__(self, event: Any, context: Any) -> Any:
        self._load()
        self._hook()
        return self.run(self.dispatch(event, context))

    async def dispatch(
        self, event: Any, context: Any, open_stream: StreamOpener | None = None
    ) -> Any:
        """Serve one event on the running loop; return the response (``None`` when streamed).
        The invocation's metrics are flushed before this returns."""
        response, flush = await self.respond(event, context, open_stream)
        flush()
        return response

    async def respond(
        self, event: Any, context: Any, open_stream: StreamOpener | None = None
    ) -> tuple[Any, Callable[[], None]]:
        """``dispatch`` for a runtime that posts the response itself: the response, and the call
        that writes the invocation's metrics line, to be made once the response is on its way
        (``LambdaHandler.respond``'s contract)."""
        cold, self._cold = self._cold, False
        shape = http_shape(event) if isinstance(event, dict) else None
        if shape is None:
            return await self._relaykit_events().respond(event, context, open_stream)
        began = time.perf_counter()
        observer = self._load()
        fields = log_fields(context, cold)
        with logs.invocation_fields(**fields, correlation_id=correlation_id(event)):
            outcome = Outcome(None, "other", error=True)
            try:
                with observer.traced("http", cold) if observer.tracing else _UNTRACED:
                    bridge = await self._started_bridge()
                    mode = self.settings.lambda_response_mode
                    if open_stream is not None and streamed(shape, mode):
                        outcome = await bridge.stream(event, context, open_stream)
                    else:
                        outcome = await bridge.serve(event, context)
            except BaseException:
                observer.record(outcome, ms_since(began), cold)
                raise
        return outcome.response, partial(observer.record, outcome, ms_since(began), cold)

    def _relaykit_events(self) -> LambdaHandler:
        if self._events is None:
            self._events = self.app.lambda_handler
        return self._events


def log_fields(context: Any, cold_start: bool) -> dict[str, Any]:
    """``relaykit.invocation.from_lambda(context, cold_start=...).log_fields()``, without
    importing that module and building its ``Invocation`` (its dataclass costs about 1 ms of
    cold start, and an HTTP request needs only these four fields; a test keeps the two equal)."""
    request_id = getattr(context, "aws_request_id", None)
    header = getattr(context, "trace_id", None) or os.environ.get(logs.TRACE_ENV)
    return {
        "request_id": str(request_id) if request_id else "",
        "function_arn": getattr(context, "invoked_function_arn", None),
        "xray_trace_id": logs.trace_root(header),
        "cold_start": cold_start,
    }

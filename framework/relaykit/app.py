"""``App``: the registry of handlers that a user owns, and the entry points built from it."""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from relaykit.context import Context, new_request_id
from relaykit.dispatch import Chunk, run_stream, run_task
from relaykit.errors import ConfigError, NotFound, RegistrationError
from relaykit.handlers import HandlerSpec, Kind, build_spec, describe
from relaykit.model import Model
from relaykit.settings import MODEL_PROVIDERS, Settings, caller_dir, load_settings
from relaykit.sources import SourceSpec

if TYPE_CHECKING:
    from fastapi import APIRouter, FastAPI

    from relaykit.auth import Access, Authenticator, Guard
    from relaykit.durable.engine import Engine
    from relaykit.measure import Recorder
    from relaykit.targets.lambda_handler import LambdaHandler

F = TypeVar("F", bound=Callable[..., Any])


@functools.cache
def _bound_model_class() -> Callable[[Model, Context], Model]:
    # Resolved by name on first use: the model layer is not imported with the core.
    bound: Callable[[Model, Context], Model] = importlib.import_module(
        "relaykit.llm.bound"
    ).BoundModel
    return bound


class App:
    """A relaykit application: handlers registered by decorators, served by any target.

    ``settings`` overrides every other source; ``model`` injects a model object (for example a
    scripted ``LocalModel``) instead of the one named by the ``model`` setting; ``config_dir`` is
    where ``relaykit.toml`` and ``pyproject.toml`` are looked for (default: the folder of the
    module that builds the app). ``auth`` puts every HTTP route behind one authenticator, or the
    first of several that finds its credentials (``ApiKeyAuth``, ``JwtAuth``, ``AwsAuth``); it
    replaces the ``auth*`` settings (see docs/security.md).
    """

    def __init__(
        self,
        name: str,
        *,
        settings: Mapping[str, Any] | None = None,
        model: Model | None = None,
        config_dir: str | Path | None = None,
        auth: Authenticator | Sequence[Authenticator] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise RegistrationError(f"App name must be a non-empty string, got {name!r}")
        self.name = name
        folder = Path(config_dir) if config_dir is not None else caller_dir(2)
        self.settings: Settings = load_settings(
            app_name=name, overrides=settings, config_dir=folder
        )
        self._model = model
        self._handlers: dict[str, HandlerSpec] = {}
        self._sources: list[SourceSpec] = []
        self._asgi: FastAPI | None = None
        self._lambda_handler: LambdaHandler | None = None
        self._engine: Engine | None = None
        self._startup_hooks: list[Callable[[], Any]] = []
        self._shutdown_hooks: list[Callable[[], Any]] = []
        self._started = False
        self._recorder: Recorder | None = None
        self._recorder_built = False
        from relaykit.auth.guard import build_guard  # standard library only

        self.auth: Guard | None = build_guard(auth, self.settings)
        """Who may call the HTTP routes (``None``: everyone, no authentication configured)."""
        self._access: dict[str, Access] = {}

    def __repr__(self) -> str:
        return f"App({self.name!r}, handlers={len(self._handlers)})"

    # Registration -------------------------------------------------------------------------

    def _add(
        self,
        kind: Kind,
        path: str,
        fn: Callable[..., Any],
        summary: str | None,
        max_concurrency: int | None = None,
        public: bool = False,
        scopes: str | Sequence[str] = (),
    ) -> HandlerSpec:
        from relaykit.auth.guard import check_access

        spec = build_spec(kind, path, fn, summary=summary, max_concurrency=max_concurrency)
        access = check_access(public, scopes, f"handler {describe(fn)}")
        existing = self._handlers.get(path)
        if existing is not None:
            raise RegistrationError(
                f"handler {describe(fn)}: path {path!r} is already registered to "
                f"{existing.kind} {describe(existing.fn)}"
            )
        if self._asgi is not None:
            raise RegistrationError(
                f"handler {describe(fn)}: the app's ASGI application is already built; "
                "register every handler before serving"
            )
        self._handlers[path] = spec
        self._access[path] = access
        return spec

    def access(self, path: str) -> Access:
        """The ``public=`` and ``scopes=`` the handler at ``path`` was registered with."""
        from relaykit.auth.guard import Access

        return self._access.get(path) or Access()

    def add_task(
        self,
        path: str,
        fn: Callable[..., Any],
        *,
        summary: str | None = None,
        max_concurrency: int | None = None,
        public: bool = False,
        scopes: str | Sequence[str] = (),
    ) -> HandlerSpec:
        """Register ``fn`` as a task at ``path``: POST JSON in, JSON out.

        ``max_concurrency`` caps how many calls of this handler run at once in one process
        (default: unlimited for ``async def``, 1 for a sync ``def``, which runs in a thread).
        When the app has authentication, ``public=True`` opens this handler to everyone and
        ``scopes`` are required of its callers (403 otherwise).
        """
        return self._add("task", path, fn, summary, max_concurrency, public, scopes)

    def add_stream(
        self,
        path: str,
        fn: Callable[..., Any],
        *,
        summary: str | None = None,
        max_concurrency: int | None = None,
        public: bool = False,
        scopes: str | Sequence[str] = (),
    ) -> HandlerSpec:
        """Register the async generator ``fn`` as a stream at ``path``: POST JSON in, chunks out
        (``public`` and ``scopes`` as for ``add_task``)."""
        return self._add("stream", path, fn, summary, max_concurrency, public, scopes)

    def task(
        self,
        path: str,
        *,
        summary: str | None = None,
        max_concurrency: int | None = None,
        public: bool = False,
        scopes: str | Sequence[str] = (),
    ) -> Callable[[F], F]:
        """Decorator form of ``add_task``; returns the function unchanged."""

        def register(fn: F) -> F:
            self.add_task(
                path,
                fn,
                summary=summary,
                max_concurrency=max_concurrency,
                public=public,
                scopes=scopes,
            )
            return fn

        return register

    def stream(
        self,
        path: str,
        *,
        summary: str | None = None,
        max_concurrency: int | None = None,
        public: bool = False,
        scopes: str | Sequence[str] = (),
    ) -> Callable[[F], F]:
        """Decorator form of ``add_stream``; returns the function unchanged."""

        def register(fn: F) -> F:
            self.add_stream(
                path,
                fn,
                summary=summary,
                max_concurrency=max_concurrency,
                public=public,
                scopes=scopes,
            )
            return fn

        return register

    # Event sources ------------------------------------------------------------------------

    def _add_source(self, spec: SourceSpec) -> SourceSpec:
        from relaykit.sources import check_clash

        check_clash(self._sources, spec)
        self._sources.append(spec)
        return spec

    def add_sqs(
        self,
        queue: str,
        fn: Callable[..., Any],
        *,
        idempotent: bool = False,
        max_concurrency: int | None = None,
    ) -> SourceSpec:
        """Register ``fn`` for the messages of the SQS ``queue`` (a name or a queue ARN).

        On Lambda, records are routed by the queue ARN and failures are reported per record
        (``batchItemFailures``; FIFO queues stop at the first failure). ``relaykit worker`` polls
        the queue. ``idempotent=True`` records each processed message id so a redelivered
        message does not run ``fn`` again (see docs/event-sources.md).
        """
        from relaykit.sources import build_source, check_name

        check_name(queue, "the queue", fn)
        label = f"sqs:{queue}"
        spec = build_source(
            "sqs",
            label,
            fn,
            queue=queue,
            idempotent=bool(idempotent),
            max_concurrency=max_concurrency,
        )
        return self._add_source(spec)

    def add_s3(
        self,
        bucket: str,
        fn: Callable[..., Any],
        *,
        prefix: str = "",
        suffix: str = "",
        events: str | Sequence[str] | None = None,
        queue: str | None = None,
        idempotent: bool = False,
        max_concurrency: int | None = None,
    ) -> SourceSpec:
        """Register ``fn`` for S3 notifications of ``bucket`` whose key starts with ``prefix``,
        ends with ``suffix`` and whose event name matches one of ``events`` (``ObjectCreated:*``
        style; default: any). Direct S3 events, S3 notifications wrapped in SQS messages (also
        through SNS) and S3 events from EventBridge all arrive here. ``queue`` names the SQS queue
        the bucket notifies, for ``relaykit worker`` (containers receive S3 notifications through
        SQS). ``idempotent=True``: a notification repeated for the same object version and
        sequencer does not run ``fn`` again.
        """
        from relaykit.sources import build_source, check_events, check_name

        check_name(bucket, "the bucket", fn)
        if not isinstance(prefix, str) or not isinstance(suffix, str):
            raise RegistrationError(f"handler {describe(fn)}: prefix and suffix must be strings")
        if queue is not None:
            check_name(queue, "the queue", fn)
        spec = build_source(
            "s3",
            f"s3:{bucket}/{prefix}*{suffix}",
            fn,
            bucket=bucket,
            prefix=prefix,
            suffix=suffix,
            events=check_events(events, fn),
            queue=queue,
            idempotent=bool(idempotent),
            max_concurrency=max_concurrency,
        )
        return self._add_source(spec)

    def add_dynamodb_stream(
        self,
        table: str,
        fn: Callable[..., Any],
        *,
        idempotent: bool = False,
        max_concurrency: int | None = None,
    ) -> SourceSpec:
        """Register ``fn`` for the stream records of DynamoDB ``table`` (a table name, table ARN
        or stream ARN); failures are reported per record (``batchItemFailures``).
        ``idempotent=True``: a record redelivered with the same ``eventID`` is skipped."""
        from relaykit.sources import build_source, check_name

        check_name(table, "the table", fn)
        spec = build_source(
            "dynamodb",
            f"dynamodb:{table}",
            fn,
            table=table,
            idempotent=bool(idempotent),
            max_concurrency=max_concurrency,
        )
        return self._add_source(spec)

    def add_schedule(
        self, expression: str, fn: Callable[..., Any], *, rule: str | None = None
    ) -> SourceSpec:
        """Register ``fn`` to run on the schedule ``expression`` (``rate(5 minutes)`` or a 6-field
        ``cron(...)``). On Lambda, scheduled events are routed by their EventBridge ``rule`` (a
        rule name or ARN; default: the function's name); ``relaykit worker`` runs the schedule
        itself."""
        from relaykit.sources import build_source, check_schedule

        check_schedule(expression, fn)
        if rule is None:
            rule = getattr(fn, "__name__", None) or expression
        spec = build_source("schedule", f"schedule:{rule}", fn, expression=expression, rule=rule)
        return self._add_source(spec)

    def add_eventbridge(
        self,
        pattern: Mapping[str, Any],
        fn: Callable[..., Any],
        *,
        idempotent: bool = False,
        max_concurrency: int | None = None,
    ) -> SourceSpec:
        """Register ``fn`` for EventBridge events matching ``pattern`` (a documented subset of
        EventBridge's pattern language: see ``relaykit.patterns``). ``idempotent=True``: an
        event redelivered with the same ``id`` is skipped."""
        from relaykit.sources import build_source, check_pattern

        check_pattern(pattern, fn)
        spec = build_source(
            "eventbridge",
            f"eventbridge:{describe(fn)}",
            fn,
            pattern=dict(pattern),
            idempotent=bool(idempotent),
            max_concurrency=max_concurrency,
        )
        return self._add_source(spec)

    def on_sqs(
        self, queue: str, *, idempotent: bool = False, max_concurrency: int | None = None
    ) -> Callable[[F], F]:
        """Decorator form of ``add_sqs``; returns the function unchanged."""

        def register(fn: F) -> F:
            self.add_sqs(queue, fn, idempotent=idempotent, max_concurrency=max_concurrency)
            return fn

        return register

    def on_s3(
        self,
        bucket: str,
        *,
        prefix: str = "",
        suffix: str = "",
        events: str | Sequence[str] | None = None,
        queue: str | None = None,
        idempotent: bool = False,
        max_concurrency: int | None = None,
    ) -> Callable[[F], F]:
        """Decorator form of ``add_s3``; returns the function unchanged."""

        def register(fn: F) -> F:
            self.add_s3(
                bucket,
                fn,
                prefix=prefix,
                suffix=suffix,
                events=events,
                queue=queue,
                idempotent=idempotent,
                max_concurrency=max_concurrency,
            )
            return fn

        return register

    def on_dynamodb_stream(
        self, table: str, *, idempotent: bool = False, max_concurrency: int | None = None
    ) -> Callable[[F], F]:
        """Decorator form of ``add_dynamodb_stream``; returns the function unchanged."""

        def register(fn: F) -> F:
            self.add_dynamodb_stream(
                table, fn, idempotent=idempotent, max_concurrency=max_concurrency
            )
            return fn

        return register

    def on_schedule(self, expression: str, *, rule: str | None = None) -> Callable[[F], F]:
        """Decorator form of ``add_schedule``; returns the function unchanged."""

        def register(fn: F) -> F:
            self.add_schedule(expression, fn, rule=rule)
            return fn

        return register

    def on_eventbridge(
        self,
        pattern: Mapping[str, Any],
        *,
        idempotent: bool = False,
        max_concurrency: int | None = None,
    ) -> Callable[[F], F]:
        """Decorator form of ``add_eventbridge``; returns the function unchanged."""

        def register(fn: F) -> F:
            self.add_eventbridge(
                pattern, fn, idempotent=idempotent, max_concurrency=max_concurrency
            )
            return fn

        return register

    @property
    def sources(self) -> tuple[SourceSpec, ...]:
        """Every registered event-source handler, in registration order."""
        return tuple(self._sources)

    # Lifecycle ----------------------------------------------------------------------------

    def on_startup(self, fn: F) -> F:
        """Register ``fn`` (no arguments, sync or async) to run once when a target starts.

        On Lambda it runs once per execution environment, on the event loop that serves every
        invocation of that environment, so clients it builds (HTTP pools, SDK clients) are
        reused by warm invocations. Returns ``fn`` unchanged.
        """
        self._startup_hooks.append(fn)
        return fn

    def on_shutdown(self, fn: F) -> F:
        """Register ``fn`` (no arguments, sync or async) to run once when a target stops.

        Shutdown hooks run in reverse registration order; on Lambda, when the environment gets
        SIGTERM or the interpreter exits. Returns ``fn`` unchanged.
        """
        self._shutdown_hooks.append(fn)
        return fn

    async def startup(self) -> None:
        """Run the startup hooks, once: later calls return at once.

        If a hook raises, the error propagates and the next call runs the hooks again.
        """
        if self._started:
            return
        for hook in self._startup_hooks:
            result = hook()
            if inspect.isawaitable(result):
                await result
        self._started = True

    async def prepare_model(self) -> None:
        """Build the model and let its provider import its SDK and build its client now (the
        Lambda runtime does this at init, which has its own 10 s limit, so the first invocation
        keeps its whole timeout). A failure is logged, not raised: the first call reports it,
        and handlers that never call the model keep working."""
        try:
            prepare = getattr(self.model, "prepare", None)
            if prepare is not None:
                await prepare()
        except Exception as exc:
            logging.getLogger("relaykit").warning(
                "the model could not be prepared at init (%s: %s); it will be built on first use",
                type(exc).__name__,
                exc,
            )

    async def shutdown(self) -> None:
        """Run the shutdown hooks in reverse order, once, if ``startup`` ran; then write the
        measurements still collected (a server's worker process may end without running
        interpreter-exit hooks: uvicorn's reloader ends it through ``multiprocessing``)."""
        if not self._started:
            return
        self._started = False
        try:
            for hook in reversed(self._shutdown_hooks):
                result = hook()
                if inspect.isawaitable(result):
                    await result
        finally:
            if self._recorder is not None:
                self._recorder.flush()

    def add_workflow(
        self,
        path: str,
        fn: Callable[..., Any],
        *,
        summary: str | None = None,
        public: bool = False,
        scopes: str | Sequence[str] = (),
    ) -> HandlerSpec:
        """Register the async function ``fn`` as a durable workflow at ``path``.

        ``POST path`` starts a run (202 and a run id); the run's steps are committed to the
        store and it continues by replay across invocations (see docs/durable.md). With
        authentication, the run records its caller (``public`` and ``scopes`` as for
        ``add_task``; a public workflow's runs have no owner and only admins see them).
        """
        spec = self._add("workflow", path, fn, summary, None, public, scopes)
        if self._engine is not None:
            from relaykit.durable.wiring import engine_function

            self._engine.register(path, engine_function(spec))
        return spec

    def workflow(
        self,
        path: str,
        *,
        summary: str | None = None,
        public: bool = False,
        scopes: str | Sequence[str] = (),
    ) -> Callable[[F], F]:
        """Decorator form of ``add_workflow``; returns the function unchanged."""

        def register(fn: F) -> F:
            self.add_workflow(path, fn, summary=summary, public=public, scopes=scopes)
            return fn

        return register

    @property
    def engine(self) -> Engine:
        """The durable-workflow engine over the ``store`` setting (built on first use)."""
        if self._engine is None:
            from relaykit.durable.wiring import build_engine

            self._engine = build_engine(self)
        return self._engine

    @property
    def handlers(self) -> tuple[HandlerSpec, ...]:
        """Every registered handler, in registration order."""
        return tuple(self._handlers.values())

    def handler(self, path: str) -> HandlerSpec:
        """The handler at ``path``; ``NotFound`` lists the registered paths otherwise."""
        spec = self._handlers.get(path)
        if spec is None:
            known = ", ".join(sorted(self._handlers)) or "none"
            raise NotFound(f"no handler at {path!r}; registered paths: {known}")
        return spec

    # Model and context --------------------------------------------------------------------

    @property
    def model(self) -> Model:
        """The app's model: the injected one, or the provider named by the ``model`` setting."""
        if self._model is None:
            self._model = self._resolve_model()
        return self._model

    def _resolve_model(self) -> Model:
        provider, _, model_id = self.settings.model.partition(":")
        target = MODEL_PROVIDERS.get(provider)
        if target is None:
            raise ConfigError("model", f"unknown provider {provider!r}", ", ".join(MODEL_PROVIDERS))
        module_name, _, class_name = target.partition(":")
        factory = getattr(importlib.import_module(module_name), class_name)
        if provider == "local":
            model: Model = factory(model_id, delay=self.settings.local_model_delay)
        else:
            model = factory(model_id, settings=self.settings)
        return model

    def new_context(
        self,
        spec: HandlerSpec | None = None,
        *,
        request_id: str | None = None,
        deadline: float | None = None,
        target: str = "container",
        function_arn: str | None = None,
        trace_id: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Context:
        """A fresh ``Context`` for one invocation of ``spec``.

        ``ctx.llm`` is the app's model bound to this invocation (``relaykit.llm.bound``): calls
        are limited by the deadline and recorded in ``ctx.usage``.
        """
        ctx = Context(
            request_id=request_id or new_request_id(),
            settings=self.settings,
            llm=self.model,
            handler=spec.path if spec else "",
            target=target,
            deadline=deadline,
            function_arn=function_arn,
            trace_id=trace_id,
            meta=dict(meta or {}),
            recorder=self.recorder,
        )
        ctx.llm = _bound_model_class()(ctx.llm, ctx)
        return ctx

    @property
    def recorder(self) -> Recorder | None:
        """Where invocations are measured (the ``measure`` setting), or ``None`` when off."""
        if not self._recorder_built:
            from relaykit.measure import build_recorder

            self._recorder = build_recorder(self.settings)
            self._recorder_built = True
        return self._recorder

    # In-process invocation ----------------------------------------------------------------

    async def invoke(self, path: str, payload: Any = None, *, ctx: Context | None = None) -> Any:
        """Run the task at ``path`` in-process with a decoded JSON payload; return JSON data."""
        spec = self.handler(path)
        if spec.kind != "task":
            raise NotFound(f"{path!r} is a {spec.kind}, not a task; use invoke_stream")
        return await run_task(spec, payload, ctx or self.new_context(spec, target="local"))

    async def invoke_stream(
        self, path: str, payload: Any = None, *, ctx: Context | None = None
    ) -> AsyncIterator[Chunk]:
        """Run the stream at ``path`` in-process; yield its encoded chunks as they come."""
        spec = self.handler(path)
        if spec.kind != "stream":
            raise NotFound(f"{path!r} is a {spec.kind}, not a stream; use invoke")
        async for chunk in run_stream(spec, payload, ctx or self.new_context(spec, target="local")):
            yield chunk

    # Targets ------------------------------------------------------------------------------

    def asgi(self) -> FastAPI:
        """The FastAPI application of this app (built once): the container target."""
        if self._asgi is None:
            from relaykit.targets.asgi import build_asgi

            self._asgi = build_asgi(self)
        return self._asgi

    def serve_asgi(self, asgi: Any) -> None:
        """Answer HTTP events on Lambda with ``asgi`` (an existing FastAPI or any ASGI app that
        includes this app's router) instead of this app's own ASGI application.

        Event sources and workflow continuations still go to this app's handlers. Call it before
        the first event; ``relaykit.asgi_lambda_handler`` does it for you.
        """
        if self._asgi is not None and self._asgi is not asgi:
            raise RegistrationError(
                f"App {self.name!r} already serves an ASGI application; call serve_asgi before "
                "the first event"
            )
        self._asgi = asgi

    def router(self, prefix: str = "") -> APIRouter:
        """This app's routes as an ``APIRouter`` to include in an existing FastAPI app.

        ``api.include_router(app.router(prefix="/ai"))``: tasks, streams, workflows and the runs
        API then run under the host's middleware, dependencies and exception handlers, appear in
        its OpenAPI document, and start and stop with its lifespan (see docs/fastapi.md).
        """
        from relaykit.targets.asgi import build_router

        return build_router(self, prefix)

    @property
    def lambda_handler(self) -> LambdaHandler:
        """The handler for AWS Lambda's managed Python runtime (built once).

        Point the function at it with ``handler = app.lambda_handler`` in your module. Building it
        is cheap; the ASGI app, Mangum and Powertools load on the first event (or during init when
        the ``lambda_eager_init`` setting is on).
        """
        if self._lambda_handler is None:
            from relaykit.targets.lambda_handler import LambdaHandler

            self._lambda_handler = LambdaHandler(self)
        return self._lambda_handler

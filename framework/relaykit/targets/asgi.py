"""The container target: a FastAPI application serving an ``App``.

One POST route per task (JSON in, JSON out) and per stream (JSON in, Server-Sent Events out),
``GET /healthz``, and an OpenAPI document naming the handlers' types. relaykit reads and
validates bodies itself, so the errors are the same on every target: 400 for a malformed body,
413 above ``max_body_bytes``, 422 naming each invalid field, 500 with an error id for a handler
failure (the traceback goes to the log under that id). A client disconnect cancels the handler.

With authentication (``App(auth=...)`` or the ``auth*`` settings) every route asks the app's
``Guard`` for the caller before anything else: 401 with ``WWW-Authenticate`` without valid
credentials, 403 without a required scope, 503 when credentials cannot be checked now. The docs
routes, ``/healthz`` and unknown paths are covered too, unless listed in ``auth_public_paths``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from relaykit import logs
from relaykit.auth.types import PRINCIPAL_KEY, Principal
from relaykit.context import Context
from relaykit.dispatch import iter_chunks, parse_json, run_task, validate_input
from relaykit.errors import ConfigError, PayloadTooLarge, RequestError
from relaykit.handlers import HandlerSpec
from relaykit.invocation import from_lambda
from relaykit.targets.http_auth import Endpoint, add_docs, auth_log, not_found, protect
from relaykit.targets.openapi import SchemaRegistry, operation_extra, security_extra
from relaykit.targets.runs_api import RunsEndpoints, add_runs_routes
from relaykit.targets.sse import SSEResponse

if TYPE_CHECKING:
    from relaykit.app import App

T = TypeVar("T")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
JSON_TYPE = "application/json"


def json_bytes(body: Any) -> bytes:
    """``body`` as compact UTF-8 JSON: every JSON response's content."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_response(body: Any, status: int = 200, request_id: str | None = None) -> Response:
    return encoded_response(json_bytes(body), status, request_id)


def encoded_response(content: bytes, status: int = 200, request_id: str | None = None) -> Response:
    """A JSON response whose content is encoded already (``json_bytes``)."""
    headers = {"x-request-id": request_id} if request_id else None
    return Response(content, status_code=status, media_type=JSON_TYPE, headers=headers)


def error_response(exc: RequestError, request_id: str | None = None) -> Response:
    return json_response(exc.to_body(), exc.status, request_id)


def server_error_body(ctx: Context, exc: BaseException) -> dict[str, Any]:
    """Log ``exc`` with its traceback under a new error id; return the safe error body."""
    error_id = f"err_{uuid.uuid4().hex[:16]}"
    ctx.logger.error(
        "handler %s failed: %s (error id %s)",
        ctx.handler,
        type(exc).__name__,
        error_id,
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={"error_id": error_id},
    )
    return {
        "error": {
            "type": "server_error",
            "message": f"the handler failed; the log has the details under error id {error_id}",
            "error_id": error_id,
        }
    }


def stream_error_body(ctx: Context, exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, RequestError):
        return exc.to_body()
    return server_error_body(ctx, exc)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body has {declared} bytes; the limit is {limit} (max_body_bytes)")
    received = bytearray()
    async for part in request.stream():
        received += part
        if len(received) > limit:
            raise PayloadTooLarge(f"body is above the limit of {limit} bytes (max_body_bytes)")
    return bytes(received)


async def until_disconnect(request: Request, work: Awaitable[T]) -> tuple[bool, T | None]:
    """Run ``work`` and cancel it if the client goes away; return (finished, result).

    Exceptions from ``work`` propagate unchanged. The watcher reads the ASGI ``receive`` channel,
    which yields ``http.disconnect`` once the body has been consumed and the client leaves. It
    is started on the loop's next turn, so a handler that finishes without waiting pays nothing.
    """
    current = asyncio.current_task()
    gone = asyncio.Event()
    watcher: asyncio.Task[None] | None = None

    async def watch() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        gone.set()
        if current is not None:
            current.cancel()

    def start_watching() -> None:
        nonlocal watcher
        watcher = asyncio.ensure_future(watch())

    handle = asyncio.get_running_loop().call_soon(start_watching)
    try:
        return True, await work
    except asyncio.CancelledError:
        if gone.is_set():
            return False, None
        raise
    finally:
        handle.cancel()
        if watcher is not None:
            watcher.cancel()


class Endpoints:
    """Builds the route endpoints of one app: request in, dispatch seam, response out."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.limit = app.settings.max_body_bytes

    def context(self, spec: HandlerSpec, request: Request) -> Context:
        principal: Principal | None = request.scope.get(PRINCIPAL_KEY)
        meta = {"principal": principal} if principal is not None else None
        lambda_context = request.scope.get("aws.context")
        if lambda_context is not None:
            # Served by the Lambda target (Mangum puts the Lambda context in the scope): the
            # request id, deadline, function ARN and X-Ray trace id come from Lambda.
            fields = from_lambda(lambda_context).context_fields()
            if meta is not None:
                fields["meta"] = {**fields.get("meta", {}), **meta}
            return self.app.new_context(spec, **fields)
        given = request.headers.get("x-request-id", "")
        return self.app.new_context(
            spec,
            request_id=given if _REQUEST_ID.match(given) else None,
            target="container",
            meta=meta,
        )

    async def payload(self, spec: HandlerSpec, request: Request) -> Any:
        raw = await read_body(request, self.limit)
        return parse_json(raw) if spec.takes_body else None

    def task(self, spec: HandlerSpec) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            ctx = self.context(spec, request)
            try:
                payload = await self.payload(spec, request)
                work = run_task(spec, payload, ctx, json_bytes)
                if "aws.context" in request.scope:
                    # On Lambda the caller cannot be seen leaving: no watcher to pay for.
                    finished, result = True, await work
                else:
                    finished, result = await until_disconnect(request, work)
            except RequestError as exc:
                return error_response(exc, ctx.request_id)
            except Exception as exc:
                return json_response(server_error_body(ctx, exc), 500, ctx.request_id)
            if not finished:
                ctx.logger.info("client disconnected; handler cancelled")
                return Response(status_code=499)
            return encoded_response(result, 200, ctx.request_id)

        return endpoint

    def stream(self, spec: HandlerSpec) -> Callable[[Request], Awaitable[Any]]:
        async def endpoint(request: Request) -> Any:
            ctx = self.context(spec, request)
            try:
                payload = await self.payload(spec, request)
                body = validate_input(spec, payload) if spec.takes_body else None
            except RequestError as exc:
                return error_response(exc, ctx.request_id)
            return SSEResponse(
                iter_chunks(spec, body, ctx),
                on_error=lambda exc: stream_error_body(ctx, exc),
                headers=[(b"x-request-id", ctx.request_id.encode())],
                on_disconnect=lambda: ctx.logger.info("client disconnected; stream cancelled"),
            )

        return endpoint


def add_routes(router: APIRouter, app: App, registry: SchemaRegistry, prefix: str = "") -> None:
    """Add ``app``'s routes to ``router``: one POST per handler, and the runs API when the app
    has workflows (``prefix`` is where the router is mounted, for the run URLs it returns)."""
    endpoints = Endpoints(app)
    guard = app.auth
    runs = RunsEndpoints(app, lambda request: read_body(request, endpoints.limit), prefix, guard)
    if guard is not None:
        guard.check_paths(spec.path for spec in app.handlers)
        registry.security_schemes.update(guard.security_schemes())
    served = served_handlers(app)
    for spec in served:
        if spec.kind == "workflow":
            endpoint: Endpoint = runs.start(spec)
        elif spec.kind == "task":
            endpoint = endpoints.task(spec)
        else:
            endpoint = endpoints.stream(spec)
        access = app.access(spec.path)
        security: list[dict[str, list[str]]] | None = None
        if guard is not None and not (access.public or guard.is_public(spec.path)):
            endpoint = protect(endpoint, guard, access.scopes)
            security = guard.security(access.scopes)
        elif guard is not None:
            security = []
        elif access.scopes:
            auth_log.warning(
                "handler %s requires scopes %s but the app has no authentication: it is open",
                spec.path,
                ", ".join(access.scopes),
            )
        router.add_api_route(
            spec.path,
            endpoint,
            methods=["POST"],
            name=spec.name,
            summary=spec.summary or None,
            description=(spec.fn.__doc__ or None),
            tags=[spec.kind + "s"],
            openapi_extra=operation_extra(spec, registry, security),
            response_class=Response,
            status_code=202 if spec.kind == "workflow" else 200,
        )
    if any(spec.kind == "workflow" for spec in served):
        add_runs_routes(
            router,
            runs,
            wrap=lambda endpoint: protect(endpoint, guard),
            openapi_extra=security_extra(guard.security()) if guard is not None else None,
        )


def served_handlers(app: App) -> list[HandlerSpec]:
    """The handlers this deployment serves over HTTP: all of them, or those the
    ``serve_paths`` setting names (a path the app does not have is a ``ConfigError``)."""
    wanted = app.settings.serve_paths
    if wanted is None:
        return list(app.handlers)
    known = {spec.path for spec in app.handlers}
    unknown = [path for path in wanted if path not in known]
    if unknown:
        raise ConfigError(
            "serve_paths",
            f"names {', '.join(unknown)}, which the app does not have",
            ", ".join(sorted(known)) or "no handlers",
        )
    return [spec for spec in app.handlers if spec.path in wanted]


def build_router(app: App, prefix: str = "") -> APIRouter:
    """``app``'s handlers and runs API as an ``APIRouter`` for an existing FastAPI application.

    Included with ``api.include_router(app.router(prefix="/ai"))``, the routes run under the host
    application's middleware, dependencies and exception handlers; the router's lifespan starts
    the app's hooks (and the workflow sweeper) with the host's, and adds relaykit's schemas to
    the host's OpenAPI document.
    """
    registry = SchemaRegistry()

    @contextlib.asynccontextmanager
    async def lifespan(host: Any) -> AsyncIterator[None]:
        if isinstance(host, FastAPI):
            _install_openapi(host, registry)
        async with _running(app):
            yield

    router = APIRouter(prefix=prefix, lifespan=lifespan)
    add_routes(router, app, registry, prefix=prefix)
    return router


@contextlib.asynccontextmanager
async def _running(app: App) -> AsyncIterator[None]:
    """The app's startup hooks and workflow sweeper, for as long as the server runs."""
    await app.startup()
    sweeper = start_sweeper(app)
    try:
        yield
    finally:
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        await app.shutdown()


def _install_openapi(api: FastAPI, registry: SchemaRegistry) -> None:
    """Make ``api``'s OpenAPI document include ``registry``'s schemas (once per registry)."""
    installed: list[SchemaRegistry] = api.__dict__.setdefault("_relaykit_registries", [])
    if any(known is registry for known in installed):
        return
    installed.append(registry)
    generate = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            schema = generate()
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {}).update(registry.components)
            if registry.security_schemes:
                components.setdefault("securitySchemes", {}).update(registry.security_schemes)
        return api.openapi_schema or {}

    api.openapi = openapi  # type: ignore[method-assign]


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = f"{request.method} {request.url.path}: {exc.detail}"
    if exc.status_code == 404:
        message = f"no route {request.method} {request.url.path}; GET /docs lists the routes"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow") or (exc.headers or {}).get("allow") or ""
        message = f"{request.url.path} does not accept {request.method}; it takes {allowed}"
    response = json_response({"error": {"type": kind, "message": message}}, exc.status_code)
    if exc.headers:
        response.headers.update(exc.headers)  # Allow on a 405 (RFC 9110)
    return response


def start_sweeper(app: App) -> asyncio.Task[None] | None:
    """In a container, a task that resumes due and abandoned runs: once at start-up (a restarted
    container picks up unfinished runs), then every ``workflow_sweep_interval`` seconds."""
    has_workflows = any(spec.kind == "workflow" for spec in app.handlers)
    if not has_workflows or app.settings.resolved_target() == "lambda":
        return None

    async def sweep_forever() -> None:
        while True:
            try:
                await app.engine.sweep()
            except Exception:
                logging.getLogger("relaykit.durable").exception("workflow sweep failed")
            await asyncio.sleep(app.settings.workflow_sweep_interval)

    return asyncio.create_task(sweep_forever())


def build_asgi(app: App) -> FastAPI:
    """The FastAPI application serving ``app`` (called once, by ``App.asgi``)."""
    settings = app.settings
    logs.configure(service=settings.service, level=settings.log_level, fmt=settings.log_format)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with _running(app):
            yield

    guard = app.auth
    docs: dict[str, Any] = {}
    if guard is not None:  # the docs routes are added below, behind the guard
        docs = {"openapi_url": None, "docs_url": None, "redoc_url": None}
    api = FastAPI(
        title=app.name,
        version="1.0.0",
        description=f"relaykit app {app.name!r}",
        lifespan=lifespan,
        **docs,
    )
    registry = SchemaRegistry()
    # Routes go on the app's own router: an included router is matched as a nested router on
    # every request in recent FastAPI versions, which costs about 10 µs per call.
    add_routes(api.router, app, registry)

    async def healthz() -> dict[str, str]:
        return {"status": "ok", "app": app.name}

    if guard is None:
        api.add_api_route("/healthz", healthz, methods=["GET"], tags=["health"], summary="Liveness")
    else:

        async def health(request: Request) -> Response:
            return json_response(await healthz())

        public = guard.is_public("/healthz")
        api.add_api_route(
            "/healthz",
            health if public else protect(health, guard),
            methods=["GET"],
            tags=["health"],
            summary="Liveness",
            response_class=Response,
            openapi_extra={"security": []} if public else security_extra(guard.security()),
        )
        add_docs(api, guard)
    api.add_exception_handler(StarletteHTTPException, not_found(guard, _http_error))
    _install_openapi(api, registry)
    api.state.relaykit_app = app
    return api

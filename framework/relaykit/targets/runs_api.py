"""The runs API over HTTP: start workflows, read, list, cancel, signal and follow runs.

``POST <workflow path>`` answers 202 with the run id (an ``Idempotency-Key`` header makes the
start idempotent). ``GET /runs/{id}`` gives status, result or error and the step history;
``GET /runs`` lists with filters; ``POST /runs/{id}/cancel``; ``POST /runs/{id}/events/{name}``
delivers an event; ``GET /runs/{id}/stream`` is an SSE progress stream that a client resumes
with ``Last-Event-ID``: event ids are the run's progress ids, which increase across invocations,
so a reconnect continues without gaps or duplicates.

With authentication a run records the caller that started it (``RunRecord.owner``), and a
caller lists, reads, streams, cancels and signals only its own runs: another caller's run answers
404, as a missing one does. A caller with the admin scope sees every run. An idempotency key is
the caller's own: two callers sending the same key start two runs.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from enum import Enum
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from relaykit.auth.guard import Guard
from relaykit.auth.types import PRINCIPAL_KEY, Principal, Unauthenticated
from relaykit.dispatch import parse_json, validate_input
from relaykit.errors import BadRequest, LimitExceeded, NotFound, RequestError, RunNotFound
from relaykit.handlers import HandlerSpec
from relaykit.targets.openapi import runs_operation_extra
from relaykit.targets.sse import SSEResponse, format_event

if TYPE_CHECKING:
    from relaykit.app import App
    from relaykit.durable.engine import Engine
    from relaykit.durable.store import RunPage

Endpoint = Callable[[Request], Awaitable[Any]]
STATUSES = ("pending", "running", "suspended", "completed", "failed", "cancelled")
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_NAME = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
POLL_SECONDS = 0.2
STREAM_RESERVE_SECONDS = 0.5
"""On Lambda a progress stream ends this long before the invocation's deadline (without an
``end`` event): the client reconnects with ``Last-Event-ID`` instead of seeing a timeout."""


def _json(body: Any, status: int = 200) -> Response:
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(content, status_code=status, media_type="application/json")


def _error(exc: RequestError) -> Response:
    return _json(exc.to_body(), exc.status)


def _run_path(request: Request, prefix: str, run_id: str) -> str:
    return f"{request.scope.get('root_path', '')}{prefix}/runs/{run_id}"


def without_tracebacks(run: dict[str, Any]) -> dict[str, Any]:
    """A run as callers see it: recorded errors keep their type and message, never the stored
    traceback (which is for operators: ``relaykit runs show``)."""
    if isinstance(run.get("error"), dict):
        run["error"] = {k: v for k, v in run["error"].items() if k != "traceback"}
    for step in run.get("steps", []):
        if isinstance(step.get("error"), dict):
            step["error"] = {k: v for k, v in step["error"].items() if k != "traceback"}
    return run


async def _store(engine: Engine, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a store method as the engine does: in a thread when the store does network I/O."""
    call = functools.partial(fn, *args, **kwargs)
    return await asyncio.to_thread(call) if engine.store.blocking else call()


async def start_run(
    engine: Engine, workflow: str, input: Any, key: str | None, owner: str | None
) -> str:
    """Start a run of ``workflow`` owned by ``owner`` (the engine's own ``start`` without one).

    The idempotency key is kept per owner (a digest of the owner prefixes it), so one caller's
    key never finds another caller's run.
    """
    if owner is None:
        return await engine.start(workflow, input=input, idempotency_key=key)
    from relaykit.durable import codec

    spec = engine.workflow(workflow)
    if key is not None:
        key = f"{hashlib.sha256(owner.encode()).hexdigest()[:32]}:{key}"
    run, created = await _store(
        engine,
        engine.store.create_run,
        uuid.uuid4().hex,
        workflow,
        codec.encode(input, spec.input_type),
        now=engine.clock.now(),
        idempotency_key=key,
        owner=owner,
    )
    if created:
        engine.continuation.schedule(run.run_id)
    return str(run.run_id)


class RunsEndpoints:
    """The runs API endpoints of one app (its engine is built on first use); ``guard`` (the
    app's authentication) scopes every run to the caller that started it."""

    def __init__(
        self,
        app: App,
        read_body: Callable[[Request], Awaitable[bytes]],
        prefix: str = "",
        guard: Guard | None = None,
    ) -> None:
        self.app = app
        self.read_body = read_body
        self.prefix = prefix
        self.guard = guard

    def owner_filter(self, request: Request) -> str | None:
        """The owner whose runs this caller may touch; ``None`` for every run (no
        authentication, or an admin)."""
        if self.guard is None:
            return None
        principal = request.scope.get(PRINCIPAL_KEY)
        if not isinstance(principal, Principal):
            raise Unauthenticated(f"this route needs credentials: {self.guard.credentials_hint()}")
        return None if self.guard.is_admin(principal) else principal.owner

    async def check_visible(self, request: Request, run_id: str) -> bool:
        """``RunNotFound`` unless the caller may see the run; True when it was checked here
        (the run exists), False when every run is visible to this caller."""
        owner = self.owner_filter(request)
        if owner is None:
            return False
        engine = self.app.engine
        loaded = await _store(engine, engine.store.load, run_id)
        if loaded is None or loaded[0].owner != owner:
            raise RunNotFound(f"no run {run_id!r}")
        return True

    async def check_active_runs(self, request: Request) -> None:
        """``LimitExceeded`` when the caller already has ``max_active_runs_per_caller``
        unfinished runs (only with authentication; admins are not limited)."""
        limit = self.app.settings.max_active_runs_per_caller
        owner = self.owner_filter(request) if limit is not None else None
        if owner is None or limit is None:
            return
        engine = self.app.engine
        active = 0
        for status in ("pending", "running", "suspended"):
            page = await _store(
                engine, engine.store.list_runs, status=status, limit=limit, owner=owner
            )
            active += len(page.runs)
            if active >= limit:
                raise LimitExceeded(
                    f"you have {limit} unfinished runs, the most allowed per caller (setting "
                    "max_active_runs_per_caller); wait for one to finish or cancel one"
                )

    def start(self, spec: HandlerSpec) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                raw = await self.read_body(request)
                body = validate_input(spec, parse_json(raw)) if spec.takes_body else None
                key = request.headers.get("idempotency-key")
                if key is not None and not _KEY.match(key):
                    raise BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters")
                principal = request.scope.get(PRINCIPAL_KEY)
                owner = principal.owner if isinstance(principal, Principal) else None
                await self.check_active_runs(request)
                run_id = await start_run(self.app.engine, spec.path, body, key, owner)
            except RequestError as exc:
                return _error(exc)
            view = await self.app.engine.get(run_id)
            url = _run_path(request, self.prefix, run_id)
            return _json(
                {
                    "run_id": run_id,
                    "status": view.status,
                    "status_url": url,
                    "stream_url": f"{url}/stream",
                },
                202,
            )

        return endpoint

    async def get(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        try:
            await self.check_visible(request, run_id)
            view = await self.app.engine.get(run_id)
        except RunNotFound as exc:
            return _error(NotFound(str(exc)))
        except RequestError as exc:
            return _error(exc)
        return _json(without_tracebacks(view.to_dict()))

    async def list(self, request: Request) -> Response:
        query = request.query_params
        status = query.get("status")
        if status is not None and status not in STATUSES:
            return _error(BadRequest(f"status {status!r} is not one of {', '.join(STATUSES)}"))
        try:
            limit = int(query.get("limit", "50"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 200:
            return _error(BadRequest("limit must be a whole number from 1 to 200"))
        try:
            owner = self.owner_filter(request)
        except RequestError as exc:
            return _error(exc)
        engine = self.app.engine
        workflow, cursor = query.get("workflow"), query.get("cursor")
        try:
            if owner is None:
                page: RunPage = await engine.list(
                    workflow=workflow, status=status, limit=limit, cursor=cursor
                )
            else:
                page = await _store(
                    engine,
                    engine.store.list_runs,
                    workflow=workflow,
                    status=status,
                    limit=limit,
                    cursor=cursor,
                    owner=owner,
                )
        except ValueError as exc:  # a cursor this API did not hand out
            return _error(BadRequest(f"cursor: {exc}; pass the cursor of the previous page"))
        runs = [
            {
                "run_id": r.run_id,
                "workflow": r.workflow,
                "status": r.status,
                "created_at": r.created_at,
                "updated_at": r.updated_at,
            }
            | ({"owner": r.owner} if self.guard is not None else {})
            for r in page.runs
        ]
        return _json({"runs": runs, "cursor": page.cursor})

    async def cancel(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        try:
            await self.check_visible(request, run_id)
            run = await self.app.engine.cancel(run_id)
        except RunNotFound as exc:
            return _error(NotFound(str(exc)))
        except RequestError as exc:
            return _error(exc)
        return _json(
            {
                "run_id": run.run_id,
                "status": run.status,
                "cancel_requested": run.status not in ("completed", "failed"),
            }
        )

    async def send_event(self, request: Request) -> Response:
        run_id, name = request.path_params["run_id"], request.path_params["name"]
        try:
            if not _NAME.fullmatch(name):
                raise BadRequest("event names use letters, digits, '.', '_', ':' or '-'")
            await self.check_visible(request, run_id)
            raw = await self.read_body(request)
            payload = parse_json(raw) if raw.strip() else None
            index = await self.app.engine.send_event(run_id, name, payload)
        except RunNotFound as exc:
            return _error(NotFound(str(exc)))
        except RequestError as exc:
            return _error(exc)
        return _json({"run_id": run_id, "event": name, "index": index}, 202)

    async def stream(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        given = request.headers.get("last-event-id", "0").strip() or "0"
        if not (given.isascii() and given.isdigit()):
            return _error(BadRequest("Last-Event-ID must be a progress id (a whole number)"))
        try:
            if not await self.check_visible(request, run_id):
                await self.app.engine.get(run_id)
        except RunNotFound as exc:
            return _error(NotFound(str(exc)))
        except RequestError as exc:
            return _error(exc)
        return ProgressResponse(self.follow(run_id, int(given), _remaining(request)))

    async def follow(
        self, run_id: str, after: int, remaining: Callable[[], float] | None = None
    ) -> AsyncIterator[bytes]:
        """Progress entries after ``after`` as SSE events, until the run has finished, or (on
        Lambda, ``remaining`` given) until the invocation nears its deadline."""
        engine = self.app.engine
        while True:
            if remaining is not None and remaining() < STREAM_RESERVE_SECONDS + POLL_SECONDS:
                return  # no "end" event: the client resumes in a new invocation
            entries = await engine.progress(run_id, after_id=after)
            for entry in entries:
                after = entry.id
                yield format_event(entry.id, entry.kind, entry.data)
            if not entries:
                view = await engine.get(run_id)
                if view.status in ("completed", "failed", "cancelled"):
                    if not await engine.progress(run_id, after_id=after):
                        yield format_event(None, "end", json.dumps({"status": view.status}))
                        return
                    continue
                await asyncio.sleep(POLL_SECONDS)


def _remaining(request: Request) -> Callable[[], float] | None:
    """Seconds left in this Lambda invocation (Mangum puts its context in the scope)."""
    millis = getattr(request.scope.get("aws.context"), "get_remaining_time_in_millis", None)
    if millis is None:
        return None
    return lambda: float(millis()) / 1000.0


class ProgressResponse(SSEResponse):
    """SSE of pre-formatted progress events: their ids are progress ids, not chunk counts."""

    def __init__(self, events: AsyncIterator[bytes]) -> None:
        super().__init__(events, on_error=_stream_error, end_event=False)


def _stream_error(exc: BaseException) -> dict[str, Any]:
    return {"error": {"type": "server_error", "message": "the progress stream failed"}}


def add_runs_routes(
    router: APIRouter,
    endpoints: RunsEndpoints,
    wrap: Callable[[Endpoint], Endpoint] | None = None,
    openapi_extra: dict[str, Any] | None = None,
) -> None:
    """The /runs routes (added once per app that has workflows); ``wrap`` puts each endpoint
    behind the app's authentication, ``openapi_extra`` documents it."""
    tags: list[str | Enum] = ["runs"]
    routes: list[tuple[str, Endpoint, str, str]] = [
        ("/runs", endpoints.list, "GET", "List runs (filters: workflow, status; limit, cursor)"),
        ("/runs/{run_id}", endpoints.get, "GET", "A run: status, result or error, step history"),
        (
            "/runs/{run_id}/cancel",
            endpoints.cancel,
            "POST",
            "Cancel a run at its next step boundary",
        ),
        (
            "/runs/{run_id}/events/{name}",
            endpoints.send_event,
            "POST",
            "Deliver an event to a waiting run",
        ),
        (
            "/runs/{run_id}/stream",
            endpoints.stream,
            "GET",
            "Progress as Server-Sent Events; resume with Last-Event-ID",
        ),
    ]
    for path, endpoint, method, summary in routes:
        router.add_api_route(
            path,
            wrap(endpoint) if wrap is not None else endpoint,
            methods=[method],
            tags=tags,
            summary=summary,
            openapi_extra=runs_operation_extra(path, method, openapi_extra),
            status_code=202 if path.endswith("/events/{name}") else 200,  # what it answers
        )

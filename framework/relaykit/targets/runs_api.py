"""The runs API over HTTP: start workflows, read, list, cancel, signal and follow runs.

``POST <workflow path>`` answers 202 with the run id (an ``Idempotency-Key`` header makes the
start idempotent). ``GET /runs/{id}`` gives status, result or error and the step history;
``GET /runs`` lists with filters; ``POST /runs/{id}/cancel``; ``POST /runs/{id}/events/{name}``
delivers an event; ``GET /runs/{id}/stream`` is an SSE progress stream that a client resumes
with ``Last-Event-ID``: event ids are the run's progress ids, which increase across invocations,
so a reconnect continues without gaps or duplicates.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from enum import Enum
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from relaykit.dispatch import parse_json, validate_input
from relaykit.errors import BadRequest, NotFound, RequestError, RunNotFound
from relaykit.handlers import HandlerSpec
from relaykit.targets.sse import SSEResponse, format_event

if TYPE_CHECKING:
    from relaykit.app import App

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


class RunsEndpoints:
    """The runs API endpoints of one app (its engine is built on first use)."""

    def __init__(
        self, app: App, read_body: Callable[[Request], Awaitable[bytes]], prefix: str = ""
    ) -> None:
        self.app = app
        self.read_body = read_body
        self.prefix = prefix

    def start(self, spec: HandlerSpec) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                raw = await self.read_body(request)
                body = validate_input(spec, parse_json(raw)) if spec.takes_body else None
                key = request.headers.get("idempotency-key")
                if key is not None and not _KEY.match(key):
                    raise BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters")
                run_id = await self.app.engine.start(spec.path, input=body, idempotency_key=key)
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
        try:
            view = await self.app.engine.get(request.path_params["run_id"])
        except RunNotFound as exc:
            return _error(NotFound(str(exc)))
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
        page = await self.app.engine.list(
            workflow=query.get("workflow"), status=status, limit=limit, cursor=query.get("cursor")
        )
        runs = [
            {
                "run_id": r.run_id,
                "workflow": r.workflow,
                "status": r.status,
                "created_at": r.created_at,
                "updated_at": r.updated_at,
            }
            for r in page.runs
        ]
        return _json({"runs": runs, "cursor": page.cursor})

    async def cancel(self, request: Request) -> Response:
        try:
            run = await self.app.engine.cancel(request.path_params["run_id"])
        except RunNotFound as exc:
            return _error(NotFound(str(exc)))
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
            if not _NAME.match(name):
                raise BadRequest("event names use letters, digits, '.', '_', ':' or '-'")
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
        if not given.isdigit():
            return _error(BadRequest("Last-Event-ID must be a progress id (a whole number)"))
        try:
            await self.app.engine.get(run_id)
        except RunNotFound as exc:
            return _error(NotFound(str(exc)))
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


def add_runs_routes(router: APIRouter, endpoints: RunsEndpoints) -> None:
    """The /runs routes (added once per app that has workflows)."""
    tags: list[str | Enum] = ["runs"]
    router.add_api_route(
        "/runs",
        endpoints.list,
        methods=["GET"],
        tags=tags,
        summary="List runs (filters: workflow, status; limit, cursor)",
    )
    router.add_api_route(
        "/runs/{run_id}",
        endpoints.get,
        methods=["GET"],
        tags=tags,
        summary="A run: status, result or error, step history",
    )
    router.add_api_route(
        "/runs/{run_id}/cancel",
        endpoints.cancel,
        methods=["POST"],
        tags=tags,
        summary="Cancel a run at its next step boundary",
    )
    router.add_api_route(
        "/runs/{run_id}/events/{name}",
        endpoints.send_event,
        methods=["POST"],
        tags=tags,
        summary="Deliver an event to a waiting run",
    )
    router.add_api_route(
        "/runs/{run_id}/stream",
        endpoints.stream,
        methods=["GET"],
        tags=tags,
        summary="Progress as Server-Sent Events; resume with Last-Event-ID",
    )

"""The HTTP side of authentication: every relaykit route behind the app's ``Guard``.

``protect`` wraps a route endpoint so that the caller is verified (and holds the route's scopes)
before the endpoint reads the body or runs anything, and keeps the ``Principal`` in the request's
scope; ``auth_error`` answers the refusals (401 with one ``WWW-Authenticate`` per method, 403,
503 with an error id); ``add_docs`` adds FastAPI's docs routes behind the guard; ``not_found``
answers unknown paths with the 401 first, so routes cannot be mapped without credentials.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from relaykit.auth.guard import DOC_PATHS, Guard
from relaykit.auth.types import (
    PRINCIPAL_KEY,
    AuthRequest,
    AuthUnavailable,
    Forbidden,
    Unauthenticated,
)

Endpoint = Callable[[Request], Awaitable[Any]]
auth_log = logging.getLogger("relaykit.auth")
REFUSALS = (Unauthenticated, Forbidden, AuthUnavailable)


def _json(body: Any, status: int) -> Response:
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(content, status_code=status, media_type="application/json")


def auth_request(request: Request) -> AuthRequest:
    """What the authenticators see: the headers, and the Lambda event (Mangum puts it in the
    scope) with what an AWS front verified."""
    return AuthRequest(request.headers, request.scope.get("aws.event"))


def auth_error(guard: Guard, request: Request, exc: Exception) -> Response:
    """401 (with one ``WWW-Authenticate`` per authenticator), 403 or 503 for ``exc``; logged
    with the reason, which never contains the credential."""
    where = f"{request.method} {request.url.path}"
    if isinstance(exc, AuthUnavailable):
        error_id = f"err_{uuid.uuid4().hex[:16]}"
        auth_log.error("%s: credentials cannot be checked: %s (error id %s)", where, exc, error_id)
        body = {
            "error": {
                "type": "auth_unavailable",
                "message": "credentials cannot be checked right now; try again shortly (the log "
                f"has the details under error id {error_id})",
                "error_id": error_id,
            }
        }
        response = _json(body, 503)
        response.headers["retry-after"] = "5"
        return response
    assert isinstance(exc, Unauthenticated | Forbidden)
    auth_log.info("%s: %s (%s)", where, exc.status, exc.message)
    response = _json(exc.to_body(), exc.status)
    if isinstance(exc, Unauthenticated):
        for value in guard.challenges(exc if exc.code else None):
            response.headers.append("www-authenticate", value)
    elif any(a.method == "jwt" for a in guard.authenticators):
        scope = " ".join(exc.scopes)
        response.headers["www-authenticate"] = f'Bearer error="insufficient_scope", scope="{scope}"'
    return response


def protect(endpoint: Endpoint, guard: Guard | None, scopes: tuple[str, ...] = ()) -> Endpoint:
    """``endpoint`` behind ``guard``: the caller is verified (and holds ``scopes``) before the
    endpoint runs, and kept in the request's scope (``PRINCIPAL_KEY``) for it."""
    if guard is None:
        return endpoint

    async def guarded(request: Request) -> Any:
        try:
            principal = await guard.principal(auth_request(request), scopes)
        except REFUSALS as exc:
            return auth_error(guard, request, exc)
        request.scope[PRINCIPAL_KEY] = principal
        return await endpoint(request)

    guarded.__name__ = getattr(endpoint, "__name__", "endpoint")
    return guarded


def add_docs(api: FastAPI, guard: Guard) -> None:
    """FastAPI's ``/openapi.json``, ``/docs`` and ``/redoc`` routes, each behind ``guard``
    unless listed in ``auth_public_paths``."""
    from fastapi.openapi.docs import (
        get_redoc_html,
        get_swagger_ui_html,
        get_swagger_ui_oauth2_redirect_html,
    )

    async def openapi(request: Request) -> Response:
        root_path = request.scope.get("root_path", "").rstrip("/")
        schema = api.openapi()
        if root_path and root_path not in {s.get("url") for s in schema.get("servers", [])}:
            schema = {**schema, "servers": [{"url": root_path}, *schema.get("servers", [])]}
        return _json(schema, 200)

    async def swagger(request: Request) -> Response:
        root_path = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root_path}/openapi.json",
            title=f"{api.title} - Swagger UI",
            oauth2_redirect_url=f"{root_path}/docs/oauth2-redirect",
        )

    async def swagger_redirect(request: Request) -> Response:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> Response:
        root_path = request.scope.get("root_path", "").rstrip("/")
        return get_redoc_html(openapi_url=f"{root_path}/openapi.json", title=f"{api.title} - ReDoc")

    routes: dict[str, Endpoint] = dict(
        zip(DOC_PATHS, (swagger, swagger_redirect, redoc, openapi), strict=True)
    )
    for path, endpoint in routes.items():
        open_route = guard.is_public(path)
        api.add_route(
            path,
            endpoint if open_route else protect(endpoint, guard),
            methods=["GET"],
            include_in_schema=False,
        )


def not_found(
    guard: Guard | None, answer: Callable[[Request, Exception], Response]
) -> Callable[[Request, Exception], Awaitable[Response]]:
    """The 404/405 handler: with a guard, an unauthenticated caller gets the 401 instead of
    ``answer``, so the routes cannot be mapped without credentials."""

    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if guard is not None and not guard.is_public(request.url.path):
            try:
                await guard.principal(auth_request(request))
            except REFUSALS as auth_exc:
                return auth_error(guard, request, auth_exc)
        return answer(request, exc)

    return handle

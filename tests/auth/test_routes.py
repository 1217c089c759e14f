"""Once authentication is configured, no route answers without credentials: every route of the
container app (tasks, streams, workflows, the runs API, docs, health) and of a mounted router,
served by uvicorn on loopback and called with httpx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from auth.apps import build
from auth.kit import ALICE_KEY, KEYS, OPS_KEY, serve
from relaykit import App
from relaykit.auth import ApiKeyAuth

PUBLIC = {"/healthz", "/ping"}
EXPECTED = {
    "/ask",
    "/report",
    "/ping",
    "/chat",
    "/approve",
    "/runs",
    "/runs/{run_id}",
    "/runs/{run_id}/cancel",
    "/runs/{run_id}/events/{name}",
    "/runs/{run_id}/stream",
    "/healthz",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/openapi.json",
}


def every_route(api: FastAPI | APIRouter) -> list[tuple[str, str]]:
    """(method, path) of every route the application has, whatever its type."""
    found: list[tuple[str, str]] = []
    for route in api.routes:
        methods = getattr(route, "methods", None)
        assert methods, f"route {route!r} has no HTTP methods: the test cannot call it"
        found += [(method, str(getattr(route, "path", ""))) for method in sorted(methods)]
    return found


def concrete(path: str) -> str:
    return path.replace("{run_id}", "0123456789abcdef").replace("{name}", "ok")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, str]]:
    app = build(tmp_path_factory.mktemp("routes"), auth=ApiKeyAuth(KEYS))
    with serve(app.asgi()) as url:
        yield app, url


def test_every_route_refuses_a_caller_without_credentials(served: tuple[App, str]) -> None:
    """Each route of the app, with each of its methods, answers 401 with WWW-Authenticate to a
    request without a key and to one with a wrong key; only /healthz and the public handler
    answer; the enumeration covers tasks, streams, workflows, runs, docs and health."""
    app, url = served
    routes = every_route(app.asgi())
    assert {path for _, path in routes} == EXPECTED
    with httpx.Client(base_url=url, timeout=30) as client:
        for method, path in routes:
            for headers in ({}, {"x-api-key": "not-a-key-0123456789"}):
                response = client.request(method, concrete(path), json={}, headers=headers)
                if path in PUBLIC:
                    assert response.status_code in (200, 405), (method, path, response.text)
                    continue
                assert response.status_code == 401, (method, path, headers, response.text)
                assert response.headers["www-authenticate"].startswith("ApiKey"), path
                if method != "HEAD":
                    assert response.json()["error"]["type"] == "unauthenticated"


def test_every_route_answers_a_caller_with_a_key(served: tuple[App, str]) -> None:
    """With a valid key no route answers 401 or 403 (except /report, which needs a scope)."""
    app, url = served
    with httpx.Client(base_url=url, timeout=30, headers={"x-api-key": OPS_KEY}) as client:
        for method, path in every_route(app.asgi()):
            if path.endswith("/stream") and method == "GET":
                continue  # a missing run: 404 below; a live stream would not end here
            response = client.request(method, concrete(path), json={"text": "hi"})
            assert response.status_code not in (401, 403), (method, path, response.text)
        missing = client.get("/runs/0123456789abcdef/stream")
        assert missing.status_code == 404


def test_unknown_paths_do_not_reveal_routes_without_credentials(served: tuple[App, str]) -> None:
    """An unknown path or a wrong method answers 401 without credentials (so the routes cannot
    be mapped), and 404/405 with them."""
    _, url = served
    assert httpx.get(f"{url}/no/such/route").status_code == 401
    assert httpx.get(f"{url}/ask").status_code == 401
    keyed = {"x-api-key": ALICE_KEY}
    assert httpx.get(f"{url}/no/such/route", headers=keyed).status_code == 404
    assert httpx.get(f"{url}/ask", headers=keyed).status_code == 405


def test_a_missing_scope_is_403_and_the_scope_holder_gets_through(
    served: tuple[App, str],
) -> None:
    """/report requires the `reports` scope: alice's key (no scopes) gets 403 naming the scope,
    the ops key (which has it) gets the report."""
    _, url = served
    refused = httpx.post(f"{url}/report", headers={"x-api-key": ALICE_KEY})
    assert refused.status_code == 403
    assert refused.json()["error"]["type"] == "forbidden"
    assert "reports" in refused.json()["error"]["message"]
    allowed = httpx.post(f"{url}/report", headers={"x-api-key": OPS_KEY})
    assert allowed.status_code == 200 and allowed.json() == "the report"


def test_the_handler_sees_the_caller(served: tuple[App, str]) -> None:
    """`principal_of(ctx)` is the caller the key names; a public handler answers anyone."""
    _, url = served
    answer = httpx.post(f"{url}/ask", json={"q": 1}, headers={"x-api-key": ALICE_KEY})
    assert answer.json() == {"echo": {"q": 1}, "subject": "alice"}
    assert httpx.post(f"{url}/ping").json() == "pong"


def test_openapi_declares_the_scheme_and_each_operation_security(served: tuple[App, str]) -> None:
    """The OpenAPI document (read with a key) declares the API-key scheme; protected operations
    require it (with their scopes), the public handler and /healthz require nothing."""
    _, url = served
    document = httpx.get(f"{url}/openapi.json", headers={"x-api-key": ALICE_KEY}).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes == {"ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}}
    paths: dict[str, Any] = document["paths"]
    assert paths["/ask"]["post"]["security"] == [{"ApiKey": []}]
    assert paths["/report"]["post"]["security"] == [{"ApiKey": ["reports"]}]
    assert "401" in paths["/ask"]["post"]["responses"]
    assert paths["/ping"]["post"]["security"] == []
    assert paths["/healthz"]["get"]["security"] == []
    assert paths["/runs/{run_id}"]["get"]["security"] == [{"ApiKey": []}]


def test_docs_can_be_made_public(tmp_path: Path) -> None:
    """auth_public_paths opens the docs routes (and only them) to callers without a key."""
    app = build(
        tmp_path,
        auth=ApiKeyAuth(KEYS),
        auth_public_paths="/healthz,/docs,/openapi.json",
    )
    with serve(app.asgi()) as url:
        assert httpx.get(f"{url}/docs").status_code == 200
        assert httpx.get(f"{url}/openapi.json").status_code == 200
        assert httpx.get(f"{url}/redoc").status_code == 401
        assert httpx.post(f"{url}/ask", json={}).status_code == 401


def test_a_mounted_router_protects_its_routes(tmp_path: Path) -> None:
    """`app.router()` in a host FastAPI app: every relaykit route under the prefix refuses a
    caller without a key; the host's own routes are the host's business."""
    app = build(tmp_path, auth=ApiKeyAuth(KEYS))
    host = FastAPI()

    @host.get("/hello")
    async def hello() -> str:
        return "host"

    router = app.router(prefix="/ai")
    host.include_router(router)
    relaykit_routes = [(method, path) for method, path in every_route(router) if path != "/ai/ping"]
    assert len({path for _, path in relaykit_routes}) == 9
    with serve(host) as url:
        for method, path in relaykit_routes:
            response = httpx.request(method, url + concrete(path), json={})
            assert response.status_code == 401, (method, path)
        assert httpx.post(f"{url}/ai/ping").json() == "pong"
        assert httpx.get(f"{url}/hello").json() == "host"
        keyed = httpx.post(f"{url}/ai/ask", json={}, headers={"x-api-key": ALICE_KEY})
        assert keyed.json()["subject"] == "alice"


def test_an_app_without_auth_is_open_as_before(tmp_path: Path) -> None:
    """No auth configured: every handler and the docs answer without credentials, and the
    OpenAPI document declares no security."""
    app = build(tmp_path)
    assert app.auth is None
    with serve(app.asgi()) as url:
        assert httpx.post(f"{url}/ask", json={}).json() == {"echo": {}, "subject": None}
        assert httpx.post(f"{url}/report").status_code == 200
        document = httpx.get(f"{url}/openapi.json").json()
        assert "securitySchemes" not in document.get("components", {})
        assert "security" not in document["paths"]["/ask"]["post"]
        assert httpx.get(f"{url}/docs").status_code == 200

"""``serve_paths``: a deployment serves only the handlers it names over HTTP (what the deploy
config sets per Lambda function), through uvicorn on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from auth.kit import serve
from relaykit import App, ConfigError
from relaykit.durable import WorkflowContext


def build(tmp_path: Path, serve_paths: str | None) -> App:
    settings = {"store": "memory://", "metrics": False, "local_model_delay": 0}
    if serve_paths is not None:
        settings["serve_paths"] = serve_paths
    app = App("served", settings=settings, config_dir=tmp_path)

    @app.task("/ask")
    async def ask() -> str:
        return "answer"

    @app.stream("/chat")
    async def chat() -> AsyncIterator[str]:
        yield "hi"

    @app.workflow("/research")
    async def research(ctx: WorkflowContext) -> str:
        return "report"

    return app


def test_only_the_named_handlers_answer(tmp_path: Path) -> None:
    """``serve_paths = "/chat"``: the stream answers; the task, the workflow and the runs API
    answer 404, as paths that do not exist."""
    with serve(build(tmp_path, "/chat").asgi()) as url, httpx.Client(base_url=url) as client:
        assert client.post("/chat", json={}).status_code == 200
        assert client.post("/ask", json={}).status_code == 404
        assert client.post("/research", json={}).status_code == 404
        assert client.get("/runs").status_code == 404


def test_a_served_workflow_brings_the_runs_api(tmp_path: Path) -> None:
    """``serve_paths = "/research"``: the workflow starts a run and the runs API serves it; the
    task does not answer."""
    with serve(build(tmp_path, "/research").asgi()) as url, httpx.Client(base_url=url) as client:
        started = client.post("/research", json={})
        assert started.status_code == 202, started.text
        assert client.get(f"/runs/{started.json()['run_id']}").status_code == 200
        assert client.post("/ask", json={}).status_code == 404


def test_a_path_the_app_does_not_have_is_a_clear_error(tmp_path: Path) -> None:
    """A typo in ``serve_paths`` fails when the app is built, naming the setting, the path and
    the paths that exist."""
    with pytest.raises(ConfigError, match=r"serve_paths.*?/aks.*?/ask, /chat, /research"):
        build(tmp_path, "/aks").asgi()

"""Secrets never reach logs, recorded errors or the runs API."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path

import httpx
import pytest

from relaykit import App, logs
from relaykit.durable import WorkflowContext
from relaykit.redact import redact

SENTINEL = "sk-ant-api03-SENTINEL-never-print-me-0123456789"


def test_redact_replaces_env_secrets_and_key_shapes() -> None:
    """Values of *KEY*/*SECRET*/*TOKEN* variables and sk-ant-... strings are replaced."""
    env = {"MY_SERVICE_TOKEN": "tok-1234567890", "HOME": "/root-directory"}
    text = f"token tok-1234567890 key {SENTINEL} home /root-directory"
    assert redact(text, env) == "token [redacted] key [redacted] home /root-directory"


def test_log_lines_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A handler logging the API key writes [redacted] instead."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", SENTINEL)
    logger = logs.configure(service="t", level="INFO", fmt="json")
    stream = io.StringIO()
    handler = next(h for h in logger.handlers if getattr(h, "relaykit_handler", False))
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    logs.bind(request_id="r").info("calling with %s", SENTINEL)
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert SENTINEL not in stream.getvalue() and "[redacted]" in line["message"]


def test_run_errors_hide_secrets_and_tracebacks(tmp_path: Path) -> None:
    """A step failing with the key in its message: the run record redacts it, and the runs API
    shows the error's type and message without the stored traceback."""
    app = App(
        "redact", settings={"store": f"sqlite:///{tmp_path / 'runs.db'}"}, config_dir=tmp_path
    )

    def leak() -> None:
        raise ValueError(f"upstream rejected key {SENTINEL}")

    @app.workflow("/leak")
    async def leaky(ctx: WorkflowContext) -> None:
        await ctx.step("call", leak)

    async def scenario() -> tuple[str, str]:
        api = app.asgi()
        async with api.router.lifespan_context(api):
            transport = httpx.ASGITransport(app=api)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                run_id = (await client.post("/leak")).json()["run_id"]
                for _ in range(200):
                    body = (await client.get(f"/runs/{run_id}")).text
                    if '"failed"' in body:
                        break
                    await asyncio.sleep(0.02)
                stored = json.dumps((await app.engine.get(run_id)).to_dict())
                return body, stored

    body, stored = asyncio.run(scenario())
    assert '"status":"failed"' in body
    assert SENTINEL not in body and SENTINEL not in stored
    assert "Traceback" not in body and "traceback" not in body

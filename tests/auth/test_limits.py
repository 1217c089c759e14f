"""Limits with clear errors: unfinished runs per caller (with authentication) and the longest
a stream may run, through uvicorn on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from auth.apps import build
from auth.kit import ALICE_KEY, BOB_KEY, KEYS, OPS_KEY, serve
from relaykit import App, LimitExceeded
from relaykit.auth import ApiKeyAuth

ALICE = {"x-api-key": ALICE_KEY}
BOB = {"x-api-key": BOB_KEY}
OPS = {"x-api-key": OPS_KEY}


def test_a_caller_past_its_unfinished_runs_gets_a_429_naming_the_setting(tmp_path: Path) -> None:
    """With ``max_active_runs_per_caller = 2``: alice's third unfinished run is refused with
    429 ``limit_exceeded`` naming the setting; bob and the admin are not affected; once one of
    alice's runs is cancelled she may start another."""
    app = build(tmp_path, auth=ApiKeyAuth(KEYS), max_active_runs_per_caller=2)
    with serve(app.asgi()) as url, httpx.Client(base_url=url, timeout=30) as client:
        started = [client.post("/approve", json={}, headers=ALICE) for _ in range(2)]
        assert [r.status_code for r in started] == [202, 202]
        refused = client.post("/approve", json={}, headers=ALICE)
        assert refused.status_code == 429, refused.text
        error = refused.json()["error"]
        assert error["type"] == "limit_exceeded"
        assert "max_active_runs_per_caller" in error["message"] and "2" in error["message"]
        assert client.post("/approve", json={}, headers=BOB).status_code == 202
        for _ in range(3):  # the admin is not limited
            assert client.post("/approve", json={}, headers=OPS).status_code == 202
        first = started[0].json()["run_id"]
        assert client.post(f"/runs/{first}/cancel", headers=ALICE).status_code == 200
        again = client.post("/approve", json={}, headers=ALICE)
        assert again.status_code == 202, again.text


def stalling_app(tmp_path: Path, seconds: float) -> App:
    app = App(
        "limits",
        settings={"store": "memory://", "metrics": False, "max_stream_seconds": seconds},
        config_dir=tmp_path,
    )

    @app.stream("/stall")
    async def stall() -> AsyncIterator[str]:
        yield "first"
        await asyncio.sleep(3600)  # a handler that never sends the next chunk
        yield "never"

    @app.stream("/short")
    async def short() -> AsyncIterator[str]:
        yield "a"
        yield "b"

    return app


def test_a_stream_past_max_stream_seconds_ends_with_a_clear_error_event(tmp_path: Path) -> None:
    """A stream handler that stalls after its first chunk is stopped at ``max_stream_seconds``
    (0.5 s here): the client gets the first chunk, then an ``error`` event of type
    ``limit_exceeded`` naming the setting; a stream that finishes in time is untouched."""
    app = stalling_app(tmp_path, 0.5)
    with serve(app.asgi()) as url, httpx.Client(base_url=url, timeout=30) as client:
        response = client.post("/stall", json={})
        assert response.status_code == 200
        text = response.text
        assert "data: first" in text and "never" not in text
        assert "event: error" in text and "limit_exceeded" in text
        assert "max_stream_seconds" in text
        fine = client.post("/short", json={})
        assert "data: a" in fine.text and "data: b" in fine.text and "error" not in fine.text


async def test_the_limit_applies_in_process_too(tmp_path: Path) -> None:
    """Through the dispatch seam (``App.invoke_stream`` in-process; every target uses it) the
    stalled stream raises ``LimitExceeded`` after its first chunk."""
    app = stalling_app(tmp_path, 0.2)
    chunks = []
    with pytest.raises(LimitExceeded, match="max_stream_seconds"):
        async for chunk in app.invoke_stream("/stall", {}):
            chunks.append(chunk)
    assert len(chunks) == 1

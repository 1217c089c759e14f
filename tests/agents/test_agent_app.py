"""The agent example (examples/agent_app.py) through the runs API: what docs/agents.md says."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import json
from pathlib import Path
from typing import Any

import httpx

from relaykit import App

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agent_app.py"


def load_app(tmp_path: Path) -> App:
    spec = importlib.util.spec_from_file_location("agent_app_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app: App = module.app
    app.settings = dataclasses.replace(app.settings, store=f"sqlite:///{tmp_path / 'runs.db'}")
    return app


async def finished(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    started = await client.post(path, json=body)
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    for _ in range(500):
        run: dict[str, Any] = (await client.get(f"/runs/{run_id}")).json()
        if run["status"] in ("completed", "failed"):
            return run
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} did not finish")


def events(text: str) -> list[tuple[int | None, str, str]]:
    parsed = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        event_id = int(fields["id"]) if "id" in fields else None
        parsed.append((event_id, fields.get("event", ""), fields.get("data", "")))
    return parsed


async def test_agent_example_answers_and_streams_its_tokens(tmp_path: Path) -> None:
    """POST /ask runs the agent to its scripted answer with each turn and tool call a step
    (usage per model turn); GET /runs/{id}/stream carries the final turn's tokens and resumes
    after a Last-Event-ID without repeating or skipping entries."""
    app = load_app(tmp_path)
    api = app.asgi()
    async with api.router.lifespan_context(api):
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            run = await finished(client, "/ask", {"question": "How long can Lambda run?"})
            full = (await client.get(f"/runs/{run['run_id']}/stream")).text
            cut = next(i for i, kind, _ in events(full) if kind == "token")
            tail = (
                await client.get(
                    f"/runs/{run['run_id']}/stream", headers={"last-event-id": str(cut)}
                )
            ).text
            summary = await finished(client, "/summarise", {"question": "tides"})
    assert run["status"] == "completed", run["error"]
    assert run["result"] == {
        "answer": "A Lambda invocation runs for at most 15 minutes; relaykit splits longer work.",
        "turns": 3,
        "tool_calls": 2,
        "tokens": run["usage"]["input_tokens"] + run["usage"]["output_tokens"],
    }
    assert [s["name"] for s in run["steps"]] == [
        "turn:1",
        "tool:1:search",
        "turn:2",
        "tool:2:fetch",
        "turn:3",
    ]
    assert [("usage" in s) for s in run["steps"]] == [True, False, True, False, True]
    assert run["usage"]["model_steps"] == 3
    stream = events(full)
    ids = [i for i, _, _ in stream if i is not None]
    assert ids == list(range(1, len(ids) + 1))
    tokens = "".join(json.loads(data)["text"] for _, kind, data in stream if kind == "token")
    assert tokens == run["result"]["answer"]
    assert [i for i, _, _ in events(tail) if i is not None] == [i for i in ids if i > cut]
    assert summary["result"] == "Local model reply to: Summarise: tides"

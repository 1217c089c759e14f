"""The example apps do what their docs say, in-process through App.invoke."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from relaykit import App, ValidationFailed

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def quickstart() -> App:
    app: App = load("quickstart").app
    return app


async def test_quickstart_ask_answers_with_the_local_model() -> None:
    """/ask returns the Answer model as JSON, counting the reply's words."""
    result = await quickstart().invoke("/ask", {"question": "what is relaykit"})
    assert result == {
        "answer": "Local model reply to: what is relaykit",
        "model": "local",
        "words": 7,
    }


async def test_quickstart_ask_refuses_an_empty_question() -> None:
    """The Ask model's constraints are enforced before the handler runs."""
    with pytest.raises(ValidationFailed, match=r"body\.question"):
        await quickstart().invoke("/ask", {"question": ""})


async def test_quickstart_steps_streams_json_chunks_and_bounds_count() -> None:
    """/steps yields one JSON chunk per step; a count out of range is a validation error."""
    app = quickstart()
    chunks = [chunk async for chunk in app.invoke_stream("/steps", 3)]
    assert [chunk.kind for chunk in chunks] == ["json"] * 3
    assert chunks[0].data == '{"step":1,"of":3,"note":"Local model reply to: step 1"}'
    with pytest.raises(ValidationFailed, match=r"less than or equal to 20"):
        [chunk async for chunk in app.invoke_stream("/steps", 21)]


async def test_scripted_model_plays_its_conversation() -> None:
    """The scripted example asks for a tool, then answers from the script."""
    app: App = load("scripted_model").app
    assert await app.invoke("/research", "how long can lambda run?") == {
        "tools": ["search"],
        "answer": "Lambda functions run for at most 15 minutes.",
    }


async def test_workflow_app_runs_through_the_runs_api(tmp_path: Path) -> None:
    """The workflow example: POST starts a run, it waits for approval, the event completes it,
    and the progress stream resumes after a Last-Event-ID without repeating entries."""
    import asyncio

    import httpx

    module = load("workflow_app")
    app: App = module.app
    app.settings = dataclasses.replace(
        app.settings, store=f"sqlite:///{tmp_path / 'runs.db'}", local_model_delay=0.0
    )
    api = app.asgi()
    async with api.router.lifespan_context(api):
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            started = await client.post("/research", json={"question": "tides", "sources": 2})
            assert started.status_code == 202
            run_id = started.json()["run_id"]

            async def status() -> str:
                return str((await client.get(f"/runs/{run_id}")).json()["status"])

            for _ in range(200):
                if await status() == "suspended":
                    break
                await asyncio.sleep(0.02)
            approve = await client.post(f"/runs/{run_id}/events/approve", content=b"true")
            assert approve.status_code == 202
            for _ in range(200):
                if await status() == "completed":
                    break
                await asyncio.sleep(0.02)
            run = (await client.get(f"/runs/{run_id}")).json()
            assert run["result"]["approved"] is True
            assert run["result"]["notes"] == [
                "Local model reply to: tides (source 1)",
                "Local model reply to: tides (source 2)",
            ]
            full = (await client.get(f"/runs/{run_id}/stream")).text
            tail = (await client.get(f"/runs/{run_id}/stream", headers={"last-event-id": "3"})).text
    ids = [int(line[4:]) for line in full.splitlines() if line.startswith("id: ")]
    tail_ids = [int(line[4:]) for line in tail.splitlines() if line.startswith("id: ")]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert tail_ids == [i for i in ids if i > 3]
    assert full.rstrip().endswith('data: {"status": "completed"}')


async def test_existing_fastapi_example_guards_relaykit_routes_with_the_host_dependency() -> None:
    """The mount example: /ai/ask needs the service's API key; /report still streams."""
    import httpx

    module = load("existing_fastapi")
    api = module.api
    async with api.router.lifespan_context(api):
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            refused = await client.post("/ai/ask", json={"question": "hi"})
            assert refused.status_code == 401
            allowed = await client.post(
                "/ai/ask", json={"question": "hi"}, headers={"x-api-key": "let-me-in"}
            )
            assert allowed.json() == "Local model reply to: hi"
            assert (await client.get("/report")).text == "line 0\nline 1\nline 2\n"

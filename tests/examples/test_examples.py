"""The example apps do what their docs say, in-process through App.invoke."""

from __future__ import annotations

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

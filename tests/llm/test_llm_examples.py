"""The model examples: the tool loop and event stream run offline; provider apps import light."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"llm_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_tool_loop_runs_the_tool_and_answers() -> None:
    """/weather asks, runs get_weather for the scripted call, and returns the final answer."""
    app = load("tool_calls").app
    assert await app.invoke("/weather", "Weather in Oslo?") == "It is 21 degrees in Oslo."


async def test_event_stream_ends_with_the_reply() -> None:
    """/events yields text events and then the stop reason and token count."""
    app = load("tool_calls").app
    await app.invoke("/weather", "first")  # plays the tool turn and the answer
    chunks = [json.loads(chunk.data) async for chunk in app.invoke_stream("/events", "go")]
    assert chunks[0] == {"text": "Streaming"}
    assert chunks[-1] == {"stop_reason": "end_turn", "output_tokens": 5}


def test_provider_examples_import_without_their_sdks() -> None:
    """Loading the Anthropic and Bedrock examples (and resolving settings) imports no SDK."""
    code = f"""
import importlib.util, json, sys
for name in ("anthropic_app", "bedrock_app"):
    spec = importlib.util.spec_from_file_location(name, {str(EXAMPLES)!r} + f"/{{name}}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.app.model
print(json.dumps(sorted(m for m in ("anthropic", "boto3", "botocore") if m in sys.modules)))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout.splitlines()[-1]) == []

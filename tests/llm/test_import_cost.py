"""Cold start: provider modules load their SDKs on the first call, never at import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from stubs.anthropic_api import AnthropicStub

TESTS = Path(__file__).resolve().parent.parent


def run(code: str) -> dict[str, bool]:
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=TESTS,
    )
    return dict(json.loads(result.stdout.splitlines()[-1]))


def test_importing_the_providers_loads_no_sdk() -> None:
    """`import relaykit.llm.anthropic` / `.bedrock` / `.bound` load neither anthropic nor boto3."""
    code = """
import sys, json
import relaykit.llm.anthropic, relaykit.llm.bedrock, relaykit.llm.bound, relaykit.llm.tools
heavy = ("anthropic", "httpx2", "boto3", "botocore", "pydantic", "aws_lambda_powertools")
print(json.dumps({name: name in sys.modules for name in heavy}))
"""
    assert not any(run(code).values())


def test_anthropic_is_imported_by_the_first_call() -> None:
    """Building the model imports nothing; the first call imports the SDK and answers."""
    with AnthropicStub() as stub:
        code = f"""
import asyncio, sys, json
from relaykit.llm.anthropic import AnthropicModel
model = AnthropicModel("claude-haiku-4-5", api_key="k", base_url={stub.url!r})
before = "anthropic" in sys.modules
reply = asyncio.run(model.complete([{{"role": "user", "content": "hi"}}], max_tokens=2))
print(json.dumps({{"before": before, "after": "anthropic" in sys.modules,
                   "answered": reply.text == "w0 w1"}}))
"""
        assert run(code) == {"before": False, "after": True, "answered": True}

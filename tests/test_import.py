"""Cold start as a feature: importing relaykit and registering handlers loads nothing heavy."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "boto3",
    "botocore",
    "anthropic",
    "mangum",
    "aws_lambda_powertools",
    "pydantic",
    "httpx",
    "aws_xray_sdk",
)


def modules_after(code: str) -> set[str]:
    script = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(name for name in modules if name.split(".")[0] in HEAVY)


def test_import_relaykit_loads_only_the_standard_library() -> None:
    """`import relaykit` in a fresh process loads none of the heavy packages."""
    assert heavy_in(modules_after("import relaykit")) == []


def test_building_an_app_and_registering_handlers_stays_light() -> None:
    """Building an App and registering plain-typed handlers imports no web or SDK package."""
    code = """
import relaykit
app = relaykit.App("light", settings={"store": "memory://"})
@app.task("/t")
async def t(body: dict, ctx: relaykit.Context) -> dict:
    return body
@app.stream("/s")
async def s(ctx: relaykit.Context):
    yield "x"
"""
    assert heavy_in(modules_after(code)) == []

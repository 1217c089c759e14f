"""Cold start budget: building an app and its Lambda handler imports nothing heavy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["anthropic", "boto3", "botocore.session", "aws_xray_sdk", "aws_lambda_powertools.tracing"]
# Powertools' package __init__ imports its Tracer *class* module (and botocore's 1 ms package
# __init__), but the X-Ray SDK and botocore's session only load when a Tracer is built.
EVENT_HEAVY = ["anthropic", "boto3", "botocore.session", "aws_xray_sdk", "aws_xray_sdk.core"]
ADAPTERS = ["fastapi", "starlette", "mangum", "pydantic", "aws_lambda_powertools", "uvicorn"]


def loaded_after(code: str) -> set[str]:
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT / 'framework'}:{ROOT / 'examples'}", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_import_relaykit_loads_no_adapter() -> None:
    """`import relaykit` loads none of FastAPI, Starlette, Mangum, pydantic, Powertools, boto3."""
    modules = loaded_after("import relaykit")
    assert sorted(m for m in ADAPTERS + HEAVY if m in modules) == []


def test_building_app_and_lambda_handler_loads_nothing_heavy() -> None:
    """The quickstart module (which ends with handler = app.lambda_handler) and the handler
    modules import neither anthropic, boto3 nor the Tracer; the adapters wait for an event."""
    modules = loaded_after(
        "import quickstart\n"
        "import relaykit.targets.lambda_handler, relaykit.events.http\n"
        "assert callable(quickstart.handler)"
    )
    assert sorted(m for m in HEAVY if m in modules) == []
    assert sorted(m for m in ["fastapi", "mangum", "aws_lambda_powertools"] if m in modules) == []


def test_first_event_loads_adapters_but_not_tracer_or_sdks() -> None:
    """Serving an HTTP event loads FastAPI and Mangum; no X-Ray SDK, no SDKs, and not
    Powertools Metrics either (relaykit writes the EMF line itself: ~36 ms less cold start)."""
    event = json.loads((ROOT / "tests" / "events" / "http_api_v2.json").read_text())
    modules = loaded_after(
        "import quickstart, io, contextlib\n"
        f"event = {event!r}\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    quickstart.handler(event, None)\n"
    )
    assert sorted(m for m in EVENT_HEAVY if m in modules) == []
    assert {"fastapi", "mangum"} <= modules
    assert "aws_lambda_powertools.metrics" not in modules

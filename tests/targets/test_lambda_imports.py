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
    """Serving an HTTP event loads FastAPI, but not Mangum (relaykit translates the events
    itself), no X-Ray SDK, no SDKs, and not Powertools Metrics either (relaykit writes the EMF
    line itself: ~36 ms less cold start)."""
    event = json.loads((ROOT / "tests" / "events" / "http_api_v2.json").read_text())
    modules = loaded_after(
        "import quickstart, io, contextlib\n"
        f"event = {event!r}\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    quickstart.handler(event, None)\n"
    )
    assert sorted(m for m in EVENT_HEAVY if m in modules) == []
    assert "fastapi" in modules
    assert "mangum" not in modules
    assert "aws_lambda_powertools.metrics" not in modules


APP_LAYER = [
    "relaykit.app",
    "relaykit.context",
    "relaykit.model",
    "relaykit.dispatch",
    "relaykit.auth",
    "relaykit.handlers",
    "relaykit.sources",
    "relaykit.measure",
    "relaykit.targets.lambda_handler",
    "relaykit.targets.asgi",
    "relaykit.events",
    "relaykit.events.base",
    "relaykit.events.http",
    "relaykit.events.sqs",
    "relaykit.events.workflow",
]


def test_asgi_lambda_handler_serves_http_without_the_app_layer() -> None:
    """``asgi_lambda_handler(api)`` over a FastAPI app with no relaykit code, its first HTTP
    event answered: neither the relaykit App and what it brings (contexts, models, dispatch, auth,
    the event kinds: ``relaykit.lambda_event`` recognises HTTP events) nor Mangum or Powertools
    is imported."""
    event = json.loads((ROOT / "tests" / "events" / "http_api_v2.json").read_text())
    modules = loaded_after(
        "import io, contextlib\n"
        "from fastapi import FastAPI\n"
        "from relaykit import asgi_lambda_handler\n"
        "api = FastAPI()\n"
        "handler = asgi_lambda_handler(api)\n"
        f"event = {event!r}\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    out = handler(event, None)\n"
        "assert out['statusCode'] == 404, out\n"
        "handler.close()\n"
    )
    assert sorted(m for m in APP_LAYER if m in modules) == []
    assert sorted(m for m in ["mangum", "aws_lambda_powertools", *HEAVY] if m in modules) == []


def test_non_http_event_builds_the_app_on_first_use() -> None:
    """A non-HTTP event reaching ``asgi_lambda_handler(api)`` loads the app layer then, and gets
    the error the event kinds give (no relaykit handler is registered for it)."""
    event = json.loads((ROOT / "tests" / "events" / "sqs.json").read_text())
    modules = loaded_after(
        "import io, contextlib\n"
        "from fastapi import FastAPI\n"
        "from relaykit import UnknownEventError, asgi_lambda_handler\n"
        "handler = asgi_lambda_handler(FastAPI())\n"
        "assert 'relaykit.app' not in sys.modules\n"
        f"event = {event!r}\n"
        "try:\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        handler(event, None)\n"
        "except UnknownEventError as exc:\n"
        "    assert 'no @app.on_sqs handler' in str(exc), exc\n"
        "else:\n"
        "    raise AssertionError('no error')\n"
        "handler.close()\n"
    )
    assert {"relaykit.app", "relaykit.events.sqs"} <= modules

"""examples/from_chalice/ does what docs/migrate-chalice.md says: each handler that replaces a
Chalice decorator is reached the way production reaches it.

On Lambda: the module's ``handler`` runs under AWS's own Python runtime client (``awslambdaric``,
the managed runtime's) as a worker of relaykit's emulator, behind a BUFFERED Function URL for the
routes and through the Invoke API for the SQS, S3 and schedule events (built by ``relaykit
event``'s generators). The pure Lambda function runs as a second function of the same package. In
a container: ``relaykit serve`` (uvicorn) on a loopback port. The placement in relaykit.toml is
read back through ``relaykit routes`` and ``relaykit deploy-config``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from relaykit.cli.samples import eventbridge_event, s3_record, sqs_event
from relaykit.local.emulator import Emulator, FunctionConfig, InvocationResult
from support import ROOT, free_port, wait_for_text

EXAMPLE = ROOT / "examples" / "from_chalice"
BIN = Path(sys.executable).parent
REGION = "us-east-1"
QUIET = {
    "RELAYKIT_STORE": "memory://",
    "RELAYKIT_LOCAL_MODEL_DELAY": "0",
    "RELAYKIT_METRICS": "false",
}


def managed_runtime(name: str, handler: str) -> FunctionConfig:
    """A function of the example's package run as Lambda's managed Python runtime runs it."""
    return FunctionConfig(
        name=name,
        command=[sys.executable, "-m", "awslambdaric", handler],
        env={"PYTHONPATH": str(EXAMPLE), "PYTHONUNBUFFERED": "1", **QUIET},
        handler=handler,
        task_root=str(EXAMPLE),
        timeout=20,
    )


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    functions = [
        managed_runtime("documents", "app.handler"),
        managed_runtime("thumbnails", "app.thumbnail_sizes"),
    ]
    with Emulator(functions).running() as running:
        yield running


def invoke(emu: Emulator, name: str, event: dict[str, Any]) -> InvocationResult:
    result = emu.call(emu.invoke(name, json.dumps(event).encode()))
    assert result.ok, result.payload
    return result


def test_routes_answer_through_a_function_url(emu: Emulator) -> None:
    """The task that replaces the JSON route validates its body and answers JSON; the FastAPI
    route that replaces the current_request one gets its path, query and header; a body that
    does not validate is a 422 in relaykit's error shape."""
    url = emu.function_url("documents")
    summary = httpx.post(
        f"{url}/summaries", json={"doc_id": "d-1", "text": "tides and moons"}, timeout=30
    )
    assert summary.status_code == 200
    assert summary.json() == {
        "doc_id": "d-1",
        "summary": "Local model reply to: Summarise: tides and moons",
    }
    document = httpx.get(
        f"{url}/documents/d-7", params={"fields": "title"}, headers={"x-caller": "ops"}, timeout=30
    )
    assert document.json() == {"doc_id": "d-7", "fields": "title", "caller": "ops"}
    refused = httpx.post(f"{url}/summaries", json={"doc_id": "d-2", "text": ""}, timeout=30)
    assert refused.status_code == 422
    assert refused.json()["error"]["type"] == "validation_error"


def test_sqs_s3_and_schedule_events_reach_their_handlers(emu: Emulator) -> None:
    """Each event, in the shape its source delivers, goes to the handler that replaces the
    Chalice decorator: SQS answers a partial-batch response, S3 keys arrive URL-encoded and are
    decoded by the handler, a scheduled event goes to its rule's handler."""
    jobs = sqs_event("summary-jobs", [json.dumps({"doc_id": "d-3", "text": "storm"})], REGION)
    result = invoke(emu, "documents", jobs)
    assert json.loads(result.payload) == {"batchItemFailures": []}
    assert b"job d-3: Local model reply to: Summarise: storm" in result.log_tail

    upload = s3_record("uploads", "incoming/q3 report.txt", "ObjectCreated:Put", 42, REGION)
    result = invoke(emu, "documents", {"Records": [upload]})
    assert json.loads(result.payload) is None
    assert b"uploaded s3://uploads/incoming/q3 report.txt" in result.log_tail

    rule = f"arn:aws:events:{REGION}:123456789012:rule/hourly-digest"
    tick = eventbridge_event("aws.events", "Scheduled Event", {}, REGION, [rule])
    result = invoke(emu, "documents", tick)
    assert json.loads(result.payload) is None
    expected = f"digest at {tick['time']}: Local model reply to: Write the hourly digest"
    assert expected.encode() in result.log_tail


def test_a_failing_sqs_record_fails_alone(emu: Emulator) -> None:
    """Where a Chalice batch fails whole, a record that does not validate is reported in
    batchItemFailures and the good record beside it is processed."""
    good = json.dumps({"doc_id": "d-4", "text": "calm"})
    jobs = sqs_event("summary-jobs", [good, json.dumps({"doc_id": "d-5"})], REGION)
    result = invoke(emu, "documents", jobs)
    failed = jobs["Records"][1]["messageId"]
    assert json.loads(result.payload) == {"batchItemFailures": [{"itemIdentifier": failed}]}
    assert b"job d-4: Local model reply to: Summarise: calm" in result.log_tail


def test_pure_lambda_function_runs_as_its_own_function(emu: Emulator) -> None:
    """The plain handler that replaces @app.lambda_function runs from the same package."""
    result = invoke(emu, "thumbnails", {"width": 800})
    assert json.loads(result.payload) == {"sizes": [200, 400, 800]}


def test_container_serves_both_routes(tmp_path: Path) -> None:
    """`relaykit serve` on the example serves the task and the FastAPI route together."""
    port = free_port()
    log = tmp_path / "serve.log"
    command = [str(BIN / "relaykit"), "serve", str(EXAMPLE / "app.py")]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **QUIET}, cwd=tmp_path
        )
    try:
        assert wait_for_text(log.read_text, "Application startup complete", 30), log.read_text()
        base = f"http://127.0.0.1:{port}"
        summary = httpx.post(f"{base}/summaries", json={"doc_id": "d-6", "text": "dunes"})
        assert summary.json()["summary"] == "Local model reply to: Summarise: dunes"
        document = httpx.get(f"{base}/documents/d-6")
        assert document.json() == {"doc_id": "d-6", "fields": "all", "caller": "anonymous"}
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_relaykit_toml_places_each_handler_as_chalice_config_did(tmp_path: Path) -> None:
    """relaykit.toml (what .chalice/config.json held) gives the task its memory, timeout and
    auth, and deploy-config makes one function per handler with those values."""
    routes = subprocess.run(
        [str(BIN / "relaykit"), "routes", str(EXAMPLE / "app.py"), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    (task,) = json.loads(routes.stdout)
    assert (task["path"], task["target"], task["memory"], task["timeout"], task["auth"]) == (
        "/summaries",
        "lambda",
        512,
        30,
        "NONE",
    )
    template = tmp_path / "template.json"
    options = ["--format", "sam", "--python", "3.11", "--code", "dist/documents.zip"]
    subprocess.run(
        [str(BIN / "relaykit"), "deploy-config", str(EXAMPLE / "app.py"), *options, "-o", template],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    resources = json.loads(template.read_text())["Resources"]
    functions = {
        name: (props["Timeout"], props["MemorySize"], props.get("ReservedConcurrentExecutions"))
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
        for props in [resource["Properties"]]
    }
    assert functions == {
        "Summaries": (30, 512, None),
        "SqsSummaryJobs": (60, 512, 5),
        "S3UploadsIncomingTxt": (60, 512, None),
        "ScheduleHourlyDigest": (120, 512, None),
    }

"""On Lambda, ``app.lambda_handler`` measures an HTTP request to a task as its whole invocation,
from the event in to the response out (what Lambda bills), and writes it with the invocation's
metrics line; the model calls of everything that served it count there, also those of a task
that an event handler invokes in process. Streamed responses are measured by the stream, on a
line of their own; paths that are not handlers are not measured."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from advisor.apps import LambdaContext, measured_app
from relaykit import App, Context
from relaykit.advisor.readings import from_logs
from relaykit.measure import Measurement

EVENTS = Path(__file__).resolve().parent.parent / "events"


class Sink:
    """A streamed response kept in memory (what the runtime's chunked POST would carry)."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.bytes_written = 0
        self.closed = False

    async def write(self, data: bytes) -> None:
        self.data += data
        self.bytes_written += len(data)

    async def close(self) -> None:
        self.closed = True

    async def fail(self, error_type: str, error: dict[str, Any]) -> None:
        raise AssertionError(f"the stream failed: {error_type} {error}")


def build(tmp_path: Path) -> App:
    return measured_app(tmp_path, "log", metrics=True, store="memory://")


def serve(app: App, *events: dict[str, Any]) -> list[Any]:
    handler = app.lambda_handler
    try:
        return [handler(event, LambdaContext()) for event in events]
    finally:
        handler.close()


def documents(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if '"_aws"' in line]


def measurements(out: str, tmp_path: Path) -> list[Measurement]:
    log = tmp_path / "stdout.log"
    log.write_text(out)
    return from_logs(log)


def http_event(path: str, body: str | None, method: str = "POST") -> dict[str, Any]:
    event = json.loads((EVENTS / "http_api_v2.json").read_text())
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["body"], event["isBase64Encoded"] = body, False
    return event


def test_an_http_request_is_measured_as_its_whole_invocation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One document per invocation: the measurement's wall time is the invocation's latency
    (the same figure in both directives), its response size is the body Lambda returns, and
    the task's model call counts in it."""
    app = build(tmp_path)
    (response,) = serve(app, http_event("/inspect", '{"question": "why?"}'))
    assert response["statusCode"] == 200
    (document,) = documents(capsys.readouterr().out)
    assert document["relaykit_measurement"] == 1 and document["handler"] == "/inspect"
    assert document["wall_ms"] == document["latency"][0] > 0
    assert document["response_bytes"] == len(response["body"])
    assert document["model_calls"] == 1 and document["input_tokens"] > 0
    assert (document["kind"], document["target"], document["error"]) == ("task", "lambda", False)
    assert document["cpu_exact"] is True and document["cpu_ms"] > 0
    assert document["invocations"] == [1.0] and document["errors"] == [0.0]


def test_bad_input_is_measured_as_an_error_and_other_paths_are_not_measured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed body is a measured invocation of the handler marked ``error`` (a 400, not a
    server error in the metrics); a request that no handler serves gets its metrics line and
    no measurement."""
    app = build(tmp_path)
    bad, missing = serve(
        app, http_event("/inspect", '{"question": '), http_event("/nowhere", None, "GET")
    )
    assert bad["statusCode"] == 400 and missing["statusCode"] == 404
    out = capsys.readouterr().out
    first, second = documents(out)
    assert first["handler"] == "/inspect" and first["error"] is True
    assert first["errors"] == [0.0]  # a caller's mistake is not a server error
    assert "relaykit_measurement" not in second and second["handler"] == "other"
    (m,) = measurements(out, tmp_path)
    assert (m.handler, m.kind, m.error, m.model_calls) == ("/inspect", "task", True, 0)


def test_a_task_invoked_by_an_event_handler_counts_in_the_event_measurement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An SQS handler that runs a task in process: one ``event`` measurement for the batch,
    with the task's model calls in it, and no measurement of the task on its own."""
    app = build(tmp_path)

    @app.on_sqs("orders")
    async def summarise(body: dict[str, str], ctx: Context) -> None:
        await app.invoke("/inspect", {"question": body["text"]})

    event = json.loads((EVENTS / "sqs.json").read_text())
    (response,) = serve(app, event)
    assert response == {"batchItemFailures": []}
    (m,) = measurements(capsys.readouterr().out, tmp_path)
    assert (m.handler, m.kind, m.target) == ("summarise", "event", "lambda")
    assert m.model_calls == len(event["Records"]) == 3


def test_a_streamed_response_is_measured_by_the_stream(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through a runtime that streams (a Function URL in RESPONSE_STREAM mode): the stream is
    measured as it runs, marked streamed, with the bytes of its chunks, on a line of its own
    before the invocation's metrics line."""
    app = build(tmp_path)
    event = json.loads((EVENTS / "function_url.json").read_text())
    event = copy.deepcopy(event)
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/words"
    event["body"] = "null"
    sink = Sink()

    async def open_stream(content_type: str) -> Sink:
        return sink

    async def invoke() -> None:
        handler = app.lambda_handler
        await handler.start()
        try:
            response, flush = await handler.respond(event, LambdaContext(), open_stream)
            assert response is None
            flush()
        finally:
            await handler.aclose()

    asyncio.run(invoke())
    assert sink.data.count(b"\x00" * 8) == 1 and b"one" in sink.data
    out = capsys.readouterr().out
    measured, metrics = documents(out)
    assert measured["relaykit_measurement"] == 1 and "latency" not in measured
    assert metrics["handler"] == "/words" and "relaykit_measurement" not in metrics
    (m,) = measurements(out, tmp_path)
    assert (m.handler, m.kind, m.streamed, m.error) == ("/words", "stream", True, False)
    assert 0 < m.response_bytes < len(sink.data) and m.model_calls == 1

"""Measurements are recorded on both targets, through their production entry points: the
container's ASGI app (httpx's ASGI transport) and ``app.lambda_handler`` with a real-shape
HTTP API v2 event; workflow steps too. Log lines round-trip through ``--from-logs`` parsing;
the store is written in batches off the request path."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from advisor.apps import LambdaContext, measured_app
from relaykit import App, Context
from relaykit.advisor.readings import from_logs
from relaykit.measure import Measurement, resolve_mode
from relaykit.measure_store import read_measurements

EVENTS = Path(__file__).resolve().parent.parent / "events"


def build(tmp_path: Path, measure: str) -> App:
    return measured_app(tmp_path, measure)


def lines_of(text: str, tmp_path: Path) -> list[Measurement]:
    log = tmp_path / "stdout.log"
    log.write_text(text)
    return from_logs(log)


def test_container_task_and_stream_go_to_the_store(tmp_path: Path) -> None:
    """Through the ASGI app: one measurement per request, with model calls, tokens and response
    size; the stream is marked streamed. The store file sits next to the durable store."""
    app = build(tmp_path, "store")
    sizes: list[int] = []

    async def calls() -> None:
        transport = httpx.ASGITransport(app=app.asgi())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for _ in range(3):
                answer = await client.post("/inspect", json={"question": "why?"})
                assert answer.status_code == 200
                sizes.append(len(answer.content))
            streamed = await client.post("/words", json=None)
            assert streamed.status_code == 200

    asyncio.run(calls())
    assert app.recorder is not None
    app.recorder.flush()
    found = read_measurements(str(tmp_path / "measurements.db"))
    tasks = [m for m in found if m.handler == "/inspect"]
    assert len(tasks) == 3
    for m in tasks:
        assert (m.kind, m.target, m.streamed, m.error) == ("task", "container", False, False)
        assert m.model_calls == 1 and m.input_tokens > 0 and m.output_tokens > 0
        assert m.response_bytes == sizes[0]
        assert m.wall_s >= m.model_wait_s >= 0 and m.cpu_s >= 0 and m.max_rss_mb > 0
    (stream,) = [m for m in found if m.handler == "/words"]
    assert stream.streamed and stream.kind == "stream" and stream.response_bytes > 0
    app.recorder.close()


def test_lambda_http_api_v2_writes_an_emf_log_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``app.lambda_handler`` with an HTTP API v2 event: the measurement is one stdout line that
    is an EMF document (namespace, dimensions, metric names) and parses back as a
    ``Measurement`` with the Lambda target and exact CPU (one invocation at a time)."""
    app = build(tmp_path, "log")
    event = json.loads((EVENTS / "http_api_v2.json").read_text())
    handler = app.lambda_handler
    try:
        response = handler(event, LambdaContext())
    finally:
        handler.close()
    assert response["statusCode"] == 200
    out = capsys.readouterr().out
    document = json.loads(next(line for line in out.splitlines() if "_aws" in line))
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [["service", "handler"]]
    assert {m["Name"] for m in directive["Metrics"]} >= {"wall_ms", "cpu_ms", "model_wait_ms"}
    # model usage is a CloudWatch metric too, not only a log key
    usage_metrics = {"model_calls", "input_tokens", "output_tokens", "model_cost_usd"}
    assert usage_metrics <= {m["Name"] for m in directive["Metrics"]}
    assert document["model_calls"] == 1 and document["input_tokens"] > 0
    assert document["handler"] == "/inspect" and document["wall_ms"] > 0
    (m,) = lines_of(out, tmp_path)
    assert (m.handler, m.kind, m.target, m.cpu_exact, m.model_calls) == (
        "/inspect",
        "task",
        "lambda",
        True,
        1,
    )


def test_container_log_lines_are_written_off_the_request_path(tmp_path: Path) -> None:
    """In a container, ``log`` mode hands each measurement to a background writer: the request
    does not format or write it; the line appears shortly after (the writer wakes every
    ``LineWriter.INTERVAL_S``), in order, and ``close`` writes whatever is still queued."""
    app = build(tmp_path, "log")
    recorder = app.recorder
    assert recorder is not None
    out = io.StringIO()
    recorder._out = out

    async def calls(count: int) -> None:
        transport = httpx.ASGITransport(app=app.asgi())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for index in range(count):
                answer = await client.post("/inspect", json={"question": f"q{index}"})
                assert answer.status_code == 200

    asyncio.run(calls(3))
    for _ in range(200):  # wait for the writer thread, bounded (no timing assertion)
        if out.getvalue().count("\n") >= 3:
            break
        time.sleep(0.05)
    found = lines_of(out.getvalue(), tmp_path)
    assert [(m.handler, m.target) for m in found] == [("/inspect", "container")] * 3
    assert [m.at for m in found] == sorted(m.at for m in found)
    asyncio.run(calls(2))
    recorder.close()  # what interpreter exit does: nothing queued is lost
    assert len(lines_of(out.getvalue(), tmp_path)) == 5


def test_lambda_metrics_and_measurement_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With metrics on (the default on Lambda), an invocation writes one EMF document carrying
    both the invocation metrics (``invocations``, ``errors``, ``latency``, ``cold_starts``) and
    the measurement, declared by two directives over the same dimensions; it still parses back
    as the measurement."""
    app = App(
        "measured",
        settings={"measure": "log", "metrics": True, "local_model_delay": 0, "store": "memory://"},
        config_dir=tmp_path,
    )

    @app.task("/inspect")
    async def inspect(body: dict[str, Any], ctx: Context) -> dict[str, Any]:
        reply = await ctx.llm.complete([{"role": "user", "content": body["question"]}])
        return {"answer": reply.text}

    event = json.loads((EVENTS / "http_api_v2.json").read_text())
    handler = app.lambda_handler
    try:
        assert handler(event, LambdaContext())["statusCode"] == 200
        assert handler(event, LambdaContext())["statusCode"] == 200
    finally:
        handler.close()
    out = capsys.readouterr().out
    documents = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    assert len(documents) == 2  # one per invocation
    first, second = documents
    names = [{m["Name"] for m in d["Metrics"]} for d in first["_aws"]["CloudWatchMetrics"]]
    assert names[0] >= {"wall_ms", "cpu_ms", "model_calls"}
    assert names[1] == {"invocations", "errors", "latency", "cold_starts"}
    assert {
        frozenset(map(frozenset, d["Dimensions"])) for d in first["_aws"]["CloudWatchMetrics"]
    } == {frozenset({frozenset({"handler", "service"})})}
    assert first["cold_starts"] == [1.0] and "cold_starts" not in second
    assert first["invocations"] == [1.0] and first["errors"] == [0.0] and first["latency"][0] > 0
    assert first["handler"] == "/inspect" and first["model_calls"] == 1
    found = lines_of(out, tmp_path)
    assert [(m.handler, m.kind, m.target) for m in found] == [("/inspect", "task", "lambda")] * 2


def test_workflow_steps_are_measured_with_their_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each committed step is one ``step`` measurement carrying the step name and run id."""
    app = build(tmp_path, "log")

    async def run() -> None:
        run_id = await app.engine.start("/twice", input=3)
        for _ in range(500):
            if (await app.engine.get(run_id)).status == "completed":
                return
            await asyncio.sleep(0.01)

    asyncio.run(run())
    assert app.recorder is not None
    app.recorder.flush()  # in a container, log lines are written by a background thread
    steps = [m for m in lines_of(capsys.readouterr().out, tmp_path) if m.kind == "step"]
    assert [m.step for m in steps] == ["first", "second"]
    assert len({m.run_id for m in steps}) == 1 and steps[0].run_id
    assert all(m.handler == "/twice" and m.wall_s >= 0 for m in steps)


def test_a_failing_handler_is_measured_as_an_error(tmp_path: Path) -> None:
    """A handler that raises still produces a measurement, marked ``error``."""
    app = build(tmp_path, "store")

    @app.task("/boom")
    async def boom() -> None:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        asyncio.run(app.invoke("/boom"))
    assert app.recorder is not None
    app.recorder.flush()
    (m,) = read_measurements(str(tmp_path / "measurements.db"), "/boom")
    assert m.error
    app.recorder.close()


def test_a_response_that_fails_to_encode_is_measured_as_an_error(tmp_path: Path) -> None:
    """The target's encoder runs inside the measurement: when it raises, the task is measured
    as an error and no longer counted in flight, so later measurements stay ``cpu_exact``."""
    from relaykit.dispatch import run_task

    app = build(tmp_path, "store")
    recorder = app.recorder
    assert recorder is not None
    spec = app.handler("/inspect")

    def unencodable(data: Any) -> bytes:
        raise TypeError("cannot encode")

    async def both() -> None:
        with pytest.raises(TypeError):
            await run_task(spec, {"question": "a?"}, app.new_context(spec), unencodable)
        await run_task(spec, {"question": "b?"}, app.new_context(spec), lambda d: b"{}")

    asyncio.run(both())
    assert recorder.inflight == 0
    recorder.flush()
    failed, served = read_measurements(str(tmp_path / "measurements.db"), "/inspect")
    assert (failed.error, failed.response_bytes, failed.model_calls) == (True, 0, 1)
    assert (served.error, served.response_bytes, served.cpu_exact) == (False, 2, True)
    recorder.close()


def test_auto_mode_follows_the_runner_and_the_target(tmp_path: Path) -> None:
    """``auto``: store under relaykit dev, log under relaykit serve and on Lambda, else off."""
    settings = build(tmp_path, "auto").settings
    assert resolve_mode(settings, {}) == "off"
    assert resolve_mode(settings, {"_RELAYKIT_RUNNER": "dev"}) == "store"
    assert resolve_mode(settings, {"_RELAYKIT_RUNNER": "serve"}) == "log"
    lambda_app = App("l", settings={"measure": "auto", "target": "lambda"}, config_dir=tmp_path)
    assert resolve_mode(lambda_app.settings, {}) == "log"
    assert build(tmp_path, "off").recorder is None


def test_an_sqs_batch_on_lambda_is_one_measurement_with_every_records_model_calls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An SQS event of three records through ``app.lambda_handler``: one ``event`` measurement for
    the invocation (Lambda bills the batch), named after the handler, counting every record's
    model calls; a measured invocation changes nothing in the batch response."""
    app = build(tmp_path, "log")
    asked: list[str] = []

    @app.on_sqs("orders")
    async def summarise(body: dict[str, str], ctx: Context) -> None:
        reply = await ctx.llm.complete([{"role": "user", "content": body["text"]}])
        asked.append(reply.text)

    event = json.loads((EVENTS / "sqs.json").read_text())
    handler = app.lambda_handler
    try:
        response = handler(event, LambdaContext())
    finally:
        handler.close()
    assert response == {"batchItemFailures": []} and len(asked) == len(event["Records"]) == 3
    (m,) = lines_of(capsys.readouterr().out, tmp_path)
    assert (m.handler, m.kind, m.target, m.error) == ("summarise", "event", "lambda", False)
    assert m.model_calls == 3 and m.input_tokens > 0 and m.wall_s > 0


def test_log_lines_carry_their_start_in_the_emf_timestamp(tmp_path: Path) -> None:
    """A measurement line's start is its EMF ``Timestamp`` (ms); a line written with an ``at``
    key still reads back, and a measurement line with no start at all is skipped, not fatal."""
    recorder = measured_app(tmp_path, "log").recorder
    assert recorder is not None
    m = Measurement("/inspect", "task", "container", 1764324000.1234, 0.01, 0.005, True,
                    0.0, 0, 0, 0, 0.0, 50.0, 12, False)  # fmt: skip
    line = json.loads(recorder.log_line(m))
    assert "at" not in line and line["_aws"]["Timestamp"] == 1764324000123
    older = {key: value for key, value in line.items() if key != "_aws"} | {"at": m.at}
    broken = {key: value for key, value in older.items() if key != "at"}
    log = tmp_path / "mixed.log"
    log.write_text("\n".join(json.dumps(doc) for doc in (line, older, broken)) + "\n")
    new, old = from_logs(log)
    assert new.at == 1764324000.123 and old.at == m.at
    assert (new.handler, new.wall_s, new.cpu_s, new.response_bytes) == ("/inspect", 0.01, 0.005, 12)


@pytest.mark.parametrize(
    "seconds",
    [0.0, 0.0000004, 0.0000005, 0.0002, 0.000213456, 0.0099995, 0.12345, 1.0, 86.4009999, 3725.5],
)
def test_log_line_times_read_as_milliseconds_to_three_decimals(
    tmp_path: Path, seconds: float
) -> None:
    """Wall and CPU times are written from whole microseconds (a table of decimal parts, not
    float formatting): milliseconds with exactly three decimals, within half a microsecond of
    the time (what ``f"{ms:.3f}"`` gives, but for a tie, which may round up); memory keeps one
    decimal as its value changes; a negative time (a clock step) is still written as one."""
    recorder = measured_app(tmp_path, "log").recorder
    assert recorder is not None
    for rss in (50.0, 61.25):
        m = Measurement("/inspect", "task", "lambda", 1764324000.0, seconds, seconds / 2, True,
                        0.0, 0, 0, 0, 0.0, rss, 12, False)  # fmt: skip
        text = recorder.log_line(m, latency=True)
        line = json.loads(text)
        for key, ms in (("wall_ms", seconds * 1000), ("cpu_ms", seconds * 500)):
            written = text.split(f'"{key}":', 1)[1].split(",", 1)[0]
            assert len(written.split(".")[1]) == 3, written
            assert abs(line[key] - ms) <= 0.0005 + 1e-9
        assert line["latency"] == [line["wall_ms"]]
        assert f'"max_rss_mb":{rss:.1f},' in text
    stepped = Measurement("/inspect", "task", "lambda", 1764324000.0, 0.001, -0.0000251, True,
                          0.0, 0, 0, 0, 0.0, 50.0, 12, False)  # fmt: skip
    assert json.loads(recorder.log_line(stepped))["cpu_ms"] == -0.025


def test_the_store_gets_what_was_measured_just_before_the_process_exits(tmp_path: Path) -> None:
    """One request, then the process ends before the writer thread was ever handed a batch:
    the measurement is still written (at interpreter exit), not lost."""
    script = (
        "import asyncio, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})\n"
        "from pathlib import Path\n"
        "from advisor.apps import measured_app\n"
        f"app = measured_app(Path({str(tmp_path)!r}), 'store')\n"
        "asyncio.run(app.invoke('/inspect', {'question': 'why?'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    (m,) = read_measurements(str(tmp_path / "measurements.db"))
    assert (m.handler, m.kind, m.model_calls) == ("/inspect", "task", 1)


def test_app_shutdown_writes_what_the_store_collected(tmp_path: Path) -> None:
    """The app's shutdown (the ASGI lifespan's, under ``relaykit dev``) writes the measurements
    collected so far: a server worker that uvicorn's reloader stops ends without running
    interpreter-exit hooks."""
    app = build(tmp_path, "store")

    async def serve_one() -> None:
        await app.startup()
        await app.invoke("/inspect", {"question": "why?"})
        await app.shutdown()

    asyncio.run(serve_one())
    (m,) = read_measurements(str(tmp_path / "measurements.db"))
    assert (m.handler, m.model_calls) == ("/inspect", 1)
    assert app.recorder is not None
    app.recorder.close()

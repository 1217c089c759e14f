"""``relaykit advise`` end to end: measurements recorded by the app, read back from the store or
from log lines, printed as text and JSON, drawn as a PNG, and applied to ``relaykit.toml``."""

from __future__ import annotations

import json
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from relaykit.cli import main
from relaykit.cli.loader import load_app
from relaykit.measure import Recorder
from relaykit.placement import parse_table

APP = """
from relaykit import App, Context

app = App("advised", settings={"local_model_delay": 0})

@app.task("/ask")
async def ask(body: dict, ctx: Context) -> str:
    reply = await ctx.llm.complete([{"role": "user", "content": body["q"]}])
    return reply.text

@app.stream("/chat")
async def chat(body: dict, ctx: Context):
    async for token in ctx.llm.stream([{"role": "user", "content": body["q"]}]):
        yield token
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An app folder whose relaykit.toml turns the store on, with 5 calls of each handler."""
    (tmp_path / "advised.py").write_text(APP)
    (tmp_path / "relaykit.toml").write_text(
        textwrap.dedent(
            f"""\
            # settings for the advised app
            measure = "store"
            store = "sqlite:///{tmp_path}/.relaykit/relaykit.db"
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "advised", raising=False)  # a fresh app per test
    app = load_app(str(tmp_path / "advised.py:app"))
    assert main(["invoke", str(tmp_path / "advised.py:app"), "/ask", '{"q": "x"}']) == 0
    import asyncio

    async def record() -> None:
        for _ in range(5):
            await app.invoke("/ask", {"q": "hello"})
            [chunk async for chunk in app.invoke_stream("/chat", {"q": "hi there"})]

    asyncio.run(record())
    assert app.recorder is not None
    app.recorder.close()
    return tmp_path


def test_text_report_names_prices_options_and_recommendation(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The table lists every option per handler, the recommendation with its terms, a
    break-even line and the date and source of the prices."""
    code = main(["advise", str(project / "advised.py:app"), "--rps", "1"])
    out = capsys.readouterr().out
    assert code == 0
    for needle in ("/ask", "/chat", "lambda-arm64", "fargate-arm64", "recommendation:"):
        assert needle in out
    assert "break-even" in out and "as of 2026-06-17" in out
    assert "https://aws.amazon.com/lambda/pricing/" in out


def test_json_chart_and_apply(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json is the same advice as data; --chart writes a PNG; --apply writes placement
    tables that the placement setting accepts, keeping the file's other lines."""
    chart = project / "cost.png"
    code = main(
        [
            "advise",
            str(project / "advised.py:app"),
            "--rps",
            "30",
            "--json",
            "--handler",
            "/ask",
            "--chart",
            str(chart),
            "--apply",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    (entry,) = data["handlers"]
    assert entry["handler"] == "/ask" and entry["workload"]["samples"] == 6
    assert entry["recommended"] in {o["option"] for o in entry["options"]}
    assert data["prices"]["as_of"] == "2026-06-17"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (project / "relaykit.toml").read_text()
    assert text.startswith("# settings for the advised app")
    table = parse_table(tomllib.loads(text)["placement"])
    assert table.handlers["/ask"]["target"] in {("lambda",), ("lambda-stream",), ("container",)}
    assert "# relaykit advise:" in text
    load_app(str(project / "advised.py:app"))  # the app still loads with the new config


def test_from_logs_and_profile_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--from-logs reads measurement lines (here with a CloudWatch-style prefix); a profile
    file gives traffic per handler and can describe an unmeasured one."""
    from relaykit.measure_store import read_measurements

    found = read_measurements(str(project / ".relaykit" / "measurements.db"))
    log = project / "export.log"
    app = load_app(str(project / "advised.py:app"))
    recorder = Recorder(app.settings, "log")
    lines = [f"2026-11-28T10:00:00.000Z\t{recorder.log_line(m)}" for m in found]
    log.write_text("\n".join([*lines, "not json", "START RequestId: 1"]) + "\n")
    profile = project / "traffic.toml"
    profile.write_text('[defaults]\nrps = 0.5\n["/chat"]\nrps = 2\nwall_s = 30.0\ncpu_s = 0.2\n')
    code = main(
        [
            "advise",
            str(project / "advised.py:app"),
            "--from-logs",
            str(log),
            "--json",
            "--profile",
            str(profile),
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    by_path = {h["handler"]: h for h in data["handlers"]}
    assert by_path["/ask"]["profile"]["mean_rps"] == 0.5
    assert by_path["/chat"]["workload"]["wall_s"] == 30.0
    assert by_path["/chat"]["workload"]["streamed"] is True


def test_no_traffic_is_a_clear_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without a rate there is nothing to price: exit 2 and say which flag to give."""
    assert main(["advise", str(project / "advised.py:app")]) == 2
    assert "--rps" in capsys.readouterr().err


def test_the_example_profile_prices_the_example_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """examples/advise_profile.toml against examples/advised_app.py (docs/choosing-a-target.md):
    the unmeasured workflow is described by the profile and priced per run."""
    root = Path(__file__).resolve().parents[2] / "examples"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "advised_app", raising=False)
    argv = ["advise", str(root / "advised_app.py:app"), "--json"]
    code = main([*argv, "--profile", str(root / "advise_profile.toml"), "--measurements", "x.db"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    (research,) = data["handlers"]
    assert research["handler"] == "/research" and research["recommended"] == "fargate-arm64"


SOURCES_APP = """
from relaykit import App, Context

app = App("sourced", settings={"local_model_delay": 0, "measure": "log", "metrics": False})

@app.on_sqs("orders")
async def summarise(body: dict[str, str], ctx: Context) -> None:
    await ctx.llm.complete([{"role": "user", "content": body["text"]}])
"""


def test_event_source_handlers_are_advised_from_their_batch_measurements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An ``on_sqs`` handler measured on Lambda (one line per delivered batch) gets advice of
    its own, with the queue as its front door."""
    (tmp_path / "sourced.py").write_text(SOURCES_APP)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "sourced", raising=False)
    app = load_app(str(tmp_path / "sourced.py:app"))
    event = json.loads((Path(__file__).parent.parent / "events" / "sqs.json").read_text())
    handler = app.lambda_handler
    try:
        for _ in range(3):
            assert handler(event, None) == {"batchItemFailures": []}
    finally:
        handler.close()
    log = tmp_path / "lambda.log"
    log.write_text(capsys.readouterr().out)
    code = main(["advise", str(tmp_path / "sourced.py:app"), "--from-logs", str(log),
                 "--rps", "2", "--json"])  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    (entry,) = data["handlers"]
    assert entry["handler"] == "summarise" and entry["workload"]["samples"] == 3
    assert entry["profile"]["front_door"] == "sqs"
    assert entry["recommended"] in {o["option"] for o in entry["options"]}

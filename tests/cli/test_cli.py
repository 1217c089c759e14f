"""The ``relaykit`` console script, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from support import ROOT, free_port, wait_for_text

RELAYKIT = str(Path(sys.executable).parent / "relaykit")
QUICKSTART = str(ROOT / "examples" / "quickstart.py")


def run(*args: str, stdin: str | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RELAYKIT_LOCAL_MODEL_DELAY": "0"}
    return subprocess.run(
        [RELAYKIT, *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=cwd,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", ["serve", "dev", "invoke", "routes"])
def test_every_command_has_help(command: str) -> None:
    """`relaykit COMMAND --help` describes the command and its MODULE:APP argument."""
    result = run(command, "--help")
    assert result.returncode == 0
    assert "MODULE:APP" in result.stdout


def test_routes_lists_handlers_with_kinds_and_types() -> None:
    """`relaykit routes` prints kind, path, function and types of every handler."""
    result = run("routes", QUICKSTART)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:6] == ["KIND", "METHOD", "PATH", "HANDLER", "INPUT", "OUTPUT"]
    assert lines[0].split()[6:] == ["TARGET", "MEMORY", "TIMEOUT", "AUTH"]
    assert lines[1].split()[:6] == ["task", "POST", "/ask", "quickstart.ask", "Ask", "Answer"]
    assert lines[1].split()[6:] == ["lambda", "1024", "30", "AWS_IAM"]
    assert lines[2].split()[:3] == ["stream", "POST", "/chat"]
    as_json = json.loads(run("routes", QUICKSTART, "--json").stdout)
    assert [row["path"] for row in as_json] == ["/ask", "/chat", "/classify", "/steps"]


def test_invoke_task_prints_json_result() -> None:
    """`relaykit invoke APP /ask JSON` prints the task's JSON result."""
    result = run("invoke", QUICKSTART, "/ask", '{"question": "why"}')
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "answer": "Local model reply to: why",
        "model": "local",
        "words": 5,
    }


def test_invoke_stream_prints_chunks_and_reads_stdin() -> None:
    """Streams print text chunks as they come; '-' reads the body from stdin."""
    result = run("invoke", QUICKSTART, "/chat", "-", stdin='{"question": "hello"}')
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Local model reply to: hello\n"
    steps = run("invoke", QUICKSTART, "/steps", "2")
    assert [json.loads(line)["step"] for line in steps.stdout.splitlines()] == [1, 2]


def test_invoke_with_invalid_body_names_the_field() -> None:
    """A body that fails validation exits 2 with the field name, and no traceback."""
    result = run("invoke", QUICKSTART, "/ask", '{"question": ""}')
    assert result.returncode == 2
    assert "body.question" in result.stderr
    assert "Traceback" not in result.stderr
    malformed = run("invoke", QUICKSTART, "/ask", "{not json")
    assert malformed.returncode == 2 and "not valid JSON" in malformed.stderr


@pytest.mark.parametrize(
    ("ref", "needles"),
    [
        ("no_such_module:app", ["could not import", "no_such_module", "PYTHONPATH"]),
        ("examples.quickstart:ap", ["no attribute 'ap'", "relaykit apps in it: app"]),
        ("examples.quickstart:Ask", ["is a ModelMetaclass, not a relaykit App", "app"]),
        ("examples/missing.py", ["no file at"]),
        ("json", ["defines no relaykit App"]),
    ],
)
def test_bad_app_reference_says_what_was_tried(ref: str, needles: list[str]) -> None:
    """A bad MODULE:APP exits 2 with what was tried and what was found."""
    result = run("routes", ref)
    assert result.returncode == 2
    for needle in needles:
        assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_starts_uvicorn_on_the_app(tmp_path: Path) -> None:
    """`relaykit serve` serves the example app over HTTP until stopped."""
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [RELAYKIT, "serve", "examples.quickstart:app", "--port", str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RELAYKIT_LOCAL_MODEL_DELAY": "0"},
        )
    try:
        assert wait_for_text(log.read_text, "Uvicorn running", timeout=30), log.read_text()
        response = httpx.post(f"http://127.0.0.1:{port}/classify", json="is it?")
        assert response.json() == {"label": "question"}
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_dev_prints_urls_and_serves(tmp_path: Path) -> None:
    """`relaykit dev FILE` prints the app's URLs and serves it with the embedded defaults."""
    port = free_port()
    log = tmp_path / "dev.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [RELAYKIT, "dev", QUICKSTART, "--port", str(port), "--no-reload"],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RELAYKIT_LOCAL_MODEL_DELAY": "0"},
        )
    try:
        assert wait_for_text(log.read_text, "Uvicorn running", timeout=30), log.read_text()
        text = log.read_text()
        assert f"http://127.0.0.1:{port}/docs" in text
        assert f"POST http://127.0.0.1:{port}/ask" in text
        assert "model: local" in text and "store: sqlite:///.relaykit/relaykit.db" in text
        with httpx.stream(
            "POST", f"http://127.0.0.1:{port}/chat", json={"question": "hey"}
        ) as response:
            body = "".join(response.iter_text())
        assert "data: Local" in body and "event: end" in body
    finally:
        process.terminate()
        process.wait(timeout=15)

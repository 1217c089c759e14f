"""``relaykit dev --lambda``, run as a real subprocess: the app under the local Lambda emulator."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from support import ROOT, free_port

RELAYKIT = str(Path(sys.executable).parent / "relaykit")


def workers(marker: str) -> list[str]:
    """The pids of live worker processes whose command line contains ``marker``."""
    found = subprocess.run(
        ["pgrep", "-f", f"relaykit.lambda_runtime {marker}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.split()


def wait_for_urls(process: subprocess.Popen[str], log: Path, timeout: float = 30) -> str:
    """The printed Function URL, once ``relaykit dev --lambda`` has printed its routes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text()
        if "Ctrl-C stops" in text:
            match = re.search(r"function URL:\s+(http://127\.0\.0\.1:\d+)", text)
            assert match, text
            assert re.search(r"invoke API:\s+http://127\.0\.0\.1:\d+", text), text
            return match.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"relaykit dev --lambda printed no URL:\n{log.read_text()}")


@pytest.mark.parametrize("stream", [False, True], ids=["buffered", "stream"])
def test_dev_lambda_serves_a_task_and_a_stream_and_stops_its_workers(
    tmp_path: Path, stream: bool
) -> None:
    """A task and a stream answer through the printed Function URL; SIGTERM ends the command
    and leaves no worker process behind."""
    app_file = tmp_path / "quickstart.py"
    shutil.copy(ROOT / "examples" / "quickstart.py", app_file)
    log = tmp_path / "dev.log"
    port = free_port()
    args = [RELAYKIT, "dev", "--lambda", "--timeout", "20", "--port", str(port), str(app_file)]
    if stream:
        args.append("--stream")
    env = {**os.environ, "RELAYKIT_LOCAL_MODEL_DELAY": "0"}
    with log.open("w") as out:
        process = subprocess.Popen(
            args, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, text=True
        )
    try:
        url = wait_for_urls(process, log)
        assert url == f"http://127.0.0.1:{port}"
        text = log.read_text()
        assert f"POST {url}/ask" in text and f"POST {url}/chat" in text
        mode = "RESPONSE_STREAM" if stream else "BUFFERED"
        assert mode in text

        answer = httpx.post(f"{url}/ask", json={"question": "Why?"}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["answer"]

        with httpx.stream("POST", f"{url}/chat", json={"question": "Hi"}, timeout=30) as chat:
            assert chat.status_code == 200
            assert chat.headers["content-type"].startswith("text/event-stream")
            body = "".join(chat.iter_text())
        assert body.count("data: ") >= 2
        assert "event: end" in body
        assert workers(str(app_file)), "the worker should be running warm"

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()
        deadline = time.monotonic() + 5
        while workers(str(app_file)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert workers(str(app_file)) == [], "a worker outlived relaykit dev --lambda"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in workers(str(app_file)):
            os.kill(int(pid), signal.SIGKILL)


def test_dev_lambda_reports_a_bad_app_before_starting(tmp_path: Path) -> None:
    """A reference that does not load fails with exit status 2 and a clear message."""
    result = subprocess.run(
        [RELAYKIT, "dev", "--lambda", str(tmp_path / "missing.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "no file at" in result.stderr


def test_dev_lambda_reports_a_busy_port(tmp_path: Path) -> None:
    """A Function URL port already in use fails with exit status 2 and says what to do."""
    app_file = tmp_path / "quickstart.py"
    shutil.copy(ROOT / "examples" / "quickstart.py", app_file)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [RELAYKIT, "dev", "--lambda", "--port", str(port), str(app_file)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port 0" in result.stderr
    assert workers(str(app_file)) == []
